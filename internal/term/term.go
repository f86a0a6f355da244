// Package term asks questions on the controlling terminal (/dev/tty), never
// on stdin or stdout, so prompts work while the command's output is piped
// and secrets typed in are not echoed.
package term

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	xterm "golang.org/x/term"
)

// ErrNoTerminal means there is no terminal to ask on.
var ErrNoTerminal = errors.New("no terminal to ask on")

// ErrCancelled means the person gave no answer (end of input).
var ErrCancelled = errors.New("cancelled")

func open() (*os.File, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil, ErrNoTerminal
	}
	return tty, nil
}

// Available reports whether a terminal can be asked.
func Available() bool {
	tty, err := open()
	if err != nil {
		return false
	}
	tty.Close()
	return true
}

// ReadSecret prints prompt on the terminal and reads a line without echo.
// The caller wipes the returned slice.
func ReadSecret(prompt string) ([]byte, error) {
	tty, err := open()
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	b, err := xterm.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil || len(b) == 0 {
		return nil, ErrCancelled
	}
	return b, nil
}

// ReadNewSecret asks for a new secret twice and returns it when both
// answers match.
func ReadNewSecret(what string) ([]byte, error) {
	a, err := ReadSecret("new " + what + ": ")
	if err != nil {
		return nil, err
	}
	b, err := ReadSecret("new " + what + " again: ")
	if err != nil {
		wipe(a)
		return nil, err
	}
	defer wipe(b)
	if !bytes.Equal(a, b) {
		wipe(a)
		return nil, fmt.Errorf("the two %ss differ", what)
	}
	return a, nil
}

// Choose shows numbered options and returns the index picked.
func Choose(question string, options []string) (int, error) {
	tty, err := open()
	if err != nil {
		return 0, err
	}
	defer tty.Close()
	fmt.Fprintln(tty, question)
	for i, o := range options {
		fmt.Fprintf(tty, "  %d) %s\n", i+1, o)
	}
	r := bufio.NewReader(tty)
	for {
		fmt.Fprintf(tty, "choose 1-%d: ", len(options))
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, ErrCancelled
		}
		n, err := strconv.Atoi(strings.TrimSpace(line))
		if err == nil && n >= 1 && n <= len(options) {
			return n - 1, nil
		}
	}
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
