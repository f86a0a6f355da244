package logbook

import (
	"fmt"
	"testing"
)

func TestUnendedSessions(t *testing.T) {
	rel := func(session, rec string) *Entry {
		d := map[string]string{DetailSession: session}
		if rec != "" {
			d[DetailRecording] = rec
		}
		return &Entry{Kind: KindRelease, Details: d}
	}
	end := func(session, rec string) *Entry {
		return &Entry{Kind: KindNote, Details: map[string]string{DetailAction: ActionSessionEnd, DetailSession: session, DetailRecording: rec}}
	}
	other := &Entry{Kind: KindNote, Details: map[string]string{DetailAction: "aws-session", DetailSession: "a"}}
	for _, tc := range []struct {
		name    string
		entries []*Entry
		want    string // sessions of the unended releases
	}{
		{"none", nil, "[]"},
		{"not recorded", []*Entry{rel("a", "")}, "[]"},
		{"running", []*Entry{rel("a", "r/a")}, "[a]"},
		{"ended", []*Entry{rel("a", "r/a"), end("a", "r/a")}, "[]"},
		{"other note", []*Entry{rel("a", "r/a"), other}, "[a]"},
		{"end of another", []*Entry{rel("a", "r/a"), rel("b", "r/b"), end("b", "r/b")}, "[a]"},
		{"end names another file", []*Entry{rel("a", "r/a"), end("a", "r/x")}, "[a]"},
		{"end before release", []*Entry{end("a", "r/a"), rel("a", "r/a")}, "[a]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, e := range UnendedSessions(tc.entries) {
				got = append(got, e.Details[DetailSession])
			}
			if s := fmt.Sprint(got); s != tc.want {
				t.Errorf("got %s, want %s", s, tc.want)
			}
		})
	}
	es := []*Entry{rel("a", "r/a"), end("a", "r/a")}
	if SessionEnd(es, "r/a") != es[1] || SessionEnd(es, "r/b") != nil {
		t.Error("SessionEnd")
	}
}
