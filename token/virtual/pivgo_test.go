package virtual_test

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/breakglass/breakglass/token/virtual"
	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

// TestPIVGo drives a virtual card through pcscd with piv-go, the way
// breakglass uses a YubiKey.
func TestPIVGo(t *testing.T) {
	c := vcardtest.Start(t, 1, vcardtest.WithSerial(31415926))[0]
	found := false
	cards, err := piv.Cards()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cards {
		found = found || name == c.Reader
	}
	if !found {
		t.Fatalf("piv.Cards() = %q, without %q", cards, c.Reader)
	}
	yk := c.Open(t)
	if s, err := yk.Serial(); err != nil || s != 31415926 {
		t.Fatalf("Serial: %d, %v", s, err)
	}
	if v := yk.Version(); v != (piv.Version{Major: 5, Minor: 7, Patch: 1}) {
		t.Fatalf("Version: %v", v)
	}
	if n, err := yk.Retries(); err != nil || n != 3 {
		t.Fatalf("Retries: %d, %v", n, err)
	}
	if err := yk.VerifyPIN("654321"); !isAuthErr(err, 2) {
		t.Fatalf("VerifyPIN(wrong): %v", err)
	}
	if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	if _, err := yk.Retries(); err == nil {
		t.Fatal("Retries after a good PIN: the card did not answer 9000 (verified), as a YubiKey does")
	}
	if ff, err := yk.FormFactor(); err != nil || ff != piv.FormfactorUSBAKeychain {
		t.Fatalf("FormFactor: %v, %v", ff, err)
	}

	key := piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyOnce, TouchPolicy: piv.TouchPolicyAlways}
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotKeyManagement, key)
	if err != nil {
		t.Fatal(err)
	}
	ki, err := yk.KeyInfo(piv.SlotKeyManagement)
	if err != nil || ki.PINPolicy != piv.PINPolicyOnce || ki.TouchPolicy != piv.TouchPolicyAlways ||
		ki.Origin != piv.OriginGenerated || !pub.(*ecdsa.PublicKey).Equal(ki.PublicKey) {
		t.Fatalf("KeyInfo: %+v, %v", ki, err)
	}

	// Attest, and verify against the virtual test CA.
	att, err := yk.Attest(piv.SlotKeyManagement)
	if err != nil {
		t.Fatal(err)
	}
	f9, err := yk.AttestationCertificate()
	if err != nil {
		t.Fatal(err)
	}
	a, err := (&piv.Verifier{Roots: vcardtest.Roots(t)}).Verify(f9, att)
	if err != nil {
		t.Fatal(err)
	}
	if a.Serial != 31415926 || a.Version != (piv.Version{Major: 5, Minor: 7, Patch: 1}) || a.Slot != piv.SlotKeyManagement ||
		a.PINPolicy != piv.PINPolicyOnce || a.TouchPolicy != piv.TouchPolicyAlways || a.Formfactor != piv.FormfactorUSBAKeychain {
		t.Fatalf("attestation: %+v", a)
	}
	if _, err := piv.Verify(f9, att); err == nil {
		t.Fatal("a virtual card's attestation verified against Yubico's roots")
	}
	if _, err := yk.Attest(piv.SlotSignature); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("Attest(empty slot): %v", err)
	}

	// ECDH and signing through the card.
	priv, err := yk.PrivateKey(piv.SlotKeyManagement, pub, piv.KeyAuth{PIN: piv.DefaultPIN})
	if err != nil {
		t.Fatal(err)
	}
	k := priv.(*piv.ECDSAPrivateKey)
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	shared, err := k.ECDH(peer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	ourECDH, _ := pub.(*ecdsa.PublicKey).ECDH()
	want, _ := peer.ECDH(ourECDH)
	if string(shared) != string(want) {
		t.Fatal("ECDH on the card differs from crypto/ecdh")
	}
	peerECDSA, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	shared2, err := k.SharedKey(&peerECDSA.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	peerKey, _ := peerECDSA.ECDH()
	if want2, _ := peerKey.ECDH(ourECDH); string(shared2) != string(want2) {
		t.Fatal("SharedKey on the card differs from crypto/ecdh")
	}
	digest := sha256.Sum256([]byte("breakglass"))
	sig, err := k.Sign(rand.Reader, digest[:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("signature does not verify")
	}
}

func isAuthErr(err error, retries int) bool {
	var ae piv.AuthErr
	return errors.As(err, &ae) && ae.Retries == retries
}

// TestPIVGoCredentials changes the management key, PIN and PUK, blocks the
// PIN, unblocks it, blocks both and resets the card.
func TestPIVGoCredentials(t *testing.T) {
	c := vcardtest.Start(t, 1, vcardtest.WithFirmware(virtual.Firmware543))[0]
	yk := c.Open(t)
	newKey := []byte("0123456789abcdef01234567")
	if err := yk.SetManagementKey(piv.DefaultManagementKey, newKey); err != nil {
		t.Fatal(err)
	}
	key := piv.Key{Algorithm: piv.AlgorithmEC384, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever}
	if _, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotCardAuthentication, key); err == nil {
		t.Fatal("the old management key still works")
	}
	if _, err := yk.GenerateKey(newKey, piv.SlotCardAuthentication, key); err != nil {
		t.Fatal(err)
	}
	if err := yk.SetPIN(piv.DefaultPIN, "24681357"); err != nil {
		t.Fatal(err)
	}
	if err := yk.SetPUK(piv.DefaultPUK, "11223344"); err != nil {
		t.Fatal(err)
	}
	for want := 2; want >= 0; want-- {
		if err := yk.VerifyPIN("000000"); !isAuthErr(err, want) {
			t.Fatalf("wrong PIN with %d tries left: %v", want, err)
		}
	}
	if err := yk.VerifyPIN("24681357"); err == nil || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("VerifyPIN on a blocked PIN: %v", err)
	}
	if n, err := yk.Retries(); err != nil || n != 0 {
		t.Fatalf("Retries on a blocked PIN: %d, %v", n, err)
	}
	if err := yk.Unblock("00000000", "135791"); !isAuthErr(err, 2) {
		t.Fatalf("Unblock with a wrong PUK: %v", err)
	}
	if err := yk.Unblock("11223344", "135791"); err != nil {
		t.Fatal(err)
	}
	if err := yk.VerifyPIN("135791"); err != nil {
		t.Fatal(err)
	}
	if err := yk.SetRetries(newKey, "135791", 5, 4); err != nil {
		t.Fatal(err)
	}
	if n, err := yk.Retries(); err != nil || n != 5 {
		t.Fatalf("Retries after SetRetries: %d, %v", n, err)
	}
	if err := yk.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
		t.Fatalf("default PIN after Reset: %v", err)
	}
	if _, err := yk.KeyInfo(piv.SlotCardAuthentication); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("a key survived Reset: %v", err)
	}
	if _, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotCardAuthentication, key); err != nil {
		t.Fatalf("default management key after Reset: %v", err)
	}
	if _, err := yk.AttestationCertificate(); err != nil {
		t.Fatalf("the attestation certificate did not survive Reset: %v", err)
	}
}

// TestRestartAndRemoval checks that a card keeps its state across a restart,
// and that pulling it out mid-operation fails the operation without a hang.
func TestRestartAndRemoval(t *testing.T) {
	c := vcardtest.Start(t, 1, vcardtest.WithTouch(virtual.Touch{Mode: virtual.TouchDeny}), vcardtest.WithTouchTimeout(time.Minute))[0]
	yk, err := piv.Open(c.Reader)
	if err != nil {
		t.Fatal(err)
	}
	retired, _ := piv.RetiredKeyManagementSlot(0x82)
	key := piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyAlways}
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, retired, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := yk.VerifyPIN("999999"); !isAuthErr(err, 2) {
		t.Fatal(err)
	}
	yk.Close()

	c.Restart(t)
	yk, err = piv.Open(c.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer yk.Close()
	if n, err := yk.Retries(); err != nil || n != 2 {
		t.Fatalf("PIN counter after restart: %d, %v", n, err)
	}
	ki, err := yk.KeyInfo(retired)
	if err != nil || !pub.(*ecdsa.PublicKey).Equal(ki.PublicKey) {
		t.Fatalf("key after restart: %v", err)
	}
	priv, err := yk.PrivateKey(retired, pub, piv.KeyAuth{})
	if err != nil {
		t.Fatal(err)
	}
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	done := make(chan error, 1)
	go func() {
		_, err := priv.(*piv.ECDSAPrivateKey).ECDH(peer.PublicKey())
		done <- err
	}()
	time.Sleep(500 * time.Millisecond) // the card waits for a touch that never comes
	c.Remove()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("ECDH succeeded with the card pulled out")
		}
		t.Logf("ECDH with the card pulled out: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("ECDH hung after the card was pulled out")
	}
	yk.Close()
	c.WaitPresent(t, false)
	c.Insert()
	c.WaitPresent(t, true)
}
