package pkcs11

import (
	"crypto/ecdh"
	"encoding/hex"
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/breakglass/breakglass/token"
)

// A PublicKey is a breakglass public key a token shows without a login.
type PublicKey struct {
	Label       string `json:"label"`       // LabelKeyAgreement or LabelSigning
	ID          string `json:"id"`          // CKA_ID, hex
	Fingerprint string `json:"fingerprint"` // token.Fingerprint, as enrollment records show it
}

// pinState says what a token's flags tell of its user PIN. PKCS#11 has no
// count of tries left, only these flags.
func pinState(flags uint) string {
	switch {
	case flags&p11.CKF_USER_PIN_INITIALIZED == 0:
		return "not initialised"
	case flags&p11.CKF_USER_PIN_LOCKED != 0:
		return "locked"
	case flags&p11.CKF_USER_PIN_FINAL_TRY != 0:
		return "final try"
	case flags&p11.CKF_USER_PIN_COUNT_LOW != 0:
		return "count low"
	case flags&p11.CKF_USER_PIN_TO_BE_CHANGED != 0:
		return "to be changed"
	}
	return "ok"
}

// breakglassKeys lists the breakglass public-key objects of the token in
// slot, in a read-only session without a login (public keys are public
// objects). A token that keeps them private shows none; that is not an
// error.
func breakglassKeys(m *module, slot uint) []PublicKey {
	s, err := m.ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		return nil
	}
	defer m.ctx.CloseSession(s)
	var out []PublicKey
	for _, label := range []string{LabelKeyAgreement, LabelSigning} {
		if err := m.ctx.FindObjectsInit(s, []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
			p11.NewAttribute(p11.CKA_LABEL, label),
		}); err != nil {
			continue
		}
		objs, _, err := m.ctx.FindObjects(s, 16)
		m.ctx.FindObjectsFinal(s)
		if err != nil {
			continue
		}
		for _, h := range objs {
			attrs, err := m.ctx.GetAttributeValue(s, h, []*p11.Attribute{
				p11.NewAttribute(p11.CKA_ID, nil),
				p11.NewAttribute(p11.CKA_EC_PARAMS, nil),
				p11.NewAttribute(p11.CKA_EC_POINT, nil),
			})
			if err != nil || len(attrs) != 3 {
				continue
			}
			k := PublicKey{Label: label, ID: hex.EncodeToString(attrs[0].Value)}
			if pub, err := parseECPoint(attrs[1].Value, attrs[2].Value); err == nil {
				k.Fingerprint = fingerprint(pub)
			}
			out = append(out, k)
		}
	}
	return out
}

func fingerprint(pub *ecdh.PublicKey) string {
	fp, err := token.Fingerprint(pub)
	if err != nil {
		return ""
	}
	return fp
}

func firmware(v p11.Version) string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }
