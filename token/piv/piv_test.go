package piv

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv/internal/pcsc"
	"github.com/breakglass/breakglass/token/tokentest"
	"github.com/breakglass/breakglass/token/virtual"
	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

const (
	newPIN = "246810"
	newPUK = "13579111"
)

func pinFunc(pin string) token.PINFunc {
	return func() ([]byte, error) { return []byte(pin), nil }
}

func secrets(pin, puk string) func(bool, bool) ([]byte, []byte, error) {
	return func(bool, bool) ([]byte, []byte, error) { return []byte(pin), []byte(puk), nil }
}

// enrollCard enrolls a fresh virtual card and returns its token, which the
// test closes.
func enrollCard(t *testing.T, c *vcardtest.Card) (*Token, *Attestations) {
	t.Helper()
	tok, att, err := Enroll(EnrollOptions{
		Selector:   Selector{Reader: c.Reader},
		NewSecrets: secrets(newPIN, newPUK),
	})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	t.Cleanup(func() { tok.Close() })
	return tok, att
}

func TestEnrollFreshCard(t *testing.T) {
	c := vcardtest.Start(t, 1)[0]
	tok, att := enrollCard(t, c)

	info := tok.Info()
	if info.Kind != token.KindPIV || info.Serial == "" || info.KeyAgreementID != "82" || info.SigningID != "83" || info.Reader != c.Reader {
		t.Fatalf("Info = %+v", info)
	}
	if kp, kt, sp, st := tok.Policies(); kp != "once" || kt != "always" || sp != "once" || st != "cached" {
		t.Fatalf("policies %s/%s %s/%s", kp, kt, sp, st)
	}
	tokentest.CheckKeys(t, tok)

	rec, err := NewRecord(token.Custodian{Name: "alice", Email: "alice@example.com"}, tok, att, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Sign(tok.SigningKey()); err != nil {
		t.Fatal(err)
	}
	b, _ := rec.Marshal()
	rec, err = token.ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Verify(); err != nil {
		t.Fatal(err)
	}
	proof, err := VerifyAttestation(rec, vcardtest.Roots(t))
	if err != nil {
		t.Fatalf("VerifyAttestation: %v", err)
	}
	if proof.Serial != c.Serial || proof.KeyAgreement.TouchPolicy != piv.TouchPolicyAlways || proof.Signing.Slot.Key != 0x83 {
		t.Fatalf("proof %+v", proof)
	}
	if _, err := VerifyAttestation(rec, nil); err == nil || !strings.Contains(err.Error(), "does not chain") {
		t.Fatalf("virtual card verified against Yubico's roots: %v", err)
	}
	tok.Close()

	// No factory credential survived.
	creds, err := ReadCredentials(c.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if creds.PINDefault || creds.PUKDefault || creds.MgmtKeyDefault || !creds.MgmtKeyProtected {
		t.Fatalf("credentials after enrollment: %+v", creds)
	}
	if creds.MgmtKeyAlgorithm != algAES192 {
		t.Fatalf("management key algorithm %02X, want AES-192", creds.MgmtKeyAlgorithm)
	}
	yk := c.Open(t)
	md, err := yk.Metadata(newPIN)
	if err != nil || md.ManagementKey == nil || len(*md.ManagementKey) != 24 {
		t.Fatalf("PIN-protected management key: %v %v", md, err)
	}
	yk.Close()

	// The card lists its breakglass slots.
	st, err := List(Selector{Reader: c.Reader})
	if err != nil || len(st) != 1 {
		t.Fatalf("List: %v %v", st, err)
	}
	if len(st[0].Slots) != 2 || st[0].Slots[0].Breakglass != "key-agreement" || st[0].Slots[1].Breakglass != "signing" || st[0].PINRetries != 3 {
		t.Fatalf("List: %+v", st[0])
	}

	// Opening by the record finds the card and passes the challenge.
	re, err := OpenRecord(rec, Selector{Reader: c.Reader}, pinFunc(newPIN))
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	if err := rec.Challenge(re); err != nil {
		t.Fatalf("Challenge: %v", err)
	}
	// Opening without slots finds them from the labels.
	re.Close()
	lab, err := Open(Options{Selector: Selector{Reader: c.Reader}, PIN: pinFunc(newPIN)})
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	if lab.Info().KeyAgreementID != "82" || lab.Info().SigningID != "83" {
		t.Fatalf("labelled slots %+v", lab.Info())
	}
}

func TestEnrollRefusesOverwrite(t *testing.T) {
	c := vcardtest.Start(t, 1)[0]
	tok, _ := enrollCard(t, c)
	old := tok.KeyAgreementKey().PublicKey()
	tok.Close()

	_, _, err := Enroll(EnrollOptions{Selector: Selector{Reader: c.Reader}, PIN: pinFunc(newPIN)})
	if !errors.Is(err, token.ErrSlotInUse) {
		t.Fatalf("second Enroll: %v, want ErrSlotInUse", err)
	}
	_, _, err = Enroll(EnrollOptions{Selector: Selector{Reader: c.Reader}, PIN: pinFunc(newPIN), KeyAgreementSlot: 0x83, SigningSlot: 0x84})
	if !errors.Is(err, token.ErrSlotInUse) || !strings.Contains(err.Error(), "slot 83 already holds a key") {
		t.Fatalf("Enroll into slot 83: %v", err)
	}
	forced, _, err := Enroll(EnrollOptions{Selector: Selector{Reader: c.Reader}, PIN: pinFunc(newPIN), Force: true,
		PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyNever, SigningTouchPolicy: piv.TouchPolicyNever})
	if err != nil {
		t.Fatalf("Enroll --force: %v", err)
	}
	defer forced.Close()
	if forced.KeyAgreementKey().PublicKey().Equal(old) || forced.Info().KeyAgreementID != "82" {
		t.Fatalf("--force: %+v", forced.Info())
	}
	if kp, kt, _, _ := forced.Policies(); kp != "always" || kt != "never" {
		t.Fatalf("policies %s %s", kp, kt)
	}
	tokentest.CheckKeys(t, forced) // PIN policy always: the PIN is sent before each operation
	tokentest.CheckKeys(t, forced)
}

// TestEnrollResume finishes an enrollment with the keys already on the
// card: Resume sees the labelled keys before any PIN is asked, and a yes
// keeps them (same public keys, fresh attestations); a no refuses as
// before, and Force never asks.
func TestEnrollResume(t *testing.T) {
	c := vcardtest.Start(t, 1)[0]
	first, _ := enrollCard(t, c)
	first.Close()

	var asked []ExistingKeys
	pinAsked := false
	opts := EnrollOptions{Selector: Selector{Reader: c.Reader},
		PIN: func() ([]byte, error) { pinAsked = true; return []byte(newPIN), nil }}
	opts.Resume = func(k ExistingKeys) (bool, error) {
		if pinAsked {
			t.Error("Resume asked after the PIN")
		}
		asked = append(asked, k)
		return false, nil
	}
	if _, _, err := Enroll(opts); !errors.Is(err, token.ErrSlotInUse) {
		t.Fatalf("Enroll, Resume says no: %v, want ErrSlotInUse", err)
	}
	if len(asked) != 1 {
		t.Fatalf("Resume asked %d times, want once", len(asked))
	}
	kx, err := token.ECDHPublicKey(asked[0].KeyAgreement)
	if err != nil || asked[0].KeyAgreementSlot != 0x82 || asked[0].SigningSlot != 0x83 || asked[0].Serial != c.Serial ||
		!first.kxPub.Equal(kx) || !first.sigPub.Equal(asked[0].Signing) {
		t.Fatalf("Resume got %+v, want slots 82/83 and the enrolled keys", asked)
	}

	opts.Resume = func(ExistingKeys) (bool, error) { return true, nil }
	tok, att, err := Enroll(opts)
	if err != nil {
		t.Fatalf("Enroll, Resume says yes: %v", err)
	}
	defer tok.Close()
	if !tok.kxPub.Equal(first.kxPub) || !tok.sigPub.Equal(first.sigPub) || tok.Info().KeyAgreementID != "82" {
		t.Fatalf("resumed %+v: the keys changed", tok.Info())
	}
	if att.KeyAgreement == nil || att.Signing == nil || att.Intermediate == nil {
		t.Fatalf("resumed without attestations: %+v", att)
	}
	tokentest.CheckKeys(t, tok)
	tok.Close()

	opts.Force = true
	opts.Resume = func(ExistingKeys) (bool, error) { t.Error("Resume asked with Force"); return true, nil }
	forced, _, err := Enroll(opts)
	if err != nil {
		t.Fatalf("Enroll --force: %v", err)
	}
	defer forced.Close()
	if forced.kxPub.Equal(first.kxPub) {
		t.Fatal("--force kept the old key")
	}
}

func TestEnrollNeedsNewSecrets(t *testing.T) {
	c := vcardtest.Start(t, 1)[0]
	_, _, err := Enroll(EnrollOptions{Selector: Selector{Reader: c.Reader}})
	if !errors.Is(err, ErrDefaultCredentials) {
		t.Fatalf("Enroll without new secrets: %v", err)
	}
	for _, s := range []struct{ pin, puk, want string }{
		{"123", newPUK, "6 to 8 characters"},
		{"123456", newPUK, "must not be the factory default"},
		{newPIN, "12345678", "must not be the factory default"},
	} {
		tok, _, err := Enroll(EnrollOptions{Selector: Selector{Reader: c.Reader}, NewSecrets: secrets(s.pin, s.puk)})
		if err == nil {
			tok.Close()
		}
		if err == nil || !strings.Contains(err.Error(), s.want) {
			t.Errorf("Enroll with PIN %q PUK %q: %v, want %q", s.pin, s.puk, err, s.want)
		}
	}
}

// TestWrongPIN counts down and stops before the last try.
func TestWrongPIN(t *testing.T) {
	c := vcardtest.Start(t, 1)[0]
	tok, _ := enrollCard(t, c)
	tok.Close()

	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	for i, want := range []token.PINError{
		{Retries: 2, Tried: true},
		{Retries: 1, Tried: true},
		{Retries: 1, Tried: false}, // refused: breakglass never spends the last try
		{Retries: 1, Tried: false},
	} {
		asked := false
		tok, err := Open(Options{Selector: Selector{Reader: c.Reader}, PIN: func() ([]byte, error) {
			asked = true
			return []byte("000000"), nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = tok.KeyAgreementKey().ECDH(eph.PublicKey())
		tok.Close()
		var pe *token.PINError
		if !errors.As(err, &pe) || pe.Retries != want.Retries || pe.Tried != want.Tried || asked != want.Tried {
			t.Fatalf("attempt %d: %v (asked %v), want %+v", i+1, err, asked, want)
		}
		if pe.Token != "piv "+tok.Info().Serial {
			t.Fatalf("PINError names %q", pe.Token)
		}
	}
	creds, err := ReadCredentials(c.Reader)
	if err != nil || creds.PINRetries != 1 {
		t.Fatalf("PIN retries left on the card: %d %v", creds.PINRetries, err)
	}
	if !strings.Contains((&token.PINError{Token: "piv 1", Retries: 1}).Error(), "will not spend it") {
		t.Fatal("refusal message")
	}

	// Unblock with a wrong PUK counts the PUK down, and stops before its last try.
	if err := Unblock(Selector{Reader: c.Reader}, []byte("00000000"), []byte("111111")); err == nil {
		t.Fatal("unblocked with a wrong PUK")
	}
	if err := Unblock(Selector{Reader: c.Reader}, []byte(newPUK), []byte("111222")); err != nil {
		t.Fatalf("Unblock: %v", err)
	}
	if err := ChangePIN(Selector{Reader: c.Reader}, []byte("111222"), []byte(newPIN)); err != nil {
		t.Fatalf("ChangePIN: %v", err)
	}
	creds, _ = ReadCredentials(c.Reader)
	if creds.PINRetries != 3 || creds.PUKRetries != 3 {
		t.Fatalf("after unblock: %+v", creds)
	}
	for i := 0; i < 2; i++ {
		if err := Unblock(Selector{Reader: c.Reader}, []byte("00000000"), []byte("111111")); err == nil {
			t.Fatal("unblocked with a wrong PUK")
		}
	}
	err = Unblock(Selector{Reader: c.Reader}, []byte("00000000"), []byte("111111"))
	var pe *token.PINError
	if !errors.As(err, &pe) || !pe.PUK || pe.Tried || pe.Retries != 1 {
		t.Fatalf("Unblock on the PUK's last try: %v", err)
	}
}

// While the PIN is asked the card is released: another connection (card
// list, ykman) gets it, and the operation goes on once the PIN is typed. A
// card pulled out during the prompt is reported as not present, and one
// put back is opened afresh (issue #12, stuck 1).
func TestPINAskedWithCardReleased(t *testing.T) {
	c := vcardtest.Start(t, 1)[0]
	tok, _ := enrollCard(t, c)
	tok.Close()
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)

	tok, err := Open(Options{Selector: Selector{Reader: c.Reader}, PIN: func() ([]byte, error) {
		// What another program does while the person types.
		if _, err := List(Selector{Reader: c.Reader}); err != nil {
			t.Errorf("card list during the PIN prompt: %v", err)
		}
		return []byte(newPIN), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.KeyAgreementKey().ECDH(eph.PublicKey()); err != nil {
		t.Fatalf("ECDH after the PIN prompt: %v", err)
	}
	tok.Close()

	tok, err = Open(Options{Selector: Selector{Reader: c.Reader}, PIN: func() ([]byte, error) {
		c.Remove()
		c.WaitPresent(t, false)
		return []byte(newPIN), nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tok.KeyAgreementKey().ECDH(eph.PublicKey())
	if !errors.Is(err, token.ErrNotPresent) {
		t.Fatalf("ECDH with the card pulled out during the PIN prompt: %v", err)
	}
	tok.Close()
	c.Insert()
	c.WaitPresent(t, true)
	if found, err := Find(Selector{Reader: c.Reader}); err != nil || len(found) != 1 {
		t.Fatalf("the card put back: %v %v", found, err)
	}
	creds, err := ReadCredentials(c.Reader)
	if err != nil || creds.PINRetries != 3 {
		t.Fatalf("PIN tries left: %d %v (a PIN was spent?)", creds.PINRetries, err)
	}
}

func TestTouchTimeout(t *testing.T) {
	c := vcardtest.Start(t, 1, vcardtest.WithTouch(virtual.Touch{Mode: virtual.TouchDeny}), vcardtest.WithTouchTimeout(300*time.Millisecond))[0]
	tok, _ := enrollCard(t, c)
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	_, err := tok.KeyAgreementKey().ECDH(eph.PublicKey())
	if !errors.Is(err, token.ErrTouchTimeout) {
		t.Fatalf("ECDH without touch: %v", err)
	}
}

func TestCardRemovedMidOperation(t *testing.T) {
	c := vcardtest.Start(t, 1, vcardtest.WithTouch(virtual.Touch{Mode: virtual.TouchDelay, Delay: 5 * time.Second}))[0]
	tok, _ := enrollCard(t, c)
	eph, _ := ecdh.P256().GenerateKey(rand.Reader)
	done := make(chan error, 1)
	go func() {
		_, err := tok.KeyAgreementKey().ECDH(eph.PublicKey())
		done <- err
	}()
	time.Sleep(time.Second) // the card now waits for a touch
	c.Remove()
	defer c.Insert()
	select {
	case err := <-done:
		if !errors.Is(err, token.ErrNotPresent) {
			t.Fatalf("ECDH with the card pulled out: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("ECDH hung after the card was removed")
	}
}

func TestNotPresent(t *testing.T) {
	c := vcardtest.Start(t, 1)[0]
	tests := []struct {
		name string
		sel  Selector
		want string
	}{
		{"no such reader", Selector{Reader: "Virtual PCD 99 00 00"}, `no reader named "Virtual PCD 99 00 00"`},
		{"no such serial", Selector{Reader: c.Reader, Serial: 1}, "card 1 in reader \"" + c.Reader + "\" is not connected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := Open(Options{Selector: tt.sel})
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, token.ErrNotPresent) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Open: %v, want ErrNotPresent with %q", err, tt.want)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Open hung")
			}
		})
	}
}

func TestParseURI(t *testing.T) {
	o, err := ParseURI("piv:serial=18392011;slot=82;sign-slot=83;reader=Virtual%20PCD%2000%2000")
	if err != nil {
		t.Fatal(err)
	}
	if o.Serial != 18392011 || o.KeyAgreementSlot != 0x82 || o.SigningSlot != 0x83 || o.Reader != "Virtual PCD 00 00" {
		t.Fatalf("%+v", o)
	}
	if got := URI(18392011, 0x82, 0x83); got != "piv:serial=18392011;slot=82;sign-slot=83" {
		t.Fatal(got)
	}
	for _, bad := range []string{"piv:slot=9a", "piv:serial=x", "piv:colour=red", "pkcs11:token=a"} {
		if _, err := ParseURI(bad); err == nil {
			t.Errorf("ParseURI(%q) succeeded", bad)
		}
	}
}

// TestPCSCDDown runs Open in a child process whose PC/SC client looks for
// pcscd's socket where there is none (pcsc-lite reads PCSCLITE_CSOCK_NAME
// once per process).
func TestPCSCDDown(t *testing.T) {
	if os.Getenv("BREAKGLASS_TEST_PCSCD_DOWN") == "1" {
		_, err := Open(Options{Selector: Selector{ReaderPrefix: "Yubico YubiKey Virtual PCD"}})
		if !errors.Is(err, token.ErrNotPresent) {
			fmt.Printf("not ErrNotPresent: %v\n", err)
			os.Exit(3)
		}
		fmt.Println(err)
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestPCSCDDown$")
	cmd.Env = append(os.Environ(), "BREAKGLASS_TEST_PCSCD_DOWN=1", "PCSCLITE_CSOCK_NAME=/nonexistent/pcscd.comm")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PC/SC: the PC/SC daemon (pcscd) is not running") {
		t.Fatalf("Open without pcscd: %v\n%s", err, out)
	}
}

// TestFindWaitsForABusyCard: a card another program holds for a moment
// (another command looking at every card) is found once it is let go; one
// held for good is reported as possibly held, not just "not connected".
func TestFindWaitsForABusyCard(t *testing.T) {
	cs := vcardtest.Start(t, 2)
	a, b := cs[0], cs[1]
	hold := func(reader string) *pcsc.Conn {
		t.Helper()
		c, err := pcsc.Connect(reader)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	c := hold(b.Reader)
	time.AfterFunc(500*time.Millisecond, func() { c.Close() })
	found, err := Find(Selector{Serial: b.Serial})
	if err != nil || len(found) != 1 || found[0].Serial != b.Serial {
		t.Fatalf("Find of a card held for 0.5 s: %v, %v", found, err)
	}
	// The other card was free all along: found at once.
	if found, err := Find(Selector{Serial: a.Serial}); err != nil || len(found) != 1 {
		t.Fatalf("Find of a free card: %v, %v", found, err)
	}

	c = hold(b.Reader)
	defer c.Close()
	start := time.Now()
	_, err = Find(Selector{Serial: b.Serial})
	var ne *token.NotPresentError
	if !errors.As(err, &ne) || ne.Reason != token.InUse || !strings.Contains(err.Error(), "another program holds it") || !strings.Contains(err.Error(), b.Reader) {
		t.Fatalf("Find of a card held for good: %v", err)
	}
	if d := time.Since(start); d < settleTime {
		t.Errorf("gave up after %v, before settleTime", d)
	}
}
