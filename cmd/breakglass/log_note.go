package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/pkcs11"
)

const logNoteHelp = `log note appends a free-text note to the logbook, signed by the token of the
person writing it: an auditor's remark, a hand-over, "checked the safe, both
envelopes sealed". The person must be in the case's roster; --as names their
enrollment record (a file, or a custodian's name in the roster), and the
token must be theirs. Signing needs the PIN and a touch.

The text is one line (no newline or control character). Like every entry it
must not contain a secret.

EXAMPLES
   # a YubiKey (PIV)
   breakglass log note --as custodians/alice.card.json \
     --text "quarterly safe check: paper shares present" --ticket AUD-17

   # a PKCS#11 token: the record names it
   breakglass log note --as hsm-ops --text "HSM firmware updated to 3.1"

   # a virtual card (rehearsals), PIN from the environment
   BREAKGLASS_PIN=123456 breakglass log note --as alice --reader "Virtual PCD 00 00" \
     --text "rehearsal" --secret demo`

func logNoteCommand() *cli.Command {
	return &cli.Command{
		Name:        "note",
		Usage:       "append a free-text note, signed by your token",
		ArgsUsage:   " ",
		Description: logNoteHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "text", Usage: "the note, one line of `TEXT`"},
			&cli.StringFlag{Name: "as", Usage: "who writes it: an enrollment record `FILE`, or a custodian's name in the roster"},
			&cli.StringFlag{Name: "secret", Usage: "the sealed secret `NAME` the note is about"},
			&cli.StringFlag{Name: "ticket", Usage: "an incident, change or audit ticket `ID`"},
			&cli.StringFlag{Name: "reader", Usage: "use the PIV card in the PC/SC reader `NAME` (default: find it by serial)"},
			pinFileFlag,
		}, caseFlags()...),
		Action: runLogNote,
	}
}

func runLogNote(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("log note takes no arguments (got %q); quote the note: --text \"…\"", c.Args().First())
	}
	text, as := c.String("text"), c.String("as")
	if text == "" {
		return usageError("log note needs --text")
	}
	if as == "" {
		return usageError("log note needs --as NAME.card.json (whose token signs the note)")
	}
	cd, err := openCase(c)
	if err != nil {
		return err
	}
	l, err := cd.requireLog()
	if err != nil {
		return err
	}
	actor, err := cd.findActor(as)
	if err != nil {
		return err
	}
	name, err := actorName(actor)
	if err != nil {
		return err
	}
	e := logbook.Entry{Kind: logbook.KindNote, Reason: text, Ticket: c.String("ticket"), Secret: c.String("secret")}
	// Check the fields before anyone touches a card.
	dry := e
	dry.Origin, dry.Index, dry.Time, dry.Actor, dry.Key = l.Origin(), l.Size(), time.Now().UTC().Truncate(time.Second), name, actor.Fingerprint()
	if _, err := dry.MarshalText(); err != nil {
		return usageError("the note cannot be written: %v", err)
	}
	if err := cd.checkActor(actor); err != nil {
		return err
	}
	tok, err := openActorToken(c, actor)
	if err != nil {
		return err
	}
	defer tok.Close()
	infof("signing the note as %s (%s): enter the PIN and touch the token if asked", actor.Custodian.Name, tok.Info().Name())
	ck, err := cd.record(e, actor, tok.SigningKey())
	if err != nil {
		return err
	}
	infof("recorded note as entry %d of %s", ck.N-1, l.Origin())
	infof("new checkpoint: size %d, root %s", ck.N, base64.StdEncoding.EncodeToString(ck.Hash[:]))
	return nil
}

// findActor resolves --as: an enrollment record file, or the name of a
// custodian (or their signing name) in the case's roster.
func (cd *caseDir) findActor(as string) (*token.Record, error) {
	if _, err := os.Stat(as); err == nil || strings.HasSuffix(as, ".json") {
		return readRecordFile(as)
	}
	recs, err := cd.Records()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, r := range recs {
		if r.Keys == nil {
			continue
		}
		n, _ := actorName(r)
		if r.Custodian.Name == as || n == as {
			return r, nil
		}
		names = append(names, r.Custodian.Name)
	}
	hint := "the case has no enrollment records: put NAME.card.json files in " + cd.Dir + " or pass --as FILE"
	if len(names) > 0 {
		hint = "custodians with a token in the roster: " + strings.Join(names, ", ")
	}
	return nil, withHints(fmt.Errorf("--as %s: no such enrollment record file, and no custodian of that name in %s", as, cd.Dir), hint)
}

// openActorToken opens the token an enrollment record describes, PIV or
// PKCS#11, and checks that it holds the record's keys. PINs come from
// BREAKGLASS_PIN, --pin-file or the terminal (pinSource). For PIV, --reader
// (when the command has it) restricts the readers searched.
func openActorToken(c *cli.Context, r *token.Record) (token.Token, error) {
	label := r.Custodian.Name
	pin := pinSource(c, label+"'s token")
	var tok token.Token
	switch r.Token.Kind {
	case token.KindPIV:
		label = fmt.Sprintf("%s (card %s)", r.Custodian.Name, r.Token.Serial)
		pin = pinSource(c, label)
		t, err := piv.OpenRecord(r, piv.Selector{Reader: c.String("reader")}, pin)
		if err != nil {
			return nil, tokenOpenError(label, err)
		}
		tok = t
	case token.KindPKCS11:
		kx, err1 := hex.DecodeString(r.Keys.KeyAgreement.ID)
		sig, err2 := hex.DecodeString(r.Keys.Signing.ID)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("enrollment record of %s: key id is not hex: %v", r.Custodian.Name, err)
		}
		t, err := pkcs11.Open(r.Token.URI, pkcs11.Options{PIN: pin, KeyAgreementID: kx, SigningID: sig})
		if err != nil {
			return nil, tokenOpenError(label+"'s token "+r.Token.URI, err)
		}
		tok = t
	default:
		return nil, fmt.Errorf("%s is a %s custodian: only a PIV card or PKCS#11 token can sign", r.Custodian.Name, r.Token.Kind)
	}
	if err := r.Matches(tok); err != nil {
		tok.Close()
		return nil, withHints(err, "insert "+r.Custodian.Name+"'s own token")
	}
	return tok, nil
}

// tokenOpenError explains a token that could not be opened.
func tokenOpenError(label string, err error) error {
	switch {
	case errors.Is(err, token.ErrNotPresent):
		return withHints(fmt.Errorf("%s: %w", label, err), "insert the token (and check that pcscd is running), then try again")
	case errors.Is(err, token.ErrNotEnrolled):
		return withHints(fmt.Errorf("%s: %w", label, err), "this token was not enrolled with breakglass card enroll, or was reset")
	}
	return fmt.Errorf("%s: %w", label, err)
}
