package ecdsabatch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/binary"
	"errors"

	"filippo.io/nistec"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// A Batch collects P-256 ECDSA signatures and checks them all at once with
// [Batch.Verify]. The zero value is an empty batch. A Batch is not safe for
// concurrent use.
type Batch struct {
	keys  []batchKey
	items []item
}

type batchKey struct {
	pub *ecdsa.PublicKey // as given to Add, for the fast lookup
	enc []byte           // uncompressed encoding
	q   *nistec.P256Point
}

type item struct {
	key     int
	e, r, s scalar // ordinary form, each < n; r, s ≠ 0
	R       *nistec.P256Point
}

// Len returns the number of signatures in b.
func (b *Batch) Len() int { return len(b.items) }

// Reset empties b, keeping its public keys and memory for reuse.
func (b *Batch) Reset() { b.items = b.items[:0] }

// Add adds the ASN.1 DER signature sigDER by pub of digest (a SHA-256 hash,
// or any hash that crypto/ecdsa accepts for P-256) to the batch.
//
// It returns false, and leaves b unchanged, when the signature cannot take
// part in a batch: pub is not a valid P-256 key, sigDER is not a DER
// signature as crypto/ecdsa parses it, r or s is not in [1, n−1], or r is not
// the x-coordinate of a curve point. The caller then checks that signature on
// its own with [ecdsa.VerifyASN1]. A valid signature that is not normalised
// (see [Normalize]) is taken, but makes [Batch.Verify] fail.
func (b *Batch) Add(pub *ecdsa.PublicKey, digest, sigDER []byte) bool {
	r, s, ok := parseSignature(sigDER)
	if !ok {
		return false
	}
	var buf [33]byte
	buf[0] = 2 // compressed point, even y
	copy(buf[1:], r.bytes())
	R, err := nistec.NewP256Point().SetBytes(buf[:])
	if err != nil {
		return false // r is no x-coordinate (r + n might be, but that never happens in practice)
	}
	k := b.key(pub)
	if k < 0 {
		return false
	}
	b.items = append(b.items, item{key: k, e: hashToScalar(digest), r: r, s: s, R: R})
	return true
}

// key returns the index of pub in b.keys, adding it, or −1 if pub is not a
// valid P-256 public key.
func (b *Batch) key(pub *ecdsa.PublicKey) int {
	for i := range b.keys {
		if b.keys[i].pub == pub {
			return i
		}
	}
	if pub == nil || pub.Curve != elliptic.P256() {
		return -1
	}
	enc, err := pub.Bytes()
	if err != nil {
		return -1
	}
	for i := range b.keys {
		if string(b.keys[i].enc) == string(enc) {
			return i
		}
	}
	q, err := nistec.NewP256Point().SetBytes(enc)
	if err != nil {
		return -1
	}
	b.keys = append(b.keys, batchKey{pub: pub, enc: enc, q: q})
	return len(b.keys) - 1
}

// parseSignature parses sigDER exactly as crypto/ecdsa does, and checks
// that r and s are in [1, n−1].
func parseSignature(sigDER []byte) (r, s scalar, ok bool) {
	var inner cryptobyte.String
	var rb, sb []byte
	in := cryptobyte.String(sigDER)
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !in.Empty() ||
		!inner.ReadASN1Integer(&rb) || !inner.ReadASN1Integer(&sb) || !inner.Empty() {
		return r, s, false
	}
	var okR, okS bool
	r, okR = scalarInRange(rb)
	s, okS = scalarInRange(sb)
	return r, s, okR && okS
}

// scalarInRange converts the big-endian b to a scalar if 1 ≤ b < n.
func scalarInRange(b []byte) (scalar, bool) {
	// ReadASN1Integer strips leading zeros from non-negative integers, but
	// be lenient about any that remain: crypto/ecdsa is.
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	if len(b) > 32 {
		return scalar{}, false
	}
	var buf [32]byte
	copy(buf[32-len(b):], b)
	var x scalar
	x.setBytes(&buf)
	return x, !x.isZero() && x.lessThanN()
}

// hashToScalar is bits2int(digest) mod n for P-256: the leftmost 256 bits of
// the digest as an integer, reduced.
func hashToScalar(digest []byte) scalar {
	var buf [32]byte
	if len(digest) >= 32 {
		copy(buf[:], digest[:32])
	} else {
		copy(buf[32-len(digest):], digest)
	}
	var e scalar
	e.setBytes(&buf)
	e.reduceOnce() // 2²⁵⁶ < 2n
	return e
}

// Verify reports whether every signature added to b is valid. An empty batch
// is valid. When Verify returns false, at least one signature is invalid; the
// caller finds out which by checking them one by one. When it returns true,
// all are valid except with probability at most 2⁻¹²⁸ (see the package
// documentation); the random weights are drawn here, after the last Add.
//
// Verify leaves the batch as it was; call [Batch.Reset] to reuse it.
func (b *Batch) Verify() bool {
	n := len(b.items)
	if n == 0 {
		return true
	}
	rnd := make([]byte, 16*n)
	if _, err := rand.Read(rnd); err != nil {
		panic("ecdsabatch: " + err.Error()) // crypto/rand.Read does not fail
	}
	zs := make([][2]uint64, n)
	for i := range zs {
		zs[i] = [2]uint64{binary.LittleEndian.Uint64(rnd[16*i:]), binary.LittleEndian.Uint64(rnd[16*i+8:])}
	}

	// Invert every sᵢ at once (Montgomery's trick): prefix[i] = s₀·…·sᵢ₋₁,
	// one inversion of the full product, then peel off one factor at a time.
	sm := make([]scalar, n)
	prefix := make([]scalar, n)
	acc := oneMont
	for i := range b.items {
		sm[i].toMont(&b.items[i].s)
		prefix[i] = acc
		acc.mul(&acc, &sm[i])
	}
	var inv scalar
	inv.invMont(&acc) // (s₀·…·sₙ₋₁)⁻¹; never zero as each sᵢ is in [1, n−1]
	// After step i, inv = (s₀·…·sᵢ₋₁)⁻¹ and sm[i] = sᵢ⁻¹.
	for i := n - 1; i >= 0; i-- {
		var si scalar
		si.mul(&inv, &prefix[i])
		inv.mul(&inv, &sm[i])
		sm[i] = si
	}

	// u = Σ zᵢsᵢ⁻¹eᵢ, and per key k, v_k = Σ_{i∈k} zᵢsᵢ⁻¹rᵢ. Multiplying
	// a Montgomery-form factor by an ordinary one gives an ordinary product.
	var u scalar
	v := make([]scalar, len(b.keys))
	points := make([]*nistec.P256Point, n)
	for i := range b.items {
		it := &b.items[i]
		z := scalar{zs[i][0], zs[i][1]}
		var w, t scalar
		w.mul(&z, &sm[i]) // zᵢsᵢ⁻¹, ordinary form
		w.toMont(&w)
		t.mul(&w, &it.e)
		u.add(&u, &t)
		t.mul(&w, &it.r)
		v[it.key].add(&v[it.key], &t)
		points[i] = it.R
	}

	lhs, err := nistec.NewP256Point().ScalarBaseMult(u.bytes())
	if err != nil {
		return false
	}
	for k := range b.keys {
		if v[k].isZero() {
			continue
		}
		p, err := nistec.NewP256Point().ScalarMult(b.keys[k].q, v[k].bytes())
		if err != nil {
			return false
		}
		lhs.Add(lhs, p)
	}
	rhs := multiScalarMult(zs, points)
	return lhs.Equal(rhs) == 1
}

// Normalize checks the ASN.1 DER signature sigDER by pub of digest with
// [ecdsa.VerifyASN1] and returns it in the form a [Batch] can take: the same
// signature (r, s), or (r, n−s), whichever has R = s⁻¹(e·G + r·Q) with an
// even y-coordinate. Both forms are valid ECDSA signatures of the same
// digest, and every ECDSA verifier accepts either. Normalize returns an error
// if the signature does not verify.
func Normalize(pub *ecdsa.PublicKey, digest, sigDER []byte) ([]byte, error) {
	if !ecdsa.VerifyASN1(pub, digest, sigDER) {
		return nil, errors.New("ecdsabatch: signature does not verify")
	}
	enc, err := pub.Bytes()
	if err != nil {
		return nil, err
	}
	q, err := nistec.NewP256Point().SetBytes(enc)
	if err != nil {
		return nil, err
	}
	r, s, ok := parseSignature(sigDER)
	if !ok {
		return nil, errors.New("ecdsabatch: malformed signature") // unreachable: it verified
	}
	e := hashToScalar(digest)
	var sM, sInv, u1, u2 scalar
	sM.toMont(&s)
	sInv.invMont(&sM)
	u1.mul(&sInv, &e) // ordinary form
	u2.mul(&sInv, &r)
	R, err := nistec.NewP256Point().ScalarBaseMult(u1.bytes())
	if err != nil {
		return nil, err
	}
	p, err := nistec.NewP256Point().ScalarMult(q, u2.bytes())
	if err != nil {
		return nil, err
	}
	R.Add(R, p)
	if R.BytesCompressed()[0] == 2 {
		return marshalSignature(&r, &s), nil
	}
	s.neg(&s)
	return marshalSignature(&r, &s), nil
}

// Twin returns the other form of the DER signature (r, s): (r, n−s), an
// equally valid ECDSA signature of the same digest by the same key, whose R
// is the negation of the first's. Of the two, [Normalize] picks the one
// with an even y. sigDER must be well-formed, with r and s in [1, n−1].
func Twin(sigDER []byte) ([]byte, error) {
	r, s, ok := parseSignature(sigDER)
	if !ok {
		return nil, errors.New("ecdsabatch: malformed signature")
	}
	s.neg(&s)
	return marshalSignature(&r, &s), nil
}

// marshalSignature returns the DER encoding of (r, s).
func marshalSignature(r, s *scalar) []byte {
	var bld cryptobyte.Builder
	bld.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addASN1Integer(b, r.bytes())
		addASN1Integer(b, s.bytes())
	})
	return bld.BytesOrPanic()
}

// addASN1Integer adds the non-negative big-endian x as a DER INTEGER.
func addASN1Integer(b *cryptobyte.Builder, x []byte) {
	b.AddASN1(asn1.INTEGER, func(c *cryptobyte.Builder) {
		for len(x) > 1 && x[0] == 0 {
			x = x[1:]
		}
		if x[0]&0x80 != 0 {
			c.AddUint8(0)
		}
		c.AddBytes(x)
	})
}
