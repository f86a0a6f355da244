package main

import (
	"bytes"
	"testing"

	"github.com/breakglass/breakglass/logbook"
)

// TestLatestSeal checks which entry names a secret's current sealed file:
// the header check before any tap compares against it.
func TestLatestSeal(t *testing.T) {
	h := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	prev := map[string]string{"previous-header-hash": "aa"}
	steps := []struct {
		e    logbook.Entry
		want []byte // latest header hash of "demo" after e; nil: none
	}{
		{logbook.Entry{Kind: logbook.KindNote, Secret: "demo", Reason: "before"}, nil},
		{logbook.Entry{Kind: logbook.KindSeal, Secret: "demo", HeaderHash: h(1), Reason: "seal"}, h(1)},
		{logbook.Entry{Kind: logbook.KindSeal, Secret: "other", HeaderHash: h(9), Reason: "seal"}, h(1)},
		{logbook.Entry{Kind: logbook.KindRelease, Secret: "demo", HeaderHash: h(1), Reason: "r"}, h(1)},
		// A revoke that sealed nothing new does not count.
		{logbook.Entry{Kind: logbook.KindRevoke, Secret: "demo", HeaderHash: h(1), Reason: "r"}, h(1)},
		{logbook.Entry{Kind: logbook.KindReseal, Secret: "demo", HeaderHash: h(2), Reason: "reseal"}, h(2)},
		{logbook.Entry{Kind: logbook.KindRotate, Secret: "demo", HeaderHash: h(3), Reason: "aws rotate", Details: prev}, h(3)},
		{logbook.Entry{Kind: logbook.KindRevoke, Secret: "demo", HeaderHash: h(4), Reason: "aws revoke", Details: prev}, h(4)},
	}
	cd, recs, signers := newTestCase(t, fixtureOrigin)
	l, err := cd.Log()
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		if _, err := cd.logEntry(s.e, recs["alice"], signers["alice"]); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got := latestSeal(l, "demo")
		switch {
		case s.want == nil && got != nil:
			t.Errorf("step %d (%s): latestSeal = entry %d, want none", i, s.e.Kind, got.Index)
		case s.want != nil && (got == nil || !bytes.Equal(got.HeaderHash, s.want)):
			t.Errorf("step %d (%s): latestSeal = %+v, want header %x", i, s.e.Kind, got, s.want[:2])
		}
	}
}
