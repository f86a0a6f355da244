package pkcs11

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/asn1"
	"testing"
)

// FuzzParseECPoint: a CKA_EC_POINT that parses is one of the two forms
// modules give — the uncompressed point DER-wrapped in an OCTET STRING, as
// PKCS#11 says, or the bare point — exactly, and names a P-256 point.
func FuzzParseECPoint(f *testing.F) {
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	raw := k.PublicKey().Bytes()
	wrapped, _ := asn1.Marshal(raw)
	f.Add(wrapped)
	f.Add(raw)
	f.Add(append(wrapped, 0))
	f.Add(append([]byte{0x04, 0x81, 0x41}, raw...)) // a BER long length
	f.Fuzz(func(t *testing.T, point []byte) {
		pub, err := parseECPoint(oidP256, point)
		if err != nil {
			return
		}
		b := pub.Bytes()
		der, _ := asn1.Marshal(b)
		if !bytes.Equal(point, b) && !bytes.Equal(point, der) {
			t.Fatalf("accepted %x, which is neither %x nor its OCTET STRING", point, b)
		}
		if _, err := parseECPoint([]byte{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, point); err == nil {
			t.Fatal("a P-384 OID was accepted")
		}
	})
}
