package session

import (
	"crypto/ecdsa"
	"strings"
	"testing"
	"time"

	"github.com/breakglass/breakglass/token/tokentest"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/token"
)

func TestCheckApprovals(t *testing.T) {
	alice, aliceKey := tokentest.SoftRecord(t, "alice")
	bob, bobKey := tokentest.SoftRecord(t, "bob")
	hh := [32]byte{7}
	s := New("carol", "prod", hh[:])
	req := approval.Request{Action: "unseal", Operator: "carol", Reason: "SSO outage", Ticket: "INC-1"}
	s.SetRequest(req)
	tap := func(name string, rec *token.Record, key *ecdsa.PrivateKey, secret string, h [32]byte) *logbook.Entry {
		msg := approval.Message(secret, h, req, name, time.Date(2026, 12, 3, 4, 0, 0, 0, time.UTC))
		sig, err := approval.Sign(key, msg)
		if err != nil {
			t.Fatal(err)
		}
		e := s.Tap(&approval.Approval{Custodian: name, Token: "pkcs11 soft-" + name, KeyFingerprint: rec.Keys.Signing.Fingerprint, Message: msg, Signature: sig})
		return &e
	}
	var entries []*logbook.Entry
	add := func(e *logbook.Entry) int64 {
		e.Index = int64(len(entries))
		entries = append(entries, e)
		return e.Index
	}
	add(tap("alice", alice, aliceKey, "prod", hh))
	add(tap("bob", bob, bobKey, "prod", hh))
	paper := s.Tap(&approval.Approval{Custodian: "erin", Token: "paper", Message: []byte("m")})
	add(&paper)
	cut := tap("alice", alice, aliceKey, "prod", hh)
	cut.Details["approval"] = cut.Details["approval"][:300]
	cutAt := add(cut)
	forged := tap("bob", bob, aliceKey, "prod", hh) // alice's key signs bob's approval
	forgedAt := add(forged)
	other := tap("alice", alice, aliceKey, "staging", hh)
	otherAt := add(other)
	swapped := tap("alice", alice, aliceKey, "prod", hh)
	swapped.Details["custodian"] = "bob"
	swappedAt := add(swapped)
	gone := tap("dave", func() *token.Record { r, _ := tokentest.SoftRecord(t, "dave"); return r }(), aliceKey, "prod", hh)
	goneAt := add(gone)
	add(&logbook.Entry{Kind: logbook.KindRelease}) // not a tap

	c := CheckApprovals(entries, []*token.Record{alice, bob})
	if c.Verified != 2 || c.Unsigned != 1 || len(c.Cut) != 1 || c.Cut[0] != cutAt || len(c.UnknownKey) != 1 || c.UnknownKey[0] != goneAt {
		t.Errorf("check %+v", c)
	}
	want := map[int64]string{forgedAt: "does not verify", otherAt: `secret "staging"`, swappedAt: `the entry names "bob"`}
	if len(c.Bad) != len(want) {
		t.Fatalf("problems %v, want %d", c.Bad, len(want))
	}
	for _, p := range c.Bad {
		if !strings.Contains(p.Problem, want[p.Entry]) {
			t.Errorf("entry %d: %q, want %q", p.Entry, p.Problem, want[p.Entry])
		}
	}
}
