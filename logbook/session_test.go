package logbook

import (
	"fmt"
	"testing"
)

func TestOpenSessions(t *testing.T) {
	var all []*Entry
	for i, x := range sampleEntries() {
		e := x.e
		e.Index = int64(i)
		all = append(all, &e)
	}
	idx := func(es []*Entry) string {
		var out []int64
		for _, e := range es {
			out = append(out, e.Index)
		}
		return fmt.Sprint(out)
	}
	// Session 7f3a is open from its unseal-start (3), through its taps,
	// until its release (6).
	for n, want := range map[int]string{3: "[]", 4: "[3]", 6: "[3]", 7: "[]", 8: "[]"} {
		if got := idx(OpenSessions(all[:n])); got != want {
			t.Errorf("open sessions of the first %d entries: %s, want %s", n, got, want)
		}
	}
	// An interrupted session: an abort note naming it closes it; a note
	// naming another session, or none, does not.
	start := &Entry{Index: 8, Kind: KindUnsealStart, Secret: "prod-aws", Details: map[string]string{DetailSession: "9c01"}}
	other := &Entry{Index: 9, Kind: KindNote, Details: map[string]string{DetailAction: ActionAbort, DetailSession: "7f3a"}}
	plain := &Entry{Index: 10, Kind: KindNote, Reason: "remark"}
	abort := &Entry{Index: 11, Kind: KindNote, Secret: "prod-aws", Details: map[string]string{DetailAction: ActionAbort, DetailSession: "9c01"}}
	if got := idx(OpenSessions(append(all[:8:8], start, other, plain))); got != "[8]" {
		t.Errorf("before the abort: %s, want [8]", got)
	}
	if got := idx(OpenSessions(append(all[:8:8], start, other, plain, abort))); got != "[]" {
		t.Errorf("after the abort: %s, want []", got)
	}
	if !IsAbort(abort) || IsAbort(plain) || IsAbort(start) {
		t.Error("IsAbort")
	}
	// An unseal-start without a session cannot be named: left out.
	if got := idx(OpenSessions([]*Entry{{Index: 0, Kind: KindUnsealStart}})); got != "[]" {
		t.Errorf("without a session: %s", got)
	}
}
