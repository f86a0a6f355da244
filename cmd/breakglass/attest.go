package main

// Which PIV cards a command trusts: the attestation roots (--roots) and
// the virtual card's test CA (--allow-virtual).

import (
	"crypto/x509"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/virtual"
)

// attestTrustFlags are --allow-virtual and --roots, read by attestTrustOf.
func attestTrustFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "allow-virtual", Usage: "accept virtual cards (test CA); for tests and rehearsals only"},
		&cli.StringFlag{Name: "roots", Usage: "extra attestation roots, PEM `FILE`"},
	}
}

// attestTrustOf is what the command trusts as the maker of a PIV card:
// Yubico's PIV roots (or --roots), and with --allow-virtual the virtual
// card's test CA.
func attestTrustOf(c *cli.Context) (piv.Trust, error) {
	roots, err := loadRoots(c.String("roots"))
	return attestTrust(c.Bool("allow-virtual"), roots), err
}

// attestTrust trusts roots (nil: Yubico's) and, with allowVirtual, the
// virtual card's test CA.
func attestTrust(allowVirtual bool, roots *x509.CertPool) piv.Trust {
	t := piv.Trust{Roots: roots}
	if allowVirtual {
		t.Virtual = virtualRoots
	}
	return t
}

// checkAttestation checks a PIV record's attestation chain; other kinds of
// token carry none. path names the record in the message.
func checkAttestation(r *token.Record, path string, t piv.Trust) error {
	if r.Token.Kind != token.KindPIV {
		return nil
	}
	if _, err := t.Verify(r); err != nil {
		hints := []string{"the card's attestation does not chain to Yubico's PIV root: it may not be a genuine YubiKey"}
		if t.Virtual == nil {
			hints = append(hints, "for virtual cards (tests, rehearsals only) add --allow-virtual")
		}
		return withHints(fmt.Errorf("%s (%s): %w", path, r.Custodian.Name, err), hints...)
	}
	return nil
}

// virtualRoots loads the virtual card's test CA without creating one: from
// $BREAKGLASS_VIRTUAL_CA (a directory), else the default directory.
func virtualRoots() (*x509.CertPool, error) {
	return virtual.TestRoots(os.Getenv("BREAKGLASS_VIRTUAL_CA"))
}

// loadRoots reads extra PEM roots for attestation (--roots).
func loadRoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--roots: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--roots: %s holds no PEM certificate", path)
	}
	return pool, nil
}
