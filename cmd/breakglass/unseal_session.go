package main

// Unseal sessions that end without a release (package logbook/session):
// the operator's card signs the abort of a session that ends any other way
// (its PIN is remembered from the unseal-start, so only a touch may be
// needed), and the next command that appends records the abort of a
// session whose process was killed.

import (
	"fmt"
	"os"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/session"
)

// startSession appends the unseal-start entry e, holding the session's
// lock from before the entry is in until the command ends.
func (cl *ceremonyLog) startSession(e logbook.Entry, size int64) error {
	lock, err := session.Hold(cl.ID)
	if err != nil {
		infof("warning: cannot mark unseal session %s as running (%v): a command run meanwhile may record it as unterminated", cl.ID, err)
	}
	ck, err := cl.cd.logSigned(cl.c, e, cl.operator, size)
	if err != nil {
		lock.Release()
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
	defer cl.running.Release()
	if cl.closed {
		return
	}
	e := cl.Abort(cause, tapped, cl.startIndex)
	infof("recording the abort of the unseal of %s (session %s) in the logbook, signed by %s", e.Secret, cl.ID, cl.Operator)
	if _, err := cl.cd.logSigned(cl.c, e, cl.operator, -1); err != nil {
		reportError(os.Stderr, withHints(fmt.Errorf("the abort could not be recorded: %w", err),
			"the next command that writes to the logbook records it, as unterminated"))
		return
	}
	cl.closed = true
}
