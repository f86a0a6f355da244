package casedir

import (
	"crypto/ecdsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/tokentest"
)

type people struct {
	recs map[string]*token.Record
	keys map[string]*ecdsa.PrivateKey
}

func (p people) member(n string) logbook.Member {
	return logbook.Member{Name: n, Fingerprint: p.recs[n].Fingerprint()}
}

func (p people) co(names ...string) []Cosigner {
	var out []Cosigner
	for _, n := range names {
		out = append(out, Cosigner{Record: p.recs[n], Signer: p.keys[n]})
	}
	return out
}

// reopen opens the case afresh (its records and logbook as they are now).
func reopen(t *testing.T, c *Case) *Case {
	t.Helper()
	c2, err := Open(c.Dir, c.Roster)
	if err != nil {
		t.Fatal(err)
	}
	return c2
}

// addRecord adds a new software token's record to the case.
func addRecord(t *testing.T, c *Case, p people, file, name string) {
	t.Helper()
	p.recs[file], p.keys[file] = tokentest.SoftRecord(t, name)
	writeRecord(t, p.recs[file], filepath.Join(c.Dir, CustodiansDir, file+".card.json"))
}

// admittingCase is newCase with a genesis founded by alice and bob,
// admit-signers k.
func admittingCase(t *testing.T, k int) (*Case, people) {
	t.Helper()
	c, recs, keys := newCase(t)
	p := people{recs, keys}
	g := logbook.GenesisEntry(logbook.Genesis{Founders: []logbook.Member{p.member("alice"), p.member("bob")}, AdmitSigners: k})
	if _, err := c.AppendCosigned(-1, g, recs["alice"], keys["alice"], p.co("bob")...); err != nil {
		t.Fatal(err)
	}
	return reopen(t, c), p
}

// rawAppend appends e signed by s as the case's files allow anyone who can
// write them to: with every record of the directory as verifiers, without
// the admission rules. It is how the attacks below write.
func rawAppend(t *testing.T, c *Case, e logbook.Entry, s *ecdsa.PrivateKey, r *token.Record) {
	t.Helper()
	c = reopen(t, c)
	vs, err := c.Verifiers()
	if err != nil {
		t.Fatal(err)
	}
	l, err := logbook.Open(c.LogDir(), vs)
	if err != nil {
		t.Fatal(err)
	}
	name, _ := ActorName(r)
	ns, err := token.NewNoteSigner(name, s)
	if err != nil {
		t.Fatal(err)
	}
	e.Key = r.Fingerprint()
	if _, err := l.Append(l.Size(), e, ns); err != nil {
		t.Fatal(err)
	}
}

func wantAdmissionError(t *testing.T, c *Case, index int64, msg string) {
	t.Helper()
	_, err := reopen(t, c).Log()
	var ae *AdmissionError
	if !errors.As(err, &ae) || ae.Index != index || !strings.Contains(ae.Msg, msg) {
		t.Fatalf("Log() = %v\nwant entry %d %s", err, index, msg)
	}
}

func note1(text string) logbook.Entry { return logbook.Entry{Kind: logbook.KindNote, Reason: text} }

func TestGenesisAdmits(t *testing.T) {
	c, p := admittingCase(t, 1)
	a, err := c.Admission()
	if err != nil || a.Genesis == nil || a.Policy != 1 {
		t.Fatalf("Admission() = %+v, %v", a, err)
	}
	if got := a.Members(); len(got) != 2 || got[0] != p.member("alice") || got[1] != p.member("bob") {
		t.Fatalf("members %v", got)
	}
	if _, err := c.Append(-1, note1("hello"), p.recs["bob"], p.keys["bob"]); err != nil {
		t.Fatal(err)
	}
	if ok, err := reopen(t, c).Admitting(); !ok || err != nil {
		t.Fatalf("Admitting() = %v, %v", ok, err)
	}
}

func TestGenesisNeedsEveryFounder(t *testing.T) {
	c, recs, keys := newCase(t)
	p := people{recs, keys}
	g := logbook.GenesisEntry(logbook.Genesis{Founders: []logbook.Member{p.member("alice"), p.member("bob")}, AdmitSigners: 1})
	var ae *AdmissionError
	_, err := c.Append(-1, g, recs["alice"], keys["alice"])
	if !errors.As(err, &ae) || !strings.Contains(ae.Msg, "is a genesis not signed by its founders bob") {
		t.Fatalf("genesis signed by alice alone: %v", err)
	}
	if l, _ := reopen(t, c).Log(); l.Size() != 0 {
		t.Fatal("the refused genesis was written")
	}
	// Written anyway (by hand): the logbook does not verify.
	rawAppend(t, c, g, keys["alice"], recs["alice"])
	wantAdmissionError(t, c, 0, "is a genesis not signed by its founders bob")
}

// Attack 1: a self-signed record dropped into the case signs entries.
func TestAttackSelfSignedRecord(t *testing.T) {
	c, p := admittingCase(t, 1)
	addRecord(t, c, p, "mallory", "mallory")
	c = reopen(t, c)
	var na *NotAdmittedError
	if _, err := c.Append(-1, note1("all fine"), p.recs["mallory"], p.keys["mallory"]); !errors.As(err, &na) || na.Name != "mallory" || na.RetiredAt != -1 {
		t.Fatalf("mallory appends: %v", err)
	}
	if err := c.CheckAdmitted(p.recs["mallory"]); !errors.As(err, &na) {
		t.Fatalf("CheckAdmitted(mallory) = %v", err)
	}
	if bad, err := c.NotAdmitted(); err != nil || len(bad) != 1 || c.RecordPath(bad[0]) != filepath.Join(c.Dir, CustodiansDir, "mallory.card.json") {
		t.Fatalf("NotAdmitted() = %v, %v", bad, err)
	}
	rawAppend(t, c, logbook.Entry{Kind: logbook.KindSeal, Secret: "demo", Reason: "mine now"}, p.keys["mallory"], p.recs["mallory"])
	wantAdmissionError(t, c, 1, "is signed by mallory (key "+p.recs["mallory"].Fingerprint()+"), who is not admitted")
}

// Attack 2: a second key enrolled under alice's name signs as alice.
func TestAttackSecondKeyUnderAName(t *testing.T) {
	c, p := admittingCase(t, 1)
	addRecord(t, c, p, "fake-alice", "alice")
	c = reopen(t, c)
	if r, err := c.Person("alice"); err != nil || r.Fingerprint() != p.recs["alice"].Fingerprint() {
		t.Fatalf("Person(alice) = %v, %v", r, err)
	}
	var na *NotAdmittedError
	if _, err := c.Append(-1, note1("I am alice"), p.recs["fake-alice"], p.keys["fake-alice"]); !errors.As(err, &na) {
		t.Fatalf("fake alice appends: %v", err)
	}
	// Its own enroll entry is allowed (a request), an admit of it is not
	// without replacing alice's key.
	if _, err := c.Append(-1, logbook.Entry{Kind: logbook.KindEnroll, Reason: "enroll alice"}, p.recs["fake-alice"], p.keys["fake-alice"]); err != nil {
		t.Fatal(err)
	}
	ad := logbook.AdmitEntry(logbook.Admit{Member: p.member("fake-alice"), Enroll: 1})
	ad.Details[logbook.DetailCustodian] = "alice"
	var ae *AdmissionError
	if _, err := c.Append(-1, ad, p.recs["bob"], p.keys["bob"]); !errors.As(err, &ae) || !strings.Contains(ae.Msg, "admits a second key for alice") {
		t.Fatalf("second key admitted: %v", err)
	}
	rawAppend(t, c, note1("I am alice"), p.keys["fake-alice"], p.recs["fake-alice"])
	wantAdmissionError(t, c, 2, "is signed by alice with key "+p.recs["fake-alice"].Fingerprint()+", but the key the logbook admitted for alice is "+p.recs["alice"].Fingerprint())
}

func TestAdmitAndRetire(t *testing.T) {
	c, p := admittingCase(t, 1)
	addRecord(t, c, p, "carol", "carol")
	c = reopen(t, c)
	ad := logbook.AdmitEntry(logbook.Admit{Member: p.member("carol"), Enroll: 0})
	var ae *AdmissionError
	if _, err := c.Append(-1, ad, p.recs["alice"], p.keys["alice"]); !errors.As(err, &ae) || !strings.Contains(ae.Msg, "but entry 0 is not the enroll entry of carol") {
		t.Fatalf("admit without enroll: %v", err)
	}
	if _, err := c.Append(-1, logbook.Entry{Kind: logbook.KindEnroll, Reason: "enroll carol"}, p.recs["carol"], p.keys["carol"]); err != nil {
		t.Fatal(err)
	}
	ad = logbook.AdmitEntry(logbook.Admit{Member: p.member("carol"), Enroll: 1})
	// carol cannot admit herself.
	var na *NotAdmittedError
	if _, err := c.Append(-1, ad, p.recs["carol"], p.keys["carol"]); !errors.As(err, &na) {
		t.Fatalf("self-admit: %v", err)
	}
	if _, err := c.Append(-1, ad, p.recs["alice"], p.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(-1, note1("carol here"), p.recs["carol"], p.keys["carol"]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(-1, ad, p.recs["bob"], p.keys["bob"]); !errors.As(err, &ae) || !strings.Contains(ae.Msg, "already admitted in entry 2") {
		t.Fatalf("admitted twice: %v", err)
	}
	// bob lost his card: retired by alice; his later signatures fail.
	r := logbook.RetireEntry(p.member("bob"))
	r.Reason = "card lost"
	if _, err := c.Append(-1, r, p.recs["alice"], p.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	c = reopen(t, c)
	if _, err := c.Append(-1, note1("still me"), p.recs["bob"], p.keys["bob"]); !errors.As(err, &na) || na.RetiredAt != 4 {
		t.Fatalf("retired bob appends: %v", err)
	}
	rawAppend(t, c, note1("still me"), p.keys["bob"], p.recs["bob"])
	wantAdmissionError(t, c, 5, "is signed by bob (key "+p.recs["bob"].Fingerprint()+"), whose key was retired in entry 4")
}

func TestReplaceACard(t *testing.T) {
	c, p := admittingCase(t, 1)
	addRecord(t, c, p, "alice2", "alice")
	c = reopen(t, c)
	if _, err := c.Append(-1, logbook.Entry{Kind: logbook.KindEnroll, Reason: "enroll alice"}, p.recs["alice2"], p.keys["alice2"]); err != nil {
		t.Fatal(err)
	}
	ad := logbook.AdmitEntry(logbook.Admit{Member: logbook.Member{Name: "alice", Fingerprint: p.recs["alice2"].Fingerprint()}, Enroll: 1,
		Replaces: p.recs["alice"].Fingerprint()})
	if _, err := c.Append(-1, ad, p.recs["bob"], p.keys["bob"]); err != nil {
		t.Fatal(err)
	}
	c = reopen(t, c)
	if r, err := c.Person("alice"); err != nil || r.Fingerprint() != p.recs["alice2"].Fingerprint() {
		t.Fatalf("Person(alice) after the replace = %v, %v", r, err)
	}
	var na *NotAdmittedError
	if _, err := c.Append(-1, note1("old card"), p.recs["alice"], p.keys["alice"]); !errors.As(err, &na) || na.RetiredAt != 2 {
		t.Fatalf("the old card signs: %v", err)
	}
	if _, err := c.Append(-1, note1("new card"), p.recs["alice2"], p.keys["alice2"]); err != nil {
		t.Fatal(err)
	}
}

func TestAdmitPolicy(t *testing.T) {
	c, p := admittingCase(t, 2)
	addRecord(t, c, p, "carol", "carol")
	c = reopen(t, c)
	if _, err := c.Append(-1, logbook.Entry{Kind: logbook.KindEnroll, Reason: "enroll carol"}, p.recs["carol"], p.keys["carol"]); err != nil {
		t.Fatal(err)
	}
	ad := logbook.AdmitEntry(logbook.Admit{Member: p.member("carol"), Enroll: 1})
	var ae *AdmissionError
	if _, err := c.Append(-1, ad, p.recs["alice"], p.keys["alice"]); !errors.As(err, &ae) || !strings.Contains(ae.Msg, "with the signatures of 1 (alice), but an admit needs 2 admitted custodians") {
		t.Fatalf("admit by one of two: %v", err)
	}
	// carol's own cosignature does not count.
	if _, err := c.AppendCosigned(-1, ad, p.recs["alice"], p.keys["alice"], p.co("carol")...); !errors.As(err, &ae) {
		t.Fatalf("admit cosigned by carol: %v", err)
	}
	if _, err := c.AppendCosigned(-1, ad, p.recs["alice"], p.keys["alice"], p.co("bob")...); err != nil {
		t.Fatal(err)
	}
	// Retiring must leave enough custodians to admit.
	if _, err := c.Append(-1, logbook.RetireEntry(p.member("bob")), p.recs["alice"], p.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(-1, logbook.RetireEntry(p.member("carol")), p.recs["alice"], p.keys["alice"]); !errors.As(err, &ae) || !strings.Contains(ae.Msg, "which would leave 1 admitted custodians, fewer than the 2 an admit needs") {
		t.Fatalf("retire below the policy: %v", err)
	}
}

func TestMigration(t *testing.T) {
	c, recs, keys := newCase(t)
	p := people{recs, keys}
	// A logbook from before admission: anyone in the directory signs.
	if _, err := c.Append(-1, note1("old times"), recs["bob"], keys["bob"]); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Admitting(); ok {
		t.Fatal("admitting without a genesis")
	}
	if bad, _ := c.NotAdmitted(); bad != nil {
		t.Fatalf("NotAdmitted without a genesis: %v", bad)
	}
	g := logbook.GenesisEntry(logbook.Genesis{Founders: []logbook.Member{p.member("alice"), p.member("bob")}, AdmitSigners: 1})
	var ae *AdmissionError
	if _, err := c.Append(-1, g, recs["alice"], keys["alice"]); !errors.As(err, &ae) {
		// The migration flag is missing: MarshalText refuses.
		if err == nil || !strings.Contains(err.Error(), "migration") {
			t.Fatalf("genesis without migration at entry 1: %v", err)
		}
	}
	g = logbook.GenesisEntry(logbook.Genesis{Founders: []logbook.Member{p.member("alice"), p.member("bob")}, AdmitSigners: 1, Migration: true})
	if _, err := c.Append(-1, g, recs["alice"], keys["alice"]); err != nil {
		t.Fatal(err)
	}
	c = reopen(t, c)
	if ok, _ := c.Admitting(); !ok {
		t.Fatal("not admitting after the migration")
	}
	if _, err := c.Append(-1, g, recs["alice"], keys["alice"]); !errors.As(err, &ae) || !strings.Contains(ae.Msg, "is a second genesis (the logbook's genesis is entry 1)") {
		t.Fatalf("second genesis: %v", err)
	}
	if _, err := c.Append(-1, note1("new times"), recs["bob"], keys["bob"]); err != nil {
		t.Fatal(err)
	}
}

// A checkpoint must be signed by the key that signed the last entry, not
// another key under the same name.
func TestCheckpointByAnotherKeyOfTheActor(t *testing.T) {
	c, p := admittingCase(t, 1)
	addRecord(t, c, p, "fake-bob", "bob")
	c = reopen(t, c)
	if _, err := c.Append(-1, note1("hello"), p.recs["bob"], p.keys["bob"]); err != nil {
		t.Fatal(err)
	}
	l, _ := c.Log()
	vs, _ := c.Verifiers()
	ck := l.Checkpoint()
	text := ck.Signed[:strings.Index(string(ck.Signed), "\n\n")+1]
	ns, _ := token.NewNoteSigner("bob", p.keys["fake-bob"])
	forged, err := note.Sign(&note.Note{Text: string(text)}, ns)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.LogDir(), "checkpoint"), forged, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := logbook.Open(c.LogDir(), vs); err == nil || !strings.Contains(err.Error(), "is signed by another key of bob than the one that signed entry 1") {
		t.Fatalf("checkpoint by another bob: %v", err)
	}
}
