package ecdsabatch

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"sync"
	"testing"

	"filippo.io/nistec"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// testKeys returns n fixed, deterministic P-256 keys.
func testKeys(t testing.TB, n int) []*ecdsa.PrivateKey {
	t.Helper()
	var keys []*ecdsa.PrivateKey
	for i := range n {
		d := sha256.Sum256([]byte(fmt.Sprintf("ecdsabatch test key %d", i)))
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

type signed struct {
	pub    *ecdsa.PublicKey
	digest []byte
	sig    []byte // normalised
}

// signMany returns n normalised signatures by keys, round robin.
func signMany(t testing.TB, keys []*ecdsa.PrivateKey, n int) []signed {
	t.Helper()
	out := make([]signed, n)
	for i := range out {
		k := keys[i%len(keys)]
		d := sha256.Sum256([]byte(fmt.Sprintf("message %d", i)))
		sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		if sig, err = Normalize(&k.PublicKey, d[:], sig); err != nil {
			t.Fatal(err)
		}
		out[i] = signed{&k.PublicKey, d[:], sig}
	}
	return out
}

func batchOf(t testing.TB, sigs []signed) *Batch {
	t.Helper()
	var b Batch
	for i, s := range sigs {
		if !b.Add(s.pub, s.digest, s.sig) {
			t.Fatalf("Add refused normalised signature %d", i)
		}
	}
	return &b
}

// rs parses a DER signature for tests (crypto/ecdsa's parser, via a batch
// helper that is itself tested against crypto/ecdsa below).
func rs(t testing.TB, sig []byte) (r, s *big.Int) {
	t.Helper()
	r, s = new(big.Int), new(big.Int)
	in := cryptobyte.String(sig)
	var inner cryptobyte.String
	if !in.ReadASN1(&inner, asn1.SEQUENCE) || !inner.ReadASN1Integer(r) || !inner.ReadASN1Integer(s) {
		t.Fatalf("test signature %x is not DER", sig)
	}
	return r, s
}

// derInts encodes two integers (possibly negative, zero or huge) as an
// ECDSA-style DER signature.
func derInts(r, s *big.Int) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.BytesOrPanic()
}

// rPoint computes R = s⁻¹(e·G + r·Q) with math/big and nistec, independently
// of the package's Montgomery arithmetic.
func rPoint(t testing.TB, pub *ecdsa.PublicKey, digest, sig []byte) *nistec.P256Point {
	t.Helper()
	r, s := rs(t, sig)
	n := elliptic.P256().Params().N
	e := new(big.Int).SetBytes(digest[:32])
	sInv := new(big.Int).ModInverse(s, n)
	u1 := new(big.Int).Mod(new(big.Int).Mul(e, sInv), n)
	u2 := new(big.Int).Mod(new(big.Int).Mul(r, sInv), n)
	enc, err := pub.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	q, err := nistec.NewP256Point().SetBytes(enc)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := nistec.NewP256Point().ScalarBaseMult(u1.FillBytes(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := nistec.NewP256Point().ScalarMult(q, u2.FillBytes(make([]byte, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return p1.Add(p1, p2)
}

func TestScalarArithmetic(t *testing.T) {
	n := elliptic.P256().Params().N
	rng := mrand.New(mrand.NewPCG(1, 2))
	rnd := func() *big.Int {
		switch rng.IntN(8) {
		case 0:
			return big.NewInt(int64(rng.IntN(3)))
		case 1:
			return new(big.Int).Sub(n, big.NewInt(int64(1+rng.IntN(3))))
		}
		var b [32]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return new(big.Int).Mod(new(big.Int).SetBytes(b[:]), n)
	}
	rInv := new(big.Int).ModInverse(new(big.Int).Lsh(big.NewInt(1), 256), n)
	for range 5000 {
		a, b := rnd(), rnd()
		x, y := scalarFromBig(a), scalarFromBig(b)
		var z scalar
		z.mul(&x, &y)
		want := new(big.Int).Mul(a, b)
		want.Mul(want, rInv).Mod(want, n)
		if z.big().Cmp(want) != 0 {
			t.Fatalf("mul(%x, %x) = %x, want %x", a, b, z.big(), want)
		}
		z.add(&x, &y)
		if want := new(big.Int).Mod(new(big.Int).Add(a, b), n); z.big().Cmp(want) != 0 {
			t.Fatalf("add(%x, %x) = %x, want %x", a, b, z.big(), want)
		}
		z.neg(&x)
		if want := new(big.Int).Mod(new(big.Int).Neg(a), n); z.big().Cmp(want) != 0 {
			t.Fatalf("neg(%x) = %x, want %x", a, z.big(), want)
		}
		var m, back scalar
		m.toMont(&x)
		back.fromMont(&m)
		if back != x {
			t.Fatalf("fromMont(toMont(%x)) = %x", a, back.big())
		}
		if a.Sign() != 0 {
			var inv, prod scalar
			inv.invMont(&m)
			prod.mul(&inv, &m)
			if prod != oneMont {
				t.Fatalf("inverse of %x is wrong", a)
			}
		}
	}
}

func TestHashToScalar(t *testing.T) {
	n := elliptic.P256().Params().N
	allFF := make([]byte, 64)
	for i := range allFF {
		allFF[i] = 0xff
	}
	for _, d := range [][]byte{nil, {1}, make([]byte, 20), allFF[:32], allFF[:48], allFF, n.Bytes()} {
		e := hashToScalar(d)
		x := new(big.Int).SetBytes(d[:min(len(d), 32)])
		if want := x.Mod(x, n); e.big().Cmp(want) != 0 {
			t.Errorf("hashToScalar(%x) = %x, want %x", d, e.big(), want)
		}
	}
}

func TestMultiScalarMult(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 17, 100, 700, 2100} {
		zs := make([][2]uint64, n)
		points := make([]*nistec.P256Point, n)
		want := nistec.NewP256Point()
		for i := range n {
			zs[i] = [2]uint64{rng.Uint64(), rng.Uint64()}
			switch i % 7 {
			case 1:
				zs[i] = [2]uint64{0, 0}
			case 2:
				zs[i] = [2]uint64{^uint64(0), ^uint64(0)}
			case 3:
				zs[i] = [2]uint64{1, 0}
			}
			k := make([]byte, 32)
			binary.BigEndian.PutUint64(k[24:], rng.Uint64())
			p, err := nistec.NewP256Point().ScalarBaseMult(k)
			if err != nil {
				t.Fatal(err)
			}
			points[i] = p
			zb := make([]byte, 32)
			binary.BigEndian.PutUint64(zb[16:], zs[i][1])
			binary.BigEndian.PutUint64(zb[24:], zs[i][0])
			zp, err := nistec.NewP256Point().ScalarMult(p, zb)
			if err != nil {
				t.Fatal(err)
			}
			want.Add(want, zp)
		}
		if got := multiScalarMult(zs, points); got.Equal(want) != 1 {
			t.Errorf("n=%d (window %d): Pippenger disagrees with the naive sum", n, window(n))
		}
	}
}

func TestBatchValid(t *testing.T) {
	keys := testKeys(t, 3)
	all := signMany(t, keys, 300)
	for _, n := range []int{0, 1, 2, 3, 10, 64, 300} {
		if b := batchOf(t, all[:n]); !b.Verify() {
			t.Errorf("a batch of %d valid normalised signatures does not verify", n)
		}
	}
	// A key given as distinct but equal *ecdsa.PublicKey values is one key.
	var b Batch
	for _, s := range all[:30] {
		pub := *s.pub
		b.Add(&pub, s.digest, s.sig)
	}
	if len(b.keys) != 3 || !b.Verify() {
		t.Errorf("copies of 3 keys: %d keys in the batch, Verify %v", len(b.keys), b.Verify())
	}
	b.Reset()
	if b.Len() != 0 || !b.Verify() {
		t.Error("Reset did not empty the batch")
	}
}

func TestBatchTamper(t *testing.T) {
	keys := testKeys(t, 3)
	all := signMany(t, keys, 40)
	other := signMany(t, testKeys(t, 4)[3:], 1)[0]
	n := elliptic.P256().Params().N
	tampers := []struct {
		name string
		f    func(s signed) signed
	}{
		{"digest bit", func(s signed) signed {
			d := append([]byte(nil), s.digest...)
			d[7] ^= 0x10
			s.digest = d
			return s
		}},
		{"s+1", func(s signed) signed {
			r, v := rs(t, s.sig)
			s.sig = derInts(r, v.Add(v, big.NewInt(1)))
			return s
		}},
		{"r of another signature", func(s signed) signed {
			_, v := rs(t, s.sig)
			r, _ := rs(t, other.sig)
			s.sig = derInts(r, v)
			return s
		}},
		{"signature of another message", func(s signed) signed {
			s.sig = other.sig
			return s
		}},
		{"other key", func(s signed) signed {
			s.pub = other.pub
			return s
		}},
		{"key of the next signer", func(s signed) signed {
			for _, k := range keys {
				if !k.PublicKey.Equal(s.pub) {
					s.pub = &k.PublicKey
					break
				}
			}
			return s
		}},
		{"odd R (s → n−s)", func(s signed) signed {
			r, v := rs(t, s.sig)
			s.sig = derInts(r, v.Sub(n, v))
			return s
		}},
	}
	for _, tc := range tampers {
		for _, pos := range []int{0, 1, 20, 39} {
			sigs := append([]signed(nil), all...)
			sigs[pos] = tc.f(sigs[pos])
			var b Batch
			added := true
			for _, s := range sigs {
				added = b.Add(s.pub, s.digest, s.sig) && added
			}
			valid := ecdsa.VerifyASN1(sigs[pos].pub, sigs[pos].digest, sigs[pos].sig)
			if added && b.Verify() {
				t.Errorf("%s at %d: the batch verifies", tc.name, pos)
			}
			if want := tc.name == "odd R (s → n−s)"; valid != want {
				t.Errorf("%s at %d: crypto/ecdsa says valid=%v, want %v", tc.name, pos, valid, want)
			}
		}
	}
}

// TestOddR checks that a valid signature whose R has an odd y is never
// accepted by a batch, yet verifies on its own, and that Normalize maps both
// forms to the same even-R signature.
func TestOddR(t *testing.T) {
	keys := testKeys(t, 1)
	k := keys[0]
	n := elliptic.P256().Params().N
	for i := range 20 {
		d := sha256.Sum256([]byte{byte(i)})
		sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		r, s := rs(t, sig)
		flipped := derInts(r, new(big.Int).Sub(n, s))
		norm1, err1 := Normalize(&k.PublicKey, d[:], sig)
		norm2, err2 := Normalize(&k.PublicKey, d[:], flipped)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if string(norm1) != string(norm2) {
			t.Fatalf("Normalize gives %x for (r, s) and %x for (r, n−s)", norm1, norm2)
		}
		odd := flipped
		if string(norm1) == string(flipped) {
			odd = sig
		}
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], odd) {
			t.Fatal("the odd-R form does not verify on its own")
		}
		var b Batch
		if b.Add(&k.PublicKey, d[:], odd) && b.Verify() {
			t.Fatal("a batch accepted an odd-R signature")
		}
	}
}

func TestNormalize(t *testing.T) {
	keys := testKeys(t, 2)
	for i := range 40 {
		k := keys[i%2]
		d := sha256.Sum256([]byte{byte(i), 1})
		sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
		if err != nil {
			t.Fatal(err)
		}
		norm, err := Normalize(&k.PublicKey, d[:], sig)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(&k.PublicKey, d[:], norm) {
			t.Fatalf("normalised signature %x does not verify", norm)
		}
		R := rPoint(t, &k.PublicKey, d[:], norm)
		if R.BytesCompressed()[0] != 2 {
			t.Fatalf("normalised signature %x has R with odd y", norm)
		}
		if again, err := Normalize(&k.PublicKey, d[:], norm); err != nil || string(again) != string(norm) {
			t.Fatalf("Normalize is not idempotent: %x → %x, %v", norm, again, err)
		}
		// Its twin is just as valid, has the odd R, and normalises back.
		twin, err := Twin(norm)
		if err != nil || !ecdsa.VerifyASN1(&k.PublicKey, d[:], twin) {
			t.Fatalf("Twin(%x) = %x, %v: does not verify", norm, twin, err)
		}
		if rPoint(t, &k.PublicKey, d[:], twin).BytesCompressed()[0] != 3 {
			t.Fatalf("Twin(%x) has R with even y", norm)
		}
		if back, err := Normalize(&k.PublicKey, d[:], twin); err != nil || string(back) != string(norm) {
			t.Fatalf("Normalize(Twin(%x)) = %x, %v", norm, back, err)
		}
		if back, err := Twin(twin); err != nil || string(back) != string(norm) {
			t.Fatalf("Twin(Twin(%x)) = %x, %v", norm, back, err)
		}
		// Invalid signatures are refused.
		bad := append([]byte(nil), d[:]...)
		bad[0] ^= 1
		if _, err := Normalize(&k.PublicKey, bad, sig); err == nil {
			t.Fatal("Normalize accepted a signature of another digest")
		}
		if _, err := Normalize(&keys[(i+1)%2].PublicKey, d[:], sig); err == nil {
			t.Fatal("Normalize accepted a signature by another key")
		}
	}
}

// TestAgreesWithCryptoECDSA checks single-signature batches against
// ecdsa.VerifyASN1 on valid, flipped, out-of-range and malformed signatures:
// a batch never accepts what crypto/ecdsa rejects, and accepts every valid
// normalised signature.
func TestAgreesWithCryptoECDSA(t *testing.T) {
	keys := testKeys(t, 2)
	for i := range 24 {
		checkAgreement(t, keys[i%2], sha256.Sum256([]byte{byte(i), 'a'}))
	}
}

func checkAgreement(t *testing.T, k *ecdsa.PrivateKey, d [32]byte) {
	n := elliptic.P256().Params().N
	p := elliptic.P256().Params().P
	sig, err := ecdsa.SignASN1(rand.Reader, k, d[:])
	if err != nil {
		t.Fatal(err)
	}
	norm, err := Normalize(&k.PublicKey, d[:], sig)
	if err != nil {
		t.Fatal(err)
	}
	r, s := rs(t, norm)
	nMinus := func(x *big.Int) *big.Int { return new(big.Int).Sub(n, x) }
	plus := func(x *big.Int, y int64) *big.Int { return new(big.Int).Add(x, big.NewInt(y)) }
	cases := []struct {
		name      string
		digest    []byte
		sig       []byte
		batchable bool // a valid normalised signature
	}{
		{"normalised", d[:], norm, true},
		{"s → n−s", d[:], derInts(r, nMinus(s)), false},
		{"r = 0", d[:], derInts(big.NewInt(0), s), false},
		{"s = 0", d[:], derInts(r, big.NewInt(0)), false},
		{"r = n", d[:], derInts(n, s), false},
		{"r + n", d[:], derInts(plus(r, 0).Add(r, n), s), false},
		{"s + n", d[:], derInts(r, plus(s, 0).Add(s, n)), false},
		{"r = p", d[:], derInts(p, s), false},
		{"r = n−1", d[:], derInts(nMinus(big.NewInt(1)), s), false},
		{"negative r", d[:], derInts(new(big.Int).Neg(r), s), false},
		{"negative s", d[:], derInts(r, nMinus(s).Neg(nMinus(s))), false},
		{"2^256 + r", d[:], derInts(new(big.Int).Add(r, new(big.Int).Lsh(big.NewInt(1), 256)), s), false},
		{"trailing byte", d[:], append(append([]byte(nil), norm...), 0), false},
		{"truncated", d[:], norm[:len(norm)-1], false},
		{"empty", d[:], nil, false},
		{"digest + 1 bit", append(append([]byte(nil), d[:]...), 1), norm, true}, // only 256 bits count
		{"short digest", d[:20], norm, false},
		{"digest + n", new(big.Int).Add(new(big.Int).SetBytes(d[:]), n).Bytes(), norm, false},
	}
	for _, tc := range cases {
		want := ecdsa.VerifyASN1(&k.PublicKey, tc.digest, tc.sig)
		var b Batch
		got := b.Add(&k.PublicKey, tc.digest, tc.sig) && b.Verify()
		if got && !want {
			t.Errorf("%s: the batch accepts a signature crypto/ecdsa rejects", tc.name)
		}
		if tc.batchable && !got {
			t.Errorf("%s: the batch rejects a valid normalised signature", tc.name)
		}
		if tc.batchable && !want {
			t.Errorf("%s: crypto/ecdsa rejects it (test is wrong)", tc.name)
		}
	}
	for _, other := range []*ecdsa.PrivateKey{k, testKeys(t, 3)[2]} {
		var b Batch
		got := b.Add(&other.PublicKey, d[:], norm) && b.Verify()
		if want := other == k; got != want || ecdsa.VerifyASN1(&other.PublicKey, d[:], norm) != want {
			t.Errorf("right key %v: batch %v, want %v", want, got, want)
		}
	}
	// Keys that are not valid P-256 keys are refused by Add.
	var b Batch
	if b.Add(nil, d[:], norm) {
		t.Error("Add accepted a nil key")
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if b.Add(&p384.PublicKey, d[:], norm) {
		t.Error("Add accepted a P-384 key")
	}
}

// FuzzAgreement checks single-signature batches against ecdsa.VerifyASN1:
// the batch never accepts what crypto/ecdsa rejects, and accepts every
// signature that crypto/ecdsa accepts and Normalize leaves unchanged.
func FuzzAgreement(f *testing.F) {
	keys := testKeys(f, 2)
	for i := range 4 {
		d := sha256.Sum256([]byte{byte(i)})
		sig, _ := ecdsa.SignASN1(rand.Reader, keys[i%2], d[:])
		norm, _ := Normalize(&keys[i%2].PublicKey, d[:], sig)
		f.Add(d[:], sig, uint8(i%2))
		f.Add(d[:], norm, uint8(i%2))
		f.Add(d[:], norm, uint8(1-i%2))
	}
	f.Fuzz(func(t *testing.T, digest, sig []byte, key uint8) {
		pub := &keys[int(key)%len(keys)].PublicKey
		valid := ecdsa.VerifyASN1(pub, digest, sig)
		var b Batch
		got := b.Add(pub, digest, sig) && b.Verify()
		if got && !valid {
			t.Fatalf("batch accepts %x over %x, crypto/ecdsa does not", sig, digest)
		}
		if !valid {
			if _, err := Normalize(pub, digest, sig); err == nil {
				t.Fatal("Normalize accepted an invalid signature")
			}
			return
		}
		norm, err := Normalize(pub, digest, sig)
		if err != nil || !ecdsa.VerifyASN1(pub, digest, norm) {
			t.Fatalf("Normalize(%x) = %x, %v: does not verify", sig, norm, err)
		}
		var b2 Batch
		if !b2.Add(pub, digest, norm) || !b2.Verify() {
			t.Fatalf("batch rejects the normalised %x", norm)
		}
		if string(norm) == string(sig) && !got {
			t.Fatalf("batch rejects the valid normalised %x", sig)
		}
	})
}

var (
	benchOnce sync.Once
	benchSigs []signed
)

// BenchmarkBatch times Add and Verify together, per signature, for batches
// of 1 to 4096 signatures by three keys. BenchmarkVerifyASN1 is the
// one-by-one cost to compare with: batches start paying off at about 8.
func BenchmarkBatch(b *testing.B) {
	benchOnce.Do(func() { benchSigs = signMany(b, testKeys(b, 3), 4096) })
	for _, n := range []int{1, 16, 128, 1024, 4096} {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			var bt Batch
			for b.Loop() {
				bt.Reset()
				for _, s := range benchSigs[:n] {
					bt.Add(s.pub, s.digest, s.sig)
				}
				if !bt.Verify() {
					b.Fatal("batch failed")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n)/1000, "µs/sig")
		})
	}
}

func BenchmarkVerifyASN1(b *testing.B) {
	benchOnce.Do(func() { benchSigs = signMany(b, testKeys(b, 3), 4096) })
	s := benchSigs[0]
	for b.Loop() {
		ecdsa.VerifyASN1(s.pub, s.digest, s.sig)
	}
}

// TestCancellingForgeries builds two invalid signatures whose errors cancel
// out, D₁ = δ·G and D₂ = −δ·G: with equal weights the batch equation would
// hold. The random weights must catch them.
func TestCancellingForgeries(t *testing.T) {
	keys := testKeys(t, 1)
	sigs := signMany(t, keys, 2)
	n := elliptic.P256().Params().N
	delta := big.NewInt(12345)
	var forged []signed
	for i, s := range sigs {
		_, sv := rs(t, s.sig)
		// e' = e ± δ·s makes sᵢ⁻¹e'·G differ from sᵢ⁻¹e·G by ±δ·G.
		shift := new(big.Int).Mul(delta, sv)
		if i == 1 {
			shift.Neg(shift)
		}
		e := new(big.Int).Add(new(big.Int).SetBytes(s.digest), shift)
		e.Mod(e, n)
		forged = append(forged, signed{s.pub, e.FillBytes(make([]byte, 32)), s.sig})
		if ecdsa.VerifyASN1(s.pub, forged[i].digest, s.sig) {
			t.Fatal("the forged signature verifies on its own")
		}
	}
	for range 20 {
		if batchOf(t, forged).Verify() {
			t.Fatal("the batch accepted two forgeries that cancel out")
		}
	}
}

func TestSignedDigits(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(5, 6))
	for c := 2; c <= 16; c++ {
		for k := range 200 {
			z := [2]uint64{rng.Uint64(), rng.Uint64()}
			switch k {
			case 0:
				z = [2]uint64{^uint64(0), ^uint64(0)}
			case 1:
				z = [2]uint64{}
			case 2:
				z = [2]uint64{0, 1 << 63}
			}
			digits := make([]int32, windows(c))
			signedDigits(z, c, digits)
			sum := new(big.Int)
			for j := len(digits) - 1; j >= 0; j-- {
				d := digits[j]
				if d < -(1<<(c-1)) || d > 1<<(c-1) || (d == 1<<(c-1) && j < len(digits)-1) {
					t.Fatalf("c=%d: digit %d is %d", c, j, d)
				}
				sum.Lsh(sum, uint(c)).Add(sum, big.NewInt(int64(d)))
			}
			want := new(big.Int).Lsh(new(big.Int).SetUint64(z[1]), 64)
			want.Add(want, new(big.Int).SetUint64(z[0]))
			if sum.Cmp(want) != 0 {
				t.Fatalf("c=%d: digits of %x sum to %x", c, want, sum)
			}
		}
	}
}
