package main

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// TestFlagsAnywhere checks the one place that moves flags in front of the
// positional arguments, for every kind of command the app has.
func TestFlagsAnywhere(t *testing.T) {
	tests := []struct{ in, want string }{
		// A flag after the file, and a command after --.
		{"breakglass unseal a.glass --reason r --exec -- sh -c x", "breakglass unseal --reason r --exec a.glass -- sh -c x"},
		// A subcommand of a command that has an action itself.
		{"breakglass unseal request a.glass --out req.txt", "breakglass unseal request --out req.txt a.glass"},
		// Two levels of subcommands; a boolean takes no value.
		{"breakglass drill verify a.glass --json --reader R1 --reader R2", "breakglass drill verify --json --reader R1 --reader R2 a.glass"},
		{"breakglass aws session p.glass --concurrent-release why --exec", "breakglass aws session --concurrent-release why --exec p.glass"},
		// An unknown flag is moved alone: the command reports it.
		{"breakglass reseal a.glass --bogus x", "breakglass reseal --bogus a.glass x"},
		// "-" is an argument (standard input).
		{"breakglass log verify --checkpoint - x", "breakglass log verify --checkpoint - x"},
		// Already in order, no command, a command without an action, and
		// one that parses its own arguments: unchanged.
		{"breakglass log show --kind tap", "breakglass log show --kind tap"},
		{"breakglass --help", "breakglass --help"},
		{"breakglass card x --name y", "breakglass card x --name y"},
		{"breakglass age-plugin x --age-plugin=identity-v1", "breakglass age-plugin x --age-plugin=identity-v1"},
		{"breakglass", "breakglass"},
	}
	for _, tt := range tests {
		in := strings.Fields(tt.in)
		orig := slices.Clone(in)
		got := strings.Join(flagsAnywhere(newApp(), in), " ")
		if got != tt.want {
			t.Errorf("flagsAnywhere(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
		if !slices.Equal(in, orig) {
			t.Errorf("flagsAnywhere(%q) changed its input to %q", tt.in, in)
		}
	}
}

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

// TestUsageErrors checks that urfave/cli's own complaints about a command
// line come out as usage errors (exit status 2, the --help hint), typed,
// with the command's help on standard output as urfave/cli prints it.
func TestUsageErrors(t *testing.T) {
	tests := []struct{ args, want, help string }{
		{"seal", `Required flag "name" not set`, "breakglass seal - "},
		{"aws provision --name x", `Required flags "account, role-policy, owner" not set`, "breakglass aws provision - "},
		{"seal --name x --bogus", "flag provided but not defined: -bogus", "Incorrect Usage: flag provided but not defined: -bogus"},
		{"--bogus", "flag provided but not defined: -bogus", "Incorrect Usage: flag provided but not defined: -bogus"},
		{"drill run --absent", "flag needs an argument: -absent", "Incorrect Usage"},
		{"aws session --duration xx f.glass", `invalid value "xx" for flag -duration`, "Incorrect Usage"},
	}
	for _, tt := range tests {
		app := newApp()
		var out, errOut strings.Builder
		app.Writer, app.ErrWriter = &out, &errOut
		err := app.Run(flagsAnywhere(app, append([]string{"breakglass"}, strings.Fields(tt.args)...)))
		var he *hintError
		if !errors.As(err, &he) || he.code != exitUsage {
			t.Errorf("%s: error %v (%T), want a usage error", tt.args, err, err)
			continue
		}
		code := reportError(&errOut, err)
		if code != exitUsage || !strings.Contains(errOut.String(), tt.want) ||
			!strings.Contains(errOut.String(), "hint: see --help for usage and examples") {
			t.Errorf("%s: exit %d, stderr:\n%s\nwant exit %d and %q", tt.args, code, errOut.String(), exitUsage, tt.want)
		}
		if !strings.Contains(out.String(), tt.help) {
			t.Errorf("%s: stdout:\n%s\nwant %q", tt.args, out.String(), tt.help)
		}
	}
	// A required flag that is given does not stop the command there.
	app := newApp()
	var out strings.Builder
	app.Writer, app.ErrWriter = &out, &out
	err := app.Run([]string{"breakglass", "card", "virtual", "--state", filepath.Join(t.TempDir(), "s.card"), "extra"})
	if err == nil || !strings.Contains(err.Error(), "takes no arguments") {
		t.Errorf("card virtual with --state: %v, want the command's own check", err)
	}
}
