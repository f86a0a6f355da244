package virtual

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// Yubico's PIV attestation extensions (OID arc 1.3.6.1.4.1.41482.3).
var (
	oidFirmware   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 3}
	oidSerial     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 7}
	oidPolicy     = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 8}
	oidFormFactor = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 41482, 3, 9}
)

// formFactorUSBAKeychain is the form factor a YubiKey 5 NFC reports.
const formFactorUSBAKeychain = 0x01

// attest returns the DER attestation certificate for the key in slot ref,
// signed by the card's F9 key, like INS F9 on a YubiKey.
func (c *Card) attest(ref byte) ([]byte, error) {
	k := c.st.Keys[ref]
	if k == nil || k.Origin != originGenerated || ref == keyAttestation {
		return nil, swError(swIncorrectData)
	}
	priv, err := k.ecdsaKey()
	if err != nil {
		return nil, err
	}
	f9 := c.st.Keys[keyAttestation]
	signer, err := f9.ecdsaKey()
	if err != nil {
		return nil, err
	}
	issuer, err := c.attestationCert()
	if err != nil {
		return nil, err
	}
	serialDER, err := asn1.Marshal(int64(c.st.Serial))
	if err != nil {
		return nil, err
	}
	fw := c.st.Firmware
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: fmt.Sprintf("YubiKey PIV Attestation %02x", ref)},
		NotBefore:    issuer.NotBefore,
		NotAfter:     issuer.NotAfter,
		ExtraExtensions: []pkix.Extension{
			{Id: oidFirmware, Value: []byte{fw[0], fw[1], fw[2]}},
			{Id: oidSerial, Value: serialDER},
			{Id: oidPolicy, Value: []byte{k.PINPolicy, k.TouchPolicy}},
			{Id: oidFormFactor, Value: []byte{c.st.FormFactor}},
		},
	}
	return x509.CreateCertificate(rand.Reader, tmpl, issuer, &priv.PublicKey, signer)
}

// attestationCert parses the certificate stored in object 5FFF01.
func (c *Card) attestationCert() (*x509.Certificate, error) {
	obj := c.st.Objects[objAttestationCert]
	m, _, err := parseTLVs(obj)
	if err != nil || m[0x70] == nil {
		return nil, fmt.Errorf("attestation certificate object is malformed")
	}
	return x509.ParseCertificate(m[0x70])
}
