package virtual_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/breakglass/breakglass/token/virtual"
	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

// PKCS#11 modules of Debian 12 that must accept the virtual card as a
// YubiKey: OpenSC's PIV driver (0.23) and Yubico's ykcs11 (2.2.0). Both build
// their key objects from the certificates in the slots, so the test stores
// one next to each key, as `yubico-piv-tool -a selfsign` would.
var pkcs11Modules = []struct {
	name, path, pkg string
	token           []string // in the token's description (-L)
	labels          []string // certificate labels of slots 9a and 82
}{
	{"opensc", "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "opensc-pkcs11",
		[]string{"token manufacturer : piv_II", "token model        : PKCS#15 emulated"},
		[]string{"Certificate for PIV Authentication", "Retired Certificate for Key Management 1"}},
	{"ykcs11", "/usr/lib/x86_64-linux-gnu/libykcs11.so", "ykcs11",
		[]string{"token label        : YubiKey PIV #24681357", "firmware version   : 5.43", "serial num         : 24681357"},
		[]string{"X.509 Certificate for PIV Authentication", "X.509 Certificate for Retired Key 1"}},
}

// openscConf is an OpenSC configuration for the tests. OpenSC's PKCS#11
// module offers 16 virtual slots by default, 4 per reader, so it shows only
// the first 4 PC/SC readers and finds no token on the vpcd readers the tests
// use (readers.sh configures 16); a YubiKey in a fifth reader would be just as
// invisible. Raising max_virtual_slots changes which readers OpenSC looks at,
// not how it treats the card.
const openscConf = `app default {
	framework pkcs15 {
	}
}
app opensc-pkcs11 {
	pkcs11 {
		max_virtual_slots = 64;
	}
}
`

// A p11 runs OpenSC's pkcs11-tool with one module on the token in one reader.
type p11 struct {
	module, reader string
	env            []string
}

func newP11(t *testing.T, module, reader string) p11 {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "opensc.conf")
	if err := os.WriteFile(conf, []byte(openscConf), 0o600); err != nil {
		t.Fatal(err)
	}
	return p11{module: module, reader: reader, env: append(os.Environ(), "OPENSC_CONF="+conf)}
}

// run runs pkcs11-tool with args and returns its output, failing the test
// if it fails.
func (p p11) run(t *testing.T, args ...string) string {
	t.Helper()
	args = append([]string{"--module", p.module, "--slot-description", p.reader}, args...)
	cmd := exec.Command("pkcs11-tool", args...)
	cmd.Env = p.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func needPKCS11Tools(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("pkcs11-tool"); err != nil {
		t.Fatal("pkcs11-tool is missing: apt-get install opensc (make test does it)")
	}
	for _, m := range pkcs11Modules {
		if _, err := os.Stat(m.path); err != nil {
			t.Fatalf("%s is missing: apt-get install %s (make test does it)", m.path, m.pkg)
		}
	}
}

// cardKey is a key generated on the card by piv-go, with a self-signed
// certificate (signed on the card) in its slot.
type cardKey struct {
	slot piv.Slot
	id   string // CKA_ID both modules give the slot's objects
	pub  *ecdsa.PublicKey
}

// generateWithCert generates a P-256 key in slot and stores a certificate for
// it, signed by the key itself on the card.
func generateWithCert(t *testing.T, yk *piv.YubiKey, slot piv.Slot, key piv.Key, id string) cardKey {
	t.Helper()
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, slot, key)
	if err != nil {
		t.Fatalf("generating a key in slot %v: %v", slot, err)
	}
	priv, err := yk.PrivateKey(slot, pub, piv.KeyAuth{PIN: piv.DefaultPIN})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(slot.Key)),
		Subject:      pkix.Name{CommonName: "breakglass interop " + slot.String()},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatalf("self-signing on the card: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := yk.SetCertificate(piv.DefaultManagementKey, slot, cert); err != nil {
		t.Fatalf("storing the certificate of slot %v: %v", slot, err)
	}
	return cardKey{slot: slot, id: id, pub: pub.(*ecdsa.PublicKey)}
}

func uncompressed(pub *ecdsa.PublicKey) string {
	k, err := pub.ECDH()
	if err != nil {
		panic(err)
	}
	return hex.EncodeToString(k.Bytes())
}

// TestPKCS11Modules drives the card through OpenSC's and Yubico's PKCS#11
// modules: both must find the token, list the keys piv-go generated, sign
// with one (verified here) and derive the same ECDH secret as Go.
func TestPKCS11Modules(t *testing.T) {
	needPKCS11Tools(t)
	// Firmware 5.4.3 has a 3DES management key, which Debian 12's
	// yubico-piv-tool (2.2.0) needs to write the key history below.
	c := vcardtest.Start(t, 1, vcardtest.WithSerial(24681357), vcardtest.WithFirmware(virtual.Firmware543))[0]

	yk, err := piv.Open(c.Reader)
	if err != nil {
		t.Fatal(err)
	}
	retired, _ := piv.RetiredKeyManagementSlot(0x82)
	sign := generateWithCert(t, yk, piv.SlotAuthentication,
		piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyNever}, "01")
	agree := generateWithCert(t, yk, retired,
		piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyAlways}, "05")
	yk.Close() // piv-go holds the card exclusively

	// OpenSC 0.23 looks at retired slots only when the Key History object
	// (SP 800-73-4 part 1, 3.3.3) counts keys with on-card certificates, and
	// a YubiKey keeps no key history by itself: whoever fills retired slots
	// writes it, as here (C1 keysWithOnCardCerts 1, C2 keysWithOffCardCerts 0,
	// FE error detection code). ykcs11 finds retired keys without it.
	history := filepath.Join(t.TempDir(), "history")
	if err := os.WriteFile(history, []byte{0xC1, 0x01, 0x01, 0xC2, 0x01, 0x00, 0xFE, 0x00}, 0o600); err != nil {
		t.Fatal(err)
	}
	ykpiv(t, c.Reader, "-a", "write-object", "--id", "0x5FC10C", "-f", "binary", "-i", history)

	for _, m := range pkcs11Modules {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			p := newP11(t, m.path, c.Reader)

			list := p.run(t, "--list-token-slots")
			if !strings.Contains(list, c.Reader) {
				t.Fatalf("no token in %q:\n%s", c.Reader, list)
			}
			for _, want := range m.token {
				if !strings.Contains(list, want) {
					t.Errorf("token description lacks %q:\n%s", want, list)
				}
			}
			objects := p.run(t, "--list-objects")
			for _, want := range append(m.labels, uncompressed(sign.pub), uncompressed(agree.pub)) {
				if !strings.Contains(objects, want) {
					t.Errorf("objects lack %q:\n%s", want, objects)
				}
			}
			withKeys := p.run(t, "--login", "--pin", piv.DefaultPIN, "--list-objects", "--type", "privkey")
			for _, id := range []string{sign.id, agree.id} {
				if !strings.Contains(withKeys, "ID:         "+id) {
					t.Errorf("no private key with ID %s:\n%s", id, withKeys)
				}
			}

			// ECDSA over a SHA-256 digest with the 9a key.
			msg := []byte("breakglass " + m.name)
			digest := sha256.Sum256(msg)
			in, sigFile := filepath.Join(dir, "digest"), filepath.Join(dir, "sig")
			if err := os.WriteFile(in, digest[:], 0o600); err != nil {
				t.Fatal(err)
			}
			p.run(t, "--login", "--pin", piv.DefaultPIN, "--sign", "--mechanism", "ECDSA",
				"--id", sign.id, "--signature-format", "openssl", "--input-file", in, "--output-file", sigFile)
			sig, err := os.ReadFile(sigFile)
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(sign.pub, digest[:], sig) {
				t.Fatalf("signature %x does not verify with the key of slot 9a", sig)
			}

			// ECDH with the retired-slot key against a peer key made here.
			peer, err := ecdh.P256().GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			peerDER, err := x509.MarshalPKIXPublicKey(peer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			peerFile, secretFile := filepath.Join(dir, "peer.der"), filepath.Join(dir, "secret")
			if err := os.WriteFile(peerFile, peerDER, 0o600); err != nil {
				t.Fatal(err)
			}
			p.run(t, "--login", "--pin", piv.DefaultPIN, "--derive", "--mechanism", "ECDH1-DERIVE",
				"--id", agree.id, "--input-file", peerFile, "--output-file", secretFile)
			got, err := os.ReadFile(secretFile)
			if err != nil {
				t.Fatal(err)
			}
			cardPub, err := agree.pub.ECDH()
			if err != nil {
				t.Fatal(err)
			}
			want, err := peer.ECDH(cardPub)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s derived %x, Go computes %x", m.name, got, want)
			}
		})
	}
}
