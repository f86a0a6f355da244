package ceremony

import (
	"context"

	"github.com/breakglass/breakglass/internal/term"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/token"
)

// ErrInterrupted means the person stopped the ceremony (Ctrl-C). A
// [Prompter] returns it (wrapped or not) when a prompt was interrupted;
// [Ceremony.Run] then wipes what was gathered and returns a [*StopError]
// that matches it.
var ErrInterrupted = term.ErrInterrupted

// A Prompter asks the person at the ceremony for what a tap needs. Every
// method may block; those given a context return when it ends, with an
// error matching [ErrInterrupted].
type Prompter interface {
	// PIN asks for the PIN of the token label names, with what it is for:
	// "alice (card 1234) to approve the unseal of prod (INC-4711)". The
	// ceremony wipes the PIN after use. An error matching token.ErrCancelled
	// abandons this tap; [ErrInterrupted] stops the ceremony.
	PIN(ctx context.Context, label string) ([]byte, error)
	// Mnemonic asks for a paper custodian's share (SLIP-0039 words). An
	// empty answer, or an error matching token.ErrCancelled, means no more
	// paper shares. The ceremony wipes the answer.
	Mnemonic(ctx context.Context) ([]byte, error)
	// ConfirmUnknownTries asks whether to send a PIN to a PKCS#11 token
	// that had a wrong PIN since its last login and cannot say how many
	// tries are left (pkcs11.Options.ConfirmUnknownTries).
	ConfirmUnknownTries(token.Info) bool
}

// An Observer is told what happens during a ceremony, as it happens. It
// must not block for long: cards wait.
type Observer interface {
	Event(Event)
}

// ObserverFunc lets a function be an [Observer].
type ObserverFunc func(Event)

// Event calls f(e).
func (f ObserverFunc) Event(e Event) { f(e) }

// EventKind says what an [Event] reports.
type EventKind int

// The events of a ceremony.
const (
	// Waiting: the taps still needed changed (Still); the ceremony waits
	// for the next token.
	Waiting EventKind = iota + 1
	// Tapped: a tap was accepted (Approval, Tap of Of). With CollectAll,
	// Extra is set when the share was checked but not needed.
	Tapped
	// Skipped: a share already in, or not needed (Err), was offered
	// again by paper or a remote response (From); nothing changed.
	Skipped
	// Approve: the token is about to sign the approval; the PIN is asked
	// for, then the token wants a touch.
	Approve
	// Failed: a tap failed (Err); the taps already made are kept.
	// Err is a *token.PINError (a PIN refused, or one breakglass would
	// not try: see Refused), wraps token.ErrNotPresent (pulled out),
	// token.ErrTouchTimeout, token.ErrCancelled, a *seal.ShareError, or a
	// [*MnemonicError] for a typed share.
	Failed
	// NotCustodian: the token is no custodian's in the roster (Owner names
	// its enrolled owner when the case knows it).
	NotCustodian
	// NotNeeded: the custodian cannot tap now (Err: their group is
	// complete).
	NotNeeded
	// WrongSigningKey: the token holds the custodian's key-agreement key
	// but not the signing key enrolled for them.
	WrongSigningKey
	// NotEnrolled: the card holds no breakglass keys.
	NotEnrolled
	// Ignored: the token could not be opened (Err); it is left alone until
	// it is put in again.
	Ignored
	// NotPresent: a PKCS#11 token is not there yet (Err); said once.
	NotPresent
	// CannotLook: the readers cannot be listed (Err: pcscd is not running,
	// …); said once.
	CannotLook
)

// Via says how a share came in.
type Via int

// How shares come in.
const (
	ViaToken  Via = iota // a PIV card or PKCS#11 token at this machine
	ViaPaper             // a SLIP-0039 mnemonic, typed or from a file
	ViaRemote            // a remote tap's response (package remote)
)

// An Event is one thing that happened in a ceremony. Which fields are set
// depends on Kind.
type Event struct {
	Kind EventKind
	Via  Via
	// Token names the token as found: "card 1234", "PKCS#11 token URI",
	// "token pkcs11 SERIAL"; for paper and remote shares, where the share
	// came from (a file, "typed share").
	Token string
	// Reader is the PC/SC reader of a PIV card.
	Reader string
	// Custodian is the roster name, once the token is recognised; Who
	// then is "alice (card 1234)".
	Custodian string
	Who       string
	// Owner is, for NotCustodian, the custodian whose enrollment record in
	// the case matches the token ("" when none does).
	Owner string
	// Tap and Of count the taps: "tap Tap of Of" (Of is the least number of
	// taps that completes the policy from here).
	Tap, Of int
	// Extra marks, with CollectAll, a tap past the policy: checked, not kept.
	Extra    bool
	Approval *approval.Approval
	// Still says who may still tap: "1 more of alice, carol" (see
	// [Ceremony.StillNeeded]).
	Still string
	Err   error
}
