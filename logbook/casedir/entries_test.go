package casedir

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal"
)

func TestEnrollEntry(t *testing.T) {
	c, recs, keys := newCase(t)
	r := recs["alice"]
	r.Custodian.Email = "alice@example.com\n"
	b := []byte("the record's bytes")
	e := EnrollEntry(r, "alice.card.json", b, true)
	sum := sha256.Sum256(b)
	if e.Kind != logbook.KindEnroll || e.Reason != "enroll alice" || e.Details["custodian"] != "alice" ||
		e.Details["email"] != "alice@example.com" || e.Details["record"] != "alice.card.json" ||
		e.Details["record-sha256"] != hex.EncodeToString(sum[:]) || e.Details["signing-key"] != r.Keys.Signing.Fingerprint ||
		e.Details["resumed"] == "" {
		t.Fatalf("enroll entry %+v", e)
	}
	if _, ok := e.Details["team"]; ok {
		t.Fatal("an empty detail is kept")
	}
	// The enrolled token signs its own enroll entry.
	if _, err := c.Append(-1, EnrollEntry(recs["bob"], "bob.card.json", b, false), recs["bob"], keys["bob"]); err != nil {
		t.Fatal(err)
	}
	if _, ok := EnrollEntry(recs["erin"], "erin.card.json", b, false).Details["signing-key"]; ok {
		t.Fatal("a paper record has a signing key")
	}
}

func TestSealEntry(t *testing.T) {
	_, recs, _ := newCase(t)
	f := sealFor(t, recs["alice"], recs["bob"])
	s := &seal.Sealed{HeaderHash: f.HeaderHash(), Header: f.Header}
	e := SealEntry(logbook.KindReseal, s, "rotate", map[string]string{"ticket": " CHG-1 ", "tapped": "alice"})
	hh := f.HeaderHash()
	if e.Kind != logbook.KindReseal || e.Secret != "demo" || string(e.HeaderHash) != string(hh[:]) || e.Reason != "rotate" || e.Ticket != "CHG-1" ||
		e.Details["custodians"] != "alice,bob" || e.Details["threshold"] != "1 of 2" || e.Details["sealed-by"] != "alice" ||
		e.Details["tapped"] != "alice" || e.Details["ticket"] != "" {
		t.Fatalf("seal entry %+v", e)
	}
	if _, ok := e.Details["scope"]; ok {
		t.Fatal("an empty detail is kept")
	}
}
