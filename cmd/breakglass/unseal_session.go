package main

// Unseal sessions that end without a release.
//
// An unseal (or aws session) opens a session with its unseal-start entry,
// and its release closes it. When it ends any other way — Ctrl-C, the
// window ran out, a failure after the start — the operator's card signs an
// abort before the command exits: a note with detail action=abort naming
// the session, whose reason says why (logbook.ActionAbort). The operator's
// PIN is remembered from the unseal-start, so only a touch may be needed.
//
// A process that was killed (kill -9, a crash, the laptop's battery) can
// record nothing. The next command that appends to the case's logbook then
// finds the session open (logbook.OpenSessions) and first appends its abort
// ("unterminated: the process ended without closing it"), signed by
// whoever runs that command.
//
// A session still running is not unterminated: while it runs, its process
// holds an flock(2) on a file named after the session in the temporary
// directory, which the kernel releases when the process ends, however it
// ends. A command that finds the lock held leaves the session open.

import (
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/breakglass/breakglass/internal/term"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal/ceremony"
	"github.com/breakglass/breakglass/token"
)

// unterminatedReason is the reason of the abort of a session whose process
// ended without closing it.
const unterminatedReason = "unterminated: the process ended without closing it"

// detailUnsealStart, in an abort, is the number of the unseal-start entry
// of the session it closes.
const detailUnsealStart = "unseal-start"

// abortReason says in an abort entry why a session ended without a
// release.
func abortReason(err error) string {
	var se *ceremony.StopError
	switch {
	case errors.Is(err, term.ErrInterrupted):
		return "interrupted: the operator stopped the unseal (Ctrl-C)"
	case errors.As(err, &se):
		return fmt.Sprintf("timed out: the unseal window of %s ran out", se.Window)
	case err == nil:
		return "ended without a release"
	}
	return "failed: " + err.Error()
}

// startSession appends the unseal-start entry e, holding the session's
// lock from before the entry is in until the command ends.
func (cl *ceremonyLog) startSession(e logbook.Entry, size int64) error {
	lock, err := holdSession(cl.session)
	if err != nil {
		infof("warning: cannot mark unseal session %s as running (%v): a command run meanwhile may record it as unterminated", cl.session, err)
	}
	ck, err := cl.cd.recordSigned(cl.c, e, cl.operator, size)
	if err != nil {
		lock.release()
		return err
	}
	cl.started, cl.running, cl.startIndex = true, lock, ck.N-1
	return nil
}

// endSession ends the session when the command ends: after a release (or
// another entry that closed it) there is nothing to do; otherwise cause says
// why it ended, and the operator's card signs its abort. tapped names who
// tapped (their shares were wiped).
func (cl *ceremonyLog) endSession(cause error, tapped string) {
	if !cl.started || cl.log == nil {
		return
	}
	defer cl.running.release()
	if cl.closed {
		return
	}
	e := cl.entry(logbook.KindNote, map[string]string{logbook.DetailAction: logbook.ActionAbort, logbook.DetailTapped: tapped,
		detailUnsealStart: fmt.Sprint(cl.startIndex)})
	e.Reason = trimLog(abortReason(cause))
	infof("recording the abort of the unseal of %s (session %s) in the logbook, signed by %s", e.Secret, cl.session, cl.name)
	if _, err := cl.cd.recordSigned(cl.c, e, cl.operator, -1); err != nil {
		reportError(os.Stderr, withHints(fmt.Errorf("the abort could not be recorded: %w", err),
			"the next command that writes to the logbook records it, as unterminated"))
		return
	}
	cl.closed = true
}

// closeUnterminated appends the abort of every unseal session that is open
// in the case's logbook but no longer running, signed by actor, ahead of
// the entry the command appends (caseDir.appendEntry). With size >= 0 (the
// size the caller checked) the aborts go on top of exactly size entries,
// and it returns how many it appended, so that the caller's entry follows
// them; when the logbook no longer holds size entries it appends nothing,
// and the caller's append reports the conflict.
func (cd *caseDir) closeUnterminated(size int64, actor *token.Record, signer crypto.Signer) (int64, error) {
	if actor == nil || signer == nil {
		return 0, nil
	}
	l, err := cd.Log()
	if err != nil || l == nil {
		return 0, nil // the append itself says what is wrong
	}
	if size < 0 {
		if err := l.Refresh(); err != nil {
			return 0, nil
		}
	} else if l.Size() != size {
		return 0, nil
	}
	base := l.Size()
	var added int64
	for _, st := range logbook.OpenSessions(l.Entries()) {
		id := st.Details[logbook.DetailSession]
		if sessionRunning(id) {
			continue
		}
		who := st.Details[logbook.DetailOperator]
		if who == "" {
			who = st.Actor
		}
		infof("the unseal of %s that %s started in entry %d (session %s) was never closed: its process ended; recording its abort",
			st.Secret, who, st.Index, id)
		_, err := cd.Append(base+added, unterminatedAbort(l.Entries(), st), actor, signer)
		var ce *logbook.ConflictError
		if errors.As(err, &ce) && size < 0 {
			return added, nil // another process appended: the next append looks again
		}
		if err != nil {
			return added, fmt.Errorf("recording the abort of unseal session %s: %w", id, err)
		}
		added++
		removeSessionLock(id)
	}
	return added, nil
}

// unterminatedAbort is the abort entry of the session st started, whose
// process ended without closing it.
func unterminatedAbort(entries []*logbook.Entry, st *logbook.Entry) logbook.Entry {
	id := st.Details[logbook.DetailSession]
	var tapped []string
	for _, e := range entries {
		if e.Index > st.Index && e.Kind == logbook.KindTap && e.Details[logbook.DetailSession] == id && e.Details["custodian"] != "" {
			tapped = append(tapped, e.Details["custodian"])
		}
	}
	d := map[string]string{logbook.DetailAction: logbook.ActionAbort, logbook.DetailSession: id, detailUnsealStart: fmt.Sprint(st.Index)}
	if op := st.Details[logbook.DetailOperator]; op != "" {
		d[logbook.DetailOperator] = op
	}
	if len(tapped) > 0 {
		d[logbook.DetailTapped] = strings.Join(tapped, ",")
	}
	return logbook.Entry{Kind: logbook.KindNote, Secret: st.Secret, HeaderHash: st.HeaderHash,
		Reason: unterminatedReason, Ticket: st.Ticket, UseCase: st.UseCase, Details: d}
}

// A sessionLock is held by the process that runs an unseal session.
type sessionLock struct {
	id string
	f  *os.File
}

// ownSessions are the sessions this process runs: never unterminated,
// even when their lock could not be taken.
var ownSessions struct {
	sync.Mutex
	m map[string]bool
}

// sessionLockPath is the lock file of session id, or "" for an id
// breakglass would not have made (the logbook is not trusted with paths).
func sessionLockPath(id string) string {
	if id == "" || len(id) > 64 || strings.Trim(id, "0123456789abcdef") != "" {
		return ""
	}
	return filepath.Join(os.TempDir(), "breakglass-session-"+id+".lock")
}

// holdSession marks session id as running in this process until release.
func holdSession(id string) (*sessionLock, error) {
	ownSessions.Lock()
	if ownSessions.m == nil {
		ownSessions.m = map[string]bool{}
	}
	ownSessions.m[id] = true
	ownSessions.Unlock()
	path := sessionLockPath(id)
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
	return &sessionLock{id: id, f: f}, nil
}

// release ends the mark (the session was closed, or its abort could not
// be recorded: then the next command records it).
func (s *sessionLock) release() {
	if s == nil {
		return
	}
	os.Remove(s.f.Name())
	s.f.Close()
	ownSessions.Lock()
	delete(ownSessions.m, s.id)
	ownSessions.Unlock()
}

// sessionRunning reports whether a process still runs session id: this
// one, or another that holds its lock. When that cannot be told (the file
// cannot be read, the lock not tried) it says yes: a session is never
// recorded as unterminated by mistake.
func sessionRunning(id string) bool {
	ownSessions.Lock()
	own := ownSessions.m[id]
	ownSessions.Unlock()
	if own {
		return true
	}
	path := sessionLockPath(id)
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

// removeSessionLock removes the lock file a killed process left behind.
func removeSessionLock(id string) {
	if path := sessionLockPath(id); path != "" {
		os.Remove(path)
	}
}
