package term

// These tests run the prompts on a real pseudo-terminal: the test binary
// re-executes itself as a child in a new session whose controlling terminal
// is the pty's slave side, and the test plays the person at the keyboard on
// the master side. It waits for each prompt and for echo to be switched off
// before typing, as a person would, so that "typed secrets are not echoed"
// is checked without racing the child.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// childEnv selects what the re-executed test binary does.
const childEnv = "BREAKGLASS_TERM_TEST_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

// child runs one prompt and reports on stdout (a pipe, not the terminal)
// what it got, so the parent can compare.
func child(mode string) int {
	switch mode {
	case "secret":
		b, err := ReadSecret("PIN: ")
		if err != nil {
			fmt.Printf("error: %v\n", err)
			return 1
		}
		fmt.Printf("got %q\n", b)
	case "new":
		b, err := ReadNewSecret("PIN")
		if err != nil {
			fmt.Printf("error: %v\n", err)
			return 1
		}
		fmt.Printf("got %q\n", b)
	case "choose":
		n, err := Choose("which use case?", []string{"SSO is down", "root account locked"})
		if err != nil {
			fmt.Printf("error: %v\n", err)
			return 1
		}
		fmt.Printf("chose %d\n", n)
	case "available":
		fmt.Printf("available %v\n", Available())
	default:
		return 2
	}
	return 0
}

// session is a child process on a pty, seen from the keyboard.
type session struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	out    bytes.Buffer // the child's stdout (a pipe)
	screen chan []byte  // what the terminal shows
	shown  bytes.Buffer
}

func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v (the tests need a Linux pty)", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	return m, s
}

// start runs the test binary as a child in mode. With tty, the child's
// controlling terminal is a new pty; without, it has none.
func start(t *testing.T, mode string, tty bool) *session {
	t.Helper()
	s := &session{t: t, screen: make(chan []byte, 64)}
	s.cmd = exec.Command(os.Args[0], "-test.run=^$")
	s.cmd.Env = append(os.Environ(), childEnv+"="+mode)
	s.cmd.Stdout = &s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var slave *os.File
	if tty {
		s.master, slave = openPTY(t)
		s.cmd.ExtraFiles = []*os.File{slave}
		s.cmd.SysProcAttr.Setctty = true
		s.cmd.SysProcAttr.Ctty = 3
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if tty {
		slave.Close()
		go func() {
			for {
				buf := make([]byte, 256)
				n, err := s.master.Read(buf)
				if n > 0 {
					s.screen <- buf[:n]
				}
				if err != nil {
					close(s.screen)
					return
				}
			}
		}()
		t.Cleanup(func() { s.master.Close() })
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	return s
}

// waitFor reads the screen until it shows want.
func (s *session) waitFor(want string) {
	s.t.Helper()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(s.shown.String(), want) {
		select {
		case b, ok := <-s.screen:
			if !ok {
				s.t.Fatalf("the terminal closed before showing %q; it showed %q", want, s.shown.String())
			}
			s.shown.Write(b)
		case <-deadline:
			s.t.Fatalf("the terminal did not show %q; it showed %q", want, s.shown.String())
		}
	}
}

// echoOff waits until the terminal stops echoing, as it must while a secret
// is typed.
func (s *session) echoOff() {
	s.t.Helper()
	for i := 0; i < 1000; i++ {
		tio, err := unix.IoctlGetTermios(int(s.master.Fd()), unix.TCGETS)
		if err != nil {
			s.t.Fatal(err)
		}
		if tio.Lflag&unix.ECHO == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatal("the terminal still echoes: a secret typed now would be shown")
}

func (s *session) echoOn() bool {
	tio, err := unix.IoctlGetTermios(int(s.master.Fd()), unix.TCGETS)
	if err != nil {
		s.t.Fatal(err)
	}
	return tio.Lflag&unix.ECHO != 0
}

func (s *session) typeLine(line string) {
	s.t.Helper()
	if _, err := s.master.Write([]byte(line + "\r")); err != nil {
		s.t.Fatal(err)
	}
}

// wait waits for the child and returns its report and the whole screen.
func (s *session) wait() (report, screen string) {
	s.t.Helper()
	err := s.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		s.t.Fatal(err)
	}
	if s.master != nil {
		// Drain what the child wrote before it exited.
		timeout := time.After(2 * time.Second)
	drain:
		for {
			select {
			case b, ok := <-s.screen:
				if !ok {
					break drain
				}
				s.shown.Write(b)
			case <-timeout:
				break drain
			}
		}
	}
	return strings.TrimSpace(s.out.String()), s.shown.String()
}

func TestReadSecretIsNotEchoed(t *testing.T) {
	s := start(t, "secret", true)
	s.waitFor("PIN: ")
	s.echoOff()
	s.typeLine("314159")
	report, screen := s.wait()
	if report != `got "314159"` {
		t.Errorf("child got %s, want the typed PIN", report)
	}
	if strings.Contains(screen, "314159") {
		t.Errorf("the PIN was echoed on the terminal: %q", screen)
	}
	if !s.echoOn() {
		t.Error("echo was not switched back on after the PIN was read")
	}
}

func TestReadSecretEmptyIsCancelled(t *testing.T) {
	s := start(t, "secret", true)
	s.waitFor("PIN: ")
	s.echoOff()
	s.typeLine("")
	report, _ := s.wait()
	if report != "error: "+ErrCancelled.Error() {
		t.Errorf("an empty answer gave %q, want %q", report, ErrCancelled)
	}
}

// Ctrl-C at a hidden prompt acts at once, without Enter: the prompt
// returns ErrInterrupted, and the terminal echoes again.
func TestReadSecretCtrlC(t *testing.T) {
	s := start(t, "secret", true)
	s.waitFor("PIN: ")
	s.echoOff()
	if _, err := s.master.Write([]byte("31\x03")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if report, screen := s.wait(); report != "error: "+ErrInterrupted.Error() {
			t.Errorf("Ctrl-C gave %q, want %q", report, ErrInterrupted)
		} else if strings.Contains(screen, "31") {
			t.Errorf("the typed digits were echoed: %q", screen)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Ctrl-C at the prompt did nothing for 5s (waiting for Enter?)")
	}
	if !s.echoOn() {
		t.Error("echo was not switched back on after Ctrl-C")
	}
}

// Ctrl-C at a choice acts at once too.
func TestChooseCtrlC(t *testing.T) {
	s := start(t, "choose", true)
	s.waitFor("choose 1-2: ")
	if _, err := s.master.Write([]byte("1\x03")); err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	go func() {
		report, _ := s.wait()
		done <- report
	}()
	select {
	case report := <-done:
		if report != "error: "+ErrInterrupted.Error() {
			t.Errorf("Ctrl-C gave %q, want %q", report, ErrInterrupted)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Ctrl-C at the choice did nothing for 5s (waiting for Enter?)")
	}
}

func TestReadNewSecret(t *testing.T) {
	tests := []struct {
		name, first, second, want string
	}{
		{"match", "271828", "271828", `got "271828"`},
		{"differ", "271828", "271829", "error: the two PINs differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, "new", true)
			s.waitFor("new PIN: ")
			s.echoOff()
			s.typeLine(tt.first)
			s.waitFor("new PIN again: ")
			s.echoOff()
			s.typeLine(tt.second)
			report, screen := s.wait()
			if report != tt.want {
				t.Errorf("child reported %q, want %q", report, tt.want)
			}
			if strings.Contains(screen, tt.first) || strings.Contains(screen, tt.second) {
				t.Errorf("a PIN was echoed on the terminal: %q", screen)
			}
		})
	}
}

func TestChooseAsksAgainUntilValid(t *testing.T) {
	s := start(t, "choose", true)
	s.waitFor("choose 1-2: ")
	s.typeLine("3")
	s.waitFor("3\r\nchoose 1-2: ") // echoed (a choice is not secret), then asked again
	s.typeLine("two")
	s.waitFor("two\r\nchoose 1-2: ")
	s.typeLine("2")
	report, screen := s.wait()
	if report != "chose 1" {
		t.Errorf("child reported %q, want %q", report, "chose 1")
	}
	for _, want := range []string{"which use case?", "1) SSO is down", "2) root account locked"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal did not show %q: %q", want, screen)
		}
	}
}

func TestNoTerminal(t *testing.T) {
	for _, mode := range []string{"secret", "choose"} {
		s := start(t, mode, false)
		if report, _ := s.wait(); report != "error: "+ErrNoTerminal.Error() {
			t.Errorf("%s without a terminal: child reported %q, want %q", mode, report, ErrNoTerminal)
		}
	}
	s := start(t, "available", false)
	if report, _ := s.wait(); report != "available false" {
		t.Errorf("without a terminal: %q, want available false", report)
	}
	s = start(t, "available", true)
	if report, _ := s.wait(); report != "available true" {
		t.Errorf("with a terminal: %q, want available true", report)
	}
}
