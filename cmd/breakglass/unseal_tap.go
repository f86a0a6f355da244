package main

// The tap ceremony shared by unseal, drill verify and reseal: wait for
// cards on any reader, one tap at a time, until the roster's policy is met
// or the unseal window runs out.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/internal/term"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/pkcs11"
)

// tapFlags are the flags of every command that collects taps.
func tapFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "window", Value: 10 * time.Minute, Usage: "how long taps are held before everything is wiped"},
		&cli.GenericFlag{Name: "reader", Value: &listFlag{}, Usage: "watch only the PC/SC reader `NAME` (repeatable; default: every reader)"},
		&cli.GenericFlag{Name: "pkcs11", Value: &listFlag{}, Usage: "also tap the PKCS#11 token at `URI` (repeatable)"},
		&cli.GenericFlag{Name: "mnemonic-file", Value: &listFlag{}, Usage: "a paper custodian's mnemonic, from `FILE` (repeatable)"},
		&cli.BoolFlag{Name: "paper", Usage: "ask paper custodians to type their mnemonics on the terminal"},
		&cli.StringFlag{Name: "operator", Usage: "who is unsealing (default $USER)"},
		pinFileFlag, pinTriesUnknownFlag,
	}
}

// ceremony collects taps for one sealed file.
type ceremony struct {
	c         *cli.Context
	f         *seal.File
	u         *seal.Unseal
	req       approval.Request
	approvals []*approval.Approval

	readers []string // --reader; empty means every reader
	pkcs11  []string
	seen    map[string]bool // cards handled while they stay in their reader
	noted   map[string]bool // messages shown once

	// onTap, when set, runs after each token tap, with the token still
	// open (the logbook's tap entry, signed by the custodian's token). An
	// error ends the ceremony: everything gathered is wiped.
	onTap  func(token.Token, *approval.Approval) error
	failed error

	// ctx ends on Ctrl-C (SIGINT, SIGTERM) or when the window runs out;
	// interrupted is set when a prompt was interrupted (Ctrl-C there, or
	// ctx ending).
	ctx         context.Context
	interrupted bool

	// records are the case's enrollment records (loaded when a card is
	// first seen): a tapping custodian's PIN is remembered for the command
	// like the operator's (rememberedPIN), and a card not in the roster is
	// named by its owner.
	records       []*token.Record
	recordsLoaded bool
}

func newCeremony(c *cli.Context, f *seal.File, req approval.Request) *ceremony {
	if req.Operator == "" {
		req.Operator = c.String("operator")
	}
	if req.Operator == "" {
		req.Operator = currentUser()
	}
	return &ceremony{
		c: c, f: f, u: f.NewUnseal(), req: req,
		readers: listValues(c, "reader", false),
		pkcs11:  listValues(c, "pkcs11", false),
		seen:    map[string]bool{}, noted: map[string]bool{},
	}
}

// tapsNeeded returns how many taps are still needed at the least: the
// cheapest way to complete the missing groups.
func tapsNeeded(p seal.Progress) int {
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

func (cm *ceremony) tapped() int { return len(cm.approvals) }

// stillNeeded describes who may still tap: "1 more of alice, carol".
// Custodians named in except are left out of the lists.
func (cm *ceremony) stillNeeded(except ...string) string {
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

// run collects taps until the policy is met. It returns an error, with
// everything gathered wiped, when the window runs out or on Ctrl-C.
func (cm *ceremony) run(ctx context.Context) error {
	if err := secret.Hold(); err != nil {
		return withHints(err, "breakglass will not hold secrets in a process that can dump core")
	}
	window := cm.c.Duration("window")
	ctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cm.ctx = ctx
	// end wipes everything gathered and says why the ceremony stopped
	// short: Ctrl-C (here or at a prompt) or the window.
	end := func() error {
		n, still := cm.tapped(), cm.stillNeeded()
		need := n + tapsNeeded(cm.u.Progress())
		cm.u.Wipe()
		gathered := "nothing was gathered"
		if n > 0 {
			gathered = fmt.Sprintf("the %s gathered %s wiped", plural(n, "share"), map[bool]string{true: "was", false: "were"}[n == 1])
		}
		hints := []string{"start again when " + still + " can tap", "a longer --window gives custodians more time"}
		if ctx.Err() == context.DeadlineExceeded {
			// (A prompt open when the window ran out was interrupted too.)
			return withHints(&windowError{window: window,
				msg: fmt.Sprintf("the unseal window of %s ran out with %s of %d: %s", window, plural(n, "tap"), need, gathered)}, hints...)
		}
		return withHints(fmt.Errorf("%w with %s of %d: %s", term.ErrInterrupted, plural(n, "tap"), need, gathered), hints[0])
	}

	h := cm.f.Header
	p := cm.u.Progress()
	if len(h.Groups) == 1 {
		infof("%s: %s custodians needed (%s)", h.Name, policyString(h), strings.Join(custodianNames(h), ", "))
	} else {
		infof("%s: needs %s", h.Name, policyString(h))
	}
	if err := cm.paper(); err != nil {
		if errors.Is(err, term.ErrInterrupted) {
			cm.interrupted = true
			return end()
		}
		cm.u.Wipe()
		return err
	}
	if err := cm.addResponses(cm.c.String("request"), listValues(cm.c, "response", false)); err != nil {
		cm.u.Wipe()
		return err
	}
	waiting := ""
	for {
		p = cm.u.Progress()
		if p.Complete {
			return nil
		}
		if w := cm.stillNeeded(); w != waiting {
			waiting = w
			infof("still needed: %s; waiting for the next card (window %s)", w, window.Round(time.Second))
		}
		if err := cm.poll(); err != nil {
			cm.u.Wipe()
			return err
		}
		if cm.interrupted {
			return end()
		}
		if cm.failed != nil {
			cm.u.Wipe()
			return withHints(fmt.Errorf("%w; the shares gathered were wiped and nothing was released", cm.failed),
				"fix the logbook (breakglass log verify) and start again")
		}
		if cm.u.Progress().Complete {
			return nil
		}
		select {
		case <-ctx.Done():
			return end()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func custodianNames(h *seal.Header) []string {
	var out []string
	for _, c := range h.Custodians() {
		out = append(out, c.Name)
	}
	return out
}

// paper adds the mnemonics of --mnemonic-file and, with --paper, typed ones.
func (cm *ceremony) paper() error {
	for _, path := range listValues(cm.c, "mnemonic-file", false) {
		b, err := os.ReadFile(path)
		if err != nil {
			return withHints(fmt.Errorf("--mnemonic-file: %v", unwrapPathError(err)), "check the path")
		}
		m := mnemonicFromText(b)
		secret.Wipe(b)
		if err := cm.addMnemonic(m, path); err != nil {
			return err
		}
	}
	if !cm.c.Bool("paper") {
		return nil
	}
	for !cm.u.Progress().Complete {
		b, err := promptTTYContext(cm.ctx, "paper share (SLIP-0039 words, hidden; empty line when done): ")
		if errors.Is(err, token.ErrCancelled) || (err == nil && len(b) == 0) {
			return nil
		}
		if err != nil {
			return err
		}
		m := string(b)
		secret.Wipe(b)
		if err := cm.addMnemonic(m, "typed share"); err != nil {
			reportError(os.Stderr, err)
		}
	}
	return nil
}

// mnemonicFromText takes a mnemonic from a file: a "mnemonic: " line (a
// --paper-out file, or a decrypted token share), else the whole text.
func mnemonicFromText(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "mnemonic: "); ok {
			return v
		}
	}
	return string(b)
}

func (cm *ceremony) addMnemonic(m, from string) error {
	idx, err := cm.u.AddMnemonic(m)
	if err != nil {
		if errors.Is(err, seal.ErrAlreadyTapped) || errors.Is(err, seal.ErrGroupComplete) {
			infof("%s: %v; skipped", from, err)
			return nil
		}
		return withHints(fmt.Errorf("%s: %w", from, err),
			"check the words against the paper; a share of another sealed secret or from before a reseal does not fit")
	}
	name := cm.f.Header.Custodians()[idx].Name
	a := &approval.Approval{Custodian: name, Index: idx, Token: "paper", At: time.Now(),
		Message: approval.Message(cm.f.Header.Name, cm.f.HeaderHash(), cm.req, name, time.Now())}
	cm.approvals = append(cm.approvals, a)
	infof("tap %d of %d: %s (paper) … ok", cm.tapped(), cm.tapped()+tapsNeeded(cm.u.Progress()), name)
	return nil
}

// poll looks at every reader (and PKCS#11 token) once and taps each card
// not handled yet.
func (cm *ceremony) poll() error {
	present := map[string]bool{}
	var found []piv.Found
	if len(cm.readers) == 0 {
		f, err := piv.Find(piv.Selector{})
		if err == nil {
			found = f
		} else if !errors.Is(err, token.ErrNotPresent) {
			cm.note("pcsc", fmt.Sprintf("cannot look for cards: %v", err))
		} else if len(cm.pkcs11) == 0 && strings.Contains(err.Error(), "pcscd") {
			cm.note("pcsc", err.Error())
		}
	} else {
		for _, r := range cm.readers {
			f, err := piv.Find(piv.Selector{Reader: r})
			if err == nil {
				found = append(found, f...)
			}
		}
	}
	for _, fc := range found {
		key := fmt.Sprintf("%s|%d", fc.Reader, fc.Serial)
		present[key] = true
		if cm.seen[key] {
			continue
		}
		if cm.stopping() {
			return nil
		}
		if !cm.tapPIV(fc) {
			continue // gone again, or not ready: the next look tries again
		}
		cm.seen[key] = true
		if cm.u.Progress().Complete || cm.failed != nil {
			return nil
		}
	}
	for _, uri := range cm.pkcs11 {
		key := "pkcs11|" + uri
		present[key] = true
		if cm.seen[key] {
			continue
		}
		if cm.stopping() {
			return nil
		}
		if cm.tapPKCS11(uri) {
			cm.seen[key] = true
		}
		if cm.u.Progress().Complete || cm.failed != nil {
			return nil
		}
	}
	for k := range cm.seen {
		if !present[k] {
			delete(cm.seen, k) // pulled out: handle it again when it is back
		}
	}
	return nil
}

// stopping reports whether the ceremony is ending (Ctrl-C, the window):
// no further card is started.
func (cm *ceremony) stopping() bool {
	return cm.interrupted || (cm.ctx != nil && cm.ctx.Err() != nil)
}

// pinFor is the PIN source of a tap: none once the ceremony is ending, and
// a prompt that Ctrl-C interrupts at once, labelled *who. Once *rec names
// the card's enrollment record, a PIN that already worked for it in this
// command (the operator's, who signed the unseal-start) is not asked again.
func (cm *ceremony) pinFor(who *string, rec **token.Record) token.PINFunc {
	return func() ([]byte, error) {
		if cm.stopping() {
			return nil, term.ErrInterrupted
		}
		src := pinSourceContext(cm.ctx, cm.c, *who)
		if *rec != nil {
			return rememberedPIN(*rec, src)()
		}
		return src()
	}
}

// purpose says what a tap's PIN is for: "to approve the unseal of prod
// (INC-4711)".
func (cm *ceremony) purpose() string {
	s := "to approve the " + cm.req.Action + " of " + cm.f.Header.Name
	if t := strings.TrimSpace(cm.req.Ticket); t != "" {
		s += " (" + t + ")"
	}
	return s
}

// enrolled is the case's enrollment record of tok, or nil.
func (cm *ceremony) enrolled(tok token.Token) *token.Record {
	if !cm.recordsLoaded {
		cm.recordsLoaded = true
		if cd, err := openCase(cm.c); err == nil {
			cm.records, _ = cd.Records()
		}
	}
	for _, r := range cm.records {
		if r.Keys != nil && r.Matches(tok) == nil {
			return r
		}
	}
	return nil
}

func (cm *ceremony) note(key, msg string) {
	if !cm.noted[key] {
		cm.noted[key] = true
		infof("%s", msg)
	}
}

// tapPIV reports whether the card was handled (false: it could not be
// opened because it is gone again, or not ready yet after being put in).
func (cm *ceremony) tapPIV(fc piv.Found) bool {
	label := fmt.Sprintf("card %d", fc.Serial)
	who := label
	var rec *token.Record
	tok, err := piv.Open(piv.Options{Selector: piv.Selector{Serial: fc.Serial, Reader: fc.Reader}, PIN: cm.pinFor(&who, &rec)})
	if err != nil {
		switch {
		case errors.Is(err, token.ErrNotPresent):
			return false
		case errors.Is(err, token.ErrNotEnrolled):
			infof("%s in %q holds no breakglass keys; ignored", label, fc.Reader)
		default:
			infof("%s in %q: %v; ignored (remove and reinsert it to try again)", label, fc.Reader, err)
		}
		return true
	}
	cm.tapToken(tok, label, &who, &rec)
	return true
}

// tapPKCS11 reports whether the token was handled (false: not there yet).
func (cm *ceremony) tapPKCS11(uri string) bool {
	who := "PKCS#11 token " + uri
	var rec *token.Record
	tok, err := pkcs11.Open(uri, pkcs11.Options{PIN: cm.pinFor(&who, &rec), ConfirmUnknownTries: confirmUnknownTries(cm.c)})
	if err != nil {
		if errors.Is(err, token.ErrNotPresent) {
			cm.note("p11|"+uri, fmt.Sprintf("PKCS#11 token %s is not present yet: %v", uri, err))
			return false
		}
		if errors.As(err, new(*token.PINError)) { // the login to find the keys
			cm.tapFailed(who, err)
			return true
		}
		infof("PKCS#11 token %s: %v; ignored", uri, err)
		return true
	}
	who = "token " + tok.Info().Name()
	cm.tapToken(tok, who, &who, &rec)
	return true
}

// tapToken runs one tap: roster check, PIN-retry check, approval
// signature, then the share. Problems are reported and the card ignored;
// the ceremony goes on with the others.
// pinLabel is where the PIN prompt's label lives; it is set to name the
// custodian and the purpose once the card is recognised, and rec to the
// card's enrollment record in the case (see pinFor).
func (cm *ceremony) tapToken(tok token.Token, label string, pinLabel *string, rec **token.Record) {
	defer tok.Close()
	kx := tok.KeyAgreementKey()
	idx, err := cm.f.Custodian(kx.PublicKey())
	if err != nil {
		if r := cm.enrolled(tok); r != nil {
			label += " (" + r.Custodian.Name + ")"
		}
		infof("%s is not a custodian of %s; ignored", label, cm.f.Header.Name)
		return
	}
	cu := cm.f.Header.Custodians()[idx]
	who := fmt.Sprintf("%s (%s)", cu.Name, label)
	*pinLabel = withPurpose(who, cm.purpose())
	*rec = cm.enrolled(tok)
	if err := cm.u.CanTap(idx); err != nil {
		if errors.Is(err, seal.ErrAlreadyTapped) {
			return // still in the reader from an earlier tap
		}
		infof("%s: %v; not needed", who, errors.Unwrap(err))
		return
	}
	sig := tok.SigningKey()
	fp, err := token.Fingerprint(sig.Public())
	if err != nil || (cu.Fingerprint != "" && strings.ReplaceAll(fp, " ", "") != cu.Fingerprint) {
		infof("%s: the card's signing key is not the one enrolled for %s; ignored", label, cu.Name)
		return
	}
	if r, err := tok.PINRetries(); err == nil && r >= 0 && !token.SafeToTry(r) {
		cm.refusePIN(who, &token.PINError{Token: tok.Info().Name(), Retries: r})
		return
	}
	infof("%s: approve with the PIN, then touch the card when it blinks", who)
	now := time.Now()
	msg := approval.Message(cm.f.Header.Name, cm.f.HeaderHash(), cm.req, cu.Name, now)
	s, err := approval.Sign(sig, msg)
	if err != nil {
		cm.tapFailed(who, err)
		return
	}
	if *rec != nil {
		provenPIN(*rec)
	}
	if _, err := cm.u.Tap(kx); err != nil {
		cm.tapFailed(who, err)
		return
	}
	a := &approval.Approval{Custodian: cu.Name, Index: idx, Token: tok.Info().Name(), KeyFingerprint: fp,
		Message: msg, Signature: s, At: now}
	cm.approvals = append(cm.approvals, a)
	infof("tap %d of %d: %s … ok (approval %s)", cm.tapped(), cm.tapped()+tapsNeeded(cm.u.Progress()), who, a.Fingerprint())
	if cm.onTap != nil {
		if err := cm.onTap(tok, a); err != nil {
			cm.failed = fmt.Errorf("the tap of %s could not be recorded: %w", cu.Name, err)
		}
	}
}

func (cm *ceremony) refusePIN(who string, pe *token.PINError) {
	hints := []string{"unblock the PIN with the PUK (breakglass card pin unblock, or ykman piv access unblock-pin)"}
	if pe.Retries < 0 {
		hints = unknownTriesHints(pe)
	}
	if n := cm.stillNeeded(strings.SplitN(who, " ", 2)[0]); n != "" {
		hints = append(hints, "or let another custodian tap: "+n)
	}
	reportError(os.Stderr, withHints(fmt.Errorf("%s: %w", who, pe), hints...))
}

func (cm *ceremony) tapFailed(who string, err error) {
	var pe *token.PINError
	switch {
	case errors.Is(err, term.ErrInterrupted):
		cm.interrupted = true // run says so, and wipes what was gathered
	case errors.As(err, &pe) && (!pe.Tried || pe.Retries <= 1):
		cm.refusePIN(who, pe)
	case errors.As(err, &pe):
		reportError(os.Stderr, withHints(fmt.Errorf("%s: %w", who, pe), "remove and reinsert the card to try again"))
	case errors.Is(err, token.ErrNotPresent):
		reportError(os.Stderr, withHints(fmt.Errorf("%s was removed before the tap completed", who),
			tapsKept(cm.tapped())+"reinsert "+strings.SplitN(who, " ", 2)[0]+"'s card to tap again"))
	case errors.Is(err, token.ErrTouchTimeout):
		reportError(os.Stderr, withHints(fmt.Errorf("%s was not touched in time", who), "remove and reinsert the card, and touch it when it blinks"))
	case errors.Is(err, token.ErrCancelled):
		reportError(os.Stderr, withHints(fmt.Errorf("%s: PIN entry cancelled", who), "remove and reinsert the card to try again"))
	default:
		var se *seal.ShareError
		if errors.As(err, &se) {
			reportError(os.Stderr, withHints(fmt.Errorf("%s: %w", who, se.Err),
				"this share cannot be used; another custodian may tap instead: "+cm.stillNeeded(strings.SplitN(who, " ", 2)[0])))
			return
		}
		reportError(os.Stderr, withHints(fmt.Errorf("%s: %w", who, err), "remove and reinsert the card to try again"))
	}
}

// tapsKept says that the taps made so far are kept: "the tap already made
// is kept; ", "the 2 taps already made are kept; ", or nothing before the
// first.
func tapsKept(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "the tap already made is kept; "
	}
	return fmt.Sprintf("the %d taps already made are kept; ", n)
}
