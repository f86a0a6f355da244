package ceremony

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/token"
)

// Options configure a [Ceremony].
type Options struct {
	// Window is how long taps are held: when it runs out, everything
	// gathered is wiped. Zero means no limit but the context's.
	Window time.Duration
	// Finder finds the tokens to tap; nil finds none (paper and remote
	// shares only).
	Finder Finder
	// Prompter and Observer are the person at the ceremony; a nil
	// Observer hears nothing, a nil Prompter has no PIN to give.
	Prompter Prompter
	Observer Observer

	// Mnemonics are paper shares given up front (read from files), added
	// before any token is tapped; Paper then asks the Prompter for more,
	// until the policy is met or the answer is empty. The ceremony wipes
	// them.
	Mnemonics []Mnemonic
	Paper     bool
	// Remote holds the responses of remote taps, added after the paper
	// shares.
	Remote *Remote

	// CollectAll goes on past the policy until every custodian has
	// tapped or failed: shares past the policy are checked, then wiped
	// (drills).
	// Once the policy is met, the window running out ends the ceremony
	// well: who has not tapped by then did not come (their Result says
	// so). Absent names custodians known not to come: the ceremony does
	// not wait for them.
	CollectAll bool
	Absent     []string

	// Records are the enrollment records of the case, for naming the
	// owner of a card that is no custodian and for PINMemory; it is called
	// at most once, when a token is first seen.
	Records func() []*token.Record
	// PINMemory, when set, remembers a custodian's PIN for the command
	// (the operator's card may also tap); see [PINMemory].
	PINMemory PINMemory

	// OnTap, when set, runs after each token tap, with the token still
	// open (the logbook's tap entry, signed by the custodian's token). An
	// error ends the ceremony with a [*RecordError]: everything gathered
	// is wiped.
	OnTap func(token.Token, *approval.Approval) error
}

// A PINMemory remembers PINs that worked, per enrollment record, for the
// length of one command (see package token/enrolled).
type PINMemory interface {
	// PIN is src for r's token, or the PIN that already worked for it.
	PIN(r *token.Record, src token.PINFunc) token.PINFunc
	// Proven says that r's token signed with the PIN last given for it.
	Proven(r *token.Record)
}

// A Mnemonic is a paper share and where it came from (a file name, for
// messages).
type Mnemonic struct {
	From  string
	Words []byte
	// Custodian is whose share it claims to be ("custodian: NAME" in a
	// --paper-out file), or "". With CollectAll, a claimed share that is
	// refused (a typo) is that custodian's failure and the ceremony goes
	// on; otherwise a refused share up front ends the ceremony.
	Custodian string
}

// A Ceremony collects taps for one sealed file. It is used by one
// goroutine; [Ceremony.Run] runs it once.
type Ceremony struct {
	f         *seal.File
	u         *seal.Unseal
	req       approval.Request
	opts      Options
	approvals []*approval.Approval
	results   []Result

	noted map[string]bool // events said once

	failed error // an OnTap failure: the ceremony ends

	ctx         context.Context
	interrupted bool

	records       []*token.Record
	recordsLoaded bool
}

// New prepares a ceremony that approves req for f.
func New(f *seal.File, req approval.Request, opts Options) *Ceremony {
	cm := &Ceremony{f: f, u: f.NewUnseal(), req: req, opts: opts, noted: map[string]bool{}}
	for i, c := range f.Header.Custodians() {
		cm.results = append(cm.results, Result{Custodian: c.Name, Index: i, Paper: c.Paper(), PINRetries: -1})
	}
	return cm
}

// Unseal is the unseal the taps go into: [seal.Unseal.Open] it (or Drill,
// or Reseal) once Run returned nil, and wipe it.
func (cm *Ceremony) Unseal() *seal.Unseal { return cm.u }

// Approvals are the approvals of the taps accepted, in order.
func (cm *Ceremony) Approvals() []*approval.Approval { return cm.approvals }

// Tapped is the number of taps accepted.
func (cm *Ceremony) Tapped() int { return len(cm.approvals) }

// TapsNeeded is the least number of taps that still completes the policy.
func (cm *Ceremony) TapsNeeded() int { return TapsNeeded(cm.u.Progress()) }

// TapsNeeded returns how many taps are still needed at the least: the
// cheapest way to complete the missing groups.
func TapsNeeded(p seal.Progress) int {
	var need []int
	for _, g := range p.Groups {
		if !g.Complete {
			need = append(need, g.Needed())
		}
	}
	slices.Sort(need)
	n := 0
	for i := 0; i < p.GroupThreshold-p.GroupsComplete && i < len(need); i++ {
		n += need[i]
	}
	return n
}

// StillNeeded describes who may still tap: "1 more of alice, carol", with
// group names when the roster has several groups. Custodians named in
// except are left out of the lists.
func (cm *Ceremony) StillNeeded(except ...string) string {
	p := cm.u.Progress()
	var parts []string
	for _, g := range p.Groups {
		if g.Complete || len(g.Waiting) == 0 {
			continue
		}
		var who []string
		for _, w := range g.Waiting {
			if !slices.Contains(except, w) {
				who = append(who, w)
			}
		}
		if len(who) == 0 {
			continue
		}
		s := fmt.Sprintf("%d more of %s", g.Needed(), strings.Join(who, ", "))
		if len(p.Groups) > 1 {
			s += " (" + g.Name + ")"
		}
		parts = append(parts, s)
	}
	if len(p.Groups) > 1 && p.GroupThreshold < len(p.Groups) {
		return fmt.Sprintf("%d more group(s): %s", p.GroupThreshold-p.GroupsComplete, strings.Join(parts, "; "))
	}
	return strings.Join(parts, "; ")
}

// A StopError is a ceremony that ended before its policy was met: the
// window ran out, or the person stopped it (it then matches
// [ErrInterrupted]). What was gathered was wiped.
type StopError struct {
	Interrupted bool
	// Exhausted: with CollectAll, every custodian tapped, failed or is
	// absent, and the policy is still not met.
	Exhausted bool
	Window    time.Duration
	Tapped    int    // taps made (and wiped)
	Needed    int    // taps the policy needed in all
	Still     string // who could still have tapped (StillNeeded)
}

func (e *StopError) Error() string {
	gathered := "nothing was gathered"
	if e.Tapped > 0 {
		gathered = fmt.Sprintf("the %s gathered %s wiped", plural(e.Tapped, "share"), map[bool]string{true: "was", false: "were"}[e.Tapped == 1])
	}
	if e.Interrupted {
		return fmt.Sprintf("%v with %s of %d: %s", ErrInterrupted, plural(e.Tapped, "tap"), e.Needed, gathered)
	}
	if e.Exhausted {
		return fmt.Sprintf("every custodian had their turn and the policy is not met (%s of %d): %s", plural(e.Tapped, "tap"), e.Needed, gathered)
	}
	return fmt.Sprintf("the unseal window of %s ran out with %s of %d: %s", e.Window, plural(e.Tapped, "tap"), e.Needed, gathered)
}

// Unwrap gives ErrInterrupted for an interrupted ceremony.
func (e *StopError) Unwrap() error {
	if e.Interrupted {
		return ErrInterrupted
	}
	return nil
}

// A RecordError is a tap that OnTap could not record: the ceremony ended
// and everything gathered was wiped.
type RecordError struct {
	Custodian string
	Err       error
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("the tap of %s could not be recorded: %v", e.Custodian, e.Err)
}

func (e *RecordError) Unwrap() error { return e.Err }

// A ReplacedError is a custodian who came with a card the secret was not
// sealed to: their enrollment record in the case names them, but the roster
// holds another key (the card was replaced since the seal).
type ReplacedError struct {
	Custodian string
	Token     token.Info
}

func (e *ReplacedError) Error() string {
	return fmt.Sprintf("%s's token %s is not the one the secret was sealed to (replaced since?)", e.Custodian, e.Token.Name())
}

// A MnemonicError is a paper share that was refused (Err wraps a seal
// error: not a share of this secret, a share from before a reseal, …).
type MnemonicError struct {
	From string
	Err  error
}

func (e *MnemonicError) Error() string { return e.From + ": " + e.Err.Error() }
func (e *MnemonicError) Unwrap() error { return e.Err }

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// Run collects taps until the policy is met (with CollectAll: until every
// custodian tapped). It returns a [*StopError] when the window runs out or
// the person stops it, a [*RecordError] when OnTap failed, a
// [*MnemonicError] for a refused paper share given up front, or the
// remote responses' errors (see [Remote]); on any error everything
// gathered is wiped. A tap that fails is told to the Observer and the
// ceremony goes on.
func (cm *Ceremony) Run(ctx context.Context) error {
	defer func() {
		for _, m := range cm.opts.Mnemonics {
			secret.Wipe(m.Words)
		}
	}()
	if cm.opts.Window > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cm.opts.Window)
		defer cancel()
	}
	cm.ctx = ctx
	// end wipes everything gathered and says why the ceremony stopped
	// short: the person (here or at a prompt) or the window.
	end := func() error {
		e := &StopError{Window: cm.opts.Window, Tapped: cm.Tapped(), Still: cm.StillNeeded()}
		e.Needed = e.Tapped + cm.TapsNeeded()
		e.Interrupted = ctx.Err() != context.DeadlineExceeded && !cm.exhausted()
		e.Exhausted = cm.exhausted()
		cm.u.Wipe()
		return e
	}
	if err := cm.paper(); err != nil {
		if errors.Is(err, ErrInterrupted) {
			cm.interrupted = true
			return end()
		}
		cm.u.Wipe()
		return err
	}
	if cm.opts.Remote != nil {
		if err := cm.addResponses(cm.opts.Remote); err != nil {
			cm.u.Wipe()
			return err
		}
	}
	var w *Watch
	if cm.opts.Finder != nil {
		w = &Watch{Finder: cm.opts.Finder}
	}
	waiting := ""
	for {
		if cm.done() {
			return nil
		}
		if s := cm.stillWaiting(); s != waiting {
			waiting = s
			cm.event(Event{Kind: Waiting, Still: s})
		}
		if w != nil {
			cm.look(w)
		}
		if cm.interrupted {
			return end()
		}
		if cm.failed != nil {
			cm.u.Wipe()
			return cm.failed
		}
		if cm.done() {
			return nil
		}
		if cm.exhausted() {
			return end()
		}
		select {
		case <-ctx.Done():
			if cm.opts.CollectAll && ctx.Err() == context.DeadlineExceeded && cm.u.Progress().Complete && !cm.interrupted {
				return nil // the others did not come
			}
			return end()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// done reports whether the ceremony has what it came for.
func (cm *Ceremony) done() bool {
	if !cm.u.Progress().Complete {
		return false
	}
	if !cm.opts.CollectAll {
		return true
	}
	for _, r := range cm.results {
		if cm.awaited(r) {
			return false
		}
	}
	return true
}

// exhausted reports whether, with CollectAll, no one is awaited any more
// and the policy is not met.
func (cm *Ceremony) exhausted() bool {
	if !cm.opts.CollectAll || cm.u.Progress().Complete {
		return false
	}
	for _, r := range cm.results {
		if cm.awaited(r) {
			return false
		}
	}
	return true
}

// awaited reports whether, with CollectAll, the ceremony still waits for
// r: not tapped, not absent, and not failed (a custodian whose tap failed
// had their turn; a retry still counts while the ceremony lasts).
func (cm *Ceremony) awaited(r Result) bool {
	return !r.Tapped && r.Err == nil && !slices.Contains(cm.opts.Absent, r.Custodian)
}

// stillWaiting is StillNeeded, and with CollectAll once the policy is
// met, "every custodian: dave, erin" (those who have not tapped).
func (cm *Ceremony) stillWaiting() string {
	s := cm.StillNeeded()
	if s != "" || !cm.opts.CollectAll {
		return s
	}
	var who []string
	for _, r := range cm.results {
		if cm.awaited(r) {
			who = append(who, r.Custodian)
		}
	}
	return "every custodian: " + strings.Join(who, ", ")
}

// stopping reports whether the ceremony is ending (interrupted, the
// window): no further card is started.
func (cm *Ceremony) stopping() bool {
	return cm.interrupted || (cm.ctx != nil && cm.ctx.Err() != nil)
}

func (cm *Ceremony) event(e Event) {
	if cm.opts.Observer != nil {
		cm.opts.Observer.Event(e)
	}
}

// once tells e the first time key is seen.
func (cm *Ceremony) once(key string, e Event) {
	if !cm.noted[key] {
		cm.noted[key] = true
		cm.event(e)
	}
}

// purpose says what a tap's PIN is for: "to approve the unseal of prod
// (INC-4711)".
func (cm *Ceremony) purpose() string {
	s := "to approve the " + cm.req.Action + " of " + cm.f.Header.Name
	if t := strings.TrimSpace(cm.req.Ticket); t != "" {
		s += " (" + t + ")"
	}
	return s
}
