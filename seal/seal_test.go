package seal

import (
	"bytes"
	"crypto/ecdh"
	"encoding/binary"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"
)

// detRand is a deterministic randomness source for tests.
// It is ChaCha8 keyed with the seed as 8 little-endian bytes and 24 zero
// bytes, the same stream testing/cryptotest.SetGlobalRandom uses.
func detRand(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:8], seed)
	return mrand.NewChaCha8(s)
}

// testKey returns a deterministic software P-256 key.
func testKey(t testing.TB, i int) *ecdh.PrivateKey {
	t.Helper()
	b := make([]byte, 32)
	b[31] = byte(i + 1)
	b[0] = 0x42
	k, err := ecdh.P256().NewPrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// countingKX counts ECDH operations, standing in for a token.
type countingKX struct {
	*ecdh.PrivateKey
	n *int
}

func (c countingKX) ECDH(p *ecdh.PublicKey) ([]byte, error) {
	*c.n++
	return c.PrivateKey.ECDH(p)
}

func custodian(t testing.TB, name string, i int) Custodian {
	t.Helper()
	r, err := TagRecipient(testKey(t, i).PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return Custodian{Name: name, Kind: KindPIV, Fingerprint: fmt.Sprintf("SHA256:fp%d", i), Recipient: r.String()}
}

var testTime = time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)

func sealString(t testing.TB, secret string, p Params, seed uint64) ([]byte, *Sealed) {
	t.Helper()
	var b bytes.Buffer
	s, err := Seal(&b, strings.NewReader(secret), p, detRand(seed))
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), s
}

func basicParams(t testing.TB, k, n int) Params {
	p := Params{Name: "prod-aws", Scope: "aws:123456789012:role/breakglass",
		UseCases: []string{"SSO is down", "MFA device lost"}, KeyID: "AKIAEXAMPLE",
		SealedBy: "alice", CreatedAt: testTime, Threshold: k}
	for i := range n {
		p.Custodians = append(p.Custodians, custodian(t, fmt.Sprintf("custodian-%d", i), i))
	}
	return p
}

func open(t testing.TB, u *Unseal) string {
	t.Helper()
	r, err := u.Open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRoundTrip(t *testing.T) {
	file, _ := sealString(t, "hunter2", basicParams(t, 2, 3), 1)
	for _, pair := range [][2]int{{0, 1}, {0, 2}, {1, 2}, {2, 0}} {
		f, err := Parse(bytes.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		u := f.NewUnseal()
		for _, i := range pair {
			idx, err := u.Tap(testKey(t, i))
			if err != nil {
				t.Fatalf("tap %d: %v", i, err)
			}
			if idx != i {
				t.Fatalf("tap %d: got custodian %d", i, idx)
			}
		}
		if got := open(t, u); got != "hunter2" {
			t.Fatalf("got %q", got)
		}
	}
}

func p256Key(b []byte) (*ecdh.PrivateKey, error) { return ecdh.P256().NewPrivateKey(b) }
