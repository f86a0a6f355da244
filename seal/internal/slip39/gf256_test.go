package slip39

import (
	"bytes"
	"testing"
)

// refMul multiplies the plain way: carry-less product, then long division by
// the AES polynomial.
func refMul(a, b byte) byte {
	var p uint16
	for i := range 8 {
		if b>>i&1 == 1 {
			p ^= uint16(a) << i
		}
	}
	for bit := 15; bit >= 8; bit-- {
		if p>>bit&1 == 1 {
			p ^= 0x11B << (bit - 8)
		}
	}
	return byte(p)
}

func TestGFMulExhaustive(t *testing.T) {
	for a := range 256 {
		for b := range 256 {
			if got, want := gfMul(byte(a), byte(b)), refMul(byte(a), byte(b)); got != want {
				t.Fatalf("gfMul(%#02x, %#02x) = %#02x, want %#02x", a, b, got, want)
			}
		}
	}
}

// TestGFTables checks the field the way SLIP-0039's reference builds it:
// 0x03 generates the multiplicative group, and log/exp tables agree with
// gfMul and gfInv for every element.
func TestGFTables(t *testing.T) {
	var exp [255]byte
	var log [256]int
	x := byte(1)
	for i := range 255 {
		exp[i] = x
		if i > 0 && x == 1 {
			t.Fatalf("0x03 has order %d, not 255", i)
		}
		log[x] = i
		x = refMul(x, 3)
	}
	if x != 1 {
		t.Fatal("0x03^255 != 1")
	}
	for a := 1; a < 256; a++ {
		inv := gfInv(byte(a))
		if want := exp[(255-log[a])%255]; inv != want {
			t.Fatalf("gfInv(%#02x) = %#02x, want %#02x", a, inv, want)
		}
		if gfMul(byte(a), inv) != 1 {
			t.Fatalf("%#02x · gfInv(%#02x) != 1", a, a)
		}
		for b := 1; b < 256; b++ {
			if got, want := gfMul(byte(a), byte(b)), exp[(log[a]+log[b])%255]; got != want {
				t.Fatalf("gfMul(%#02x, %#02x) = %#02x, tables say %#02x", a, b, got, want)
			}
		}
	}
	if gfInv(0) != 0 {
		t.Error("gfInv(0) != 0")
	}
}

// TestInterpolate evaluates random-looking polynomials of every degree up to
// 15 at 16 points, then interpolates them back at every x.
func TestInterpolate(t *testing.T) {
	eval := func(coeffs []byte, x byte) byte {
		var y byte
		for i := len(coeffs) - 1; i >= 0; i-- {
			y = gfMul(y, x) ^ coeffs[i]
		}
		return y
	}
	for degree := range 16 {
		coeffs := make([][]byte, 3) // three byte positions, one polynomial each
		for k := range coeffs {
			for i := range degree + 1 {
				coeffs[k] = append(coeffs[k], byte(31*i+7*k+degree+1))
			}
		}
		var points []point
		for i := range degree + 1 {
			x := byte(200 + 3*i) // any distinct x
			y := make([]byte, len(coeffs))
			for k := range coeffs {
				y[k] = eval(coeffs[k], x)
			}
			points = append(points, point{x, y})
		}
		for x := range 256 {
			want := make([]byte, len(coeffs))
			for k := range coeffs {
				want[k] = eval(coeffs[k], byte(x))
			}
			if got := interpolate(points, byte(x)); !bytes.Equal(got, want) {
				t.Fatalf("degree %d at x=%d: %x, want %x", degree, x, got, want)
			}
		}
	}
}
