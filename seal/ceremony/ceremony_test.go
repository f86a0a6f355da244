package ceremony

import (
	"testing"

	"github.com/breakglass/breakglass/seal"
)

func TestMnemonicFromText(t *testing.T) {
	for in, want := range map[string]string{
		"academic acid\n": "academic acid\n",
		"breakglass paper share\nsecret: x\nmnemonic: academic acid\n":                 "academic acid",
		"breakglass share v1\nheader-hash: 00\ncustodian: 0\nmnemonic: zero one two\n": "zero one two",
	} {
		if got := MnemonicFromText([]byte(in)); got != want {
			t.Errorf("MnemonicFromText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTapsNeeded(t *testing.T) {
	g := func(th, have int) seal.GroupProgress {
		return seal.GroupProgress{Threshold: th, Have: have, Complete: have >= th}
	}
	for _, tc := range []struct {
		p    seal.Progress
		want int
	}{
		{seal.Progress{GroupThreshold: 1, Groups: []seal.GroupProgress{g(2, 0)}}, 2},
		{seal.Progress{GroupThreshold: 1, Groups: []seal.GroupProgress{g(3, 1)}}, 2},
		{seal.Progress{GroupThreshold: 2, Groups: []seal.GroupProgress{g(2, 0), g(1, 0), g(3, 0)}}, 3},
		{seal.Progress{GroupThreshold: 2, GroupsComplete: 1, Groups: []seal.GroupProgress{g(2, 2), g(1, 0), g(3, 1)}}, 1},
		{seal.Progress{GroupThreshold: 1, GroupsComplete: 1, Complete: true, Groups: []seal.GroupProgress{g(1, 1)}}, 0},
	} {
		if got := TapsNeeded(tc.p); got != tc.want {
			t.Errorf("TapsNeeded(%+v) = %d, want %d", tc.p, got, tc.want)
		}
	}
}
