package logbook

import (
	"crypto"
	"errors"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/breakglass/breakglass/token"
	"golang.org/x/mod/sumdb/note"
)

// slowSigner is a token that waits for a person: Sign blocks until the
// test lets it go.
type slowSigner struct {
	rfc6979
	signing chan struct{} // receives when Sign starts
	proceed chan struct{} // Sign returns once this is closed
}

func (s slowSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	s.signing <- struct{}{}
	<-s.proceed
	return s.rfc6979.Sign(r, d, o)
}

func newSlowSigner(t *testing.T, name string) (note.Signer, slowSigner) {
	t.Helper()
	s := slowSigner{rfc6979{testKey(name)}, make(chan struct{}, 4), make(chan struct{})}
	ns, err := token.NewNoteSigner(name, s)
	if err != nil {
		t.Fatal(err)
	}
	return ns, s
}

// While a writer's token waits for a PIN or a touch, the logbook is not
// locked: readers open and verify it, and another writer appends; the slow
// writer then gets a conflict, and the log is intact (issue #12, stuck 3).
func TestAppendSignsWithoutTheLock(t *testing.T) {
	dir, _ := buildLog(t, "breakglass.example/test", 3)
	l, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	ns, slow := newSlowSigner(t, "carol")
	e := sampleEntries()[3].e
	done := make(chan error, 1)
	go func() {
		_, err := l.Append(3, e, ns)
		done <- err
	}()
	select {
	case <-slow.signing:
	case <-time.After(10 * time.Second):
		t.Fatal("Append did not start signing")
	}

	// Meanwhile, within a second: a reader, a verifier, another writer.
	quick := make(chan error, 1)
	go func() {
		other, err := Verify(dir, testRoster(t))
		if err == nil && other.Size() != 3 {
			err = errors.New("wrong size")
		}
		if err == nil {
			_, err = other.Append(3, sampleEntries()[4].e, testSigner(t, "alice"))
		}
		quick <- err
	}()
	select {
	case err := <-quick:
		if err != nil {
			t.Fatalf("while a token waited: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("opening or appending to the logbook waited on another writer's token")
	}

	close(slow.proceed)
	var ce *ConflictError
	if err := <-done; !errors.As(err, &ce) || ce.Size != 4 {
		t.Fatalf("the slow append gave %v, want a conflict at size 4", err)
	}
	l2, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	if l2.Size() != 4 || l2.Entries()[3].Actor != "alice" {
		t.Fatalf("after the race: %d entries, last by %s; want 4, alice's", l2.Size(), l2.Entries()[l2.Size()-1].Actor)
	}
	// On the now current log, the slow writer's retry lands.
	if _, err := l.Append(4, e, testSigner(t, "carol")); err != nil {
		t.Fatal(err)
	}
}

// A reader that has to wait for the lock says so after LockWaitAfter,
// naming the process that holds it.
func TestLockWaitNotice(t *testing.T) {
	dir, _ := buildLog(t, "breakglass.example/test", 2)
	l, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	defer func(f func(string, []int), d time.Duration) { LockWait, LockWaitAfter = f, d }(LockWait, LockWaitAfter)
	type notice struct {
		dir     string
		holders []int
	}
	notices := make(chan notice, 4)
	LockWait = func(dir string, holders []int) { notices <- notice{dir, holders} }
	LockWaitAfter = 200 * time.Millisecond

	// A writer stuck between writing its entry and committing it.
	stuck, release := make(chan struct{}), make(chan struct{})
	l.testingOnlyAfterWrite = func() { close(stuck); <-release }
	appended := make(chan error, 1)
	go func() {
		_, err := l.Append(2, sampleEntries()[2].e, testSigner(t, "alice"))
		appended <- err
	}()
	<-stuck
	opened := make(chan error, 1)
	go func() {
		_, err := Open(dir, testRoster(t))
		opened <- err
	}()
	select {
	case n := <-notices:
		if n.dir != dir {
			t.Errorf("notice about %s, want %s", n.dir, dir)
		}
		if _, err := os.Stat("/proc/locks"); err == nil && !slices.Contains(n.holders, os.Getpid()) {
			t.Errorf("notice names holders %v, want this process (%d)", n.holders, os.Getpid())
		}
	case err := <-opened:
		t.Fatalf("Open returned (%v) while the lock was held", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no notice after waiting for the lock")
	}
	close(release)
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
}
