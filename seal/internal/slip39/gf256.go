package slip39

// Arithmetic in GF(2^8) with the AES reduction polynomial x^8+x^4+x^3+x+1
// (0x11B), the field SLIP-0039 interpolates in.
//
// Share values are secret, so every operation that touches them runs in time
// independent of its operands: multiplication is a fixed eight-step
// shift-and-add loop with masks instead of branches, and inversion is a^254
// by a fixed addition chain. There are no tables indexed by field elements.

// gfMul returns a·b.
func gfMul(a, b byte) byte {
	var r byte
	for range 8 {
		r ^= a & -(b & 1)     // add a when the low bit of b is set
		b >>= 1               //
		carry := -(a >> 7)    // 0xFF when a overflows on the shift
		a = a<<1 ^ 0x1B&carry // multiply a by x, reducing by 0x11B
	}
	return r
}

// gfInv returns a^-1, computed as a^254; gfInv(0) is 0.
func gfInv(a byte) byte {
	a2 := gfMul(a, a)     // a^2
	a3 := gfMul(a2, a)    // a^3
	a6 := gfMul(a3, a3)   // a^6
	a12 := gfMul(a6, a6)  // a^12
	a15 := gfMul(a12, a3) // a^15
	a30 := gfMul(a15, a15)
	a60 := gfMul(a30, a30)
	a120 := gfMul(a60, a60)
	a240 := gfMul(a120, a120)
	a252 := gfMul(a240, a12)
	return gfMul(a252, a2) // a^254
}

// A point is one share of a byte string: its x coordinate (public) and the
// values of one polynomial per byte at x (secret).
type point struct {
	x byte
	y []byte
}

// interpolate evaluates at x the polynomials of least degree that pass
// through points, byte by byte. The x coordinates must be distinct and the
// values of equal length; callers check both. The Lagrange basis depends only
// on the public x coordinates; the secret values enter only through gfMul.
func interpolate(points []point, x byte) []byte {
	out := make([]byte, len(points[0].y))
	for i, p := range points {
		// basis_i(x) = Π_{j≠i} (x - x_j) / (x_i - x_j); subtraction is XOR.
		num, den := byte(1), byte(1)
		for j, q := range points {
			if j == i {
				continue
			}
			num = gfMul(num, x^q.x)
			den = gfMul(den, p.x^q.x)
		}
		basis := gfMul(num, gfInv(den))
		for k, v := range p.y {
			out[k] ^= gfMul(basis, v)
		}
	}
	return out
}
