package ecdsabatch

// Arithmetic modulo n, the order of the P-256 group, in Montgomery form with
// four 64-bit limbs (least significant first). Only the operations the batch
// needs are here; none of them handles secrets, so none is constant time.

import (
	"encoding/binary"
	"math/big"
	"math/bits"
)

// scalar is an integer modulo n, little-endian 64-bit limbs. Whether it is in
// Montgomery form (x·2²⁵⁶ mod n) depends on the variable; the names say so.
type scalar [4]uint64

var (
	// orderN is n, the order of the P-256 base point.
	orderN = scalar{0xf3b9cac2fc632551, 0xbce6faada7179e84, 0xffffffffffffffff, 0xffffffff00000000}
	// nPrime is −n⁻¹ mod 2⁶⁴.
	nPrime uint64
	// rrMont is 2⁵¹² mod n: multiplying by it converts into Montgomery form.
	rrMont scalar
	// oneMont is 2²⁵⁶ mod n, the Montgomery form of 1.
	oneMont scalar
	nBig    *big.Int
)

func init() {
	// Newton's iteration for the inverse of n₀ modulo 2⁶⁴: each step doubles
	// the number of correct low bits, and n₀ itself is right to 3 bits.
	inv := orderN[0]
	for range 5 {
		inv *= 2 - orderN[0]*inv
	}
	nPrime = -inv
	nBig = orderN.big()
	rr := new(big.Int).Lsh(big.NewInt(1), 512)
	rrMont = scalarFromBig(rr.Mod(rr, nBig))
	one := new(big.Int).Lsh(big.NewInt(1), 256)
	oneMont = scalarFromBig(one.Mod(one, nBig))
}

// setBytes sets x to the 32-byte big-endian b, which must be less than 2²⁵⁶.
func (x *scalar) setBytes(b *[32]byte) {
	x[3] = binary.BigEndian.Uint64(b[0:])
	x[2] = binary.BigEndian.Uint64(b[8:])
	x[1] = binary.BigEndian.Uint64(b[16:])
	x[0] = binary.BigEndian.Uint64(b[24:])
}

// bytes returns x as 32 bytes, big-endian.
func (x *scalar) bytes() []byte {
	b := make([]byte, 32)
	binary.BigEndian.PutUint64(b[0:], x[3])
	binary.BigEndian.PutUint64(b[8:], x[2])
	binary.BigEndian.PutUint64(b[16:], x[1])
	binary.BigEndian.PutUint64(b[24:], x[0])
	return b
}

func (x *scalar) isZero() bool { return x[0]|x[1]|x[2]|x[3] == 0 }

// lessThanN reports whether x < n.
func (x *scalar) lessThanN() bool {
	_, borrow := sub4(x, &orderN)
	return borrow == 1
}

// reduceOnce sets x to x mod n, for x < 2n.
func (x *scalar) reduceOnce() {
	if d, borrow := sub4(x, &orderN); borrow == 0 {
		*x = d
	}
}

func sub4(x, y *scalar) (d scalar, borrow uint64) {
	d[0], borrow = bits.Sub64(x[0], y[0], 0)
	d[1], borrow = bits.Sub64(x[1], y[1], borrow)
	d[2], borrow = bits.Sub64(x[2], y[2], borrow)
	d[3], borrow = bits.Sub64(x[3], y[3], borrow)
	return d, borrow
}

// add sets z = x + y mod n, for x, y < n.
func (z *scalar) add(x, y *scalar) {
	var c uint64
	var s scalar
	s[0], c = bits.Add64(x[0], y[0], 0)
	s[1], c = bits.Add64(x[1], y[1], c)
	s[2], c = bits.Add64(x[2], y[2], c)
	s[3], c = bits.Add64(x[3], y[3], c)
	d, borrow := sub4(&s, &orderN)
	// x + y − n is the answer unless it went negative without the carry out
	// of x + y making up for it.
	if c == 1 || borrow == 0 {
		*z = d
	} else {
		*z = s
	}
}

// neg sets z = −x mod n, for x < n.
func (z *scalar) neg(x *scalar) {
	if x.isZero() {
		*z = scalar{}
		return
	}
	*z, _ = sub4(&orderN, x)
}

// madd returns a·b + c + d as (hi, lo); it cannot overflow 128 bits.
func madd(a, b, c, d uint64) (hi, lo uint64) {
	hi, lo = bits.Mul64(a, b)
	var carry uint64
	lo, carry = bits.Add64(lo, c, 0)
	hi += carry
	lo, carry = bits.Add64(lo, d, 0)
	hi += carry
	return hi, lo
}

// mul sets z = x·y·2⁻²⁵⁶ mod n (Montgomery multiplication, coarsely
// integrated operand scanning), for x, y < n.
func (z *scalar) mul(x, y *scalar) {
	var t0, t1, t2, t3, t4, t5, c uint64
	for i := range 4 {
		yi := y[i]
		c, t0 = madd(x[0], yi, t0, 0)
		c, t1 = madd(x[1], yi, t1, c)
		c, t2 = madd(x[2], yi, t2, c)
		c, t3 = madd(x[3], yi, t3, c)
		t4, t5 = bits.Add64(t4, c, 0)

		m := t0 * nPrime
		c, _ = madd(m, orderN[0], t0, 0)
		c, t0 = madd(m, orderN[1], t1, c)
		c, t1 = madd(m, orderN[2], t2, c)
		c, t2 = madd(m, orderN[3], t3, c)
		t3, c = bits.Add64(t4, c, 0)
		t4 = t5 + c
	}
	r := scalar{t0, t1, t2, t3}
	if d, borrow := sub4(&r, &orderN); t4 == 1 || borrow == 0 {
		r = d
	}
	*z = r
}

// toMont sets z to the Montgomery form of x < n.
func (z *scalar) toMont(x *scalar) { z.mul(x, &rrMont) }

// fromMont sets z to the ordinary form of the Montgomery-form x.
func (z *scalar) fromMont(x *scalar) { z.mul(x, &scalar{1}) }

// invMont sets z to the inverse of the Montgomery-form x ≠ 0, in Montgomery
// form. It goes through math/big: the batch inverts once per Verify.
func (z *scalar) invMont(x *scalar) {
	var plain scalar
	plain.fromMont(x)
	inv := scalarFromBig(new(big.Int).ModInverse(plain.big(), nBig))
	z.toMont(&inv)
}

func (x *scalar) big() *big.Int {
	return new(big.Int).SetBytes(x.bytes())
}

// scalarFromBig returns 0 ≤ b < 2²⁵⁶ as a scalar.
func scalarFromBig(b *big.Int) scalar {
	var buf [32]byte
	b.FillBytes(buf[:])
	var x scalar
	x.setBytes(&buf)
	return x
}
