package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	sigsumcp "sigsum.org/sigsum-go/pkg/checkpoint"
	sigsumcrypto "sigsum.org/sigsum-go/pkg/crypto"
	sigsummerkle "sigsum.org/sigsum-go/pkg/merkle"
	sigsumtypes "sigsum.org/sigsum-go/pkg/types"

	"github.com/breakglass/breakglass/logbook"
)

func mustConfig(t *testing.T, s string) *Config {
	t.Helper()
	c, err := ParseConfig([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func cosign(t *testing.T, l *logbook.Log, dir string, c *Config) []Result {
	t.Helper()
	res, err := Cosign(context.Background(), l, dir, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func check(t *testing.T, l *logbook.Log, dir string, c *Config) *Status {
	t.Helper()
	st, err := Check(l, dir, c)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestCosignQuorum(t *testing.T) {
	alice := newPerson(t, "alice")
	w1, w2, w3 := startWitness(t, "w1.example", alice), startWitness(t, "w2.example", alice), startWitness(t, "w3.example", alice)
	c := mustConfig(t, configFor(2, "5s", w1, w2, w3))
	l, dir := newLog(t, alice, 3, "a")

	st := check(t, l, dir, c)
	if st.Witnessed != 0 || st.Summary() != "no entry is cosigned by a quorum of 2 of 3 witnesses yet; entries 0–2 not yet" {
		t.Fatalf("before cosigning: %d, %q", st.Witnessed, st.Summary())
	}
	for _, r := range cosign(t, l, dir, c) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	st = check(t, l, dir, c)
	if st.Witnessed != 3 || st.Summary() != "entries 0–2 cosigned by 3 of 3 witnesses (quorum 2)" {
		t.Fatalf("after cosigning: %d, %q", st.Witnessed, st.Summary())
	}
	// The cosigned checkpoint opens with note and the witnesses' keys, and
	// carries the actor's signature.
	n, err := note.Open(st.Latest, c.Verifiers())
	if err != nil || len(n.Sigs) != 3 || len(n.UnverifiedSigs) != 1 || n.UnverifiedSigs[0].Name != "alice" {
		t.Fatalf("cosigned checkpoint %q: %v", st.Latest, err)
	}

	// w3 goes down; two more entries are cosigned by w1 and w2 only.
	w3.ts.Close()
	appendNotes(t, l, alice, 2, "a")
	res := cosign(t, l, dir, c)
	var e *Error
	if len(res) != 3 || res[2].Err == nil || !errors.As(res[2].Err, &e) || e.Kind != Unreachable || e.Witness != "w3.example" {
		t.Fatalf("results %+v", res)
	}
	st = check(t, l, dir, c)
	if st.Summary() != "entries 0–4 cosigned by 2 of 3 witnesses (quorum 2)" || st.Witnesses[2].Size != 3 {
		t.Fatalf("w3 down: %q %+v", st.Summary(), st.Witnesses)
	}
	// w2 goes down too: the quorum has witnessed 0–4 only.
	w2.ts.Close()
	appendNotes(t, l, alice, 2, "a")
	cosign(t, l, dir, c)
	st = check(t, l, dir, c)
	if st.Summary() != "entries 0–4 cosigned by 2 of 3 witnesses (quorum 2); 5–6 not yet" {
		t.Fatalf("w2 and w3 down: %q", st.Summary())
	}
	// The cosigned file holds one checkpoint per size, in order.
	notes, err := readCosigned(dir, testOrigin)
	if err != nil || len(notes) != 3 || notes[0].ckpt.N != 3 || notes[1].ckpt.N != 5 || notes[2].ckpt.N != 7 {
		t.Fatalf("cosigned file: %d notes, %v", len(notes), err)
	}
	// Cosigning the same checkpoint again replaces w1's line rather than adding one.
	cosign(t, l, dir, c)
	notes, _ = readCosigned(dir, testOrigin)
	if len(notes[2].lines) != 2 {
		t.Fatalf("after cosigning twice: lines %q", notes[2].lines)
	}
}

// TestCosignFaults: a witness that is down, slow, or answers garbage fails
// with a message naming it; the others still cosign.
func TestCosignFaults(t *testing.T) {
	alice := newPerson(t, "alice")
	good := startWitness(t, "good.example", alice)
	l, dir := newLog(t, alice, 2, "a")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downURL := "http://" + ln.Addr().String()
	ln.Close()
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(release)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "— garbage.example AAAA\n")
	}))
	defer garbage.Close()
	nonsense := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>hello</html>")
	}))
	defer nonsense.Close()
	conflict := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, "lots\n")
	}))
	defer conflict.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database on fire", 500)
	}))
	defer broken.Close()

	fake := func(name, url string) *testWitness {
		_, vkey, _ := GenerateKey(name)
		return &testWitness{vkey: vkey, url: url}
	}
	c := mustConfig(t, configFor(2, "300ms", good, fake("down.example", downURL), fake("slow.example", slow.URL),
		fake("garbage.example", garbage.URL), fake("nonsense.example", nonsense.URL),
		fake("conflict.example", conflict.URL), fake("broken.example", broken.URL)))
	start := time.Now()
	res := cosign(t, l, dir, c)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Cosign took %v with a timeout of 300ms", d)
	}
	want := map[string]string{
		"good.example":     "",
		"down.example":     "witness down.example is unreachable at " + downURL + ": connect: connection refused",
		"slow.example":     "witness slow.example is unreachable at " + slow.URL + ": no answer within 300ms",
		"garbage.example":  "witness garbage.example at " + garbage.URL + " answered with something that is not its cosignature",
		"nonsense.example": "witness nonsense.example at " + nonsense.URL + " answered with something that is not its cosignature",
		"conflict.example": `witness conflict.example at ` + conflict.URL + ` answered 409 Conflict without a tree size ("lots")`,
		"broken.example":   "witness broken.example at " + broken.URL + " refused the checkpoint: 500 Internal Server Error: database on fire",
	}
	for _, r := range res {
		w, ok := want[r.Witness.Name]
		if !ok {
			t.Errorf("unexpected result for %s", r.Witness.Name)
			continue
		}
		delete(want, r.Witness.Name)
		if w == "" {
			if r.Err != nil {
				t.Errorf("%s: %v", r.Witness.Name, r.Err)
			}
			continue
		}
		if r.Err == nil || !strings.HasPrefix(r.Err.Error(), w) {
			t.Errorf("%s: %v; want an error starting %q", r.Witness.Name, r.Err, w)
		}
	}
	if len(want) != 0 {
		t.Errorf("no results for %v", want)
	}
	st := check(t, l, dir, c)
	if st.Witnessed != 0 || st.Summary() != "no entry is cosigned by a quorum of 2 of 7 witnesses yet; entries 0–1 not yet" {
		t.Fatalf("summary %q", st.Summary())
	}
}

// TestCosignDetectsRewrite: after a witness cosigned, a rewritten or
// truncated logbook is refused by the witness and fails Check.
func TestCosignDetectsRewrite(t *testing.T) {
	alice := newPerson(t, "alice")
	w := startWitness(t, "w1.example", alice)
	c := mustConfig(t, configFor(1, "5s", w))
	l, dir := newLog(t, alice, 5, "a")
	cosign(t, l, dir, c)

	// The same logbook with other entries (re-signed by alice), and the
	// cosigned file copied over.
	fork, forkDir := newLog(t, alice, 5, "b")
	b, _ := os.ReadFile(filepath.Join(dir, CosignedFile))
	os.WriteFile(filepath.Join(forkDir, CosignedFile), b, 0o644)
	var ie *InconsistentError
	if _, err := Check(fork, forkDir, c); !errors.As(err, &ie) ||
		err.Error() != "logbook: witnesses (w1.example) cosigned a checkpoint of 5 entries that entries 0–4 of the logbook do not match: the logbook was rewritten after it was witnessed" {
		t.Fatalf("Check of a rewritten logbook: %v", err)
	}
	appendNotes(t, fork, alice, 1, "b")
	res := cosign(t, fork, forkDir, c)
	var e *Error
	if !errors.As(res[0].Err, &e) || e.Kind != Inconsistent {
		t.Fatalf("cosigning a rewritten logbook: %v", res[0].Err)
	}

	// A truncated logbook (entries 3–4 removed, the checkpoint re-signed).
	short, shortDir := newLog(t, alice, 3, "a")
	os.WriteFile(filepath.Join(shortDir, CosignedFile), b, 0o644)
	if _, err := Check(short, shortDir, c); !errors.As(err, &ie) || !strings.Contains(err.Error(), "holds only 3: entries 3–4 were removed after they were witnessed") {
		t.Fatalf("Check of a truncated logbook: %v", err)
	}
	os.Remove(filepath.Join(shortDir, CosignedFile))
	res = cosign(t, short, shortDir, c)
	if !errors.As(res[0].Err, &e) || e.Kind != Ahead || e.Size != 5 ||
		res[0].Err.Error() != "witness w1.example has cosigned 5 entries of this logbook, but it holds only 3" {
		t.Fatalf("cosigning a truncated logbook: %v", res[0].Err)
	}

	// An edited cosignature fails Check.
	lines := strings.Split(string(b), "\n")
	for i, line := range lines {
		if b64, ok := strings.CutPrefix(line, "— w1.example "); ok {
			sig, _ := base64.StdEncoding.DecodeString(b64)
			sig[len(sig)-1] ^= 1
			lines[i] = "— w1.example " + base64.StdEncoding.EncodeToString(sig)
		}
	}
	os.WriteFile(filepath.Join(dir, CosignedFile), []byte(strings.Join(lines, "\n")), 0o644)
	var be *BadCosignatureError
	if _, err := Check(l, dir, c); !errors.As(err, &be) || be.Witness != "w1.example" {
		t.Fatalf("Check with an edited cosignature: %v", err)
	}
}

// TestCosignIndependentWitness: a witness written here from
// c2sp.org/tlog-witness with sigsum-go's cosigner, not ours, cosigns through
// Cosign, and Check verifies its cosignatures; sigsum-go also checks the
// consistency proofs breakglass sends.
func TestCosignIndependentWitness(t *testing.T) {
	alice := newPerson(t, "alice")
	const name = "sigsum.example/witness"
	pub, signer, err := sigsumcrypto.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	var size uint64
	var root sigsumcrypto.Hash
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		head, signed, _ := bytes.Cut(body, []byte("\n\n"))
		lines := strings.Split(string(head), "\n")
		old, _ := strconv.ParseUint(strings.TrimPrefix(lines[0], "old "), 10, 64)
		if old != size {
			w.Header().Set("Content-Type", "text/x.tlog.size")
			w.WriteHeader(http.StatusConflict)
			fmt.Fprintf(w, "%d\n", size)
			return
		}
		if _, err := note.Open(signed, note.VerifierList(alice.verifier(t))); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		text, _, _ := bytes.Cut(signed, []byte("\n\n"))
		parts := strings.Split(string(text), "\n")
		n, _ := strconv.ParseUint(parts[1], 10, 64)
		h, _ := sigsumcrypto.HashFromBase64(parts[2])
		var proof []sigsumcrypto.Hash
		for _, p := range lines[1:] {
			ph, _ := sigsumcrypto.HashFromBase64(p)
			proof = append(proof, ph)
		}
		if old > 0 {
			if err := sigsummerkle.VerifyConsistency(old, n, &root, &h, proof); err != nil {
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
				return
			}
		}
		th := sigsumtypes.TreeHead{Size: n, RootHash: h}
		cs, err := th.Cosign(signer, parts[0], uint64(time.Now().Unix()))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		size, root = n, h
		(&sigsumcp.CosignatureLine{KeyName: name, KeyId: sigsumcp.NewWitnessKeyId(name, &pub), Cosignature: cs}).ToASCII(w)
	}))
	defer srv.Close()
	vkey := sigsumcp.NewNoteVerifier(name, sigsumcp.SigTypeCosignature, &pub)
	c := mustConfig(t, fmt.Sprintf("quorum 1\nwitness %s %s\n", vkey.String(), srv.URL))
	l, dir := newLog(t, alice, 3, "a")
	for i := 0; i < 4; i++ {
		for _, r := range cosign(t, l, dir, c) {
			if r.Err != nil {
				t.Fatalf("round %d: %v", i, r.Err)
			}
		}
		if st := check(t, l, dir, c); st.Witnessed != l.Size() {
			t.Fatalf("round %d: %q", i, st.Summary())
		}
		appendNotes(t, l, alice, i+1, "a")
	}
}

func TestCosignEmpty(t *testing.T) {
	alice := newPerson(t, "alice")
	w := startWitness(t, "w1.example", alice)
	l, dir := newLog(t, alice, 0, "")
	if _, err := Cosign(context.Background(), l, dir, mustConfig(t, configFor(1, "1s", w)), nil); err != ErrEmpty {
		t.Fatalf("Cosign of an empty logbook: %v", err)
	}
}

func TestStoreFork(t *testing.T) {
	alice := newPerson(t, "alice")
	w := startWitness(t, "w1.example", alice)
	c := mustConfig(t, configFor(1, "5s", w))
	l, dir := newLog(t, alice, 2, "a")
	cosign(t, l, dir, c)
	other, _ := newLog(t, alice, 2, "b")
	var fe *ForkError
	if err := Store(dir, other.Checkpoint().Signed, nil); err == nil {
		t.Fatal("Store accepted no cosignature lines")
	}
	line := "— x.example AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
	if err := Store(dir, other.Checkpoint().Signed, []byte(line)); !errors.As(err, &fe) || fe.Size != 2 {
		t.Fatalf("Store of a fork: %v", err)
	}
}

// TestParseCosigned: damaged cosigned files are errors naming the problem.
func TestParseCosigned(t *testing.T) {
	ck := func(n int64) string {
		return fmt.Sprintf("%s\n%d\n%s\n", testOrigin, n, tlog.Hash{}.String())
	}
	sig := "— w AAAAAAAA\n"
	for _, tc := range []struct{ in, want string }{
		{ck(1), "checkpoint 1 has no signature lines"},
		{ck(1) + "\n", "checkpoint 1 has no signature lines"},
		{ck(2) + "\n" + sig + ck(1) + "\n" + sig, "checkpoint 2 (size 1) does not follow one of a smaller size"},
		{"other.example\n1\n" + tlog.Hash{}.String() + "\n\n" + sig, `checkpoint 1 is of the logbook "other.example"`},
		{ck(1) + "\n— w AAAA", "the last signature line has no newline"},
	} {
		if _, err := parseCosigned([]byte(tc.in), testOrigin); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseCosigned(%q) = %v; want %q", tc.in, err, tc.want)
		}
	}
	if n, err := parseCosigned([]byte(ck(1)+"\n"+sig+sig+ck(3)+"\n"+sig), testOrigin); err != nil || len(n) != 2 {
		t.Errorf("good file: %d, %v", len(n), err)
	}
}

// FuzzParseCosigned: whatever parses re-encodes to the same bytes.
func FuzzParseCosigned(f *testing.F) {
	f.Add([]byte(testOrigin + "\n1\n" + tlog.Hash{}.String() + "\n\n— w AAAAAAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		notes, err := parseCosigned(b, testOrigin)
		if err != nil {
			return
		}
		var out []byte
		for _, n := range notes {
			out = append(out, n.bytes()...)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("parsed %q, re-encoded %q", b, out)
		}
	})
}

// TestCheckCatchesUp: a cosigned checkpoint beyond a stale view of the
// logbook (another process appended and cosigned since) is not a removal.
func TestCheckCatchesUp(t *testing.T) {
	alice := newPerson(t, "alice")
	w := startWitness(t, "w1.example", alice)
	c := mustConfig(t, configFor(1, "5s", w))
	l, dir := newLog(t, alice, 2, "a")
	stale, err := logbook.Open(dir, note.VerifierList(alice.verifier(t)))
	if err != nil {
		t.Fatal(err)
	}
	appendNotes(t, l, alice, 2, "a")
	cosign(t, l, dir, c)
	st := check(t, stale, dir, c)
	if st.Size != 4 || st.Witnessed != 4 {
		t.Fatalf("Check on a stale view: %q", st.Summary())
	}
}
