package main

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

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
// --module. Errors name the token; explainToken turns them into advice.
func openRecordToken(c *cli.Context, r *token.Record, rosterDir string) (token.Token, error) {
	var tok token.Token
	switch r.Token.Kind {
	case token.KindPIV:
		label := fmt.Sprintf("%s (card %s)", r.Custodian.Name, r.Token.Serial)
		sel := piv.Selector{Reader: singleReader(c)}
		t, err := piv.OpenRecord(r, sel, pinSource(c, label))
		if errors.Is(err, token.ErrNotPresent) {
			err = wrongCard(r, sel, rosterDir, err)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		tok = t
	case token.KindPKCS11:
		label := r.Custodian.Name + "'s token " + r.Token.URI
		kx, err1 := hex.DecodeString(r.Keys.KeyAgreement.ID)
		sig, err2 := hex.DecodeString(r.Keys.Signing.ID)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("enrollment record of %s: %w", r.Custodian.Name, &token.FieldError{Field: "keys.*.id", Reason: "not hex"})
		}
		t, err := pkcs11.Open(r.Token.URI, pkcs11.Options{Module: c.String("module"), PIN: pinSource(c, label),
			KeyAgreementID: kx, SigningID: sig})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", label, err)
		}
		tok = t
	default:
		return nil, fmt.Errorf("%s is a %s custodian: there is no token to open (only a PIV card or PKCS#11 token can sign)", r.Custodian.Name, r.Token.Kind)
	}
	if err := r.Matches(tok); err != nil {
		tok.Close()
		return nil, withHints(err, "insert "+r.Custodian.Name+"'s own token")
	}
	return tok, nil
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
