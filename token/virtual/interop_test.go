package virtual_test

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/breakglass/breakglass/token/virtual"
	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

// ykpiv runs yubico-piv-tool against the reader and returns its output.
func ykpiv(t *testing.T, reader string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("yubico-piv-tool"); err != nil {
		t.Fatal("yubico-piv-tool is missing: apt-get install yubico-piv-tool (make test does it)")
	}
	cmd := exec.Command("yubico-piv-tool", append([]string{"-r", reader}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("yubico-piv-tool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestYubicoPIVTool checks that Yubico's own tool (2.2.0 in Debian 12, which
// knows only 3DES management keys, hence firmware 5.4.3) agrees with piv-go.
func TestYubicoPIVTool(t *testing.T) {
	c := vcardtest.Start(t, 1, vcardtest.WithFirmware(virtual.Firmware543), vcardtest.WithSerial(13572468))[0]
	dir := t.TempDir()
	status := ykpiv(t, c.Reader, "-a", "status")
	for _, want := range []string{"Version:\t5.4.3", "Serial Number:\t13572468", "PIN tries left:\t3"} {
		if !strings.Contains(status, want) {
			t.Fatalf("status lacks %q:\n%s", want, status)
		}
	}
	pubFile := filepath.Join(dir, "pub.pem")
	ykpiv(t, c.Reader, "-a", "generate", "-s", "9a", "-A", "ECCP256", "--pin-policy", "once", "--touch-policy", "never", "-o", pubFile)
	ykpiv(t, c.Reader, "-a", "verify-pin", "-P", "123456")
	att := ykpiv(t, c.Reader, "-a", "attest", "-s", "9a")
	ykpiv(t, c.Reader, "-a", "change-pin", "-P", "123456", "-N", "654321")
	ykpiv(t, c.Reader, "-a", "set-mgm-key", "-n", "0102030405060708090a0b0c0d0e0f101112131415161718")

	// piv-go sees the same key, attestation, PIN and management key.
	pemBytes, _ := os.ReadFile(pubFile)
	blk, _ := pem.Decode(pemBytes)
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatalf("generated public key: %v", err)
	}
	ablk, _ := pem.Decode([]byte(att))
	if ablk == nil {
		t.Fatalf("attest printed no certificate:\n%s", att)
	}
	attCert, err := x509.ParseCertificate(ablk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	yk := c.Open(t)
	ki, err := yk.KeyInfo(piv.SlotAuthentication)
	if err != nil || !pub.(*ecdsa.PublicKey).Equal(ki.PublicKey) || !pub.(*ecdsa.PublicKey).Equal(attCert.PublicKey) {
		t.Fatalf("piv-go sees another key: %v", err)
	}
	f9, _ := yk.AttestationCertificate()
	a, err := (&piv.Verifier{Roots: vcardtest.Roots(t)}).Verify(f9, attCert)
	if err != nil || a.Serial != 13572468 || a.PINPolicy != piv.PINPolicyOnce {
		t.Fatalf("attestation from yubico-piv-tool: %+v %v", a, err)
	}
	if err := yk.VerifyPIN("654321"); err != nil {
		t.Fatalf("new PIN set by yubico-piv-tool: %v", err)
	}
	newKey := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24}
	if err := yk.SetManagementKey(newKey, piv.DefaultManagementKey); err != nil {
		t.Fatalf("management key set by yubico-piv-tool: %v", err)
	}
	yk.Close()
	status = ykpiv(t, c.Reader, "-a", "status")
	if !strings.Contains(status, "PIN tries left:\t3") {
		t.Fatalf("status after changes:\n%s", status)
	}
}
