package witness

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/breakglass/breakglass/logbook"
)

// post sends an add-checkpoint body to w and returns the status and body.
func post(t *testing.T, url string, body []byte) (int, string, http.Header) {
	t.Helper()
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func request(t *testing.T, l *logbook.Log, old int64) []byte {
	t.Helper()
	p, err := l.ProveConsistency(old)
	if err != nil {
		t.Fatal(err)
	}
	return FormatRequest(old, p, l.Checkpoint().Signed)
}

// TestServerProtocol walks the add-checkpoint rules of c2sp.org/tlog-witness.
func TestServerProtocol(t *testing.T) {
	alice, mallory := newPerson(t, "alice"), newPerson(t, "mallory")
	w := startWitness(t, "w1.example", alice)
	v, _ := NewVerifier(w.vkey)
	l, _ := newLog(t, alice, 3, "a")

	// First checkpoint: old 0, no proof.
	code, body, _ := post(t, w.url, request(t, l, 0))
	if code != 200 {
		t.Fatalf("first add-checkpoint: %d %s", code, body)
	}
	if _, err := note.Open(append(bytes.Clone(l.Checkpoint().Signed), body...), note.VerifierList(v)); err != nil {
		t.Fatalf("cosignature %q: %v", body, err)
	}
	// Persisted before answering, with the cosignature.
	h := sha256.Sum256([]byte(testOrigin))
	stored, err := os.ReadFile(filepath.Join(w.dir, "checkpoints", hex.EncodeToString(h[:])))
	if err != nil || !bytes.Equal(stored, append(bytes.Clone(l.Checkpoint().Signed), body...)) {
		t.Fatalf("stored %q, %v", stored, err)
	}
	// The monitoring endpoint serves it.
	resp, err := http.Get(w.url + "/" + hex.EncodeToString(h[:]) + "/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, stored) {
		t.Fatalf("GET checkpoint: %d %q", resp.StatusCode, got)
	}

	ck3 := l.Checkpoint()
	appendNotes(t, l, alice, 2, "a")
	// A stale old size: 409 with the witness's size.
	code, body, hdr := post(t, w.url, request(t, l, 0))
	if code != 409 || body != "3\n" || hdr.Get("Content-Type") != "text/x.tlog.size" {
		t.Fatalf("stale old size: %d %q %q", code, body, hdr.Get("Content-Type"))
	}
	// The right old size and proof: 200.
	if code, body, _ := post(t, w.url, request(t, l, 3)); code != 200 {
		t.Fatalf("extension: %d %s", code, body)
	}
	// Rollback: the old checkpoint again is a conflict (the witness is at 5).
	if code, body, _ := post(t, w.url, FormatRequest(3, nil, ck3.Signed)); code != 409 || body != "5\n" {
		t.Fatalf("rollback: %d %q", code, body)
	}
	// old larger than the checkpoint: 400.
	if code, _, _ := post(t, w.url, FormatRequest(5, nil, ck3.Signed)); code != 400 {
		t.Fatalf("old > size: %d", code)
	}
	// A fork of the same size: 422.
	fork, _ := newLog(t, alice, 5, "b")
	if code, body, _ := post(t, w.url, request(t, fork, 5)); code != 422 {
		t.Fatalf("fork of the same size: %d %s", code, body)
	}
	// A fork that extends: the proof from 5 does not verify: 422.
	appendNotes(t, fork, alice, 1, "b")
	if code, body, _ := post(t, w.url, request(t, fork, 5)); code != 422 {
		t.Fatalf("fork with a proof: %d %s", code, body)
	}
	// A proof from 0: 422.
	if code, _, _ := post(t, w.url, FormatRequest(0, tlog.TreeProof{{}}, ck3.Signed)); code != 422 {
		t.Fatalf("proof from 0 to a witness at 5: %d", code)
	}
	// Signed by a key the witness does not know: 403.
	other, _ := newLog(t, mallory, 6, "a")
	if code, _, _ := post(t, w.url, request(t, other, 5)); code != 403 {
		t.Fatalf("unknown key: %d", code)
	}
	// A signature by a known key that does not verify: 403.
	bad := bytes.Replace(request(t, l, 5), []byte("— alice "), []byte("— alice A"), 1)
	if code, _, _ := post(t, w.url, bad); code != 403 && code != 400 {
		t.Fatalf("bad signature: %d", code)
	}
	// An unknown origin: 404.
	if code, _, _ := post(t, w.url, FormatRequest(0, nil, []byte("example.com/other\n1\n"+tlog.Hash{}.String()+"\n\n— x AAAA\n"))); code != 404 {
		t.Fatalf("unknown origin: %d", code)
	}
	// Garbage: 400.
	for _, g := range []string{"", "hello", "old x\n\n", "old 1\nnot a hash\n\n" + string(ck3.Signed)} {
		if code, _, _ := post(t, w.url, []byte(g)); code != 400 {
			t.Errorf("garbage %q: %d", g, code)
		}
	}
	// The witness is still at 5 with the first history.
	if code, body, _ := post(t, w.url, request(t, l, 5)); code != 200 {
		t.Fatalf("same checkpoint again: %d %s", code, body)
	}
	resp, _ = http.Get(w.url + "/add-checkpoint")
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Fatalf("GET add-checkpoint: %d", resp.StatusCode)
	}
}

func TestServerStateInUse(t *testing.T) {
	alice := newPerson(t, "alice")
	w := startWitness(t, "w1.example", alice)
	skey, _, _ := GenerateKey("w1.example")
	s, _ := NewSigner(skey)
	if _, err := OpenServer(w.dir, s); err == nil || !strings.Contains(err.Error(), "another witness process is using this state directory") {
		t.Fatalf("second OpenServer: %v", err)
	}
}

// crash is the panic value of a simulated crash.
type crash struct{}

// forkStates are the checkpoints of one history of a log, by size, with the
// consistency proofs to them from every smaller size.
type forkState struct {
	signed []byte
	hash   tlog.Hash
	proofs []tlog.TreeProof // by old size
}

func buildFork(t *testing.T, p testPerson, srcDir, tag string, upTo int64) map[int64]forkState {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(srcDir)); err != nil {
		t.Fatal(err)
	}
	l, err := logbook.Open(dir, note.VerifierList(p.verifier(t)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]forkState{}
	for l.Size() < upTo {
		appendNotes(t, l, p, 1, tag)
		st := forkState{signed: l.Checkpoint().Signed, hash: l.Checkpoint().Hash}
		for old := int64(0); old <= l.Size(); old++ {
			pr, err := l.ProveConsistency(old)
			if err != nil {
				t.Fatal(err)
			}
			st.proofs = append(st.proofs, pr)
		}
		out[l.Size()] = st
	}
	return out
}

// TestServerCrashNeverForks drives one witness with two histories of one
// log that share their first 4 entries, with old sizes right and wrong, and
// crashes it at random between writing its new state and renaming it into
// place (a panic, then a new Server on the same directory, as after kill
// -9): it must never cosign two different checkpoints of the same size.
func TestServerCrashNeverForks(t *testing.T) {
	alice := newPerson(t, "alice")
	skey, vkey, _ := GenerateKey("w1.example")
	signer, _ := NewSigner(skey)
	v, _ := NewVerifier(vkey)
	dir := t.TempDir()
	if err := AddLog(dir, testOrigin, []string{alice.vkey}); err != nil {
		t.Fatal(err)
	}
	const top = 40
	_, shared := newLog(t, alice, 4, "shared")
	forks := [2]map[int64]forkState{buildFork(t, alice, shared, "A", top), buildFork(t, alice, shared, "B", top)}

	rng := rand.New(rand.NewPCG(1, 2))
	cosigned := map[int64]tlog.Hash{}
	srv, err := OpenServer(dir, signer)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Close() }()
	crashes, oks, refused := 0, 0, 0
	for i := 0; i < 600; i++ {
		latest, _, err := srv.latest(testOrigin)
		if err != nil {
			t.Fatal(err)
		}
		n := min(max(latest, 5)+int64(rng.IntN(3)), top)
		old := latest
		if rng.IntN(4) == 0 {
			old = int64(rng.IntN(int(n) + 1))
		}
		old = min(old, n)
		st := forks[rng.IntN(2)][n]
		if rng.IntN(4) == 0 {
			srv.testingOnlyBeforeRename = func() { panic(crash{}) }
		}
		cosigs, crashed := func() (c []byte, crashed bool) {
			defer func() {
				if r := recover(); r != nil {
					if _, ok := r.(crash); !ok {
						panic(r)
					}
					crashed = true
				}
			}()
			c, _, _ = srv.AddCheckpoint(FormatRequest(old, st.proofs[old], st.signed))
			return c, false
		}()
		srv.testingOnlyBeforeRename = nil
		switch {
		case crashed:
			crashes++
			srv.Close() // the process died; a new one starts on the same state
			if srv, err = OpenServer(dir, signer); err != nil {
				t.Fatal(err)
			}
		case cosigs == nil:
			refused++
		default:
			if _, err := note.Open(append(bytes.Clone(st.signed), cosigs...), note.VerifierList(v)); err != nil {
				t.Fatal(err)
			}
			oks++
			if h, ok := cosigned[n]; ok && h != st.hash {
				t.Fatalf("request %d: the witness cosigned two different checkpoints of size %d", i, n)
			}
			cosigned[n] = st.hash
		}
	}
	if crashes < 20 || oks < 50 || refused < 50 {
		t.Fatalf("%d cosignatures, %d refusals, %d crashes: the test did not exercise much", oks, refused, crashes)
	}
	t.Logf("%d cosignatures of %d sizes, %d refusals, %d crashes", oks, len(cosigned), refused, crashes)
}

// FuzzAddCheckpoint: whatever the request, the witness does not panic, and
// what it cosigns is the submitted checkpoint, verified.
func FuzzAddCheckpoint(f *testing.F) {
	alice := newPerson(f, "alice")
	l, _ := newLog(f, alice, 3, "a")
	f.Add(FormatRequest(0, nil, l.Checkpoint().Signed))
	p, _ := l.ProveConsistency(1)
	f.Add(FormatRequest(1, p, l.Checkpoint().Signed))
	f.Add([]byte("old 0\n\n" + testOrigin + "\n0\n" + emptyTree.String() + "\n\n— alice AAAA\n"))
	skey, vkey, _ := GenerateKey("w1.example")
	signer, _ := NewSigner(skey)
	v, _ := NewVerifier(vkey)
	dir := f.TempDir()
	if err := AddLog(dir, testOrigin, []string{alice.vkey}); err != nil {
		f.Fatal(err)
	}
	srv, err := OpenServer(dir, signer)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	f.Fuzz(func(t *testing.T, body []byte) {
		cosigs, cosigned, err := srv.AddCheckpoint(body)
		if err != nil {
			return
		}
		_, signed, _ := bytes.Cut(body, []byte("\n\n"))
		if !bytes.Equal(cosigned, append(bytes.Clone(signed), cosigs...)) {
			t.Fatalf("cosigned %q is not the request's checkpoint %q with %q", cosigned, signed, cosigs)
		}
		if _, err := note.Open(cosigned, note.VerifierList(v, alice.verifier(t))); err != nil {
			t.Fatalf("cosigned a note that does not open: %v", err)
		}
	})
}
