package piv

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/breakglass/breakglass/token"
)

// Proof is what a verified PIV attestation proves about an enrollment.
type Proof struct {
	Serial   uint32
	Firmware string
	// FormFactor as the attestation states it ("USB-A Keychain", …).
	FormFactor string
	// KeyAgreement and Signing hold each key's attested slot and policies.
	KeyAgreement, Signing *piv.Attestation
	// Virtual: the chain ends at the virtual card's test CA (Trust.Virtual),
	// not at a maker's root; the keys are not on a hardware token.
	Virtual bool
}

// Trust is what a verifier accepts as the maker of a PIV card.
type Trust struct {
	// Roots are the attestation roots (nil: Yubico's PIV roots).
	Roots *x509.CertPool
	// Virtual, when not nil, gives the virtual card's test CA, accepted
	// too (tests and rehearsals only). It is called only for a card that
	// does not chain to Roots.
	Virtual func() (*x509.CertPool, error)
}

// Verify is VerifyAttestation against what t trusts: Roots first, then
// (if set) the virtual card's test CA, in which case the Proof says
// Virtual. When neither vouches for the card, the error is the last one
// tried: the virtual CA's (or why it could not be loaded) when t accepts
// one.
func (t Trust) Verify(r *token.Record) (*Proof, error) {
	p, err := VerifyAttestation(r, t.Roots)
	if err != nil && t.Virtual != nil {
		var vroots *x509.CertPool
		if vroots, err = t.Virtual(); err == nil {
			if p, err = VerifyAttestation(r, vroots); err == nil {
				p.Virtual = true
			}
		}
	}
	return p, err
}

// VerifyAttestation checks the attestation chain of a PIV enrollment record:
// each slot certificate is signed by the card's attestation key (f9), whose
// certificate chains to roots, or to Yubico's PIV roots (embedded in
// piv-go) when roots is nil. It then checks that the attested public keys,
// serial, firmware, slots and policies are the ones the record states; a
// mismatch is a *token.FieldError naming the field.
//
// It does not check the self-signature; call r.Verify first.
func VerifyAttestation(r *token.Record, roots *x509.CertPool) (*Proof, error) {
	if r.Token.Kind != token.KindPIV || r.Keys == nil {
		return nil, fmt.Errorf("attestation: %s's record is not for a PIV card", r.Custodian.Name)
	}
	inter, err := parseCert(r.Keys.AttestationIntermediate, "keys.attestation-intermediate")
	if err != nil {
		return nil, err
	}
	p := &Proof{}
	for _, k := range []struct {
		field string
		key   token.RecordKey
		out   **piv.Attestation
	}{
		{"keys.key-agreement", r.Keys.KeyAgreement, &p.KeyAgreement},
		{"keys.signing", r.Keys.Signing, &p.Signing},
	} {
		cert, err := parseCert(k.key.Attestation, k.field+".attestation")
		if err != nil {
			return nil, err
		}
		var a *piv.Attestation
		if roots == nil {
			a, err = piv.Verify(inter, cert)
		} else {
			a, err = (&piv.Verifier{Roots: roots}).Verify(inter, cert)
		}
		if err != nil {
			return nil, &token.FieldError{Field: k.field + ".attestation", Reason: "does not chain to a trusted root: " + err.Error()}
		}
		der, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
		if err != nil || base64.StdEncoding.EncodeToString(der) != k.key.PublicKey {
			return nil, &token.FieldError{Field: k.field + ".public-key", Reason: "is not the attested key"}
		}
		if got := strconv.FormatUint(uint64(a.Slot.Key), 16); got != k.key.ID {
			return nil, &token.FieldError{Field: k.field + ".id", Reason: fmt.Sprintf("the attestation is for slot %s", got)}
		}
		if got := PINPolicyName(a.PINPolicy); got != k.key.PINPolicy {
			return nil, &token.FieldError{Field: k.field + ".pin-policy", Reason: fmt.Sprintf("the attested PIN policy is %s", got)}
		}
		if got := TouchPolicyName(a.TouchPolicy); got != k.key.TouchPolicy {
			return nil, &token.FieldError{Field: k.field + ".touch-policy", Reason: fmt.Sprintf("the attested touch policy is %s", got)}
		}
		if got := strconv.FormatUint(uint64(a.Serial), 10); got != r.Token.Serial {
			return nil, &token.FieldError{Field: "token.serial", Reason: fmt.Sprintf("the attested serial is %s", got)}
		}
		fw := fmt.Sprintf("%d.%d.%d", a.Version.Major, a.Version.Minor, a.Version.Patch)
		if fw != r.Token.Firmware {
			return nil, &token.FieldError{Field: "token.firmware", Reason: fmt.Sprintf("the attested firmware is %s", fw)}
		}
		*k.out = a
		p.Serial, p.Firmware, p.FormFactor = a.Serial, fw, a.Formfactor.String()
	}
	return p, nil
}

func parseCert(b64, field string) (*x509.Certificate, error) {
	if b64 == "" {
		return nil, &token.FieldError{Field: field, Reason: "missing"}
	}
	der, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, &token.FieldError{Field: field, Reason: "not base64"}
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, &token.FieldError{Field: field, Reason: "not a certificate: " + err.Error()}
	}
	return c, nil
}
