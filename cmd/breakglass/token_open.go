package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/pkcs11"
)

// openRecordToken opens the token an enrollment record describes, PIV or
// PKCS#11, and checks that it holds the record's keys. It is the one way
// commands open an enrolled person's token: to sign a logbook entry (log
// note, seal --as, unseal --operator, aws --as) or to test it (card test).
//
// PINs come from BREAKGLASS_PIN, --pin-file or the terminal (pinSource).
// A PIV card is found by its serial, on the reader --reader names when the
// command has a single-valued --reader, else on any reader; when another
// card is there instead, the error names its owner if rosterDir ("" for
// none) holds their record. A PKCS#11 token may take its module from
// --module; when another token is found instead of the record's, or the
// record's keys are not on it, the error names that token and, from
// rosterDir, its owner. Errors name the token; explainToken turns them into
// advice.
//
// purpose says what the token is opened for, in the PIN prompt: "PIN for
// alice (card 1234) to sign the unseal-start of prod (INC-4711)".
func openRecordToken(c *cli.Context, r *token.Record, rosterDir, purpose string) (token.Token, error) {
	var tok token.Token
	switch r.Token.Kind {
	case token.KindPIV:
		label := recordTokenLabel(r)
		sel := piv.Selector{Reader: singleReader(c)}
		pin := rememberedPIN(r, pinSource(c, withPurpose(label, purpose)))
		var t *piv.Token
		err := token.ErrNotPresent
		if rd := lastReader(r); sel.Reader == "" && rd != "" {
			// Where the card was a moment ago, before scanning every reader.
			t, err = piv.OpenRecord(r, piv.Selector{Reader: rd}, pin)
		}
		if errors.Is(err, token.ErrNotPresent) {
			t, err = piv.OpenRecord(r, sel, pin)
		}
		if errors.Is(err, token.ErrNotPresent) {
			err = wrongCard(r, sel, rosterDir, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		rememberReader(r, t.Info().Reader)
		tok = t
	case token.KindPKCS11:
		label := recordTokenLabel(r)
		kx, err1 := hex.DecodeString(r.Keys.KeyAgreement.ID)
		sig, err2 := hex.DecodeString(r.Keys.Signing.ID)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("enrollment record of %s: %w", r.Custodian.Name, &token.FieldError{Field: "keys.*.id", Reason: "not hex"})
		}
		t, err := pkcs11.Open(r.Token.URI, pkcs11.Options{Module: c.String("module"), PIN: rememberedPIN(r, pinSource(c, withPurpose(label, purpose))),
			KeyAgreementID: kx, SigningID: sig, ConfirmUnknownTries: confirmUnknownTries(c)})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, wrongPKCS11Token(r, rosterDir, err))
		}
		tok = t
	default:
		return nil, fmt.Errorf("%s is a %s custodian: there is no token to open (only a PIV card or PKCS#11 token can sign)", r.Custodian.Name, r.Token.Kind)
	}
	if err := r.Matches(tok); err != nil {
		info := tok.Info()
		tok.Close()
		var wt *token.WrongTokenError
		if errors.As(err, &wt) && info.Kind == token.KindPKCS11 {
			if who := pkcs11Owner(rosterDir, info.Serial, info.Label, r.Custodian.Name); who != "" {
				wt.Reason = "it is " + who + "'s token (" + wt.Reason + ")"
			}
		}
		return nil, withHints(err, "insert "+r.Custodian.Name+"'s own token")
	}
	return tok, nil
}

// recordTokenLabel names the token of an enrollment record in messages:
// "alice (card 1234)", "alice's token pkcs11:…".
func recordTokenLabel(r *token.Record) string {
	if r.Token.Kind == token.KindPIV {
		return fmt.Sprintf("%s (card %s)", r.Custodian.Name, r.Token.Serial)
	}
	return r.Custodian.Name + "'s token " + r.Token.URI
}

// withPurpose adds to a PIN prompt's label what the PIN is for.
func withPurpose(label, purpose string) string {
	if purpose == "" {
		return label
	}
	return label + " " + purpose
}

// signPurpose says what a logbook signature is for, in PIN prompts and
// touch requests: "to sign the unseal-start of prod (INC-4711)".
func signPurpose(e logbook.Entry) string {
	what := string(e.Kind)
	switch {
	case logbook.IsAbort(&e):
		what = "abort"
	case e.Kind == logbook.KindEnroll:
		what = "enrollment"
	}
	s := "to sign the " + what
	if e.Secret != "" {
		s += " of " + e.Secret
	}
	if e.Ticket != "" {
		s += " (" + e.Ticket + ")"
	}
	return s
}

// touchNote says, before an enrolled card signs, that it wants a touch (as
// its signing key's touch policy says): a logbook append signs twice, the
// entry and the checkpoint.
func touchNote(r *token.Record, purpose string) {
	if r.Keys == nil {
		return
	}
	switch r.Keys.Signing.TouchPolicy {
	case "always":
		infof("%s: touch the card each time it blinks (twice) %s", recordTokenLabel(r), purpose)
	case "cached":
		infof("%s: touch the card if it blinks %s", recordTokenLabel(r), purpose)
	}
}

// singleReader is --reader when the command has it as a single name (card
// and log commands), else "" (tap commands watch several readers and find
// a person's card by its serial).
func singleReader(c *cli.Context) string {
	if f := lookupFlag(c.Command.Flags, "reader"); f != nil {
		if _, ok := f.(*cli.StringFlag); ok {
			return c.String("reader")
		}
	}
	return ""
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
	if who := ownerOf(rosterDir, serial); rosterDir != "" && who != "" {
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
	if dir == "" || (serial == "" && label == "") {
		return ""
	}
	return findOwner(dir, func(rec *token.Record) bool {
		return rec.Token.Kind == token.KindPKCS11 && rec.Custodian.Name != except &&
			(serial != "" && rec.Token.Serial == serial || serial == "" && rec.Token.Serial == "" && rec.Token.Label == label)
	})
}

// pinMemory holds, for the length of one command, the PIN of each enrolled
// person whose token has already signed with it, so that the operator of an
// unseal types their PIN once, not again for the release (each signature
// opens the token anew: the operator's card may also be a custodian's that
// taps in between). A PIN is remembered only once a signature made with it
// succeeded — a wrong PIN is asked for again, never replayed — and every
// PIN is wiped when the command ends (forgetTokenMemory).
var pinMemory struct {
	sync.Mutex
	pending map[string][]byte // typed, not yet proven
	known   map[string][]byte // proven by a signature
}

// rememberedPIN is src for r's token, or the PIN that already worked for it.
func rememberedPIN(r *token.Record, src token.PINFunc) token.PINFunc {
	key := r.Fingerprint()
	return func() ([]byte, error) {
		pinMemory.Lock()
		if p, ok := pinMemory.known[key]; ok {
			pinMemory.Unlock()
			return bytes.Clone(p), nil
		}
		pinMemory.Unlock()
		p, err := src()
		if err != nil {
			return nil, err
		}
		pinMemory.Lock()
		defer pinMemory.Unlock()
		if pinMemory.pending == nil {
			pinMemory.pending = map[string][]byte{}
		}
		token.WipeBytes(pinMemory.pending[key])
		pinMemory.pending[key] = bytes.Clone(p)
		return p, nil
	}
}

// provenPIN records that r's token signed with the PIN last typed for it.
func provenPIN(r *token.Record) {
	key := r.Fingerprint()
	pinMemory.Lock()
	defer pinMemory.Unlock()
	p, ok := pinMemory.pending[key]
	if !ok {
		return
	}
	delete(pinMemory.pending, key)
	if pinMemory.known == nil {
		pinMemory.known = map[string][]byte{}
	}
	token.WipeBytes(pinMemory.known[key])
	pinMemory.known[key] = p
}

// forgetTokenMemory forgets, when a command ends, every PIN (wiped) and
// reader remembered.
func forgetTokenMemory() {
	readerMemory.Lock()
	clear(readerMemory.m)
	readerMemory.Unlock()
	forgetPINs()
}

// forgetPINs wipes every PIN remembered.
func forgetPINs() {
	pinMemory.Lock()
	defer pinMemory.Unlock()
	for _, m := range []map[string][]byte{pinMemory.pending, pinMemory.known} {
		for k, p := range m {
			token.WipeBytes(p)
			delete(m, k)
		}
	}
}

// readerMemory remembers, for the length of one command, the reader each
// enrolled person's PIV card was last opened in, so that opening it again
// (the operator signs at the start and at the end of an unseal) tries that
// reader before scanning, and opening every card on the way, again.
var readerMemory struct {
	sync.Mutex
	m map[string]string
}

func lastReader(r *token.Record) string {
	readerMemory.Lock()
	defer readerMemory.Unlock()
	return readerMemory.m[r.Fingerprint()]
}

func rememberReader(r *token.Record, reader string) {
	readerMemory.Lock()
	defer readerMemory.Unlock()
	if readerMemory.m == nil {
		readerMemory.m = map[string]string{}
	}
	readerMemory.m[r.Fingerprint()] = reader
}
