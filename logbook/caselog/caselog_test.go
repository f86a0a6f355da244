package caselog

import (
	"crypto/ecdsa"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakglass/breakglass/token/tokentest"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/logbook/session"
	"github.com/breakglass/breakglass/logbook/witness"
	"github.com/breakglass/breakglass/token"
)

const origin = "breakglass.example/test/caselog"

// testCase is a case directory with software tokens.
type testCase struct {
	dir  string
	recs map[string]*token.Record
	keys map[string]*ecdsa.PrivateKey
}

// newTestCase makes a case with the records of names and, when withLog,
// a logbook.
func newTestCase(t *testing.T, withLog bool, names ...string) *testCase {
	t.Helper()
	tc := &testCase{dir: t.TempDir(), recs: map[string]*token.Record{}, keys: map[string]*ecdsa.PrivateKey{}}
	for _, n := range names {
		tc.add(t, n)
	}
	if withLog {
		if err := logbook.Create(filepath.Join(tc.dir, casedir.LogbookDir), origin); err != nil {
			t.Fatal(err)
		}
	}
	return tc
}

func (tc *testCase) add(t *testing.T, name string) {
	t.Helper()
	tc.recs[name], tc.keys[name] = tokentest.SoftRecord(t, name)
	b, err := tc.recs[name].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tc.dir, name+".card.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// open opens the case as a new process would, telling o.
func (tc *testCase) open(t *testing.T, o Observer) *Appender {
	t.Helper()
	c, err := casedir.Open(tc.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(c, o)
}

// raw appends e signed by who, without anything around it.
func (tc *testCase) raw(t *testing.T, who string, e logbook.Entry) {
	t.Helper()
	c, err := casedir.Open(tc.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(-1, e, tc.recs[who], tc.keys[who]); err != nil {
		t.Fatal(err)
	}
}

// entries are the logbook's entries as "actor:kind:reason", verified.
func (tc *testCase) entries(t *testing.T) []string {
	t.Helper()
	c, err := casedir.Open(tc.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.Log()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range l.Entries() {
		out = append(out, e.Actor+":"+string(e.Kind)+":"+e.Reason)
	}
	return out
}

// events is an Observer that writes down what it is told.
type events struct {
	said      []string
	witnessed []*Witnessing
}

func (ev *events) NotRecorded() { ev.said = append(ev.said, "not recorded") }
func (ev *events) FoundUnended(us []casedir.UnendedSession, err error) {
	for _, u := range us {
		ev.said = append(ev.said, "found "+u.Name)
	}
	if err != nil {
		ev.said = append(ev.said, "found: "+err.Error())
	}
}
func (ev *events) ClosingUnterminated(st *logbook.Entry) {
	ev.said = append(ev.said, fmt.Sprintf("closing %d", st.Index))
}
func (ev *events) NotedUnended(u casedir.UnendedSession, err error) {
	ev.said = append(ev.said, fmt.Sprintf("noted %s %v", u.Name, err))
}
func (ev *events) Witnessed(w *Witnessing) {
	ev.said = append(ev.said, "witnessed")
	ev.witnessed = append(ev.witnessed, w)
}

func note(reason string) logbook.Entry { return logbook.Entry{Kind: logbook.KindNote, Reason: reason} }

func TestAppendWithoutLogbook(t *testing.T) {
	tc := newTestCase(t, false, "alice")
	ev := &events{}
	a := tc.open(t, ev)
	ck, err := a.Append(-1, note("hello"), tc.recs["alice"], tc.keys["alice"])
	if err != nil || ck.N != 0 || len(ck.Signed) != 0 {
		t.Fatalf("Append without a logbook = %+v, %v; want a zero checkpoint and no error", ck, err)
	}
	if strings.Join(ev.said, "|") != "not recorded" {
		t.Fatalf("told %q", ev.said)
	}
	// Cosigned entries need a logbook.
	if _, err := a.AppendCosigned(note("x"), tc.recs["alice"], tc.keys["alice"]); !errors.Is(err, casedir.ErrNoLogbook) {
		t.Fatalf("AppendCosigned without a logbook: %v", err)
	}
}

func TestAppendRefusesAndSaysNothing(t *testing.T) {
	tc := newTestCase(t, true, "alice", "bob")
	ev := &events{}
	a := tc.open(t, ev)
	var wt *casedir.WrongTokenError
	if _, err := a.Append(-1, note("x"), tc.recs["alice"], tc.keys["bob"]); !errors.As(err, &wt) {
		t.Fatalf("alice's entry signed by bob's key: %v", err)
	}
	if got := tc.entries(t); len(got) != 0 || len(ev.said) != 0 {
		t.Fatalf("entries %q, told %q", got, ev.said)
	}
}

// killedSession writes the unseal-start of a session whose process is
// gone (nobody holds its lock), by who.
func killedSession(t *testing.T, tc *testCase, who string) *session.Session {
	s := session.New(who, "prod-aws", make([]byte, 32))
	tc.raw(t, who, s.Entry(logbook.KindUnsealStart, nil))
	return s
}

func TestAppendClosesKilledSessionsFirst(t *testing.T) {
	tc := newTestCase(t, true, "alice", "bob")
	killedSession(t, tc, "alice")
	ev := &events{}
	a := tc.open(t, ev)
	ck, err := a.Append(-1, note("after"), tc.recs["bob"], tc.keys["bob"])
	if err != nil || ck.N != 3 {
		t.Fatalf("Append = size %d, %v", ck.N, err)
	}
	want := "alice:unseal-start:|bob:note:" + session.UnterminatedReason + "|bob:note:after"
	if got := strings.Join(tc.entries(t), "|"); got != want {
		t.Fatalf("entries\n %s\nwant\n %s", got, want)
	}
	if strings.Join(ev.said, "|") != "closing 0" {
		t.Fatalf("told %q", ev.said)
	}
	// Check-then-append: the aborts go on top of the size checked, and
	// the entry after them.
	killedSession(t, tc, "alice")
	a = tc.open(t, nil)
	if ck, err := a.Append(4, note("checked"), tc.recs["bob"], tc.keys["bob"]); err != nil || ck.N != 6 {
		t.Fatalf("Append at 4 = size %d, %v", ck.N, err)
	}
	// A stale size appends nothing and is the conflict.
	killedSession(t, tc, "alice")
	a = tc.open(t, nil)
	var ce *logbook.ConflictError
	if _, err := a.Append(3, note("stale"), tc.recs["bob"], tc.keys["bob"]); !errors.As(err, &ce) {
		t.Fatalf("Append at a stale size: %v", err)
	}
	if n := len(tc.entries(t)); n != 7 {
		t.Fatalf("%d entries after a conflict, want 7", n)
	}
}

func TestEnrollOfANotAdmittedTokenClosesNothing(t *testing.T) {
	tc := newTestCase(t, true, "alice")
	g, err := casedir.NewGenesis([]*token.Record{tc.recs["alice"]}, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	tc.raw(t, "alice", logbook.GenesisEntry(g))
	killedSession(t, tc, "alice")
	tc.add(t, "carol")
	ev := &events{}
	a := tc.open(t, ev)
	if _, err := a.Append(-1, logbook.Entry{Kind: logbook.KindEnroll, Reason: "enroll carol"}, tc.recs["carol"], tc.keys["carol"]); err != nil {
		t.Fatal(err)
	}
	if n := len(tc.entries(t)); n != 3 || len(ev.said) != 0 {
		t.Fatalf("%d entries, told %q: carol's enroll closed a session she may not sign for", n, ev.said)
	}
	// An admitted custodian's entry closes it.
	if _, err := a.Append(-1, note("alice again"), tc.recs["alice"], tc.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	got := tc.entries(t)
	if len(got) != 5 || got[3] != "alice:note:"+session.UnterminatedReason {
		t.Fatalf("entries %q", got)
	}
}

func TestAppendNotesUnendedRecordings(t *testing.T) {
	tc := newTestCase(t, true, "alice", "bob")
	c, _ := casedir.Open(tc.dir, nil)
	name, file, err := c.NewRecording("prod-aws", "dead", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("what survived"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := session.New("alice", "prod-aws", nil)
	tc.raw(t, "alice", s.Entry(logbook.KindRelease, session.RecordingDetails(map[string]string{}, name, false, "")))

	ev := &events{}
	a := tc.open(t, ev)
	if _, err := a.Log(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Log(); err != nil { // looked for once
		t.Fatal(err)
	}
	if strings.Join(ev.said, "|") != "found "+name {
		t.Fatalf("told %q", ev.said)
	}
	if _, err := a.Append(-1, note("next"), tc.recs["bob"], tc.keys["bob"]); err != nil {
		t.Fatal(err)
	}
	want := "alice:release:|bob:note:next|bob:note:" + session.UnterminatedEndReason
	if got := strings.Join(tc.entries(t), "|"); got != want {
		t.Fatalf("entries\n %s\nwant\n %s", got, want)
	}
	if strings.Join(ev.said, "|") != "found "+name+"|noted "+name+" <nil>" {
		t.Fatalf("told %q", ev.said)
	}
	// Noted once.
	if _, err := a.Append(-1, note("later"), tc.recs["bob"], tc.keys["bob"]); err != nil {
		t.Fatal(err)
	}
	if n := len(tc.entries(t)); n != 4 {
		t.Fatalf("%d entries, want 4", n)
	}
}

// startWitness runs a witness of the case's logbook, signed by its
// people.
func startWitness(t *testing.T, tc *testCase, name string) (vkey, url string) {
	t.Helper()
	skey, vkey, err := witness.GenerateKey(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := witness.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var keys []string
	for n, k := range tc.keys {
		vk, err := token.NoteVerifierKey(n, &k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, vk)
	}
	if err := witness.AddLog(dir, origin, keys); err != nil {
		t.Fatal(err)
	}
	srv, err := witness.OpenServer(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	srv.Logf = t.Logf
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { ts.Close(); srv.Close() })
	return vkey, ts.URL
}

func writeWitnesses(t *testing.T, tc *testCase, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(tc.dir, casedir.LogbookDir, witness.ConfigFile), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAppendHasTheWitnessesCosign(t *testing.T) {
	tc := newTestCase(t, true, "alice")
	upKey, upURL := startWitness(t, tc, "up.example/w")
	_, downKey, _ := witness.GenerateKey("down.example/w")
	var hits atomic.Int32
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer down.Close()

	writeWitnesses(t, tc, fmt.Sprintf("quorum 2\ntimeout 5s\nwitness %s %s\nwitness %s %s\n", upKey, upURL, downKey, down.URL))
	ev := &events{}
	a := tc.open(t, ev)
	for _, r := range []string{"one", "two"} {
		if _, err := a.Append(-1, note(r), tc.recs["alice"], tc.keys["alice"]); err != nil {
			t.Fatal(err)
		}
	}
	if len(ev.witnessed) != 2 {
		t.Fatalf("told %q", ev.said)
	}
	w1, w2 := ev.witnessed[0], ev.witnessed[1]
	var we *witness.Error
	if len(w1.Failed) != 1 || w1.Failed[0].Witness.Name != "down.example/w" || !errors.As(w1.Failed[0].Err, &we) {
		t.Fatalf("first append: failed %+v", w1.Failed)
	}
	if w1.Complete() || w1.Status == nil || w1.Status.Size != 1 || w1.Status.Witnessed != 0 {
		t.Fatalf("first append: quorum 2 with one witness up: %+v", w1.Status)
	}
	// The witness that failed is not asked again by this process.
	if len(w2.Failed) != 0 || hits.Load() != 1 || w2.Complete() {
		t.Fatalf("second append: failed %+v, the down witness asked %d times", w2.Failed, hits.Load())
	}
	for _, ws := range w2.Status.Witnesses {
		if want := map[string]int64{"up.example/w": 2, "down.example/w": 0}[ws.Name]; ws.Size != want {
			t.Fatalf("%s cosigned %d entries, want %d", ws.Name, ws.Size, want)
		}
	}

	// Quorum 1: the witness that is up is enough.
	writeWitnesses(t, tc, fmt.Sprintf("quorum 1\ntimeout 5s\nwitness %s %s\n", upKey, upURL))
	ev = &events{}
	a = tc.open(t, ev)
	if _, err := a.Append(-1, note("three"), tc.recs["alice"], tc.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	if len(ev.witnessed) != 1 || !ev.witnessed[0].Complete() || ev.witnessed[0].Status.Witnessed != 3 {
		t.Fatalf("quorum 1: %+v", ev.witnessed)
	}

	// A witnesses file that cannot be used: nobody is asked, the entry
	// lands.
	writeWitnesses(t, tc, "quorum two\n")
	ev = &events{}
	a = tc.open(t, ev)
	if _, err := a.Append(-1, note("four"), tc.recs["alice"], tc.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	if len(ev.witnessed) != 1 || ev.witnessed[0].ConfigErr == nil || ev.witnessed[0].Complete() || len(tc.entries(t)) != 4 {
		t.Fatalf("a bad witnesses file: %+v", ev.witnessed)
	}

	// No witnesses file: nothing to tell.
	os.Remove(filepath.Join(tc.dir, casedir.LogbookDir, witness.ConfigFile))
	ev = &events{}
	a = tc.open(t, ev)
	if _, err := a.AppendCosigned(note("five"), tc.recs["alice"], tc.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	if len(ev.said) != 0 {
		t.Fatalf("told %q without witnesses", ev.said)
	}
}
