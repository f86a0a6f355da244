package enrolled

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/pkcs11"
)

// An Opener opens enrolled people's tokens for one command and remembers
// their PINs and readers meanwhile. The zero value is ready to use; it is
// safe for concurrent use.
type Opener struct {
	mu      sync.Mutex
	pending map[string][]byte // typed, not yet proven
	known   map[string][]byte // proven by a signature
	readers map[string]string // record fingerprint → last PIV reader
}

// Options say how to open one token.
type Options struct {
	// PIN supplies the PIN when it is not remembered.
	PIN token.PINFunc
	// Reader is the only PC/SC reader to look at for a PIV card ("" for
	// any).
	Reader string
	// Module is the PKCS#11 module to load ("" for the URI's).
	Module string
	// ConfirmUnknownTries, for a PKCS#11 token: see
	// pkcs11.Options.ConfirmUnknownTries.
	ConfirmUnknownTries func(token.Info) bool
	// RosterDir is the directory of the case's enrollment records
	// (*.card.json), read to name the owner of a token that is not the
	// record's; "" for none.
	RosterDir string
}

// A NoTokenError is a record of a custodian who holds no token that can
// sign (a paper custodian).
type NoTokenError struct {
	Custodian string
	Kind      token.Kind
}

func (e *NoTokenError) Error() string {
	return fmt.Sprintf("%s is a %s custodian: there is no token to open (only a PIV card or PKCS#11 token can sign)", e.Custodian, e.Kind)
}

// A MismatchError is a token that was found and opened but does not hold
// the record's keys (Err says what differs; it is often a
// *token.WrongTokenError).
type MismatchError struct {
	Custodian string
	Err       error
}

func (e *MismatchError) Error() string { return e.Err.Error() }
func (e *MismatchError) Unwrap() error { return e.Err }

// Label names the token of an enrollment record in messages:
// "alice (card 1234)", "alice's token pkcs11:…".
func Label(r *token.Record) string {
	if r.Token.Kind == token.KindPIV {
		return fmt.Sprintf("%s (card %s)", r.Custodian.Name, r.Token.Serial)
	}
	return r.Custodian.Name + "'s token " + r.Token.URI
}

// Open opens the token r describes, PIV or PKCS#11, and checks that it
// holds r's keys. A PIV card is found by its serial, in the reader it was
// last opened in by this Opener, else in opts.Reader (or any reader). Errors
// are prefixed with [Label]; a token that is not r's gives a
// *token.WrongTokenError naming its owner when opts.RosterDir has their
// record, or a [*MismatchError].
func (o *Opener) Open(r *token.Record, opts Options) (token.Token, error) {
	var tok token.Token
	pin := o.PIN(r, opts.PIN)
	switch r.Token.Kind {
	case token.KindPIV:
		sel := piv.Selector{Reader: opts.Reader}
		var t *piv.Token
		err := token.ErrNotPresent
		if rd := o.lastReader(r); sel.Reader == "" && rd != "" {
			// Where the card was a moment ago, before scanning every reader.
			t, err = piv.OpenRecord(r, piv.Selector{Reader: rd}, pin)
		}
		if errors.Is(err, token.ErrNotPresent) {
			t, err = piv.OpenRecord(r, sel, pin)
		}
		if errors.Is(err, token.ErrNotPresent) {
			err = wrongCard(r, sel, opts.RosterDir, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", Label(r), err)
		}
		o.rememberReader(r, t.Info().Reader)
		tok = t
	case token.KindPKCS11:
		kx, err1 := hex.DecodeString(r.Keys.KeyAgreement.ID)
		sig, err2 := hex.DecodeString(r.Keys.Signing.ID)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("enrollment record of %s: %w", r.Custodian.Name, &token.FieldError{Field: "keys.*.id", Reason: "not hex"})
		}
		t, err := pkcs11.Open(r.Token.URI, pkcs11.Options{Module: opts.Module, PIN: pin,
			KeyAgreementID: kx, SigningID: sig, ConfirmUnknownTries: opts.ConfirmUnknownTries})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", Label(r), wrongPKCS11Token(r, opts.RosterDir, err))
		}
		tok = t
	default:
		return nil, &NoTokenError{Custodian: r.Custodian.Name, Kind: r.Token.Kind}
	}
	if err := r.Matches(tok); err != nil {
		info := tok.Info()
		tok.Close()
		var wt *token.WrongTokenError
		if errors.As(err, &wt) && info.Kind == token.KindPKCS11 {
			if who := pkcs11Owner(opts.RosterDir, info.Serial, info.Label, r.Custodian.Name); who != "" {
				wt.Reason = "it is " + who + "'s token (" + wt.Reason + ")"
			}
		}
		return nil, &MismatchError{Custodian: r.Custodian.Name, Err: err}
	}
	return tok, nil
}

// PIN is src for r's token, or the PIN that already worked for it.
func (o *Opener) PIN(r *token.Record, src token.PINFunc) token.PINFunc {
	key := r.Fingerprint()
	return func() ([]byte, error) {
		o.mu.Lock()
		if p, ok := o.known[key]; ok {
			o.mu.Unlock()
			return bytes.Clone(p), nil
		}
		o.mu.Unlock()
		if src == nil {
			return nil, token.ErrCancelled
		}
		p, err := src()
		if err != nil {
			return nil, err
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.pending == nil {
			o.pending = map[string][]byte{}
		}
		secret.Wipe(o.pending[key])
		o.pending[key] = bytes.Clone(p)
		return p, nil
	}
}

// Proven records that r's token signed with the PIN last given for it.
func (o *Opener) Proven(r *token.Record) {
	key := r.Fingerprint()
	o.mu.Lock()
	defer o.mu.Unlock()
	p, ok := o.pending[key]
	if !ok {
		return
	}
	delete(o.pending, key)
	if o.known == nil {
		o.known = map[string][]byte{}
	}
	secret.Wipe(o.known[key])
	o.known[key] = p
}

// Forget wipes every PIN remembered and forgets every reader.
func (o *Opener) Forget() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, m := range []map[string][]byte{o.pending, o.known} {
		for k, p := range m {
			secret.Wipe(p)
			delete(m, k)
		}
	}
	clear(o.readers)
}

func (o *Opener) lastReader(r *token.Record) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.readers[r.Fingerprint()]
}

func (o *Opener) rememberReader(r *token.Record, reader string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.readers == nil {
		o.readers = map[string]string{}
	}
	o.readers[r.Fingerprint()] = reader
}

// wrongCard explains a PIV card that is not there: when exactly one other
// card is, it names that card (and its owner, if rosterDir has their
// record).
func wrongCard(r *token.Record, sel piv.Selector, rosterDir string, err error) error {
	found, ferr := piv.Find(piv.Selector{Reader: sel.Reader})
	if ferr != nil || len(found) != 1 {
		return err
	}
	serial := fmt.Sprint(found[0].Serial)
	reason := "serial " + serial + ", expected " + r.Token.Serial
	if who := Owner(rosterDir, func(r *token.Record) bool { return r.Token.Kind == token.KindPIV && r.Token.Serial == serial }); who != "" {
		reason = "it is " + who + "'s card (" + reason + ")"
	}
	return &token.WrongTokenError{Token: "piv " + serial, Expected: r.Custodian.Name, Reason: reason}
}

// wrongPKCS11Token explains a PKCS#11 token that is not the record's. When
// no token matches the record's URI and exactly one other token is in the
// module, it is the token in hand: the error names it and, if rosterDir
// has their record, its owner. With several, the error lists them. When
// the record's token is there but the record's keys are not (the token was
// enrolled again), the error names whose record now claims the token.
func wrongPKCS11Token(r *token.Record, rosterDir string, err error) error {
	expected := r.Token.Serial
	if expected == "" {
		expected = r.Token.Label
	}
	var nm *pkcs11.NoMatchError
	switch {
	case errors.As(err, &nm) && len(nm.Present) == 1:
		s := nm.Present[0]
		reason := "serial " + s.Info.SerialNumber + ", expected " + expected
		if s.Info.SerialNumber == "" {
			reason = fmt.Sprintf("label %q, expected %q", s.Info.Label, r.Token.Label)
		}
		if who := pkcs11Owner(rosterDir, s.Info.SerialNumber, s.Info.Label, r.Custodian.Name); who != "" {
			reason = "it is " + who + "'s token (" + reason + ")"
		}
		return &token.WrongTokenError{Token: s.Name(), Expected: r.Custodian.Name, Reason: reason}
	case errors.As(err, &nm) && len(nm.Present) > 1:
		var names []string
		for _, s := range nm.Present {
			n := fmt.Sprintf("%s %q", s.Name(), s.Info.Label)
			if who := pkcs11Owner(rosterDir, s.Info.SerialNumber, s.Info.Label, r.Custodian.Name); who != "" {
				n += " (" + who + "'s)"
			}
			names = append(names, n)
		}
		return fmt.Errorf("%w; the module has %s", err, strings.Join(names, ", "))
	case errors.Is(err, token.ErrNotEnrolled):
		if who := pkcs11Owner(rosterDir, r.Token.Serial, r.Token.Label, r.Custodian.Name); who != "" {
			name := token.Info{Kind: token.KindPKCS11, Serial: r.Token.Serial, Label: r.Token.Label}.Name()
			return &token.WrongTokenError{Token: name, Expected: r.Custodian.Name,
				Reason: "it is " + who + "'s token now: it was enrolled again and " + r.Custodian.Name + "'s keys are gone (" + err.Error() + ")"}
		}
	}
	return err
}

// pkcs11Owner is the custodian whose PKCS#11 enrollment record in dir names
// the token with this serial (or, for a token without one, this label),
// other than except; "" when there is none.
func pkcs11Owner(dir, serial, label, except string) string {
	if serial == "" && label == "" {
		return ""
	}
	return Owner(dir, func(rec *token.Record) bool {
		return rec.Token.Kind == token.KindPKCS11 && rec.Custodian.Name != except &&
			(serial != "" && rec.Token.Serial == serial || serial == "" && rec.Token.Serial == "" && rec.Token.Label == label)
	})
}

// Owner is the custodian of the first enrollment record (*.card.json) in
// dir that match accepts, or "" (also for dir ""). It only names people
// in messages: the records are parsed, not verified.
func Owner(dir string, match func(*token.Record) bool) string {
	if dir == "" {
		return ""
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.card.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if r, err := token.ParseRecord(b); err == nil && match(r) {
			return r.Custodian.Name
		}
	}
	return ""
}
