package piv

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

// TestTrust: what a verifier trusts decides whether a virtual card's
// attestation proves anything, and the proof says when only the virtual
// test CA vouched for it.
func TestTrust(t *testing.T) {
	c := vcardtest.Start(t, 1)[0]
	tok, att := enrollCard(t, c)
	rec, err := NewRecord(token.Custodian{Name: "alice"}, tok, att, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Sign(tok.SigningKey()); err != nil {
		t.Fatal(err)
	}
	vroots := vcardtest.Roots(t)
	virtualCA := func() (*x509.CertPool, error) { return vroots, nil }
	noCA := func() (*x509.CertPool, error) {
		return nil, errors.New("no virtual test CA: no such file or directory")
	}
	for _, c := range []struct {
		name        string
		trust       Trust
		wantVirtual bool
		wantErr     string // "" for a proof
	}{
		{"Yubico's roots", Trust{}, false, "does not chain to a trusted root"},
		{"other roots", Trust{Roots: x509.NewCertPool()}, false, "does not chain to a trusted root"},
		{"the test CA as a root", Trust{Roots: vroots}, false, ""},
		{"virtual allowed", Trust{Virtual: virtualCA}, true, ""},
		{"virtual allowed beside other roots", Trust{Roots: x509.NewCertPool(), Virtual: virtualCA}, true, ""},
		{"virtual allowed, no test CA", Trust{Virtual: noCA}, false, "no virtual test CA"},
		{"virtual allowed, another test CA", Trust{Virtual: func() (*x509.CertPool, error) { return x509.NewCertPool(), nil }}, false, "does not chain to a trusted root"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := c.trust.Verify(rec)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Verify = %+v, %v; want an error with %q", p, err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Virtual != c.wantVirtual || p.Serial == 0 {
				t.Fatalf("proof %+v, want Virtual %v", p, c.wantVirtual)
			}
		})
	}
	// A record the card did not attest fails with any trust.
	forged := *rec
	keys := *rec.Keys
	keys.Signing.PINPolicy = "never"
	forged.Keys = &keys
	if _, err := (Trust{Virtual: virtualCA}).Verify(&forged); err == nil || !strings.Contains(err.Error(), "pin-policy") {
		t.Fatalf("a record with an unattested policy verified: %v", err)
	}
}
