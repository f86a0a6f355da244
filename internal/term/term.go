// Package term asks questions on the controlling terminal (/dev/tty), never
// on stdin or stdout, so prompts work while the command's output is piped
// and secrets typed in are not echoed.
//
// Ctrl-C acts at once at every prompt: the terminal keeps generating SIGINT
// (the kernel also discards the line typed so far), each prompt catches it
// (and SIGTERM) while it waits, and returns ErrInterrupted with the terminal
// as it was. A prompt given a context returns ErrInterrupted when the
// context ends too. Callers treat ErrInterrupted as "stop everything", never
// as "skip this question".
package term

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ErrNoTerminal means there is no terminal to ask on.
var ErrNoTerminal = errors.New("no terminal to ask on")

// ErrCancelled means the person gave no answer (an empty line, or end of
// input).
var ErrCancelled = errors.New("cancelled")

// ErrInterrupted means the person pressed Ctrl-C (or the process got
// SIGINT or SIGTERM, or the prompt's context ended) while a prompt waited.
var ErrInterrupted = errors.New("interrupted")

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
	return ReadSecretContext(context.Background(), prompt)
}

// ReadSecretContext is ReadSecret, interrupted also when ctx ends.
func ReadSecretContext(ctx context.Context, prompt string) ([]byte, error) {
	tty, err := open()
	if err != nil {
		return nil, err
	}
	defer tty.Close()
	b, err := readLine(ctx, tty, prompt, false)
	fmt.Fprintln(tty)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
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
	for {
		line, err := readLine(context.Background(), tty, fmt.Sprintf("choose 1-%d: ", len(options)), true)
		if errors.Is(err, ErrInterrupted) {
			fmt.Fprintln(tty)
			return 0, err
		}
		if err != nil {
			return 0, ErrCancelled
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(line)))
		if err == nil && n >= 1 && n <= len(options) {
			return n - 1, nil
		}
	}
}

// readLine shows prompt and reads one line from the terminal in canonical
// mode (the kernel edits the line: backspace, Ctrl-U), with echo on or off,
// and restores the terminal's settings afterwards. It returns
// ErrInterrupted at once on SIGINT or SIGTERM (Ctrl-C) or when ctx ends,
// and io.EOF at the end of input. The line excludes the newline; the caller
// wipes it.
func readLine(ctx context.Context, tty *os.File, prompt string, echo bool) ([]byte, error) {
	// Catch Ctrl-C before anything shows that a prompt waits.
	var interrupted atomic.Bool
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
		case <-done:
			return
		}
		interrupted.Store(true)
		tty.SetReadDeadline(time.Now())
	}()

	// Through the raw connection, so that tty stays non-blocking and its
	// read can be cut short with a deadline.
	rc, err := tty.SyscallConn()
	if err != nil {
		return nil, err
	}
	var old *unix.Termios
	var terr error
	if err := rc.Control(func(fd uintptr) { old, terr = unix.IoctlGetTermios(int(fd), unix.TCGETS) }); err != nil {
		return nil, err
	}
	if terr != nil {
		return nil, ErrNoTerminal
	}
	mode := *old
	mode.Lflag |= unix.ICANON | unix.ISIG
	if echo {
		mode.Lflag |= unix.ECHO
	} else {
		mode.Lflag &^= unix.ECHO
	}
	mode.Iflag |= unix.ICRNL
	setTermios(rc, &mode)
	defer setTermios(rc, old)
	if ctx.Err() != nil {
		return nil, ErrInterrupted
	}
	fmt.Fprint(tty, prompt)

	line := make([]byte, 0, 256) // room for any sane answer: no copies left behind
	buf := make([]byte, 256)
	defer wipe(buf)
	for {
		n, err := tty.Read(buf)
		line = append(line, buf[:n]...)
		if i := bytes.IndexByte(line, '\n'); i >= 0 {
			wipe(line[i:])
			return line[:i], nil
		}
		if interrupted.Load() {
			wipe(line)
			return nil, ErrInterrupted
		}
		if err != nil {
			wipe(line)
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, err
		}
		if n == 0 {
			// End of input (Ctrl-D on an empty line).
			wipe(line)
			return nil, io.EOF
		}
	}
}

func setTermios(rc syscall.RawConn, t *unix.Termios) {
	rc.Control(func(fd uintptr) { unix.IoctlSetTermios(int(fd), unix.TCSETS, t) })
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
