// Package session is a tap ceremony as a case's logbook records it: an
// unseal (or aws session), a drill, a reseal.
//
// # The entries of a session
//
// A ceremony is run by an operator, whose token signs its start and its
// end. Its entries share the secret's name and header hash, the request's
// reason, ticket and use case, and two details: the operator's name and a
// random session id ([NewID]) that joins them ([Session.Entry]). An
// unseal-start opens the session; each tap is a tap entry holding the
// signed approval ([Session.Tap]); the release closes it. An AWS
// session's release says what AWS granted ([Session.AWSRelease]); when AWS
// refuses it after the taps, a note says so and closes the session
// ([Session.AWSFailed]).
//
// # One release at a time
//
// While a release of a secret is open (logbook.OpenReleases), a second
// person may not start another one: [CheckOpenRelease] says who holds it.
// The check is made again when the release is appended ([AppendRelease]),
// on top of exactly the entries it checked, because another release may
// have landed during the taps.
//
// # Sessions that end without a release
//
// When a session ends any other way — Ctrl-C, the window ran out, a
// failure after the start — the operator signs an abort: a note with
// detail action=abort naming the session, whose reason says why
// ([AbortReason], [Session.Abort]).
//
// A process that was killed can record nothing. The next command that
// appends to the logbook finds the session open (logbook.OpenSessions) and
// first appends its abort ([UnterminatedAbort], [CloseUnterminated]),
// signed by whoever runs that command.
//
// A session still running is not unterminated: while it runs, its process
// holds an flock(2) on a file named after the session in the temporary
// directory ([Hold]), which the kernel releases when the process ends,
// however it ends. A session whose lock is held is left open ([Running]).
package session

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/breakglass/breakglass/internal/term"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/seal/ceremony"
)

// DetailUnsealStart, in an abort, is the number of the unseal-start entry
// of the session it closes.
const DetailUnsealStart = "unseal-start"

// UnterminatedReason is the reason of the abort of a session whose process
// ended without closing it.
const UnterminatedReason = "unterminated: the process ended without closing it"

// A Session is the common part of a ceremony's entries.
type Session struct {
	// ID joins the session's entries (detail session).
	ID string
	// Operator is the operator's logbook name (detail operator).
	Operator string
	// Base holds the secret, its header hash, and the request's reason,
	// ticket and use case.
	Base logbook.Entry
}

// New is the session of operator on the secret name whose .glass header
// hashes to headerHash, with a new id.
func New(operator, name string, headerHash []byte) *Session {
	return &Session{ID: NewID(), Operator: operator, Base: logbook.Entry{Secret: name, HeaderHash: headerHash}}
}

// NewID returns a new session id: 16 hex digits.
func NewID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("%x", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}

// SetRequest fills in the request's reason, ticket and use case.
func (s *Session) SetRequest(r approval.Request) {
	s.Base.Reason, s.Base.Ticket, s.Base.UseCase = logbook.OneLine(r.Reason), logbook.OneLine(r.Ticket), logbook.OneLine(r.UseCase)
}

// Entry returns a new entry of kind with the session's common fields and
// details, and details (empty values dropped, every value a Field).
func (s *Session) Entry(kind logbook.Kind, details map[string]string) logbook.Entry {
	e := s.Base
	e.Kind = kind
	e.Details = map[string]string{logbook.DetailOperator: s.Operator, logbook.DetailSession: s.ID}
	for k, v := range details {
		e.Details[k] = v
	}
	logbook.CleanDetails(e.Details)
	return e
}

// Tap is the tap entry of approval a: the custodian, their token, the
// approval message, and for a signed approval its signature and key.
func (s *Session) Tap(a *approval.Approval) logbook.Entry {
	d := map[string]string{"custodian": a.Custodian, "token": a.Token,
		"approval": base64.StdEncoding.EncodeToString(a.Message)}
	if a.Signature != nil {
		d["approval-signature"] = base64.StdEncoding.EncodeToString(a.Signature)
		d["approval-fingerprint"] = strings.ReplaceAll(a.Fingerprint(), " ", "")
		d["approval-key"] = strings.ReplaceAll(a.KeyFingerprint, " ", "")
	}
	return s.Entry(logbook.KindTap, d)
}

// Abort is the abort entry of the session started in entry start, which
// ended because of cause (see AbortReason); tapped names who tapped.
func (s *Session) Abort(cause error, tapped string, start int64) logbook.Entry {
	e := s.Entry(logbook.KindNote, map[string]string{logbook.DetailAction: logbook.ActionAbort, logbook.DetailTapped: tapped,
		DetailUnsealStart: fmt.Sprint(start)})
	e.Reason = logbook.OneLine(AbortReason(cause))
	return e
}

// AbortReason says in an abort entry why a session ended without a
// release.
func AbortReason(err error) string {
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

// OutputFailed is the note that a recorded release did not reach the
// operator, because of cause.
func (s *Session) OutputFailed(cause error) logbook.Entry {
	e := s.Entry(logbook.KindNote, map[string]string{"action": "release-output-failed", "error": logbook.OneLine(cause.Error())})
	e.Reason = "the release recorded before this entry did not reach the operator"
	return e
}

// Tapped names the custodians who tapped, comma-separated.
func Tapped(approvals []*approval.Approval) string {
	names := make([]string, len(approvals))
	for i, a := range approvals {
		names[i] = a.Custodian
	}
	return strings.Join(names, ",")
}

// Starter is who started session entry st: its operator detail, else
// its signer.
func Starter(st *logbook.Entry) string {
	if who := st.Details[logbook.DetailOperator]; who != "" {
		return who
	}
	return st.Actor
}

// How a ceremony's entries read in a listing (log show).

// ShownActor names who acted in e. A tap recorded by someone other than
// the custodian who tapped (the operator records paper shares, remote taps
// and custodians not in the case, and signs their entries) names both:
// "erin (paper, recorded by alice)".
func ShownActor(e *logbook.Entry) string {
	cust := e.Details["custodian"]
	if e.Kind != logbook.KindTap || cust == "" || cust == e.Actor {
		return e.Actor
	}
	if tok := e.Details["token"]; tok != "" {
		return fmt.Sprintf("%s (%s, recorded by %s)", cust, tok, e.Actor)
	}
	return fmt.Sprintf("%s (recorded by %s)", cust, e.Actor)
}

// ShownKind is e's kind, but "abort" for the note that closes a session
// without a release.
func ShownKind(e *logbook.Entry) string {
	if logbook.IsAbort(e) {
		return logbook.ActionAbort
	}
	return string(e.Kind)
}

// Result is what an entry with a result (a drill, a failed AWS session)
// says of it: "pass, tapped alice,bob", or "fail, tapped alice,bob: WHAT
// WENT WRONG"; for an abort, the session it closes: "session 7f3a
// (unseal-start 3), tapped alice"; "" for other entries.
func Result(e *logbook.Entry) string {
	if logbook.IsAbort(e) {
		r := "session " + e.Details[logbook.DetailSession]
		if st := e.Details[DetailUnsealStart]; st != "" {
			r += " (unseal-start " + st + ")"
		}
		if t := e.Details[logbook.DetailTapped]; t != "" {
			r += ", tapped " + t
		} else {
			r += ", no taps"
		}
		return r
	}
	r := e.Details[logbook.DetailResult]
	if r == "" {
		return ""
	}
	if t := e.Details[logbook.DetailTapped]; t != "" {
		r += ", tapped " + t
	} else if e.Kind == logbook.KindDrill {
		r += ", no taps"
	}
	if msg := e.Details["error"]; msg != "" {
		r += ": " + msg
	}
	return r
}
