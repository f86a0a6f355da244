package main

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/enrolled"
)

// openRecordToken opens the token an enrollment record describes, PIV or
// PKCS#11, and checks that it holds the record's keys (package enrolled,
// with the command's Opener, which remembers PINs and readers). It is the
// one way commands open an enrolled person's token: to sign a logbook
// entry (log note, seal --as, unseal --operator, aws --as) or to test it
// (card test).
//
// PINs come from BREAKGLASS_PIN, --pin-file or the terminal (pinSource).
// A PIV card is looked for on the reader --reader names when the command
// has a single-valued --reader, else on any reader; a PKCS#11 token may
// take its module from --module. When another token is found instead, the
// error names its owner if rosterDir ("" for none) holds their record.
// Errors name the token; explainToken turns them into advice.
//
// purpose says what the token is opened for, in the PIN prompt: "PIN for
// alice (card 1234) to sign the unseal-start of prod (INC-4711)".
func openRecordToken(c *cli.Context, r *token.Record, rosterDir, purpose string) (token.Token, error) {
	tok, err := tokenOpener(c).Open(r, enrolled.Options{
		PIN:                 pinSource(c, withPurpose(enrolled.Label(r), purpose)),
		Reader:              singleReader(c),
		Module:              c.String("module"),
		ConfirmUnknownTries: confirmUnknownTries(c),
		RosterDir:           rosterDir,
	})
	var me *enrolled.MismatchError
	if errors.As(err, &me) {
		return nil, withHints(me, "insert "+r.Custodian.Name+"'s own token")
	}
	return tok, err
}

// openerKey is where the command's enrolled.Opener lives in the app's
// metadata.
const openerKey = "breakglass/token-opener"

// tokenOpener is the command's enrolled.Opener: one per command (run
// makes it and wipes its PINs when the command ends).
func tokenOpener(c *cli.Context) *enrolled.Opener {
	if o, ok := c.App.Metadata[openerKey].(*enrolled.Opener); ok {
		return o
	}
	o := &enrolled.Opener{}
	if c.App.Metadata == nil {
		c.App.Metadata = map[string]any{}
	}
	c.App.Metadata[openerKey] = o
	return o
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
		infof("%s: touch the card each time it blinks (twice) %s", enrolled.Label(r), purpose)
	case "cached":
		infof("%s: touch the card if it blinks %s", enrolled.Label(r), purpose)
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
