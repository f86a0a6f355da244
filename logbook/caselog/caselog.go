// Package caselog is a case's logbook as one command writes to it: the
// entry the command asks for, and what every append brings along.
//
// # Around an append
//
// [Appender.Append] appends an entry signed by an actor's token
// ([casedir.Case.Append]) in three steps:
//
//  1. Before the entry, the abort of every unseal session whose process
//     ended without closing it ([session.CloseUnterminated]), signed by the
//     same actor: the logbook says a killed session ended before it says
//     anything else.
//  2. The entry.
//  3. After it, the session-end note of every recorded session found
//     without its end when the logbook was opened ([session.NoteUnended]),
//     then the witnesses' cosignatures of the new checkpoint (package
//     witness), when the case has a witnesses file.
//
// Steps 1 and 3's notes are skipped for the enroll entry of a token the
// logbook has not admitted: it signs nothing but that entry. Once the entry
// has landed, nothing in step 3 fails the append: what goes wrong there is
// told to the [Observer], with everything else a user interface may say.
//
// Without a logbook, nothing is appended and Append returns a zero
// checkpoint and no error: the Observer is told that the step is not
// recorded. With one, an entry that cannot be written is an error, and the
// caller must not go on as if it had been.
//
// # One process
//
// An [Appender] keeps what one process learns along the way: the recorded
// sessions found without their end, looked for once, when its logbook is
// first opened ([Appender.Log]), and the witnesses that failed to cosign,
// which it does not ask again (an unseal appends several entries; a slow
// witness should cost its timeout once). It is not safe for concurrent
// use.
//
// Errors are those of packages casedir, session and witness; none carries
// a hint.
package caselog

import (
	"context"
	"crypto"
	"errors"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/logbook/session"
	"github.com/breakglass/breakglass/logbook/witness"
	"github.com/breakglass/breakglass/token"
)

// An Observer is told, in order, what an Appender does besides appending
// the entries it is asked to, so that a user interface can say it.
type Observer interface {
	// NotRecorded: the case has no logbook, so the entry was not
	// appended (the step is not recorded).
	NotRecorded()
	// FoundUnended: opening the logbook found the recorded sessions us
	// without their end; the next Append notes them. err says why they
	// could not be looked for.
	FoundUnended(us []casedir.UnendedSession, err error)
	// ClosingUnterminated: the abort of the unseal session that st
	// started, whose process ended without closing it, is appended next.
	ClosingUnterminated(st *logbook.Entry)
	// NotedUnended: the session-end note of u was appended, or err says
	// why not.
	NotedUnended(u casedir.UnendedSession, err error)
	// Witnessed: what asking the case's witnesses to cosign came to.
	Witnessed(w *Witnessing)
}

// A Witnessing is what became of asking the case's witnesses to cosign the
// checkpoint of an append. At most one of ConfigErr, CosignErr and
// CheckErr is set; the first two mean that no witness cosigned.
type Witnessing struct {
	// Config is the case's witnesses file (nil with ConfigErr).
	Config *witness.Config
	// ConfigErr: the witnesses file cannot be used; nobody was asked.
	ConfigErr error
	// CosignErr: asking failed as a whole (witness.Cosign's error).
	CosignErr error
	// Failed are the witnesses that did not cosign, each with its
	// *witness.Error; the Appender does not ask them again.
	Failed []witness.Result
	// Status is how far a quorum has cosigned the logbook now, or
	// CheckErr why that cannot be told (witness.Check).
	Status   *witness.Status
	CheckErr error
}

// Complete reports whether a quorum of witnesses has cosigned every entry.
func (w *Witnessing) Complete() bool {
	return w.ConfigErr == nil && w.CosignErr == nil && w.CheckErr == nil && w.Status != nil && w.Status.Witnessed >= w.Status.Size
}

// An Appender appends a command's entries to a case's logbook, with what
// every append brings along (see the package comment).
type Appender struct {
	Case *casedir.Case

	obs     Observer
	failed  map[string]bool          // witnesses that failed to cosign
	unended []casedir.UnendedSession // found when the logbook was opened, not yet noted
	checked bool                     // unended was looked for
}

// New returns an Appender to c's logbook that tells o what it does (o may
// be nil).
func New(c *casedir.Case, o Observer) *Appender {
	if o == nil {
		o = nopObserver{}
	}
	return &Appender{Case: c, obs: o}
}

// Log is the case's verified logbook, or nil without one
// ([casedir.Case.Log]). The first time it opens one, it looks for recorded
// sessions that ended without their end in the logbook and whose process
// is gone ([casedir.Case.UnendedSessions]), tells the Observer, and keeps
// them for the next Append to note.
func (a *Appender) Log() (*logbook.Log, error) {
	l, err := a.Case.Log()
	if err == nil && l != nil && !a.checked {
		a.checked = true
		us, uerr := a.Case.UnendedSessions(l)
		if uerr == nil {
			a.unended = us
		}
		a.obs.FoundUnended(us, uerr)
	}
	return l, err
}

// Append appends e, signed by signer, the signing key of actor's token,
// with the steps around it that the package comment lists. size is as
// for [casedir.Case.Append]: with size >= 0 the aborts and e go on top of
// exactly size entries (check-then-append), else on top of whatever
// another process appended first. Without a logbook it appends nothing,
// tells the Observer, and returns a zero Checkpoint and no error.
func (a *Appender) Append(size int64, e logbook.Entry, actor *token.Record, signer crypto.Signer) (logbook.Checkpoint, error) {
	// A token that is enrolling and not admitted yet may sign its enroll
	// entry only.
	admitted := e.Kind != logbook.KindEnroll || a.Case.CheckAdmitted(actor) == nil
	if admitted {
		added, err := a.closeUnterminated(size, actor, signer)
		if err != nil {
			return logbook.Checkpoint{}, err
		}
		if size >= 0 {
			size += added
		}
	}
	ck, err := a.Case.Append(size, e, actor, signer)
	if errors.Is(err, casedir.ErrNoLogbook) {
		a.obs.NotRecorded()
		return logbook.Checkpoint{}, nil
	}
	if err != nil {
		return ck, err
	}
	if l, lerr := a.Case.Log(); lerr == nil && l != nil {
		if admitted {
			a.noteUnended(l, actor, signer)
		}
		a.Witness(l)
	}
	return ck, nil
}

// AppendCosigned appends e signed by actor and cosigners
// ([casedir.Case.AppendCosigned]) on top of whatever is there, then has the
// witnesses cosign. It leaves killed sessions to the next Append: the
// founders of a genesis are not admitted before it lands.
func (a *Appender) AppendCosigned(e logbook.Entry, actor *token.Record, signer crypto.Signer, cosigners ...casedir.Cosigner) (logbook.Checkpoint, error) {
	ck, err := a.Case.AppendCosigned(-1, e, actor, signer, cosigners...)
	if err != nil {
		return ck, err
	}
	if l, lerr := a.Case.Log(); lerr == nil && l != nil {
		a.Witness(l)
	}
	return ck, nil
}

// closeUnterminated appends, signed by actor, the abort of every unseal
// session open in the logbook whose process is gone, ahead of the entry
// (session.CloseUnterminated), and returns how many it appended.
func (a *Appender) closeUnterminated(size int64, actor *token.Record, signer crypto.Signer) (int64, error) {
	if actor == nil || signer == nil {
		return 0, nil
	}
	l, err := a.Log()
	if err != nil || l == nil {
		return 0, nil // the append itself says what is wrong
	}
	return session.CloseUnterminated(l, size, func(size int64, e logbook.Entry) error {
		_, err := a.Case.Append(size, e, actor, signer)
		return err
	}, a.obs.ClosingUnterminated)
}

// noteUnended appends, signed by actor, the session-end note of each
// recorded session Log found without its end (session.NoteUnended).
func (a *Appender) noteUnended(l *logbook.Log, actor *token.Record, signer crypto.Signer) {
	us := a.unended
	a.unended = nil
	session.NoteUnended(l, us, func(e logbook.Entry) error {
		_, err := a.Case.Append(-1, e, actor, signer)
		return err
	}, a.obs.NotedUnended)
}

// Witness has the case's witnesses cosign l's latest checkpoint, if the
// case has a witnesses file, and tells the Observer what came of it. A
// witness that failed once is not asked again by this Appender.
func (a *Appender) Witness(l *logbook.Log) {
	cfg, err := witness.ReadConfig(a.Case.LogDir())
	if errors.Is(err, witness.ErrNoConfig) {
		return
	}
	if err != nil {
		a.obs.Witnessed(&Witnessing{ConfigErr: err})
		return
	}
	w := &Witnessing{Config: cfg}
	if a.failed == nil {
		a.failed = map[string]bool{}
	}
	res, err := witness.Cosign(context.Background(), l, a.Case.LogDir(), cfg, func(w *witness.Witness) bool {
		return a.failed[w.Name]
	})
	if err != nil {
		w.CosignErr = err
		a.obs.Witnessed(w)
		return
	}
	for _, r := range res {
		if r.Err != nil {
			w.Failed = append(w.Failed, r)
			a.failed[r.Witness.Name] = true
		}
	}
	w.Status, w.CheckErr = witness.Check(l, a.Case.LogDir(), cfg)
	a.obs.Witnessed(w)
}

type nopObserver struct{}

func (nopObserver) NotRecorded()                                 {}
func (nopObserver) FoundUnended([]casedir.UnendedSession, error) {}
func (nopObserver) ClosingUnterminated(*logbook.Entry)           {}
func (nopObserver) NotedUnended(casedir.UnendedSession, error)   {}
func (nopObserver) Witnessed(*Witnessing)                        {}
