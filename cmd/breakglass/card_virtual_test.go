package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

// syncBuffer collects a subprocess's stderr while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// virtualCardProcess is `breakglass card virtual` running as its own process:
// the test binary, which TestMain turns into breakglass when it runs under
// that name (testscript puts such a copy first in $PATH).
type virtualCardProcess struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	exited chan struct{} // closed when the process has exited
	err    error         // from Wait, set before exited is closed
}

func startVirtualCard(t *testing.T, args ...string) *virtualCardProcess {
	t.Helper()
	bin, err := exec.LookPath("breakglass")
	if err != nil || !strings.HasPrefix(filepath.Base(filepath.Dir(filepath.Dir(bin))), "testscript-main") {
		t.Fatalf("breakglass in $PATH is %q (%v), not this test binary: TestMain must use testscript.Main", bin, err)
	}
	p := &virtualCardProcess{
		cmd:    exec.Command(bin, append([]string{"card", "virtual"}, args...)...),
		stderr: &syncBuffer{},
		exited: make(chan struct{}),
	}
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// waitLog waits until the process has printed want on stderr.
func (p *virtualCardProcess) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("breakglass card virtual did not print %q within 10 s; stderr:\n%s", want, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signal sends sig and, for SIGINT and SIGTERM, waits for a clean exit.
func (p *virtualCardProcess) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	if sig != syscall.SIGINT && sig != syscall.SIGTERM {
		return
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("breakglass card virtual after %v: %v; stderr:\n%s", sig, p.err, p.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("breakglass card virtual still running 10 s after %v; stderr:\n%s", sig, p.stderr)
	}
	vcardtest.WaitGone()
}

// TestCardVirtual runs `breakglass card virtual` as people do: piv-go must
// see the card, its state file must be private and survive a restart, and
// SIGUSR1/SIGUSR2 must pull the card out and put it back.
func TestCardVirtual(t *testing.T) {
	port, reader := vcardtest.Reserve(t)
	state := filepath.Join(t.TempDir(), "alice.card")
	const serial = 31415926
	args := []string{"--state", state, "--port", fmt.Sprint(port), "--ca-dir", vcardtest.CADir()}

	p := startVirtualCard(t, append(args, "--serial", fmt.Sprint(serial), "--touch", "auto")...)
	vcardtest.WaitCard(t, reader, serial)
	p.waitLog(t, fmt.Sprintf("virtual card %d on port %d", serial, port))
	checkPrivate(t, state)

	// Change what the state file must keep: a key and a retry counter.
	yk, err := piv.Open(reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication,
		piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyAlways})
	if err != nil {
		t.Fatal(err)
	}
	var authErr piv.AuthErr
	if err := yk.VerifyPIN("000000"); !errors.As(err, &authErr) || authErr.Retries != 2 {
		t.Fatalf("wrong PIN: %v, want 2 retries left", err)
	}
	yk.Close()
	p.signal(t, syscall.SIGINT)
	if !strings.Contains(p.stderr.String(), fmt.Sprintf("virtual card %d stopped", serial)) {
		t.Errorf("no stop message; stderr:\n%s", p.stderr)
	}

	// A new process with the same state file is the same card; --serial
	// only names new cards.
	p = startVirtualCard(t, append(args, "--serial", "27182818")...)
	vcardtest.WaitCard(t, reader, serial)
	yk, err = piv.Open(reader)
	if err != nil {
		t.Fatal(err)
	}
	ki, err := yk.KeyInfo(piv.SlotAuthentication)
	if err != nil || !pub.(*ecdsa.PublicKey).Equal(ki.PublicKey) || ki.TouchPolicy != piv.TouchPolicyAlways {
		t.Errorf("after restart, slot 9a holds %+v (%v), want the key generated before", ki, err)
	}
	if n, err := yk.Retries(); err != nil || n != 2 {
		t.Errorf("after restart, %d PIN retries (%v), want 2", n, err)
	}
	yk.Close()

	// SIGUSR1 pulls the card out, SIGUSR2 puts it back.
	p.signal(t, syscall.SIGUSR1)
	p.waitLog(t, fmt.Sprintf("virtual card %d removed", serial))
	vcardtest.WaitGone()
	if yk, err := piv.Open(reader); err == nil {
		yk.Close()
		t.Fatalf("piv-go opened %q after SIGUSR1", reader)
	}
	p.signal(t, syscall.SIGUSR2)
	p.waitLog(t, fmt.Sprintf("virtual card %d inserted", serial))
	vcardtest.WaitCard(t, reader, serial)
	p.signal(t, syscall.SIGTERM)
	checkPrivate(t, state) // still, after the atomic rewrites
}

// TestCardVirtualStopsDuringTouch sends SIGTERM while the card waits for a
// touch (no one presses Enter): the card must stop at once, not when the
// 15-second touch timeout runs out.
func TestCardVirtualStopsDuringTouch(t *testing.T) {
	port, reader := vcardtest.Reserve(t)
	state := filepath.Join(t.TempDir(), "erin.card")
	const serial = 27182818
	p := startVirtualCard(t, "--state", state, "--port", fmt.Sprint(port), "--ca-dir", vcardtest.CADir(),
		"--serial", fmt.Sprint(serial), "--touch", "interactive")
	vcardtest.WaitCard(t, reader, serial)

	yk, err := piv.Open(reader)
	if err != nil {
		t.Fatal(err)
	}
	defer yk.Close()
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotAuthentication,
		piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyAlways})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := yk.PrivateKey(piv.SlotAuthentication, pub, piv.KeyAuth{PINPolicy: piv.PINPolicyNever})
	if err != nil {
		t.Fatal(err)
	}
	signed := make(chan error, 1)
	go func() {
		_, err := priv.(crypto.Signer).Sign(rand.Reader, make([]byte, 32), crypto.SHA256)
		signed <- err
	}()
	p.waitLog(t, fmt.Sprintf("virtual card %d: touch requested", serial))

	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if p.err != nil {
			t.Fatalf("after SIGTERM: %v; stderr:\n%s", p.err, p.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5 s after SIGTERM while waiting for a touch; stderr:\n%s", p.stderr)
	}
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("stopped %v after SIGTERM, want at once", d.Round(time.Millisecond))
	}
	if !strings.Contains(p.stderr.String(), fmt.Sprintf("virtual card %d stopped", serial)) {
		t.Errorf("no stop message; stderr:\n%s", p.stderr)
	}
	if err := <-signed; err == nil {
		t.Error("the signature waiting for a touch succeeded without one")
	}
	yk.Close()
	vcardtest.WaitGone()
}

func checkPrivate(t *testing.T, file string) {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", file, fi.Mode().Perm())
	}
}

// TestCardVirtualRefuses checks the command lines and state files that
// `breakglass card virtual` must refuse before it plugs anything in.
func TestCardVirtualRefuses(t *testing.T) {
	dir := t.TempDir()
	tampered := filepath.Join(dir, "tampered.card")
	if err := os.WriteFile(tampered, []byte(`{"version":1,"serial":"not a number"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "fresh.card")
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		// urfave/cli's own complaints are usage errors too (ui.go).
		{"no state", []string{}, exitUsage, `Required flag "state" not set`},
		{"argument", []string{"--state", fresh, "extra"}, exitUsage, `breakglass card virtual takes no arguments (got "extra")`},
		{"touch", []string{"--state", fresh, "--touch", "sometimes"}, exitUsage, "--touch"},
		{"serial zero", []string{"--state", fresh, "--serial", "0"}, exitUsage, "--serial"},
		{"serial too big", []string{"--state", fresh, "--serial", "4294967296"}, exitUsage, "--serial"},
		{"firmware", []string{"--state", fresh, "--firmware", "4.3.7"}, exitUsage, "--firmware"},
		{"port", []string{"--state", fresh, "--port", "70000"}, exitUsage, "--port"},
		{"tampered state", []string{"--state", tampered, "--ca-dir", vcardtest.CADir()}, exitFailure, "hint: check that the --state file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startVirtualCard(t, tc.args...)
			var code int
			select {
			case <-p.exited:
				var exit *exec.ExitError
				if errors.As(p.err, &exit) {
					code = exit.ExitCode()
				} else if p.err != nil {
					t.Fatal(p.err)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("still running after 10 s; stderr:\n%s", p.stderr)
			}
			if code != tc.code || !strings.Contains(p.stderr.String(), tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", code, p.stderr, tc.code, tc.want)
			}
		})
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Errorf("a refused command line created %s", fresh)
	}
}
