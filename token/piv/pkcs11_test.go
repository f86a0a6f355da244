package piv

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/pkcs11"
	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

const (
	ykcs11Module = "/usr/lib/x86_64-linux-gnu/libykcs11.so"
	openscModule = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
)

// TestPKCS11OverPIV opens a card enrolled through this package a second
// way, through Yubico's libykcs11 and OpenSC (PKCS#11 over PIV), and checks that both
// code paths derive the same ECDH secret, that the PKCS#11 path's
// signatures verify with the enrolled key, and that the record's challenge
// passes through them. Both modules number the retired slots 82, 83, … as key
// ids 05, 06, ….
func TestPKCS11OverPIV(t *testing.T) {
	for _, m := range []string{ykcs11Module, openscModule} {
		if _, err := os.Stat(m); err != nil {
			t.Fatalf("%v: apt-get install -y ykcs11 opensc-pkcs11, or run make test", err)
		}
	}
	c := vcardtest.Start(t, 1)[0]
	tok, att := enrollCard(t, c)
	rec, err := NewRecord(token.Custodian{Name: "alice"}, tok, att, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Sign(tok.SigningKey()); err != nil {
		t.Fatal(err)
	}
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	viaPIV, err := tok.KeyAgreementKey().ECDH(eph.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	tok.Close() // both paths want the card exclusively

	// OpenSC shows only 4 readers unless told otherwise.
	conf := t.TempDir() + "/opensc.conf"
	if err := os.WriteFile(conf, []byte("app default {\n\tpkcs11 {\n\t\tmax_virtual_slots = 64;\n\t\tslots_per_card = 1;\n\t}\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENSC_CONF", conf)
	for _, m := range []struct{ name, uri string }{
		{"libykcs11", fmt.Sprintf("pkcs11:serial=%d?module-path=%s", c.Serial, ykcs11Module)},
		{"opensc", (&token.URI{Scheme: "pkcs11", Path: []token.Attr{{Name: "slot-description", Value: c.Reader}},
			Query: []token.Attr{{Name: "module-path", Value: openscModule}}}).String()},
	} {
		t.Run(m.name, func(t *testing.T) {
			p, err := pkcs11.Open(m.uri, pkcs11.Options{PIN: pinFunc(newPIN), KeyAgreementID: []byte{0x05}, SigningID: []byte{0x06}})
			if err != nil {
				t.Fatalf("pkcs11.Open(%s): %v", m.uri, err)
			}
			defer p.Close()
			if err := rec.Matches(p); err != nil {
				t.Fatalf("%s sees other keys: %v", m.name, err)
			}
			viaPKCS11, err := p.KeyAgreementKey().ECDH(eph.PublicKey())
			if err != nil {
				t.Fatalf("ECDH through %s: %v", m.name, err)
			}
			if string(viaPKCS11) != string(viaPIV) {
				t.Fatalf("%s and piv-go derive different secrets", m.name)
			}
			d := sha256.Sum256([]byte("second code path"))
			sig, err := p.SigningKey().Sign(rand.Reader, d[:], crypto.SHA256)
			if err != nil {
				t.Fatalf("Sign through %s: %v", m.name, err)
			}
			if !ecdsa.VerifyASN1(p.SigningKey().Public().(*ecdsa.PublicKey), d[:], sig) {
				t.Fatalf("%s signature does not verify", m.name)
			}
			if err := rec.Challenge(p); err != nil {
				t.Fatalf("Challenge through %s: %v", m.name, err)
			}
		})
	}
}
