package main

import (
	"testing"
)

func TestRecordFileName(t *testing.T) {
	for in, want := range map[string]string{
		"alice":        "alice.card.json",
		"Dave Smith":   "dave-smith.card.json",
		"../../etc/x":  "....etcx.card.json",
		"":             "custodian.card.json",
		"Zoë O'Connor": "zo-oconnor.card.json",
	} {
		if got := recordFileName(in); got != want {
			t.Errorf("recordFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
