package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/internal/term"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/pkcs11"
)

const cardEnrollHelp = `Enrolls a custodian: generates a key-agreement key and a separate signing key
on their token (P-256, never leaving it), and writes the enrollment record,
a public JSON file self-signed by the token's signing key.

With --piv (a YubiKey), the keys go to the first free retired slots (82, 83,
…) with PIN policy "once"; the key-agreement key needs a touch for every use,
the signing key a touch every 15 seconds ("cached"). On a factory-fresh card
breakglass asks for a new PIN and PUK and replaces the default management key
with a random one stored PIN-protected on the card, so no default credential
survives. The record carries the card's attestation certificates.

With --pkcs11 URI, the keys are generated on a PKCS#11 token (sensitive,
not extractable) named by an RFC 7512 URI. With --paper, the record only says
who holds the paper share and where it is kept.

An enrollment that stops after the keys were generated (the card was not
touched in time while it signed the record, the record or the enroll entry
could not be written) leaves the keys on the card and no record. Running the
same command again finds them and, on a terminal, offers to resume: it keeps
the keys and writes, signs and records the record. --resume says yes without
asking. It is offered only when no record of the card is in the output
folder or the case's roster; otherwise the card is enrolled, and only --force
replaces its keys.

PINs are asked on the terminal. For automation, use --pin-file, --new-pin-file
and --new-puk-file, or BREAKGLASS_PIN, BREAKGLASS_NEW_PIN and BREAKGLASS_NEW_PUK
(meant for tests and drills on virtual cards).

EXAMPLES
   breakglass card enroll --name alice --email alice@example.com --team sre --piv
   breakglass card enroll --name alice --piv --serial 18392011 --slot 85
   breakglass card enroll --name bob --pkcs11 'pkcs11:token=bob' --module /usr/lib/softhsm/libsofthsm2.so
   breakglass card enroll --name dave --team security --paper --location "safe 2, HQ"
   breakglass card enroll --name carol --piv --reader "Virtual PCD 00 00"   # a virtual card`

func cardEnrollCommand() *cli.Command {
	return &cli.Command{
		Name:        "enroll",
		Usage:       "generate a custodian's keys on their token and write the enrollment record",
		Description: cardEnrollHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "custodian `NAME`", Required: true},
			&cli.StringFlag{Name: "email", Usage: "custodian contact `EMAIL`"},
			&cli.StringFlag{Name: "team", Usage: "custodian `TEAM`"},
			&cli.BoolFlag{Name: "piv", Usage: "enroll a PIV card (YubiKey)"},
			serialFlag, readerFlag,
			&cli.StringFlag{Name: "slot", Usage: "key-agreement `SLOT` (82-95; default first free)"},
			&cli.StringFlag{Name: "sign-slot", Usage: "signing `SLOT` (default the next free)"},
			&cli.StringFlag{Name: "pin-policy", Value: "once", Usage: "PIN `POLICY`: never, once or always"},
			&cli.StringFlag{Name: "touch-policy", Value: "always", Usage: "touch `POLICY` of the key-agreement key: never, always or cached"},
			&cli.StringFlag{Name: "sign-touch-policy", Value: "cached", Usage: "touch `POLICY` of the signing key"},
			&cli.StringFlag{Name: "pkcs11", Usage: "enroll the PKCS#11 token named by `URI`"},
			moduleFlag,
			&cli.BoolFlag{Name: "paper", Usage: "enroll a paper custodian (no token)"},
			&cli.StringFlag{Name: "location", Usage: "where the paper share is kept (`TEXT`)"},
			&cli.StringFlag{Name: "out", Usage: "write the record to `FILE` (default NAME.card.json)"},
			&cli.BoolFlag{Name: "force", Usage: "replace existing breakglass keys on the token"},
			&cli.BoolFlag{Name: "resume", Usage: "finish an enrollment of this card that stopped after generating its keys (no record was written)"},
			pinFileFlag, pinTriesUnknownFlag,
			&cli.StringFlag{Name: "new-pin-file", Usage: "read the new PIN of a factory-fresh card from `FILE`"},
			&cli.StringFlag{Name: "new-puk-file", Usage: "read the new PUK of a factory-fresh card from `FILE`"},
			&cli.StringFlag{Name: "as", Usage: "paper custodians in a case with a logbook: the enrolled `NAME` whose token signs the enroll entry"},
		}, caseFlags()...),
		Action: runCardEnroll,
	}
}

func runCardEnroll(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c)
	}
	kinds := 0
	for _, k := range []string{"piv", "pkcs11", "paper"} {
		if c.IsSet(k) {
			kinds++
		}
	}
	if kinds != 1 {
		return usageError("choose exactly one of --piv, --pkcs11 URI and --paper")
	}
	if c.IsSet("location") && !c.Bool("paper") {
		return usageError("--location is for --paper custodians")
	}
	if c.Bool("resume") && !c.Bool("piv") {
		return usageError("--resume is for --piv cards")
	}
	if c.Bool("resume") && c.Bool("force") {
		return usageError("give either --resume (keep the keys on the card) or --force (replace them), not both")
	}
	cust := token.Custodian{Name: c.String("name"), Email: c.String("email"), Team: c.String("team")}
	el, err := newEnrollLog(c)
	if err != nil {
		return err
	}
	out := c.String("out")
	if out == "" {
		out = el.defaultOut(recordFileName(cust.Name))
	}
	if _, err := os.Stat(out); err == nil {
		return withHints(fmt.Errorf("%s already exists", out), "choose another file with --out, or move the old record away")
	}
	if err := el.checkOut(out); err != nil {
		return err
	}
	var (
		rec *token.Record
		tok token.Token
	)
	switch {
	case c.Bool("paper"):
		rec = token.NewPaperRecord(cust, c.String("location"), time.Now())
	case c.Bool("piv"):
		rec, tok, err = enrollPIV(c, cust, el, out)
	default:
		rec, tok, err = enrollPKCS11(c, cust)
	}
	if err != nil {
		return explainToken(err)
	}
	if tok != nil {
		defer tok.Close()
	}
	b, err := rec.Marshal()
	if err != nil {
		return err
	}
	again := "the token holds the new keys; run again with --force and another --out to get a record"
	if c.Bool("piv") {
		again = "the card holds the new keys; run the same command again (another --out if need be) to resume the enrollment and write its record"
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return withHints(fmt.Errorf("writing the record: %v", atomicfile.UnwrapPath(err)), again)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := el.logEnroll(rec, tok, out); err != nil {
		os.Remove(out)
		again := "fix the logbook, then enroll again (with --force for a token that now holds the new keys)"
		if c.Bool("piv") {
			again = "fix the logbook, then run the same command again: it resumes the enrollment with the keys now on the card"
		}
		return withHints(fmt.Errorf("the enrollment of %s could not be recorded, so its record %s was removed: %w", cust.Name, out, err), again)
	}
	if rec.Keys == nil {
		infof("enrolled %s (paper) in %s", cust.Name, out)
		return nil
	}
	infof("enrolled %s: %s %s, keys %s/%s, in %s", cust.Name, rec.Token.Kind, rec.Token.Serial, rec.Keys.KeyAgreement.ID, rec.Keys.Signing.ID, out)
	infof("key-agreement key %s, signing key %s", rec.Keys.KeyAgreement.Fingerprint, rec.Keys.Signing.Fingerprint)
	return nil
}

func enrollPIV(c *cli.Context, cust token.Custodian, el *enrollLog, out string) (*token.Record, token.Token, error) {
	for _, f := range []string{"pkcs11", "module"} {
		if c.IsSet(f) {
			return nil, nil, usageError("--%s is for --pkcs11 tokens", f)
		}
	}
	opts := piv.EnrollOptions{Force: c.Bool("force")}
	var err error
	if opts.PINPolicy, err = piv.ParsePINPolicy(c.String("pin-policy")); err != nil {
		return nil, nil, usageError("--pin-policy: %v", err)
	}
	if opts.TouchPolicy, err = piv.ParseTouchPolicy(c.String("touch-policy")); err != nil {
		return nil, nil, usageError("--touch-policy: %v", err)
	}
	if opts.SigningTouchPolicy, err = piv.ParseTouchPolicy(c.String("sign-touch-policy")); err != nil {
		return nil, nil, usageError("--sign-touch-policy: %v", err)
	}
	if s := c.String("slot"); s != "" {
		if opts.KeyAgreementSlot, err = piv.ParseSlot(s); err != nil {
			return nil, nil, usageError("--slot: %v", err)
		}
	}
	if s := c.String("sign-slot"); s != "" {
		if opts.SigningSlot, err = piv.ParseSlot(s); err != nil {
			return nil, nil, usageError("--sign-slot: %v", err)
		}
	}
	if opts.Selector, err = chooseCard(pivSelector(c)); err != nil {
		return nil, nil, err
	}
	label := fmt.Sprintf("card %d", opts.Serial)
	if c.Bool("resume") {
		if err := checkResumable(opts.Selector, label); err != nil {
			return nil, nil, err
		}
	}
	opts.Resume = func(k piv.ExistingKeys) (bool, error) {
		ok, err := el.resume(k, out)
		el.resumed = ok
		return ok, err
	}
	opts.PIN = pinSource(c, label)
	opts.NewSecrets = func(pinDefault, pukDefault bool) ([]byte, []byte, error) {
		infof("%s still has its factory PIN or PUK; choose new ones (6 to 8 characters)", label)
		var pin, puk []byte
		if pinDefault {
			p, err := newSecretSource(c, "new-pin-file", "BREAKGLASS_NEW_PIN", "PIN", piv.CheckNewPIN)
			if err != nil {
				return nil, nil, err
			}
			pin = p
		}
		if pukDefault {
			p, err := newSecretSource(c, "new-puk-file", "BREAKGLASS_NEW_PUK", "PUK", piv.CheckNewPUK)
			if err != nil {
				secret.Wipe(pin)
				return nil, nil, err
			}
			puk = p
		}
		return pin, puk, nil
	}
	infof("enrolling %s; touch the card when it blinks", label)
	tok, att, err := piv.Enroll(opts)
	if err != nil {
		return nil, nil, err
	}
	rec, err := piv.NewRecord(cust, tok, att, time.Now())
	if err == nil {
		if err = rec.Sign(tok.SigningKey()); err != nil {
			err = fmt.Errorf("self-signing the record on the card: %w", err)
			// The keys are on the card: say how to finish.
			again := "run the same command again: it offers to resume the enrollment (--resume says yes)"
			switch {
			case errors.Is(err, token.ErrTouchTimeout):
				again = "touch the card when it blinks (within 15 seconds), then " + again
			case errors.Is(err, token.ErrNotPresent):
				again = "put the card back, then " + again
			}
			err = withHints(err, "the keys are on the card but no record was written", again)
		}
	}
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	return rec, tok, nil
}

// checkResumable makes sure, for --resume, that the card holds breakglass
// keys to resume with, before anything is asked or generated.
func checkResumable(sel piv.Selector, label string) error {
	st, err := piv.List(sel)
	if err != nil {
		return err
	}
	roles := map[string]bool{}
	for _, s := range st {
		for _, sl := range s.Slots {
			roles[sl.Breakglass] = true
		}
	}
	if !roles["key-agreement"] || !roles["signing"] {
		return withHints(fmt.Errorf("--resume: %s holds no breakglass keys to resume with", label),
			"run the command without --resume to enroll the card")
	}
	return nil
}

// resume decides whether the breakglass keys found on a card are those of
// an enrollment that stopped before its record was written, and whether to
// finish it. The keys belong to a finished enrollment, and are never taken
// over, when a record of the card is in the output folder or the case's
// roster (its folders and --roster). The logbook needs no check of its own:
// every enroll entry is signed by the enrolled card, so a logbook that
// verifies (newEnrollLog) has the record of every enrolled key in the
// roster. Otherwise --resume, or a yes on the terminal, resumes; without
// either the enrollment is refused.
func (el *enrollLog) resume(k piv.ExistingKeys, out string) (bool, error) {
	label := fmt.Sprintf("card %d", k.Serial)
	slots := fmt.Sprintf("slots %x and %x", k.KeyAgreementSlot, k.SigningSlot)
	serial := strconv.FormatUint(uint64(k.Serial), 10)
	var files []string
	for _, dir := range []string{filepath.Dir(out), el.cd.Dir, filepath.Join(el.cd.Dir, casedir.CustodiansDir)} {
		m, _ := filepath.Glob(filepath.Join(dir, "*.card.json"))
		files = append(files, m...)
	}
	for _, f := range append(files, el.cd.Roster...) {
		// Parsed, not verified: a damaged record of the card still says
		// the card was enrolled.
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if r, err := token.ParseRecord(b); err == nil && r.Token.Kind == token.KindPIV && r.Token.Serial == serial {
			return false, fmt.Errorf("%s is already enrolled (%s): %s holds %s's record; use --force to replace its keys: %w",
				label, slots, f, r.Custodian.Name, token.ErrSlotInUse)
		}
	}
	kxFP, err := token.Fingerprint(k.KeyAgreement)
	if err != nil {
		return false, err
	}
	infof("%s holds breakglass keys (%s, key-agreement key %s) of an enrollment that stopped before its record was written",
		label, slots, kxFP)
	if el.c.Bool("resume") {
		infof("resuming the enrollment of %s (--resume): the keys stay", label)
		return true, nil
	}
	refused := fmt.Errorf("%s holds the keys of an unfinished enrollment (%s); nothing was changed", label, slots)
	if !isTerminal(os.Stdin) || !term.Available() {
		return false, withHints(refused,
			"to finish it, keeping the keys, run the same command again with --resume",
			"to start over with new keys, use --force")
	}
	yes, err := term.AskYesNo(fmt.Sprintf("resume the enrollment of %s, keeping its keys? [y/N] ", label))
	if err != nil || !yes {
		return false, withHints(refused,
			"to finish it, keeping the keys, run the same command again and answer y (or give --resume)",
			"to start over with new keys, use --force")
	}
	infof("resuming the enrollment of %s: the keys stay", label)
	return true, nil
}

func enrollPKCS11(c *cli.Context, cust token.Custodian) (*token.Record, token.Token, error) {
	for _, f := range []string{"serial", "slot", "sign-slot"} {
		if c.IsSet(f) {
			return nil, nil, usageError("--%s is for --piv cards", f)
		}
	}
	uri := c.String("pkcs11")
	tok, err := pkcs11.Enroll(uri, pkcs11.EnrollOptions{
		Options: pkcs11.Options{Module: c.String("module"), PIN: pinSource(c, uri), ConfirmUnknownTries: confirmUnknownTries(c)},
		Force:   c.Bool("force"),
	})
	if err != nil {
		return nil, nil, err
	}
	rec, err := token.NewRecord(cust, tok.Info(), tok.KeyAgreementKey().PublicKey(), tok.SigningKey().Public(), time.Now())
	if err == nil {
		if err = rec.Sign(tok.SigningKey()); err != nil {
			err = fmt.Errorf("self-signing the record on the token: %w", err)
		}
	}
	if err != nil {
		tok.Close()
		return nil, nil, err
	}
	return rec, tok, nil
}
