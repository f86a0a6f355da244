package pkcs11

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/tokentest"
	p11 "github.com/miekg/pkcs11"
)

func pin(s string) token.PINFunc {
	return func() ([]byte, error) { return []byte(s), nil }
}

func enroll(t *testing.T, uri string) *Token {
	t.Helper()
	tok, err := Enroll(uri, EnrollOptions{Options: Options{PIN: pin("1234")}})
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	t.Cleanup(func() { tok.Close() })
	return tok
}

func TestEnrollSoftHSM(t *testing.T) {
	mod := softHSM(t, "alice")
	uri := "pkcs11:token=alice?module-path=" + mod
	tok := enroll(t, uri)

	info := tok.Info()
	if info.Kind != token.KindPKCS11 || info.Label != "alice" || info.Serial == "" {
		t.Fatalf("Info = %+v", info)
	}
	if !strings.HasPrefix(info.URI, "pkcs11:token=alice;serial=") || !strings.HasSuffix(info.URI, "?module-path="+mod) {
		t.Fatalf("URI = %q", info.URI)
	}
	attrs, err := tok.KeyAttributes()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]bool{
		"key-agreement": {"sensitive": true, "extractable": false, "derive": true, "sign": false, "always-sensitive": true, "never-extractable": true},
		"signing":       {"sensitive": true, "extractable": false, "derive": false, "sign": true, "always-sensitive": true, "never-extractable": true},
	}
	for k, m := range want {
		for a, v := range m {
			if attrs[k][a] != v {
				t.Errorf("%s key: %s = %v, want %v", k, a, attrs[k][a], v)
			}
		}
	}
	tokentest.CheckKeys(t, tok)

	// The record round-trips and the token in hand passes the challenge,
	// also after closing and reopening by the record's URI and key ids.
	rec, err := token.NewRecord(token.Custodian{Name: "alice"}, info, tok.KeyAgreementKey().PublicKey(), tok.SigningKey().Public(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Sign(tok.SigningKey()); err != nil {
		t.Fatal(err)
	}
	if err := rec.Verify(); err != nil {
		t.Fatal(err)
	}
	tok.Close()
	kxID, sigID := mustHex(t, rec.Keys.KeyAgreement.ID), mustHex(t, rec.Keys.Signing.ID)
	re, err := Open(rec.Token.URI, Options{PIN: pin("1234"), KeyAgreementID: kxID, SigningID: sigID})
	if err != nil {
		t.Fatalf("Open(%q): %v", rec.Token.URI, err)
	}
	defer re.Close()
	if err := rec.Challenge(re); err != nil {
		t.Fatalf("Challenge: %v", err)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c-'a') + 10
			default:
				t.Fatalf("bad hex %q", s)
			}
		}
		b[i] = v
	}
	return b
}

func TestEnrollRefusesOverwrite(t *testing.T) {
	mod := softHSM(t, "bob")
	uri := "pkcs11:token=bob?module-path=" + mod
	first := enroll(t, uri)
	pub := first.KeyAgreementKey().PublicKey()
	first.Close()

	_, err := Enroll(uri, EnrollOptions{Options: Options{PIN: pin("1234")}})
	if !errors.Is(err, token.ErrSlotInUse) {
		t.Fatalf("second Enroll = %v, want ErrSlotInUse", err)
	}
	forced, err := Enroll(uri, EnrollOptions{Options: Options{PIN: pin("1234")}, Force: true})
	if err != nil {
		t.Fatalf("Enroll --force: %v", err)
	}
	defer forced.Close()
	if forced.KeyAgreementKey().PublicKey().Equal(pub) {
		t.Fatal("--force kept the old key")
	}
	tokentest.CheckKeys(t, forced)
}

func TestOpenErrors(t *testing.T) {
	mod := softHSM(t, "carol", "dave")
	enroll(t, "pkcs11:token=carol?module-path="+mod).Close()

	tests := []struct {
		name string
		uri  string
		opts Options
		is   error
		want string
	}{
		{"no such token", "pkcs11:token=erin?module-path=" + mod, Options{PIN: pin("1234")}, token.ErrNotPresent, "no PKCS#11 token matches pkcs11:token=erin"},
		{"ambiguous", "pkcs11:?module-path=" + mod, Options{PIN: pin("1234")}, nil, "2 PKCS#11 tokens match"},
		{"not enrolled", "pkcs11:token=dave?module-path=" + mod, Options{PIN: pin("1234")}, token.ErrNotEnrolled, "no private key"},
		{"no module", "pkcs11:token=carol", Options{}, nil, "no PKCS#11 module given"},
		{"missing module", "pkcs11:token=carol?module-path=/nonexistent.so", Options{}, nil, "no such file"},
		{"piv uri", "piv:serial=1", Options{}, nil, "not a pkcs11: URI"},
		{"pin source", "pkcs11:token=carol?module-path=" + mod + "&pin-source=file:/nonexistent", Options{}, nil, "pin-source"},
		// Last: after a wrong PIN, the token wants a confirmed try.
		{"wrong PIN", "pkcs11:token=carol?module-path=" + mod, Options{PIN: pin("9999")}, nil, "wrong PIN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := Open(tt.uri, tt.opts)
			if err == nil {
				tok.Close()
				t.Fatal("Open succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v is not %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
		})
	}
}

// TestUnknownTries: after a wrong PIN, a PKCS#11 token cannot say how many
// tries are left, so the backend sends no PIN without confirmation.
// SoftHSM2 shows the wrong PIN with CKF_USER_PIN_COUNT_LOW (and never sets
// FINAL_TRY or LOCKED, so it would take wrong PINs forever).
func TestUnknownTries(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	mod := softHSM(t, "carol")
	enroll(t, "pkcs11:token=carol?module-path="+mod).Close()
	testUnknownTries(t, "pkcs11:token=carol?module-path="+mod)
}

// TestUnknownTriesNoFlags is TestUnknownTries for a token that sets no PIN
// flag at all (SoftHSM2 with CKF_USER_PIN_COUNT_LOW hidden): breakglass
// remembers the wrong PIN itself, across processes (a file in StateDir).
func TestUnknownTriesNoFlags(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	mod := softHSM(t, "dave")
	enroll(t, "pkcs11:token=dave?module-path="+mod).Close()
	testingOnlyFlags = func(f uint) uint { return f &^ p11.CKF_USER_PIN_COUNT_LOW }
	t.Cleanup(func() { testingOnlyFlags = nil })
	testUnknownTries(t, "pkcs11:token=dave?module-path="+mod)

	// The memory outlives the process: a wrong PIN, then another process
	// (here: the same, with its memory emptied) refuses too.
	if _, err := Open("pkcs11:token=dave?module-path="+mod, Options{PIN: pin("9999")}); err == nil {
		t.Fatal("wrong PIN accepted")
	}
	dir, _ := StateDir()
	if files, _ := os.ReadDir(dir); len(files) != 1 {
		t.Fatalf("%s holds %d files, want 1", dir, len(files))
	}
	wrongPINs.mem = map[string]bool{}
	var pe *token.PINError
	if _, err := Open("pkcs11:token=dave?module-path="+mod, Options{PIN: pin("1234")}); !errors.As(err, &pe) || pe.Tried {
		t.Fatalf("after a wrong PIN in another process: %v, want a refusal", err)
	}
	tok, err := Open("pkcs11:token=dave?module-path="+mod, Options{PIN: pin("1234"), ConfirmUnknownTries: func(token.Info) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	tok.Close()
	if files, _ := os.ReadDir(dir); len(files) != 0 {
		t.Fatalf("a successful login left %d files in %s", len(files), dir)
	}
}

func testUnknownTries(t *testing.T, uri string) {
	var pe *token.PINError
	_, err := Open(uri, Options{PIN: pin("9999")})
	if !errors.As(err, &pe) || !pe.Tried || pe.Retries != -1 {
		t.Fatalf("wrong PIN: %v", err)
	}
	if !strings.Contains(err.Error(), "wrong PIN; breakglass cannot see how many tries are left") {
		t.Errorf("wrong PIN: %q", err)
	}
	// No second try without confirmation: the PIN is not even asked for.
	asked := false
	_, err = Open(uri, Options{PIN: func() ([]byte, error) { asked = true; return []byte("1234"), nil }})
	if !errors.As(err, &pe) || pe.Tried || pe.Retries != -1 || asked {
		t.Fatalf("second try without confirmation: %v (PIN asked: %v)", err, asked)
	}
	if !strings.Contains(err.Error(), "will not try another without confirmation") {
		t.Errorf("refusal: %q", err)
	}
	// Declined: the same.
	_, err = Open(uri, Options{PIN: pin("1234"), ConfirmUnknownTries: func(token.Info) bool { return false }})
	if !errors.As(err, &pe) || pe.Tried {
		t.Fatalf("declined: %v", err)
	}
	// Confirmed: the PIN is tried (wrong again, then right).
	var confirmed []string
	confirm := func(i token.Info) bool { confirmed = append(confirmed, i.Name()); return true }
	_, err = Open(uri, Options{PIN: pin("9999"), ConfirmUnknownTries: confirm})
	if !errors.As(err, &pe) || !pe.Tried || len(confirmed) != 1 || !strings.HasPrefix(confirmed[0], "pkcs11 ") {
		t.Fatalf("confirmed wrong PIN: %v (confirmations %q)", err, confirmed)
	}
	tok, err := Open(uri, Options{PIN: pin("1234"), ConfirmUnknownTries: confirm})
	if err != nil {
		t.Fatalf("confirmed right PIN: %v", err)
	}
	tok.Close()
	// A successful login resets the count: no confirmation needed now.
	tok, err = Open(uri, Options{PIN: pin("1234")})
	if err != nil {
		t.Fatalf("after a successful login: %v", err)
	}
	tok.Close()
}

func TestRetriesFromFlags(t *testing.T) {
	tests := []struct {
		flags uint
		want  int
		safe  bool
	}{
		{0, -1, true},
		{p11.CKF_USER_PIN_COUNT_LOW, -1, true},
		{p11.CKF_USER_PIN_FINAL_TRY | p11.CKF_USER_PIN_COUNT_LOW, 1, false},
		{p11.CKF_USER_PIN_LOCKED, 0, false},
	}
	for _, tt := range tests {
		got := retriesFromFlags(tt.flags)
		if got != tt.want || token.SafeToTry(got) != tt.safe {
			t.Errorf("flags %#x: retries %d safe %v, want %d %v", tt.flags, got, token.SafeToTry(got), tt.want, tt.safe)
		}
	}
}

func TestPINSource(t *testing.T) {
	mod := softHSM(t, "frank")
	enroll(t, "pkcs11:token=frank?module-path="+mod).Close()
	f := t.TempDir() + "/pin"
	if err := writeFile(f, "1234\n"); err != nil {
		t.Fatal(err)
	}
	tok, err := Open("pkcs11:token=frank?module-path="+mod+"&pin-source=file:"+f, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Close()
	tokentest.CheckKeys(t, tok)
}

func TestRawToASN1(t *testing.T) {
	if _, err := rawToASN1(make([]byte, 63)); err == nil {
		t.Fatal("accepted a 63-byte signature")
	}
}
