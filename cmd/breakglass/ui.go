package main

// The voice of breakglass.
//
// Anything interactive goes to the terminal. Everything else goes to stderr,
// prefixed "breakglass:", lowercase, with no final period. Errors print as
// "breakglass: error: …" followed by one "breakglass: hint: …" line per hint.
// Library packages return typed errors; only this package turns them into
// hints. Secrets never appear in a message.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/breakglass/breakglass/internal/term"
)

// Exit statuses, documented in docs/runbook-operator.md.
const (
	exitOK      = 0
	exitFailure = 1 // the operation failed; the message says why
	exitUsage   = 2 // the command line was wrong
	// exitInterrupted: Ctrl-C (SIGINT) or SIGTERM stopped the command at a
	// prompt or while it waited for cards; what was gathered was wiped.
	exitInterrupted = 130
)

// hintError carries an error and the hints that explain what to do next.
type hintError struct {
	err   error
	hints []string
	code  int
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// withHints wraps err with hints for the user.
func withHints(err error, hints ...string) error {
	return &hintError{err: err, hints: hints, code: exitFailure}
}

// usageError reports a wrong command line.
func usageError(format string, args ...any) error {
	return &hintError{err: fmt.Errorf(format, args...), code: exitUsage,
		hints: []string{"see --help for usage and examples"}}
}

// reportError prints err in the breakglass voice and returns the exit status.
func reportError(w io.Writer, err error) int {
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintf(w, "breakglass: error: %v\n", err)
	code := exitFailure
	var he *hintError
	if errors.As(err, &he) {
		for _, h := range he.hints {
			fmt.Fprintf(w, "breakglass: hint: %s\n", h)
		}
		code = he.code
	}
	if errors.Is(err, term.ErrInterrupted) {
		code = exitInterrupted
	}
	return code
}

// infof prints an informational line on stderr.
func infof(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "breakglass: "+format+"\n", args...)
}

// printJSON writes v to standard output as indented JSON, the --json form
// of every command.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// plural returns "1 tap" or "2 taps".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
