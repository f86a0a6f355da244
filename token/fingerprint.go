package token

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
)

// Fingerprint is the short, stable name of a public key shown to humans: the
// first 8 bytes of SHA-256 over the key's DER SubjectPublicKeyInfo, in hex,
// in groups of four digits ("3f2a 91c0 7b44 e1d2").
func Fingerprint(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("fingerprint: %v", err)
	}
	return fingerprintDER(der), nil
}

func fingerprintDER(der []byte) string {
	sum := sha256.Sum256(der)
	h := hex.EncodeToString(sum[:8])
	return strings.Join([]string{h[0:4], h[4:8], h[8:12], h[12:16]}, " ")
}

// ECDHPublicKey converts a P-256 ECDSA public key to its ECDH form.
func ECDHPublicKey(pub crypto.PublicKey) (*ecdh.PublicKey, error) {
	switch k := pub.(type) {
	case *ecdh.PublicKey:
		if k.Curve() != ecdh.P256() {
			return nil, fmt.Errorf("key-agreement key is not P-256")
		}
		return k, nil
	case *ecdsa.PublicKey:
		e, err := k.ECDH()
		if err != nil {
			return nil, err
		}
		if e.Curve() != ecdh.P256() {
			return nil, fmt.Errorf("key-agreement key is not P-256")
		}
		return e, nil
	}
	return nil, fmt.Errorf("unsupported public key type %T", pub)
}

// ECDSAPublicKey converts a P-256 ECDH public key to its ECDSA form.
func ECDSAPublicKey(pub *ecdh.PublicKey) (*ecdsa.PublicKey, error) {
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pub.Bytes())
}
