package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// A Lock is held by the process that runs a session.
type Lock struct {
	id string
	f  *os.File
}

// ownSessions are the sessions this process runs: never unterminated,
// even when their lock could not be taken.
var ownSessions struct {
	sync.Mutex
	m map[string]bool
}

// lockPath is the lock file of session id, or "" for an id NewID would
// not have made (the logbook is not trusted with paths).
func lockPath(id string) string {
	if id == "" || len(id) > 64 || strings.Trim(id, "0123456789abcdef") != "" {
		return ""
	}
	return filepath.Join(os.TempDir(), "breakglass-session-"+id+".lock")
}

// Hold marks session id as running in this process until Release. Even
// when it returns an error (the lock file could not be taken), this
// process counts the session as running.
func Hold(id string) (*Lock, error) {
	ownSessions.Lock()
	if ownSessions.m == nil {
		ownSessions.m = map[string]bool{}
	}
	ownSessions.m[id] = true
	ownSessions.Unlock()
	path := lockPath(id)
	if path == "" {
		return nil, fmt.Errorf("session id %q", id)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %v", path, err)
	}
	return &Lock{id: id, f: f}, nil
}

// Release ends the mark (the session was closed, or its abort could not
// be recorded: then the next command records it). A nil Lock does nothing.
func (s *Lock) Release() {
	if s == nil {
		return
	}
	os.Remove(s.f.Name())
	s.f.Close()
	ownSessions.Lock()
	delete(ownSessions.m, s.id)
	ownSessions.Unlock()
}

// Running reports whether a process still runs session id: this one, or
// another that holds its lock. When that cannot be told (the file cannot
// be read, the lock not tried) it says yes: a session is never recorded
// as unterminated by mistake.
func Running(id string) bool {
	ownSessions.Lock()
	own := ownSessions.m[id]
	ownSessions.Unlock()
	if own {
		return true
	}
	path := lockPath(id)
	if path == "" {
		return false
	}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		return true
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return true
	}
	return false // closing f drops the lock just taken
}

// RemoveLock removes the lock file a killed process left behind.
func RemoveLock(id string) {
	if path := lockPath(id); path != "" {
		os.Remove(path)
	}
}
