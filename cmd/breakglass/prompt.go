package main

// Prompts on the terminal (package term does the reading).

import (
	"context"
	"errors"
	"os"

	xterm "golang.org/x/term"

	"github.com/breakglass/breakglass/internal/term"
	"github.com/breakglass/breakglass/token"
)

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool { return xterm.IsTerminal(int(f.Fd())) }

// promptTTY asks on the terminal, without echo.
func promptTTY(prompt string) ([]byte, error) {
	return promptTTYContext(context.Background(), prompt)
}

// promptTTYContext is promptTTY, interrupted also when ctx ends.
func promptTTYContext(ctx context.Context, prompt string) ([]byte, error) {
	b, err := term.ReadSecretContext(ctx, prompt)
	switch {
	case errors.Is(err, term.ErrNoTerminal):
		return nil, withHints(errors.New("no terminal to ask on"),
			"use --mnemonic-file (paper shares) or --pin-file / BREAKGLASS_PIN when running without a terminal")
	case errors.Is(err, term.ErrCancelled):
		return nil, token.ErrCancelled
	}
	return b, err
}

// promptTTYCheck opens the terminal for paper-share hand-over, or explains
// why it cannot.
func promptTTYCheck() (*os.File, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return nil, withHints(errors.New("the roster has paper custodians but there is no terminal to show their shares on"),
			"use --paper-out DIR (a removable drive) to hand them over as 0600 files")
	}
	return tty, nil
}
