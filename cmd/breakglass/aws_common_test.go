package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
)

func TestFlagsFirst(t *testing.T) {
	flags := []cli.Flag{&cli.BoolFlag{Name: "exec"}, &cli.BoolFlag{Name: "json", Aliases: []string{"j"}}, &cli.StringFlag{Name: "reason"}}
	tests := []struct{ in, want string }{
		{"a.glass --reason r --exec", "--reason r --exec a.glass"},
		{"a.glass --reason r --exec -- sh -c x", "--reason r --exec a.glass -- sh -c x"},
		{"--reason=r a.glass -j", "--reason=r -j a.glass"},
		{"a.glass -- --reason r", "a.glass -- --reason r"},
		{"a.glass --reason", "--reason a.glass"},
		{"a.glass --help", "--help a.glass"},
		{"", ""},
	}
	for _, tt := range tests {
		got := strings.Join(flagsFirst(flags, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("flagsFirst(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExplainUse(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)
	entries := awsTestEntries(t0)
	tests := []struct {
		name string
		key  string
		at   time.Time
		want int64 // -1: unexplained
	}{
		{"at the release", "AKIA1", t0.Add(-2 * time.Second), 1},
		{"failed attempt", "AKIA1", t0.Add(time.Hour), 2},
		{"much later", "AKIA1", t0.Add(5 * time.Hour), -1},
		{"other key", "AKIA2", t0, -1},
	}
	for _, tt := range tests {
		e := explainUse(entries, "prod", tt.key, tt.at)
		got := int64(-1)
		if e != nil {
			got = e.Index
		}
		if got != tt.want {
			t.Errorf("%s: explained by %d, want %d", tt.name, got, tt.want)
		}
	}
	if got := awsSecrets(entries); !slices.Equal([]string{got["prod"]}, []string{"AKIA3"}) {
		t.Errorf("current keys = %v, want prod: AKIA3", got)
	}
}

func awsTestEntries(t0 time.Time) []*logbook.Entry {
	d := func(kv ...string) map[string]string {
		m := map[string]string{"role-arn": "arn:aws:iam::123456789012:role/breakglass/breakglass-prod"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	return []*logbook.Entry{
		{Index: 0, Kind: logbook.KindSeal, Secret: "prod", Time: t0.Add(-time.Hour), Details: d(logbook.DetailKeyID, "AKIA1")},
		{Index: 1, Kind: logbook.KindRelease, Secret: "prod", Time: t0, Details: d(logbook.DetailKeyID, "AKIA1", logbook.DetailOperator, "alice")},
		{Index: 2, Kind: logbook.KindNote, Secret: "prod", Time: t0.Add(time.Hour), Details: d(logbook.DetailKeyID, "AKIA1", "action", "aws-session")},
		{Index: 3, Kind: logbook.KindRevoke, Secret: "prod", Time: t0.Add(2 * time.Hour), Details: d(logbook.DetailKeyID, "AKIA1", "new-key-id", "AKIA3")},
	}
}
