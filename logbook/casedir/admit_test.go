package casedir

import (
	"errors"
	"testing"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/token"
)

func TestNewGenesis(t *testing.T) {
	c, recs, keys := newCase(t)
	p := people{recs, keys}
	g, err := NewGenesis([]*token.Record{recs["alice"], recs["bob"]}, 2, false)
	if err != nil || len(g.Founders) != 2 || g.Founders[0] != p.member("alice") || g.Founders[1] != p.member("bob") || g.AdmitSigners != 2 || g.Migration {
		t.Fatalf("NewGenesis = %+v, %v", g, err)
	}
	// The genesis it builds is one the replay accepts.
	if _, err := c.AppendCosigned(-1, logbook.GenesisEntry(g), recs["alice"], keys["alice"], p.co("bob")...); err != nil {
		t.Fatal(err)
	}
	var pe *PolicyRangeError
	for _, k := range []int{0, 3} {
		if _, err := NewGenesis([]*token.Record{recs["alice"], recs["bob"]}, k, false); !errors.As(err, &pe) || pe.Founders != 2 {
			t.Errorf("admit-signers %d: %v", k, err)
		}
	}
	addRecord(t, c, p, "alice2", "alice")
	var de *DuplicateFounderError
	if _, err := NewGenesis([]*token.Record{recs["alice"], p.recs["alice2"]}, 1, true); !errors.As(err, &de) || de.Name != "alice" {
		t.Fatalf("two records named alice: %v", err)
	}
}

func TestAdmitRules(t *testing.T) {
	c, p := admittingCase(t, 1)
	addRecord(t, c, p, "carol", "carol")
	c = reopen(t, c)
	a, err := c.Admission()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := c.Records()
	if err != nil {
		t.Fatal(err)
	}
	if w := a.Waiting(recs, "carol"); len(w) != 1 || w[0].Fingerprint() != p.recs["carol"].Fingerprint() {
		t.Fatalf("Waiting(carol) = %v", w)
	}
	if w := a.Waiting(recs, "alice"); len(w) != 0 {
		t.Fatalf("an admitted token waits: %v", w)
	}
	var ne *NoEnrollError
	if _, err := a.Admit(p.recs["carol"]); !errors.As(err, &ne) {
		t.Fatalf("admit before enrolling: %v", err)
	}
	if _, err := c.Append(-1, logbook.Entry{Kind: logbook.KindEnroll, Reason: "enroll carol"}, p.recs["carol"], p.keys["carol"]); err != nil {
		t.Fatal(err)
	}
	c = reopen(t, c)
	a, _ = c.Admission()
	ad, err := a.Admit(p.recs["carol"])
	if err != nil || ad.Member != p.member("carol") || ad.Enroll != 1 || ad.Replaces != "" {
		t.Fatalf("Admit(carol) = %+v, %v", ad, err)
	}
	// The admit it builds is one the replay accepts.
	if _, err := c.Append(-1, logbook.AdmitEntry(ad), p.recs["alice"], p.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	c = reopen(t, c)
	a, _ = c.Admission()
	var ae *AdmittedError
	if _, err := a.Admit(p.recs["carol"]); !errors.As(err, &ae) || ae.Since != 2 {
		t.Fatalf("admitting carol twice: %v", err)
	}

	// A new card of alice replaces her admitted one.
	addRecord(t, c, p, "alice2", "alice")
	c = reopen(t, c)
	if _, err := c.Append(-1, logbook.Entry{Kind: logbook.KindEnroll, Reason: "enroll alice"}, p.recs["alice2"], p.keys["alice2"]); err != nil {
		t.Fatal(err)
	}
	c = reopen(t, c)
	a, _ = c.Admission()
	if ad, err := a.Admit(p.recs["alice2"]); err != nil || ad.Replaces != p.recs["alice"].Fingerprint() {
		t.Fatalf("Admit(alice's new card) = %+v, %v", ad, err)
	}
}

func TestRetireRules(t *testing.T) {
	c, p := admittingCase(t, 2)
	a, _ := c.Admission()
	var tf *TooFewLeftError
	if err := a.CheckRetire(p.member("alice")); !errors.As(err, &tf) || tf.Left != 1 || tf.Policy != 2 {
		t.Fatalf("retiring one of two with admit-signers 2: %v", err)
	}
	c, p = admittingCase(t, 1)
	a, _ = c.Admission()
	if err := a.CheckRetire(p.member("bob")); err != nil {
		t.Fatalf("retiring bob: %v", err)
	}
	addRecord(t, c, p, "carol", "carol")
	var nr *NotRetirableError
	if err := a.CheckRetire(p.member("carol")); !errors.As(err, &nr) || nr.RetiredAt != -1 {
		t.Fatalf("retiring a token never admitted: %v", err)
	}
	if _, err := c.Append(-1, logbook.RetireEntry(p.member("bob")), p.recs["alice"], p.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	a, _ = reopen(t, c).Admission()
	if err := a.CheckRetire(p.member("bob")); !errors.As(err, &nr) || nr.RetiredAt != 1 || nr.Error() != p.member("bob").String()+" was retired already (entry 1)" {
		t.Fatalf("retiring bob twice: %v", err)
	}
}

func TestNotAdmittedReason(t *testing.T) {
	c, p := admittingCase(t, 1)
	addRecord(t, c, p, "carol", "carol")
	if _, err := c.Append(-1, logbook.RetireEntry(p.member("bob")), p.recs["alice"], p.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	a, _ := reopen(t, c).Admission()
	if got := a.NotAdmittedReason(p.recs["bob"].Fingerprint()); got != "retired in entry 1" {
		t.Errorf("bob: %q", got)
	}
	if got := a.NotAdmittedReason(p.recs["carol"].Fingerprint()); got != "never admitted" {
		t.Errorf("carol: %q", got)
	}
}
