package ceremony

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/token"
)

// A Result is what became of one custodian in a ceremony.
type Result struct {
	Custodian string
	Index     int  // in the roster
	Paper     bool // a paper custodian
	// Tapped is true once the custodian's share came in and was checked;
	// Extra when, with CollectAll, it was past the policy (checked, then
	// wiped).
	Tapped bool
	Extra  bool
	Via    Via
	// Token is the token that tapped, or last failed to (zero for paper
	// and remote shares): its name, serial, firmware.
	Token    token.Info
	Approval *approval.Approval
	// PINRetries is how many PIN tries the token had left when last seen
	// (-1: not seen, or the token does not say).
	PINRetries int
	// Err is why the custodian's last try failed (nil once tapped).
	Err error
}

// Results gives one Result per custodian, in roster order.
func (cm *Ceremony) Results() []Result { return append([]Result(nil), cm.results...) }

// paper adds the mnemonics given up front and, with Paper, typed ones.
func (cm *Ceremony) paper() error {
	for _, m := range cm.opts.Mnemonics {
		if err := cm.addMnemonic(MnemonicFromText(m.Words), m.From); err != nil {
			idx := cm.custodianIndex(m.Custodian)
			if !cm.opts.CollectAll || idx < 0 {
				return err
			}
			cm.results[idx].Err = err
			cm.event(Event{Kind: Failed, Via: ViaPaper, Token: m.From, Custodian: m.Custodian, Who: m.Custodian, Err: err})
		}
	}
	if !cm.opts.Paper || cm.opts.Prompter == nil {
		return nil
	}
	for !cm.done() {
		b, err := cm.opts.Prompter.Mnemonic(cm.ctx)
		if errors.Is(err, token.ErrCancelled) || (err == nil && len(b) == 0) {
			return nil
		}
		if err != nil {
			return err
		}
		m := string(b)
		secret.Wipe(b)
		if err := cm.addMnemonic(m, "typed share"); err != nil {
			cm.event(Event{Kind: Failed, Via: ViaPaper, Token: "typed share", Err: err})
		}
	}
	return nil
}

// custodianIndex is the roster index of the custodian named name, or -1.
func (cm *Ceremony) custodianIndex(name string) int {
	if name == "" {
		return -1
	}
	for i, r := range cm.results {
		if r.Custodian == name {
			return i
		}
	}
	return -1
}

// MnemonicCustodian reads the "custodian: NAME" line of a --paper-out
// file ("" when there is none).
func MnemonicCustodian(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "custodian: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// MnemonicFromText takes a mnemonic from a file: a "mnemonic: " line (a
// --paper-out file, or a decrypted token share), else the whole text.
func MnemonicFromText(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "mnemonic: "); ok {
			return v
		}
	}
	return string(b)
}

func (cm *Ceremony) addMnemonic(m, from string) error {
	idx, err := cm.u.AddMnemonic(m)
	extra := false
	if err != nil {
		if cm.opts.CollectAll && errors.Is(err, seal.ErrGroupComplete) && idx >= 0 && !cm.results[idx].Tapped {
			extra = true // AddMnemonic checked the commitment first
		} else if errors.Is(err, seal.ErrAlreadyTapped) || errors.Is(err, seal.ErrGroupComplete) {
			cm.event(Event{Kind: Skipped, Via: ViaPaper, Token: from, Err: err})
			return nil
		} else {
			return &MnemonicError{From: from, Err: err}
		}
	}
	name := cm.f.Header.Custodians()[idx].Name
	now := time.Now()
	a := &approval.Approval{Custodian: name, Index: idx, Token: "paper", At: now,
		Message: approval.Message(cm.f.Header.Name, cm.f.HeaderHash(), cm.req, name, now)}
	cm.accepted(idx, a, ViaPaper, token.Info{}, extra)
	cm.event(Event{Kind: Tapped, Via: ViaPaper, Token: from, Custodian: name, Who: name,
		Tap: cm.Tapped(), Of: cm.Tapped() + cm.TapsNeeded(), Approval: a, Extra: extra})
	return nil
}

// accepted notes custodian idx's tap.
func (cm *Ceremony) accepted(idx int, a *approval.Approval, via Via, info token.Info, extra bool) {
	if !extra {
		cm.approvals = append(cm.approvals, a)
	}
	r := &cm.results[idx]
	r.Tapped, r.Extra, r.Via, r.Approval, r.Err = true, extra, via, a, nil
	if via == ViaToken {
		r.Token = info
	}
}

// look looks at the tokens once and taps each one not handled yet.
func (cm *Ceremony) look(w *Watch) {
	err := w.Look(func(c Card) (handled, stop bool) {
		if cm.stopping() {
			return false, true
		}
		if c.Kind == token.KindPKCS11 {
			handled = cm.tapPKCS11(c)
		} else if handled = cm.tapPIV(c); !handled {
			return false, false // gone again, or not ready: the next look tries again
		}
		return handled, cm.done() || cm.failed != nil
	})
	if err == nil {
		return
	}
	p, _ := cm.opts.Finder.(*Poller)
	if !errors.Is(err, token.ErrNotPresent) || (p != nil && len(p.PKCS11) == 0 && token.WhyNotPresent(err) == token.NoDaemon) {
		cm.once("pcsc", Event{Kind: CannotLook, Err: err})
	}
}

// pinFor is the PIN source of a tap: none once the ceremony is ending, else
// the Prompter's, labelled *who. Once *rec names the card's enrollment
// record, a PIN that already worked for it in this command (the
// operator's, who signed the unseal-start) is not asked again.
func (cm *Ceremony) pinFor(who *string, rec **token.Record) token.PINFunc {
	return func() ([]byte, error) {
		if cm.stopping() {
			return nil, ErrInterrupted
		}
		src := func() ([]byte, error) {
			if cm.opts.Prompter == nil {
				return nil, token.ErrCancelled
			}
			return cm.opts.Prompter.PIN(cm.ctx, *who)
		}
		if *rec != nil && cm.opts.PINMemory != nil {
			return cm.opts.PINMemory.PIN(*rec, src)()
		}
		return src()
	}
}

func (cm *Ceremony) confirm(info token.Info) bool {
	return cm.opts.Prompter != nil && cm.opts.Prompter.ConfirmUnknownTries(info)
}

// enrolled is the case's enrollment record of tok, or nil.
func (cm *Ceremony) enrolled(tok token.Token) *token.Record {
	if !cm.recordsLoaded {
		cm.recordsLoaded = true
		if cm.opts.Records != nil {
			cm.records = cm.opts.Records()
		}
	}
	for _, r := range cm.records {
		if r.Keys != nil && r.Matches(tok) == nil {
			return r
		}
	}
	return nil
}

// tapPIV reports whether the card was handled (false: it could not be
// opened because it is gone again, or not ready yet after being put in).
func (cm *Ceremony) tapPIV(c Card) bool {
	label := c.Label()
	who := label
	var rec *token.Record
	tok, err := c.Open(cm.pinFor(&who, &rec), cm.confirm)
	if err != nil {
		switch {
		case errors.Is(err, token.ErrNotPresent):
			return false
		case errors.Is(err, token.ErrNotEnrolled):
			cm.event(Event{Kind: NotEnrolled, Token: label, Reader: c.Reader})
		default:
			cm.event(Event{Kind: Ignored, Token: label, Reader: c.Reader, Err: err})
		}
		return true
	}
	cm.tapToken(tok, label, &who, &rec)
	return true
}

// tapPKCS11 reports whether the token was handled (false: not there yet).
func (cm *Ceremony) tapPKCS11(c Card) bool {
	who := c.Label()
	var rec *token.Record
	tok, err := c.Open(cm.pinFor(&who, &rec), cm.confirm)
	if err != nil {
		if errors.Is(err, token.ErrNotPresent) {
			cm.once("p11|"+c.URI, Event{Kind: NotPresent, Token: who, Err: err})
			return false
		}
		if errors.As(err, new(*token.PINError)) { // the login to find the keys
			cm.fail(-1, who, err)
			return true
		}
		cm.event(Event{Kind: Ignored, Token: who, Err: err})
		return true
	}
	who = "token " + tok.Info().Name()
	cm.tapToken(tok, who, &who, &rec)
	return true
}

// tapToken runs one tap: roster check, PIN-retry check, approval
// signature, then the share. Problems are told and the token left alone;
// the ceremony goes on with the others. pinLabel is where the PIN
// prompt's label lives; it is set to name the custodian and the purpose
// once the token is recognised, and rec to its enrollment record in the
// case (see pinFor).
func (cm *Ceremony) tapToken(tok token.Token, label string, pinLabel *string, rec **token.Record) {
	defer tok.Close()
	kx := tok.KeyAgreementKey()
	idx, err := cm.f.Custodian(kx.PublicKey())
	if err != nil {
		e := Event{Kind: NotCustodian, Token: label}
		if r := cm.enrolled(tok); r != nil {
			e.Owner = r.Custodian.Name
		}
		// A drill learns that a custodian's card is not the one the
		// secret was sealed to (replaced since).
		if i := cm.custodianIndex(e.Owner); cm.opts.CollectAll && i >= 0 && !cm.results[i].Tapped {
			cm.results[i].Err = &ReplacedError{Custodian: e.Owner, Token: tok.Info()}
			cm.results[i].Token = tok.Info()
		}
		cm.event(e)
		return
	}
	cu := cm.f.Header.Custodians()[idx]
	who := fmt.Sprintf("%s (%s)", cu.Name, label)
	*pinLabel = who + " " + cm.purpose()
	*rec = cm.enrolled(tok)
	res := &cm.results[idx]
	extra := false
	if err := cm.u.CanTap(idx); err != nil {
		switch {
		case errors.Is(err, seal.ErrAlreadyTapped):
			return // still in the reader from an earlier tap
		case cm.opts.CollectAll && errors.Is(err, seal.ErrGroupComplete) && !res.Tapped:
			extra = true
		case res.Tapped:
			return
		default:
			cm.event(Event{Kind: NotNeeded, Token: label, Custodian: cu.Name, Who: who, Err: errors.Unwrap(err)})
			return
		}
	}
	res.Token = tok.Info()
	sig := tok.SigningKey()
	fp, err := token.Fingerprint(sig.Public())
	if err != nil || (cu.Fingerprint != "" && strings.ReplaceAll(fp, " ", "") != cu.Fingerprint) {
		res.Err = fmt.Errorf("the token's signing key is not the one enrolled for %s", cu.Name)
		cm.event(Event{Kind: WrongSigningKey, Token: label, Custodian: cu.Name, Who: who})
		return
	}
	if r, err := tok.PINRetries(); err == nil {
		res.PINRetries = r
		if r >= 0 && !token.SafeToTry(r) {
			cm.fail(idx, who, &token.PINError{Token: tok.Info().Name(), Retries: r})
			return
		}
	}
	cm.event(Event{Kind: Approve, Token: label, Custodian: cu.Name, Who: who})
	now := time.Now()
	msg := approval.Message(cm.f.Header.Name, cm.f.HeaderHash(), cm.req, cu.Name, now)
	s, err := approval.Sign(sig, msg)
	if err != nil {
		cm.fail(idx, who, err)
		return
	}
	if *rec != nil && cm.opts.PINMemory != nil {
		cm.opts.PINMemory.Proven(*rec)
	}
	if extra {
		var share []byte
		_, share, err = cm.f.OpenShare(kx)
		secret.Wipe(share)
	} else {
		_, err = cm.u.Tap(kx)
	}
	if err != nil {
		cm.fail(idx, who, err)
		return
	}
	a := &approval.Approval{Custodian: cu.Name, Index: idx, Token: tok.Info().Name(), KeyFingerprint: fp,
		Message: msg, Signature: s, At: now}
	cm.accepted(idx, a, ViaToken, tok.Info(), extra)
	if cm.opts.CollectAll {
		// A card that verified its PIN in this session cannot say
		// (-2): the count read before the tap stands.
		if r, err := tok.PINRetries(); err == nil && r >= 0 {
			res.PINRetries = r
		}
	}
	cm.event(Event{Kind: Tapped, Token: label, Custodian: cu.Name, Who: who,
		Tap: cm.Tapped(), Of: cm.Tapped() + cm.TapsNeeded(), Approval: a, Extra: extra})
	if cm.opts.OnTap != nil {
		if err := cm.opts.OnTap(tok, a); err != nil {
			cm.failed = &RecordError{Custodian: cu.Name, Err: err}
		}
	}
}

// fail tells a failed tap of custodian idx (-1: not known yet), or stops
// the ceremony when the person interrupted it.
func (cm *Ceremony) fail(idx int, who string, err error) {
	if errors.Is(err, ErrInterrupted) {
		cm.interrupted = true // Run says so, and wipes what was gathered
		return
	}
	e := Event{Kind: Failed, Who: who, Err: err}
	if idx >= 0 {
		r := &cm.results[idx]
		r.Err = err
		var pe *token.PINError
		if errors.As(err, &pe) {
			r.PINRetries = pe.Retries
		}
		e.Custodian = r.Custodian
	}
	cm.event(e)
}
