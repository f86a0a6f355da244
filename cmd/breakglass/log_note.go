package main

import (
	"encoding/base64"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
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
			&cli.StringFlag{Name: "secret", Usage: "the sealed secret `NAME` the note is about"},
		}, signedEntryFlags()...),
		Action: runLogNote,
	}
}

// signedEntryFlags are the flags of log note and log revoke: who signs the
// entry, the ticket, where their card is, and the case.
func signedEntryFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "as", Usage: "who signs the entry: an enrollment record `FILE`, or a custodian's name in the roster"},
		&cli.StringFlag{Name: "ticket", Usage: "an incident, change or audit ticket `ID`"},
		&cli.StringFlag{Name: "reader", Usage: "use the PIV card in the PC/SC reader `NAME` (default: find it by serial)"},
		pinFileFlag, pinTriesUnknownFlag,
	}, caseFlags()...)
}

func runLogNote(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c, `quote the note: --text "…"`)
	}
	text, as := c.String("text"), c.String("as")
	if text == "" {
		return usageError("log note needs --text")
	}
	if as == "" {
		return usageError("log note needs --as NAME.card.json (whose token signs the note)")
	}
	e := logbook.Entry{Kind: logbook.KindNote, Reason: text, Ticket: c.String("ticket"), Secret: c.String("secret")}
	cd, l, err := openRequiredLog(c)
	if err != nil {
		return err
	}
	return logPersonal(c, cd, l, e, as)
}

// logPersonal appends e, signed by the token of the roster person as
// names, after checking the entry's fields before anyone touches a card. It
// is log note and log revoke.
func logPersonal(c *cli.Context, cd *caseDir, l *logbook.Log, e logbook.Entry, as string) error {
	actor, err := cd.person(as)
	if err != nil {
		return err
	}
	name, err := actorName(actor)
	if err != nil {
		return err
	}
	dry := e
	dry.Origin, dry.Index, dry.Time, dry.Actor, dry.Key = l.Origin(), l.Size(), time.Now().UTC().Truncate(time.Second), name, actor.Fingerprint()
	if _, err := dry.MarshalText(); err != nil {
		return usageError("the %s cannot be written: %v", e.Kind, err)
	}
	if err := cd.checkActor(actor); err != nil {
		return err
	}
	tok, err := openRecordToken(c, actor, cd.Dir, signPurpose(e))
	if err != nil {
		return explainToken(err)
	}
	defer tok.Close()
	infof("signing the %s as %s (%s): enter the PIN and touch the token if asked", e.Kind, actor.Custodian.Name, tok.Info().Name())
	ck, err := cd.logEntry(e, actor, tok.SigningKey())
	if err != nil {
		return err
	}
	infof("recorded %s as entry %d of %s", e.Kind, ck.N-1, l.Origin())
	infof("new checkpoint: size %d, root %s", ck.N, base64.StdEncoding.EncodeToString(ck.Hash[:]))
	return nil
}
