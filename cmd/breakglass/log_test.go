package main

// Tests of the log commands and the case directory (caselog.go).
//
// Scripts live in testdata/script-log (no card) and
// testdata/script-log-cards (virtual cards). They run the real CLI (this test
// binary, re-executed through a wrapper named breakglass on $PATH) and see:
//
//	logcase NAME DST     copies testdata/script-log/fixture/NAME to DST
//	mangle FILE OLD NEW  replaces the first OLD in FILE by NEW (fails if absent)
//	cut FILE N           removes the last N bytes of FILE
//	delentry FILE N      deletes entry N from a logbook entries file
//
// and the witness commands of log_witness_test.go (freeport, waitfor,
// expand, envfile, fakewitness).
//
// and, in script-log-cards, $READER_alice and $READER_bob, the readers of two
// enrolled virtual cards whose records are in $CARDS; BREAKGLASS_PIN is their
// PIN.
//
// The fixture is a case built with fixed software keys and fixed times, so its
// bytes and every golden output are reproducible; TestLogFixture rebuilds it
// and fails when the files differ (go test -run TestLogFixture
// -update-log-fixture rewrites them).

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/urfave/cli/v2"
	"golang.org/x/mod/sumdb/note"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

var updateLogFixture = flag.Bool("update-log-fixture", false, "rewrite testdata/script-log/fixture")

const logTestPIN = "135790"

// The test binary is breakglass when BREAKGLASS_LOGTEST_MAIN is set (by the
// wrapper logScriptBin writes).
func init() {
	if os.Getenv("BREAKGLASS_LOGTEST_MAIN") == "breakglass" {
		os.Unsetenv("BREAKGLASS_LOGTEST_MAIN")
		os.Exit(run(append([]string{"breakglass"}, os.Args[1:]...)))
	}
}

// softKey derives a fixed P-256 key from name. Test keys only.
func softKey(name string) *ecdsa.PrivateKey {
	for ctr := byte(0); ; ctr++ {
		d := sha256.Sum256(append([]byte("breakglass cmd log test key\n"+name+"\n"), ctr))
		if k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:]); err == nil {
			return k
		}
	}
}

// detSigner signs deterministically (RFC 6979: ecdsa with a nil rand), so
// the fixture rebuilds byte for byte.
type detSigner struct{ k *ecdsa.PrivateKey }

func (s detSigner) Public() crypto.PublicKey { return &s.k.PublicKey }
func (s detSigner) Sign(_ io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(nil, d, o)
}

// softRecord is the signed enrollment record of a software "PKCS#11 token"
// holding keys derived from name.
func softRecord(t testing.TB, name string) (*token.Record, crypto.Signer) {
	t.Helper()
	kx, sig := softKey(name+"/kx"), softKey(name+"/sig")
	info := token.Info{Kind: token.KindPKCS11, Serial: "soft-" + name, Label: name,
		URI: "pkcs11:token=" + name + "?module-path=/nonexistent/soft.so", KeyAgreementID: "01", SigningID: "02"}
	r, err := token.NewRecord(token.Custodian{Name: name, Email: strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com"},
		info, &kx.PublicKey, &sig.PublicKey, time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	s := detSigner{sig}
	if err := r.Sign(s); err != nil {
		t.Fatal(err)
	}
	return r, s
}

func writeRecord(t testing.TB, r *token.Record, path string) {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

var fixtureT0 = time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)

type fixtureStep struct {
	who string
	e   logbook.Entry
}

// fixtureStory is the life of one secret; alter changes the release and
// what follows (the "rewritten history" variant).
func fixtureStory(alter bool) []fixtureStep {
	at := func(m int) time.Time { return fixtureT0.Add(time.Duration(m) * time.Minute) }
	hh := sha256.Sum256([]byte("header of prod-aws"))
	release := logbook.Entry{Time: at(20), Kind: logbook.KindRelease, Secret: "prod-aws", HeaderHash: hh[:],
		Reason: "SSO outage, console unreachable", Ticket: "INC-4242", UseCase: "idp-outage",
		Details: map[string]string{logbook.DetailKeyID: "AKIAEXAMPLE000000001", logbook.DetailOperator: "bob",
			logbook.DetailSession: "7f3a", logbook.DetailTapped: "alice,bob"}}
	if alter {
		release.Reason = "routine maintenance"
		release.Ticket = "CHG-1"
	}
	return []fixtureStep{
		{"alice", logbook.Entry{Time: at(0), Kind: logbook.KindEnroll, Details: map[string]string{"token": "pkcs11:token=alice"}}},
		{"bob", logbook.Entry{Time: at(1), Kind: logbook.KindEnroll, Details: map[string]string{"token": "pkcs11:token=bob"}}},
		{"alice", logbook.Entry{Time: at(5), Kind: logbook.KindSeal, Secret: "prod-aws", HeaderHash: hh[:],
			Details: map[string]string{logbook.DetailKeyID: "AKIAEXAMPLE000000001", "threshold": "2"}}},
		{"bob", logbook.Entry{Time: at(15), Kind: logbook.KindUnsealStart, Secret: "prod-aws", HeaderHash: hh[:],
			Reason: "SSO outage, console unreachable", Ticket: "INC-4242", UseCase: "idp-outage",
			Details: map[string]string{logbook.DetailOperator: "bob", logbook.DetailSession: "7f3a"}}},
		{"alice", logbook.Entry{Time: at(17), Kind: logbook.KindTap, Secret: "prod-aws", HeaderHash: hh[:],
			Details: map[string]string{logbook.DetailSession: "7f3a"}}},
		{"bob", release},
		{"alice", logbook.Entry{Time: at(24 * 60), Kind: logbook.KindRevoke, Secret: "prod-aws", Ticket: "INC-4242",
			Details: map[string]string{logbook.DetailKeyID: "AKIAEXAMPLE000000001"}}},
		{"bob", logbook.Entry{Time: at(3 * 24 * 60), Kind: logbook.KindNote, Reason: "quarterly safe check: paper shares present", Ticket: "AUD-17"}},
	}
}

// publishedAt is the size of the checkpoint fixture/checkpoint-6.txt: the
// one published right after the release.
const publishedAt = 6

// buildFixture writes the fixture into dir: case/ (records and logbook),
// checkpoint-6.txt, rewritten/ (the same case with the release and what
// follows rewritten and re-signed) and staging/ (a logbook of another case).
func buildFixture(t testing.TB, dir string) {
	t.Helper()
	type person struct {
		r *token.Record
		s crypto.Signer
	}
	people := map[string]person{}
	for _, n := range []string{"alice", "bob"} {
		r, s := softRecord(t, n)
		people[n] = person{r, s}
	}
	build := func(cdir, origin string, alter bool) {
		for n, p := range people {
			writeRecord(t, p.r, filepath.Join(cdir, casedir.CustodiansDir, n+".card.json"))
		}
		if err := logbook.Create(filepath.Join(cdir, casedir.LogbookDir), origin); err != nil {
			t.Fatal(err)
		}
		cd := testCaseDir(t, cdir)
		for i, st := range fixtureStory(alter) {
			ck, err := cd.Append(-1, st.e, people[st.who].r, people[st.who].s) // not logEntry: no abort of the session in progress
			if err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
			if !alter && ck.N == publishedAt && origin == fixtureOrigin {
				if err := os.WriteFile(filepath.Join(dir, "checkpoint-6.txt"), ck.Signed, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		os.Remove(filepath.Join(cdir, casedir.LogbookDir, "lock"))
	}
	build(filepath.Join(dir, "case"), fixtureOrigin, false)
	build(filepath.Join(dir, "rewritten"), fixtureOrigin, true)
	build(filepath.Join(dir, "staging"), "breakglass.example/acme/staging", false)
}

const fixtureOrigin = "breakglass.example/acme/prod"

// readTree returns the files under dir, by slash path.
func readTree(t testing.TB, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return files
}

// TestLogFixture rebuilds the scripts' fixture from fixed keys and times and
// checks it is byte for byte the one in testdata.
func TestLogFixture(t *testing.T) {
	const fixture = "testdata/script-log/fixture"
	got := t.TempDir()
	buildFixture(t, got)
	if *updateLogFixture {
		if err := os.RemoveAll(fixture); err != nil {
			t.Fatal(err)
		}
		if err := os.CopyFS(fixture, os.DirFS(got)); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, want := readTree(t, got), readTree(t, fixture)
	if len(want) == 0 {
		t.Fatalf("%s is missing: run go test -run TestLogFixture -update-log-fixture", fixture)
	}
	for name, b := range have {
		if !bytes.Equal(b, want[name]) {
			t.Errorf("%s/%s differs from a rebuild (run go test -run TestLogFixture -update-log-fixture and review the diff)", fixture, name)
		}
	}
	for name := range want {
		if _, ok := have[name]; !ok {
			t.Errorf("%s/%s is not made by the rebuild", fixture, name)
		}
	}
}

// logScriptParams are the testscript parameters of the log scripts in dir;
// setup adds to the environment.
func logScriptParams(t *testing.T, dir string, setup func(*testscript.Env)) testscript.Params {
	bin := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	sh := fmt.Sprintf("#!/bin/sh\nBREAKGLASS_LOGTEST_MAIN=breakglass exec %q \"$@\"\n", self)
	if err := os.WriteFile(filepath.Join(bin, "breakglass"), []byte(sh), 0o755); err != nil {
		t.Fatal(err)
	}
	fixture, err := filepath.Abs("testdata/script-log/fixture")
	if err != nil {
		t.Fatal(err)
	}
	p := testscript.Params{
		Dir: dir,
		// -update-log-fixture also rewrites the scripts' golden files
		// (cmp stdout FILE); inline patterns are updated by hand.
		UpdateScripts: *updateLogFixture,
		Setup: func(e *testscript.Env) error {
			e.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			e.Setenv("BREAKGLASS_CASE", "")
			e.Setenv("BREAKGLASS_PIN", "")
			if setup != nil {
				setup(e)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"logcase": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: logcase NAME DST")
				}
				src := filepath.Join(fixture, args[0])
				fi, err := os.Stat(src)
				ts.Check(err)
				if !fi.IsDir() {
					b, err := os.ReadFile(src)
					ts.Check(err)
					ts.Check(os.WriteFile(ts.MkAbs(args[1]), b, 0o644))
					return
				}
				if err := os.CopyFS(ts.MkAbs(args[1]), os.DirFS(src)); err != nil {
					ts.Fatalf("logcase: %v", err)
				}
			},
			"cut": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: cut FILE N")
				}
				n, err := strconv.Atoi(args[1])
				ts.Check(err)
				p := ts.MkAbs(args[0])
				b, err := os.ReadFile(p)
				ts.Check(err)
				if n > len(b) {
					ts.Fatalf("cut: %s has only %d bytes", args[0], len(b))
				}
				ts.Check(os.WriteFile(p, b[:len(b)-n], 0o644))
			},
			"delentry": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: delentry FILE N")
				}
				n, err := strconv.Atoi(args[1])
				ts.Check(err)
				p := ts.MkAbs(args[0])
				b, err := os.ReadFile(p)
				ts.Check(err)
				recs := splitEntries(b)
				if n < 0 || n >= len(recs) {
					ts.Fatalf("delentry: %s has %d entries", args[0], len(recs))
				}
				ts.Check(os.WriteFile(p, bytes.Join(append(recs[:n:n], recs[n+1:]...), nil), 0o644))
			},
			"mangle": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 3 {
					ts.Fatalf("usage: mangle FILE OLD NEW")
				}
				p := ts.MkAbs(args[0])
				b, err := os.ReadFile(p)
				ts.Check(err)
				if !bytes.Contains(b, []byte(args[1])) {
					ts.Fatalf("mangle: %q not found in %s", args[1], args[0])
				}
				ts.Check(os.WriteFile(p, bytes.Replace(b, []byte(args[1]), []byte(args[2]), 1), 0o644))
			},
		},
	}
	maps.Copy(p.Cmds, witnessScriptCmds())
	return p
}

// splitEntries splits a logbook entries file into its records: text lines,
// a blank line, then the signature lines (starting with "— ").
func splitEntries(b []byte) [][]byte {
	var recs [][]byte
	for len(b) > 0 {
		end := bytes.Index(b, []byte("\n\n"))
		if end < 0 {
			return append(recs, b)
		}
		end += 2
		for end < len(b) && bytes.HasPrefix(b[end:], []byte("— ")) {
			nl := bytes.IndexByte(b[end:], '\n')
			if nl < 0 {
				end = len(b)
				break
			}
			end += nl + 1
		}
		recs = append(recs, b[:end])
		b = b[end:]
	}
	return recs
}

// TestLogScripts runs testdata/script-log: the fixture case, no card.
func TestLogScripts(t *testing.T) {
	testscript.Run(t, logScriptParams(t, "testdata/script-log", nil))
}

// TestLogCardScripts runs testdata/script-log-cards: notes signed on two
// enrolled virtual cards, alice and bob. The cards are shared, so the
// scripts run one at a time.
func TestLogCardScripts(t *testing.T) {
	names := []string{"alice", "bob"}
	cards := vcardtest.Start(t, len(names))
	recs := t.TempDir()
	for i, c := range cards {
		enrollVirtual(t, c, names[i], recs, logTestPIN)
	}
	var one sync.Mutex
	testscript.Run(t, logScriptParams(t, "testdata/script-log-cards", func(e *testscript.Env) {
		one.Lock()
		e.Defer(one.Unlock)
		e.Setenv("CARDS", recs)
		e.Setenv("BREAKGLASS_PIN", logTestPIN)
		for i, c := range cards {
			e.Setenv("READER_"+names[i], c.Reader)
		}
	}))
}

// newTestCase makes a case in a temporary directory with alice's and bob's
// software records and, with origin set, a logbook.
func newTestCase(t *testing.T, origin string) (*caseDir, map[string]*token.Record, map[string]crypto.Signer) {
	t.Helper()
	dir := t.TempDir()
	recs, signers := map[string]*token.Record{}, map[string]crypto.Signer{}
	for _, n := range []string{"alice", "bob"} {
		r, s := softRecord(t, n)
		writeRecord(t, r, filepath.Join(dir, n+".card.json"))
		recs[n], signers[n] = r, s
	}
	if origin != "" {
		if err := logbook.Create(filepath.Join(dir, casedir.LogbookDir), origin); err != nil {
			t.Fatal(err)
		}
	}
	return testCaseDir(t, dir), recs, signers
}

// testCaseDir opens the case dir as a command does, warning through t.Logf.
func testCaseDir(t testing.TB, dir string) *caseDir {
	cd := newCaseDir(&casedir.Case{Dir: dir})
	cd.warnf = t.Logf
	return cd
}

func TestRecordWithoutLogbookWarns(t *testing.T) {
	cd, recs, signers := newTestCase(t, "")
	var warned []string
	cd.warnf = func(f string, a ...any) { warned = append(warned, fmt.Sprintf(f, a...)) }
	ck, err := cd.logEntry(logbook.Entry{Kind: logbook.KindNote, Reason: "hello"}, recs["alice"], signers["alice"])
	if err != nil || ck.N != 0 || len(ck.Signed) != 0 {
		t.Fatalf("record without a logbook = %+v, %v; want a zero checkpoint and no error", ck, err)
	}
	want := "no logbook in " + cd.Dir + "; this step is not recorded"
	if len(warned) != 1 || warned[0] != want {
		t.Fatalf("warnings %q, want [%q]", warned, want)
	}
	if l, err := cd.Log(); l != nil || err != nil {
		t.Fatalf("Log() = %v, %v; want nil, nil", l, err)
	}
}

func TestRecordRefuses(t *testing.T) {
	stranger, strangerSigner := softRecord(t, "mallory")
	paper := token.NewPaperRecord(token.Custodian{Name: "erin"}, "safe", time.Now())
	for _, tc := range []struct {
		name    string
		actor   func(map[string]*token.Record) *token.Record
		signer  func(map[string]crypto.Signer) crypto.Signer
		wantErr string
	}{
		{"not in roster", func(map[string]*token.Record) *token.Record { return stranger },
			func(map[string]crypto.Signer) crypto.Signer { return strangerSigner }, "mallory (key "},
		{"someone else's token", func(r map[string]*token.Record) *token.Record { return r["alice"] },
			func(s map[string]crypto.Signer) crypto.Signer { return s["bob"] }, "the token's signing key is not the one in alice's enrollment record"},
		{"paper", func(map[string]*token.Record) *token.Record { return paper },
			func(s map[string]crypto.Signer) crypto.Signer { return s["bob"] }, "paper custodians cannot sign"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cd, recs, signers := newTestCase(t, fixtureOrigin)
			_, err := cd.logEntry(logbook.Entry{Kind: logbook.KindNote, Reason: "x"}, tc.actor(recs), tc.signer(signers))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("record: %v; want an error containing %q", err, tc.wantErr)
			}
			l, _ := cd.Log()
			if l.Size() != 0 {
				t.Fatalf("the logbook holds %d entries after a refused record", l.Size())
			}
		})
	}
}

// TestRecordRetriesAfterConflict: two processes' views of one case; the
// stale one's append lands on top of the other's entry, logEntryAt does not.
func TestRecordRetriesAfterConflict(t *testing.T) {
	cd1, recs, signers := newTestCase(t, fixtureOrigin)
	cd2 := testCaseDir(t, cd1.Dir)
	if _, err := cd2.Log(); err != nil { // opened at size 0
		t.Fatal(err)
	}
	if _, err := cd1.logEntry(logbook.Entry{Kind: logbook.KindNote, Reason: "first"}, recs["alice"], signers["alice"]); err != nil {
		t.Fatal(err)
	}
	// cd2 still believes the logbook is empty.
	_, err := cd2.logEntryAt(0, logbook.Entry{Kind: logbook.KindNote, Reason: "checked"}, recs["bob"], signers["bob"])
	var ce *logbook.ConflictError
	if !errors.As(err, &ce) || ce.Size != 1 {
		t.Fatalf("logEntryAt on a stale size: %v; want a *logbook.ConflictError with Size 1", err)
	}
	ck, err := cd2.logEntry(logbook.Entry{Kind: logbook.KindNote, Reason: "second"}, recs["bob"], signers["bob"])
	if err != nil || ck.N != 2 {
		t.Fatalf("record after a conflict = size %d, %v; want 2, nil", ck.N, err)
	}
	vs, _ := cd1.Verifiers()
	l, err := logbook.Verify(cd1.LogDir(), vs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range l.Entries() {
		got = append(got, e.Actor+":"+e.Reason)
	}
	if strings.Join(got, " ") != "alice:first bob:second" {
		t.Fatalf("entries %q", got)
	}
}

func TestRecordsReportsBadRecord(t *testing.T) {
	cd, _, _ := newTestCase(t, fixtureOrigin)
	p := filepath.Join(cd.Dir, "bob.card.json")
	b, _ := os.ReadFile(p)
	b = bytes.Replace(b, []byte(`"bob@example.com"`), []byte(`"b0b@example.com"`), 1)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := cd.Records()
	if err == nil || !strings.Contains(err.Error(), "enrollment record "+p+": ") {
		t.Fatalf("Records with an edited record: %v; want an error naming %s", err, p)
	}
	if _, err := cd.Log(); err == nil {
		t.Fatal("Log opened a logbook with an edited roster record")
	}
}

func TestRosterFromCaseAndFlags(t *testing.T) {
	cd, recs, _ := newTestCase(t, "")
	carol, _ := softRecord(t, "carol")
	dave, _ := softRecord(t, "Dave O+Brien")
	writeRecord(t, carol, filepath.Join(cd.Dir, casedir.CustodiansDir, "carol.card.json"))
	extra := filepath.Join(t.TempDir(), "alice-copy.card.json")
	writeRecord(t, recs["alice"], extra) // the same record twice counts once
	paper := token.NewPaperRecord(token.Custodian{Name: "erin"}, "safe", time.Now())
	writeRecord(t, paper, filepath.Join(cd.Dir, "erin.card.json"))
	daveFile := filepath.Join(t.TempDir(), "dave.card.json")
	writeRecord(t, dave, daveFile)
	cd.Roster = []string{extra, daveFile}

	got, err := cd.Records()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range got {
		names = append(names, r.Custodian.Name)
	}
	if strings.Join(names, ",") != "alice,bob,erin,carol,Dave O+Brien" {
		t.Fatalf("roster %q", names)
	}
	vs, err := cd.Verifiers()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		if r.Keys == nil {
			continue
		}
		n, _ := actorName(r)
		pub, _ := r.SigningPublicKey()
		v, _ := token.NewNoteVerifier(n, pub)
		if _, err := vs.Verifier(n, v.KeyHash()); err != nil {
			t.Errorf("verifier for %s: %v", n, err)
		}
	}
	if _, err := vs.Verifier("erin", 0); err == nil {
		t.Error("a paper custodian got a verifier")
	}
}

// FuzzActorName: every name actorName accepts is a valid signer name for
// the logbook (token.NewNoteSigner and entries accept it).
func FuzzActorName(f *testing.F) {
	for _, s := range []string{"alice", "Alice Smith", "a+b", " ", "\u2003x", "é"} {
		f.Add(s)
	}
	key := softKey("fuzz")
	f.Fuzz(func(t *testing.T, name string) {
		got, err := actorName(&token.Record{Custodian: token.Custodian{Name: name}})
		if err != nil {
			return
		}
		if _, err := token.NewNoteSigner(got, detSigner{key}); err != nil {
			t.Fatalf("actorName(%q) = %q, which NewNoteSigner refuses: %v", name, got, err)
		}
		e := logbook.Entry{Origin: fixtureOrigin, Time: fixtureT0, Kind: logbook.KindNote, Actor: got, Key: "0000 0000 0000 0000"}
		if _, err := e.MarshalText(); err != nil {
			t.Fatalf("actorName(%q) = %q, which an entry refuses: %v", name, got, err)
		}
	})
}

// FuzzCheckpointArg: a --checkpoint text that parses is normalised once and
// for all (reading the result again changes nothing), and a valid checkpoint
// survives pasting damage (CRLF, trailing blanks).
func FuzzCheckpointArg(f *testing.F) {
	good, err := os.ReadFile("testdata/script-log/fixture/checkpoint-6.txt")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(good))
	f.Add(strings.ReplaceAll(string(good), "\n", "\r\n"))
	f.Add(strings.TrimSpace(string(good)) + "  \n\n")
	f.Add(strings.ReplaceAll(strings.TrimSpace(string(good)), "\n", "\r\n") + "\r")
	f.Add("a\n\n— b c\n")
	var list []note.Verifier
	for _, n := range []string{"alice", "bob"} {
		r, _ := softRecord(f, n)
		pub, _ := r.SigningPublicKey()
		v, _ := token.NewNoteVerifier(n, pub)
		list = append(list, v)
	}
	vs := note.VerifierList(list...)
	c := &cli.Context{}
	f.Fuzz(func(t *testing.T, s string) {
		if !strings.Contains(s, "\n") {
			return // a file name, not a text
		}
		b, err := readCheckpointArg(c, s)
		if err != nil {
			return
		}
		again, err := readCheckpointArg(c, string(b))
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("normalising %q twice: %q, %v; want %q", s, again, err, b)
		}
		clean := strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), " \t\r\n") + "\n"
		if clean == string(good) {
			if _, err := logbook.OpenCheckpoint(b, vs); err != nil {
				t.Fatalf("a pasted good checkpoint %q does not open: %v", s, err)
			}
		}
	})
}

// TestEntriesTableResults checks the lines of log show for a drill's result
// and for taps recorded by someone other than the custodian.
func TestEntriesTableResults(t *testing.T) {
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	entries := []*logbook.Entry{
		{Index: 0, Time: at, Kind: logbook.KindDrill, Actor: "alice", Secret: "prod", Reason: "drill", Ticket: "D-1",
			Details: map[string]string{logbook.DetailResult: "fail", logbook.DetailTapped: "bob,carol", "error": "the shares do not reconstruct the sealed identity"}},
		{Index: 1, Time: at, Kind: logbook.KindDrill, Actor: "alice", Secret: "prod",
			Details: map[string]string{logbook.DetailResult: "aborted", "error": "interrupted with 0 taps of 2: nothing was gathered"}},
		{Index: 2, Time: at, Kind: logbook.KindTap, Actor: "bob", Secret: "prod", Reason: "r",
			Details: map[string]string{"custodian": "bob", "token": "piv 123"}},
		{Index: 3, Time: at, Kind: logbook.KindTap, Actor: "alice", Secret: "prod", Reason: "r",
			Details: map[string]string{"custodian": "dave", "token": "remote"}},
	}
	var b bytes.Buffer
	if err := writeEntriesTable(&b, entries); err != nil {
		t.Fatal(err)
	}
	// Columns are padded: compare with every run of spaces made two.
	got := regexp.MustCompile(` {2,}`).ReplaceAllString(b.String(), "  ")
	for _, want := range []string{
		"drill  alice  prod  drill [D-1]: fail, tapped bob,carol: the shares do not reconstruct the sealed identity\n",
		"drill  alice  prod  aborted, no taps: interrupted with 0 taps of 2: nothing was gathered\n",
		"tap  bob  prod  r\n",
		"tap  dave (remote, recorded by alice)  prod  r\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log show table lacks %q:\n%s", want, b.String())
		}
	}
}
