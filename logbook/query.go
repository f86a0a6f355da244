package logbook

import (
	"slices"
	"time"
)

// Detail names with a meaning across kinds. Commands that write entries use
// these so that queries such as [OpenReleases] can find them.
const (
	DetailOperator = "operator" // release, unseal-start: the person the secret went to
	DetailKeyID    = "key-id"   // release, revoke, rotate, seal: the non-secret id of the sealed key (e.g. an AWS access key id)
	DetailSession  = "session"  // unseal-start, tap, release: the unseal session id
	DetailResult   = "result"   // drill: DrillPass, DrillFail or DrillAborted
	DetailTapped   = "tapped"   // release, drill, abort: who tapped, comma-separated

	// DetailRecording names a session's recording, relative to the case
	// (release of a recorded --exec session, and its session-end note).
	DetailRecording = "recording"
	// DetailAction says what a note written by breakglass records
	// (ActionAbort, ActionSessionEnd, …).
	DetailAction = "action"
	// DetailEnd is why a recorded session ended (session-end note):
	// exit, expired, hangup, terminated, not-started or unterminated.
	DetailEnd = "end"
)

// ActionSessionEnd is the DetailAction of the note that closes a recorded
// session: the recording's SHA-256, size and duration, and DetailEnd.
const ActionSessionEnd = "session-end"

// ActionAbort is the DetailAction of a note that closes an unseal session
// which ended without a release: interrupted (Ctrl-C), its window ran out,
// it failed, or its process ended without closing it ("unterminated",
// recorded by the next command that appends). Its DetailSession names the
// session and its reason says why.
const ActionAbort = "abort"

// ActionAWSSession is the DetailAction of the note that an AWS session
// failed after the taps (AWS refused the exchange, or the request could
// not be presigned): DetailResult "failed", and the error. It closes its
// session; nothing was released.
const ActionAWSSession = "aws-session"

// IsAbort reports whether e is the abort of an unseal session.
func IsAbort(e *Entry) bool {
	return e.Kind == KindNote && e.Details[DetailAction] == ActionAbort && e.Details[DetailSession] != ""
}

// Results of a drill, the DetailResult of a drill entry.
const (
	DrillPass = "pass" // k taps reconstructed the sealed key
	DrillFail = "fail" // they did not, or the custodians could not tap in time
	// DrillAborted: someone stopped the drill (Ctrl-C) before it could
	// pass or fail; it says nothing about the cards.
	DrillAborted = "aborted"
)

// A Filter selects entries. Zero fields select everything.
type Filter struct {
	Secret string    // only entries about this secret
	Since  time.Time // only entries at or after this time
	Kinds  []Kind    // only entries of these kinds
	Actor  string    // only entries by this person
}

// Select returns the entries that f selects, in order.
func Select(entries []*Entry, f Filter) []*Entry {
	var out []*Entry
	for _, e := range entries {
		if f.Secret != "" && e.Secret != f.Secret ||
			!f.Since.IsZero() && e.Time.Before(f.Since) ||
			len(f.Kinds) > 0 && !slices.Contains(f.Kinds, e.Kind) ||
			f.Actor != "" && e.Actor != f.Actor {
			continue
		}
		out = append(out, e)
	}
	return out
}

// OpenReleases returns the release entries not yet closed by a later revoke:
// the secrets someone holds right now. A revoke closes the earlier releases of
// the same secret with the same key-id detail; a revoke without a key-id
// closes every earlier release of the secret. With secret set, only that
// secret's releases are considered.
//
// This is the check behind allocating a secret to one person at a time: an
// unseal of a secret with an open release must warn and be forced, with a
// reason, to go ahead.
func OpenReleases(entries []*Entry, secret string) []*Entry {
	var open []*Entry
	for _, e := range entries {
		if secret != "" && e.Secret != secret {
			continue
		}
		switch e.Kind {
		case KindRelease:
			open = append(open, e)
		case KindRevoke:
			keyID := e.Details[DetailKeyID]
			open = slices.DeleteFunc(open, func(r *Entry) bool {
				return r.Secret == e.Secret && (keyID == "" || r.Details[DetailKeyID] == keyID)
			})
		}
	}
	return open
}

// UnendedSessions returns the release entries of recorded sessions (with a
// DetailRecording) that no later session-end note of the same
// DetailSession closes: sessions still running, or whose breakglass died
// before it could record their end.
func UnendedSessions(entries []*Entry) []*Entry {
	var open []*Entry
	for _, e := range entries {
		switch {
		case e.Kind == KindRelease && e.Details[DetailRecording] != "":
			open = append(open, e)
		case e.Kind == KindNote && e.Details[DetailAction] == ActionSessionEnd:
			open = slices.DeleteFunc(open, func(r *Entry) bool {
				return r.Details[DetailSession] == e.Details[DetailSession] && r.Details[DetailRecording] == e.Details[DetailRecording]
			})
		}
	}
	return open
}

// OpenSessions returns the unseal-start entries whose session nothing has
// closed yet: no later release and no later note (an abort, a failed AWS
// session) names the same session. An unseal still collecting taps is open;
// so is one whose process ended without closing it. Unseal-start entries
// without a session detail are left out: nothing could name them.
func OpenSessions(entries []*Entry) []*Entry {
	var open []*Entry
	for _, e := range entries {
		s := e.Details[DetailSession]
		if s == "" {
			continue
		}
		switch e.Kind {
		case KindUnsealStart:
			open = append(open, e)
		case KindRelease, KindNote:
			open = slices.DeleteFunc(open, func(st *Entry) bool { return st.Details[DetailSession] == s })
		}
	}
	return open
}

// SessionEnd returns the session-end note of the recording rec (a
// DetailRecording value), or nil.
func SessionEnd(entries []*Entry, rec string) *Entry {
	for _, e := range entries {
		if e.Kind == KindNote && e.Details[DetailAction] == ActionSessionEnd && e.Details[DetailRecording] == rec {
			return e
		}
	}
	return nil
}
