package logbook

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Child processes: the test binary re-executed with LOGBOOK_TEST_CHILD set.
//
//	LOGBOOK_TEST_CHILD=append DIR ACTOR COUNT   append COUNT entries as ACTOR,
//	                                            retrying on conflicts
func TestMain(m *testing.M) {
	if os.Getenv("LOGBOOK_TEST_CHILD") == "append" {
		os.Exit(childAppend())
	}
	os.Exit(m.Run())
}

func childAppend() int {
	dir, actor := os.Getenv("LOGBOOK_DIR"), os.Getenv("LOGBOOK_ACTOR")
	count, _ := strconv.Atoi(os.Getenv("LOGBOOK_COUNT"))
	slow := os.Getenv("LOGBOOK_SLOW") != ""
	t := &testing.T{}
	l, err := Open(dir, testRoster(t))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if slow {
		// Widen the window between writing an entry and committing it,
		// so the parent's SIGKILL often lands there.
		l.testingOnlyAfterWrite = func() { time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond) }
	}
	s := testSigner(t, actor)
	for i := 0; i < count; i++ {
		e := Entry{Kind: KindNote, Reason: fmt.Sprintf("%s %d", actor, i), Details: map[string]string{"seq": strconv.Itoa(i)}}
		for {
			_, err := l.Append(l.Size(), e, s)
			var ce *ConflictError
			if errors.As(err, &ce) {
				continue
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			break
		}
	}
	return 0
}

func childCmd(t *testing.T, dir, actor string, count int, slow bool) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "LOGBOOK_TEST_CHILD=append", "LOGBOOK_DIR="+dir,
		"LOGBOOK_ACTOR="+actor, "LOGBOOK_COUNT="+strconv.Itoa(count))
	if slow {
		cmd.Env = append(cmd.Env, "LOGBOOK_SLOW=1")
	}
	cmd.Stderr = os.Stderr
	return cmd
}

// TestCrashDuringAppend SIGKILLs a process at random points while it
// appends, again and again: the logbook always verifies, with or without the
// entry being written, and never loses an earlier one.
func TestCrashDuringAppend(t *testing.T) {
	dir, _ := buildLog(t, testOrigin, 2)
	roster := testRoster(t)
	var before []byte // committed entries seen so far
	var kills, unfinished, grew int
	deadline := time.Now().Add(8 * time.Second)
	if testing.Short() {
		deadline = time.Now().Add(2 * time.Second)
	}
	for time.Now().Before(deadline) {
		cmd := childCmd(t, dir, "alice", 1000, true)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(5000+rand.IntN(40000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			kills++
		} else if err != nil {
			t.Fatalf("child failed: %v", err)
		}

		l, err := Open(dir, roster)
		if err != nil {
			t.Fatalf("after kill %d: %v", kills, err)
		}
		if l.UnfinishedAppend() {
			unfinished++
		}
		var committed []byte
		for _, e := range l.Entries() {
			committed = append(committed, e.Signed...)
		}
		if !bytes.HasPrefix(committed, before) {
			t.Fatalf("after kill %d: an earlier entry was lost or changed (had %d bytes, now %d)", kills, len(before), len(committed))
		}
		if len(committed) > len(before) {
			grew++
		}
		before = committed
	}
	l, err := Open(dir, roster)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kills, %d left an unfinished append, %d runs added entries, %d entries in the end", kills, unfinished, grew, l.Size())
	if kills < 10 || grew == 0 {
		t.Fatalf("the test did not exercise the crash: %d kills, %d runs added entries", kills, grew)
	}
}

// TestConcurrentAppends runs two processes appending at once: every entry of
// both lands, none is lost.
func TestConcurrentAppends(t *testing.T) {
	dir, _ := buildLog(t, testOrigin, 1)
	const each = 25
	a := childCmd(t, dir, "alice", each, false)
	b := childCmd(t, dir, "bob", each, false)
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	if err := a.Wait(); err != nil {
		t.Fatalf("alice: %v", err)
	}
	if err := b.Wait(); err != nil {
		t.Fatalf("bob: %v", err)
	}
	l, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != 1+2*each {
		t.Fatalf("size %d, want %d", l.Size(), 1+2*each)
	}
	seen := map[string]int{}
	interleaved := false
	for i, e := range l.Entries()[1:] {
		want := seen[e.Actor]
		if e.Details["seq"] != strconv.Itoa(want) {
			t.Fatalf("%s's entries out of order: got seq %s, want %d", e.Actor, e.Details["seq"], want)
		}
		seen[e.Actor]++
		if i > 0 && l.Entries()[i].Actor != e.Actor {
			interleaved = true
		}
	}
	if seen["alice"] != each || seen["bob"] != each {
		t.Fatalf("entries per actor: %v", seen)
	}
	t.Logf("interleaved: %v", interleaved)
}
