package witness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/token"
)

const testOrigin = "breakglass.example/acme/prod"

// testPerson is a logbook signer with a software P-256 key.
type testPerson struct {
	signer note.Signer
	vkey   string
}

func newPerson(t testing.TB, name string) testPerson {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := token.NewNoteSigner(name, k)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := token.NoteVerifierKey(name, &k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return testPerson{s, vkey}
}

func (p testPerson) verifier(t testing.TB) note.Verifier {
	v, err := token.ParseNoteVerifierKey(p.vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// newLog makes a logbook in a new directory with n notes by p, each
// reason prefixed by tag (different tags give different histories).
func newLog(t testing.TB, p testPerson, n int, tag string) (*logbook.Log, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "logbook")
	if err := logbook.Create(dir, testOrigin); err != nil {
		t.Fatal(err)
	}
	l, err := logbook.Open(dir, note.VerifierList(p.verifier(t)))
	if err != nil {
		t.Fatal(err)
	}
	appendNotes(t, l, p, n, tag)
	return l, dir
}

var testT0 = time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)

func appendNotes(t testing.TB, l *logbook.Log, p testPerson, n int, tag string) {
	t.Helper()
	for range n {
		i := l.Size()
		e := logbook.Entry{Kind: logbook.KindNote, Reason: fmt.Sprintf("%s note %d", tag, i), Time: testT0.Add(time.Duration(i) * time.Minute)}
		if _, err := l.Append(i, e, p.signer); err != nil {
			t.Fatal(err)
		}
	}
}

// testWitness is a Server on a loopback httptest server.
type testWitness struct {
	*Server
	vkey string
	url  string
	ts   *httptest.Server
}

// startWitness runs a witness that witnesses testOrigin signed by people.
func startWitness(t testing.TB, name string, people ...testPerson) *testWitness {
	t.Helper()
	skey, vkey, err := GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var keys []string
	for _, p := range people {
		keys = append(keys, p.vkey)
	}
	if err := AddLog(dir, testOrigin, keys); err != nil {
		t.Fatal(err)
	}
	srv, err := OpenServer(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	srv.Logf = t.Logf
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return &testWitness{Server: srv, vkey: vkey, url: ts.URL, ts: ts}
}

// configFor writes a witnesses file text for ws with quorum q.
func configFor(q int, timeout string, ws ...*testWitness) string {
	s := fmt.Sprintf("quorum %d\ntimeout %s\n", q, timeout)
	for _, w := range ws {
		s += fmt.Sprintf("witness %s %s\n", w.vkey, w.url)
	}
	return s
}
