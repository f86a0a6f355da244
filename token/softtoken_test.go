package token

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
)

// softToken is a software Token for tests of this package only; backends
// are tested on real stacks.
type softToken struct {
	info Info
	kx   *ecdh.PrivateKey
	sig  *ecdsa.PrivateKey
}

func newSoftToken(t testing.TB, serial string) *softToken {
	t.Helper()
	kx, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &softToken{
		info: Info{Kind: KindPIV, Serial: serial, URI: "piv:serial=" + serial + ";slot=82;sign-slot=83",
			Firmware: "5.7.1", KeyAgreementID: "82", SigningID: "83"},
		kx: kx, sig: sig,
	}
}

func (s *softToken) Info() Info                         { return s.info }
func (s *softToken) KeyAgreementKey() ecdh.KeyExchanger { return s.kx }
func (s *softToken) SigningKey() crypto.Signer          { return s.sig }
func (s *softToken) PINRetries() (int, error)           { return 3, nil }
func (s *softToken) Close() error                       { return nil }
