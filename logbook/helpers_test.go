package logbook

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/breakglass/breakglass/token"
	"golang.org/x/mod/sumdb/note"
)

const testOrigin = "breakglass.example/acme/prod"

var testT0 = time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)

// testKey derives a fixed P-256 key from name, so that vectors and child
// processes agree on keys. Test keys only.
func testKey(name string) *ecdsa.PrivateKey {
	for ctr := byte(0); ; ctr++ {
		d := sha256.Sum256(append([]byte("breakglass logbook test key\n"+name+"\n"), ctr))
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
		if err == nil {
			return k
		}
	}
}

// rfc6979 signs deterministically (RFC 6979), so vectors rebuild byte for byte.
type rfc6979 struct{ k *ecdsa.PrivateKey }

func (s rfc6979) Public() crypto.PublicKey { return &s.k.PublicKey }
func (s rfc6979) Sign(_ io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(nil, d, o)
}

func testSigner(t testing.TB, name string) note.Signer {
	t.Helper()
	s, err := token.NewNoteSigner(name, rfc6979{testKey(name)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testVerifier(t testing.TB, name string) note.Verifier {
	t.Helper()
	v, err := token.NewNoteVerifier(name, &testKey(name).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testRoster(t testing.TB, names ...string) note.Verifiers {
	t.Helper()
	if len(names) == 0 {
		names = []string{"alice", "bob", "carol"}
	}
	var vs []note.Verifier
	for _, n := range names {
		vs = append(vs, testVerifier(t, n))
	}
	return note.VerifierList(vs...)
}

// sampleEntries is a small life story of one secret.
func sampleEntries() []struct {
	who string
	e   Entry
} {
	hh := sha256.Sum256([]byte("header of prod-aws"))
	at := func(m int) time.Time { return testT0.Add(time.Duration(m) * time.Minute) }
	return []struct {
		who string
		e   Entry
	}{
		{"alice", Entry{Time: at(0), Kind: KindEnroll, Reason: "initial enrollment", Details: map[string]string{"token": "piv:serial=18392011;slot=82"}}},
		{"bob", Entry{Time: at(1), Kind: KindEnroll, Reason: "initial enrollment", Details: map[string]string{"token": "piv:serial=20044187;slot=82"}}},
		{"alice", Entry{Time: at(2), Kind: KindSeal, Secret: "prod-aws", HeaderHash: hh[:], Reason: "provision emergency access", Ticket: "CHG-1001",
			Details: map[string]string{DetailKeyID: "AKIAEXAMPLE000000001", "threshold": "2 of 3"}}},
		{"carol", Entry{Time: at(60), Kind: KindUnsealStart, Secret: "prod-aws", HeaderHash: hh[:], Reason: "SSO outage, console unreachable", Ticket: "INC-4242", UseCase: "idp-outage",
			Details: map[string]string{DetailOperator: "carol", DetailSession: "7f3a"}}},
		{"alice", Entry{Time: at(61), Kind: KindTap, Secret: "prod-aws", HeaderHash: hh[:], Ticket: "INC-4242", Details: map[string]string{DetailSession: "7f3a"}}},
		{"bob", Entry{Time: at(62), Kind: KindTap, Secret: "prod-aws", HeaderHash: hh[:], Ticket: "INC-4242", Details: map[string]string{DetailSession: "7f3a"}}},
		{"carol", Entry{Time: at(63), Kind: KindRelease, Secret: "prod-aws", HeaderHash: hh[:], Reason: "SSO outage, console unreachable", Ticket: "INC-4242", UseCase: "idp-outage",
			Details: map[string]string{DetailOperator: "carol", DetailKeyID: "AKIAEXAMPLE000000001", DetailTapped: "alice,bob", DetailSession: "7f3a"}}},
		{"carol", Entry{Time: at(180), Kind: KindRevoke, Secret: "prod-aws", Ticket: "INC-4242", Details: map[string]string{DetailKeyID: "AKIAEXAMPLE000000001"}}},
	}
}

// buildLog creates a logbook in a new directory with the first n sample
// entries and returns the directory and the signed checkpoint after each
// append (ckpts[i] covers i+1 entries).
func buildLog(t testing.TB, origin string, n int) (dir string, ckpts [][]byte) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "logbook")
	if err := Create(dir, origin); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range sampleEntries()[:n] {
		c, err := l.Append(int64(i), x.e, testSigner(t, x.who))
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		ckpts = append(ckpts, c.Signed)
	}
	return dir, ckpts
}

func readFile(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// records splits an entries file into its signed entries.
func records(t testing.TB, data []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(data) > 0 {
		rec, _, ok := splitRecord(data)
		if !ok {
			t.Fatalf("incomplete record %q", data)
		}
		out = append(out, rec)
		data = data[len(rec):]
	}
	return out
}
