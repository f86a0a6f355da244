package main

// Enrollment records (NAME.card.json) as the commands read them.

import (
	"crypto/x509"
	"fmt"
	"os"
	"strings"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/token"
)

// loadRecord reads and verifies an enrollment record: its self-signature
// and, for a PIV card, its attestation against Yubico's roots or, with
// allowVirtual, the virtual card's test CA.
func loadRecord(path string, allowVirtual bool, roots *x509.CertPool) (*token.Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, withHints(fmt.Errorf("cannot read enrollment record: %v", err),
			"custodians make their record with breakglass card enroll; pass NAME.card.json")
	}
	r, err := token.ParseRecord(b)
	if err == nil {
		err = r.Verify()
	}
	if err != nil {
		return nil, withHints(fmt.Errorf("%s: %w", path, err),
			"the record was edited or damaged: ask the custodian for a fresh copy, or re-enroll")
	}
	if err := checkAttestation(r, path, attestTrust(allowVirtual, roots)); err != nil {
		return nil, err
	}
	return r, nil
}

// readRecord reads and parses a record file, naming the file in errors.
func readRecord(path string) (*token.Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, withHints(fmt.Errorf("cannot read enrollment record: %v", atomicfile.UnwrapPath(err)),
			"custodians make their record with breakglass card enroll; pass NAME.card.json")
	}
	r, err := token.ParseRecord(b)
	if err != nil {
		return nil, explainToken(fmt.Errorf("%s: %w", path, err))
	}
	return r, nil
}

// recordFileName is the default --out for a custodian.
func recordFileName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "custodian.card.json"
	}
	return b.String() + ".card.json"
}
