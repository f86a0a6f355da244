package main

import (
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
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
