package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
)

const cardVerifyHelp = `Checks enrollment records and prints what they prove: the self-signature
(the token's signing key signed the record, so the custodian had the token),
and for a PIV card the attestation chain: the keys were generated on the card,
with the stated PIN and touch policies, serial and firmware. Attestations are
checked against Yubico's PIV root CA (built in), or against the roots in
--roots FILE. A virtual card's test CA is accepted only with --allow-virtual,
and the output then says plainly that the keys are not on a hardware token.

A record edited by hand fails, naming the field that changed.

EXAMPLES
   breakglass card verify alice.card.json bob.card.json
   breakglass card verify --roots yubico-piv-ca.pem alice.card.json
   breakglass card verify --allow-virtual rehearsal/*.card.json`

func cardVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:        "verify",
		Usage:       "check enrollment records: self-signature and attestation",
		ArgsUsage:   "FILE...",
		Description: cardVerifyHelp,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "allow-virtual", Usage: "accept virtual cards (tests and rehearsals only)"},
			&cli.StringFlag{Name: "roots", Usage: "verify attestations against the PEM roots in `FILE` instead of Yubico's"},
		},
		Action: runCardVerify,
	}
}

func runCardVerify(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageError("card verify needs at least one FILE")
	}
	trust, err := attestTrustOf(c)
	if err != nil {
		return err
	}
	failed := 0
	var last error
	for _, path := range c.Args().Slice() {
		if err := verifyOne(path, trust); err != nil {
			failed++
			last = err
			fmt.Printf("%s: FAILED: %v\n", path, err)
		}
	}
	switch {
	case failed == 1 && c.NArg() == 1:
		return last
	case failed > 0:
		return withHints(fmt.Errorf("%d of %d records failed verification", failed, c.NArg()),
			"the records that failed are not proof of anything: get unmodified copies, or re-enroll")
	}
	return nil
}

// verifyOne checks the record at path and prints what it proves; trust
// says which attestation roots vouch for a PIV card.
func verifyOne(path string, trust piv.Trust) error {
	rec, err := readRecord(path)
	if err != nil {
		return err
	}
	if err := rec.Verify(); err != nil {
		return explainToken(fmt.Errorf("%s: %w", path, err))
	}
	fmt.Printf("%s: ok\n", path)
	who := rec.Custodian.Name
	if rec.Custodian.Email != "" {
		who += " <" + rec.Custodian.Email + ">"
	}
	if rec.Custodian.Team != "" {
		who += ", team " + rec.Custodian.Team
	}
	fmt.Printf("  custodian     %s\n", who)
	fmt.Printf("  enrolled at   %s\n", rec.EnrolledAt)
	switch rec.Token.Kind {
	case token.KindPaper:
		loc := "(not stated)"
		if rec.Paper != nil && rec.Paper.Location != "" {
			loc = rec.Paper.Location
		}
		fmt.Printf("  token         paper share, kept at %s\n", loc)
		fmt.Printf("  proven        nothing: a paper record carries no keys and no signature\n")
		return nil
	case token.KindPKCS11:
		fmt.Printf("  token         pkcs11 %s\n", rec.Token.URI)
		fmt.Printf("  proven        self-signature by the token's signing key (no attestation for PKCS#11 tokens)\n")
	case token.KindPIV:
		proof, err := trust.Verify(rec)
		if err != nil {
			hints := []string{"the attestation does not prove the keys were made on a genuine YubiKey"}
			if trust.Virtual == nil {
				hints = append(hints, "for virtual cards (tests and rehearsals only) add --allow-virtual")
			}
			return withHints(fmt.Errorf("%s: %w", path, err), hints...)
		}
		fmt.Printf("  token         piv serial %d, firmware %s, %s, slots %s/%s\n", proof.Serial, proof.Firmware, proof.FormFactor, rec.Keys.KeyAgreement.ID, rec.Keys.Signing.ID)
		if proof.Virtual {
			fmt.Printf("  proven        keys generated on a VIRTUAL card (breakglass test CA): NOT a hardware token\n")
		} else {
			fmt.Printf("  proven        keys generated on the card (attestation chain verified), self-signature\n")
		}
		fmt.Printf("  policies      key agreement: PIN %s, touch %s; signing: PIN %s, touch %s\n",
			rec.Keys.KeyAgreement.PINPolicy, rec.Keys.KeyAgreement.TouchPolicy, rec.Keys.Signing.PINPolicy, rec.Keys.Signing.TouchPolicy)
	}
	fmt.Printf("  fingerprints  key agreement %s, signing %s\n", rec.Keys.KeyAgreement.Fingerprint, rec.Keys.Signing.Fingerprint)
	return nil
}
