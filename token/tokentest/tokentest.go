// Package tokentest holds checks that the tests of every token backend
// share.
package tokentest

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/breakglass/breakglass/token"
)

// CheckKeys proves that tok holds working keys: an ECDH on the token with a
// fresh ephemeral key equals the same ECDH in software, and a signature by
// the token verifies with its public key.
func CheckKeys(t testing.TB, tok token.Token) {
	t.Helper()
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tok.KeyAgreementKey().ECDH(eph.PublicKey())
	if err != nil {
		t.Fatalf("ECDH on the token: %v", err)
	}
	want, err := eph.ECDH(tok.KeyAgreementKey().PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("ECDH on the token differs from software ECDH")
	}
	d := sha256.Sum256([]byte("breakglass tap"))
	sig, err := tok.SigningKey().Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	pub, ok := tok.SigningKey().Public().(*ecdsa.PublicKey)
	if !ok {
		t.Fatalf("signing key is %T, want an ECDSA key", tok.SigningKey().Public())
	}
	if !ecdsa.VerifyASN1(pub, d[:], sig) {
		t.Fatal("the token's signature does not verify")
	}
}

// SoftRecord is the signed enrollment record of a software "PKCS#11
// token" named name, with fresh keys, and its signing key: for tests of
// what signs with a record (the logbook, the case), not of a token.
func SoftRecord(t testing.TB, name string) (*token.Record, *ecdsa.PrivateKey) {
	t.Helper()
	kx, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sig, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	info := token.Info{Kind: token.KindPKCS11, Serial: "soft-" + name, Label: name,
		URI: "pkcs11:token=" + name + "?module-path=/nonexistent/soft.so", KeyAgreementID: "01", SigningID: "02"}
	r, err := token.NewRecord(token.Custodian{Name: name}, info, &kx.PublicKey, &sig.PublicKey, time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Sign(sig); err != nil {
		t.Fatal(err)
	}
	return r, sig
}
