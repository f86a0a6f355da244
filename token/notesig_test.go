package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/breakglass/breakglass/internal/ecdsabatch"
	"github.com/breakglass/breakglass/token/virtual/vcardtest"
	"github.com/go-piv/piv-go/v2/piv"
	"golang.org/x/mod/sumdb/note"
)

func newSoftKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

const testNoteText = "breakglass.example/acme/prod\n3\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

func TestNoteSignerRoundTrip(t *testing.T) {
	k := newSoftKey(t)
	s, err := NewNoteSigner("alice", k)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewNoteVerifier("alice", &k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyHash() != v.KeyHash() || s.Name() != v.Name() {
		t.Fatalf("signer %s+%08x, verifier %s+%08x", s.Name(), s.KeyHash(), v.Name(), v.KeyHash())
	}
	msg, err := note.Sign(&note.Note{Text: testNoteText}, s)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open: %v\n%s", err, msg)
	}
	if n.Text != testNoteText || len(n.Sigs) != 1 || n.Sigs[0].Name != "alice" {
		t.Fatalf("opened note = %+v", n)
	}

	// The vkey text round-trips and verifies the same note.
	vkey, err := NoteVerifierKey("alice", &k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := ParseNoteVerifierKey(vkey)
	if err != nil {
		t.Fatalf("ParseNoteVerifierKey(%q): %v", vkey, err)
	}
	if _, err := note.Open(msg, note.VerifierList(v2)); err != nil {
		t.Fatalf("note.Open with parsed vkey: %v", err)
	}

	// Fingerprints agree with the enrollment-record form.
	want, err := Fingerprint(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []any{s, v, v2} {
		if got := x.(interface{ Fingerprint() string }).Fingerprint(); got != want {
			t.Errorf("%T.Fingerprint() = %q, want %q", x, got, want)
		}
	}
}

// TestNoteKeyIDDerivation pins the C2SP signed-note type 0x02 rules: the key
// ID is SHA-256 of the DER SPKI alone, and the signature is ASN.1 ECDSA over
// SHA-256 of the text. It checks the bytes independently of the code above.
func TestNoteKeyIDDerivation(t *testing.T) {
	k := newSoftKey(t)
	s, err := NewNoteSigner("breakglass.example/alice", k)
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(spki)
	if want := binary.BigEndian.Uint32(sum[:4]); s.KeyHash() != want {
		t.Fatalf("KeyHash = %08x, want %08x", s.KeyHash(), want)
	}
	msg, err := note.Sign(&note.Note{Text: testNoteText}, s)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSuffix(strings.SplitN(string(msg), "\n\n", 2)[1], "\n")
	b64 := strings.TrimPrefix(line, "— breakglass.example/alice ")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	if binary.BigEndian.Uint32(raw) != s.KeyHash() {
		t.Fatal("signature does not start with the key ID")
	}
	d := sha256.Sum256([]byte(testNoteText))
	if !ecdsa.VerifyASN1(&k.PublicKey, d[:], raw[4:]) {
		t.Fatal("signature is not ASN.1 ECDSA over SHA-256(text)")
	}
	vkey, _ := NoteVerifierKey("breakglass.example/alice", &k.PublicKey)
	wantKey := base64.StdEncoding.EncodeToString(append([]byte{2}, spki...))
	if !strings.HasSuffix(vkey, "+"+wantKey) {
		t.Fatalf("vkey %q does not end in base64(0x02 || SPKI)", vkey)
	}
}

func TestNoteSignatureMangled(t *testing.T) {
	k := newSoftKey(t)
	s, _ := NewNoteSigner("alice", k)
	v, _ := NewNoteVerifier("alice", &k.PublicKey)
	other := newSoftKey(t)
	vOther, _ := NewNoteVerifier("alice", &other.PublicKey)
	vBob, _ := NewNoteVerifier("bob", &k.PublicKey)
	msg, err := note.Sign(&note.Note{Text: testNoteText}, s)
	if err != nil {
		t.Fatal(err)
	}
	sigAt := strings.Index(string(msg), "— alice ") + len("— alice ")

	tests := []struct {
		name    string
		msg     func() []byte
		known   note.Verifiers
		wantErr any
	}{
		{"text edited", func() []byte {
			b := []byte(strings.Replace(string(msg), "\n3\n", "\n4\n", 1))
			return b
		}, note.VerifierList(v), &note.InvalidSignatureError{}},
		{"signature byte flipped", func() []byte {
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(msg[sigAt:])))
			raw[len(raw)-3] ^= 1
			return append(append([]byte{}, msg[:sigAt]...), base64.StdEncoding.EncodeToString(raw)+"\n"...)
		}, note.VerifierList(v), &note.InvalidSignatureError{}},
		{"name changed", func() []byte {
			return []byte(strings.Replace(string(msg), "— alice ", "— bob ", 1))
		}, note.VerifierList(v), &note.UnverifiedNoteError{}},
		{"same name, other key", func() []byte { return msg }, note.VerifierList(vOther), &note.UnverifiedNoteError{}},
		{"same key, other name", func() []byte { return msg }, note.VerifierList(vBob), &note.UnverifiedNoteError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := note.Open(tt.msg(), tt.known)
			if err == nil {
				t.Fatal("note.Open accepted a mangled note")
			}
			switch tt.wantErr.(type) {
			case *note.InvalidSignatureError:
				var e *note.InvalidSignatureError
				if !errors.As(err, &e) {
					t.Fatalf("err = %v, want InvalidSignatureError", err)
				}
			case *note.UnverifiedNoteError:
				var e *note.UnverifiedNoteError
				if !errors.As(err, &e) {
					t.Fatalf("err = %v, want UnverifiedNoteError", err)
				}
			}
		})
	}
}

type edSigner struct{ ed25519.PrivateKey }

func (s edSigner) Public() crypto.PublicKey { return s.PrivateKey.Public() }
func (s edSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.PrivateKey.Sign(r, d, o)
}

// badSigner returns signatures made with another key.
type badSigner struct{ pub, priv *ecdsa.PrivateKey }

func (s badSigner) Public() crypto.PublicKey { return &s.pub.PublicKey }
func (s badSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	return s.priv.Sign(r, d, o)
}

func TestNoteSignerRejects(t *testing.T) {
	k := newSoftKey(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, tt := range []struct {
		name, key string
		s         crypto.Signer
		want      string
	}{
		{"space in name", "alice smith", k, `token: note key name "alice smith": must be non-empty, without spaces or '+'`},
		{"plus in name", "alice+1", k, `token: note key name "alice+1": must be non-empty, without spaces or '+'`},
		{"empty name", "", k, `token: note key name "": must be non-empty, without spaces or '+'`},
		{"P-384", "alice", p384, `token: note key "alice": want an ECDSA key on NIST P-256`},
		{"ed25519", "alice", edSigner{ed}, `token: note signer "alice": key is ed25519.PublicKey, want an ECDSA P-256 key`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewNoteSigner(tt.key, tt.s)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
		})
	}

	s, err := NewNoteSigner("alice", badSigner{k, newSoftKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Sign([]byte("x\n")); err == nil || !strings.Contains(err.Error(), "does not verify with its public key") {
		t.Fatalf("Sign with a mismatched card key: err = %v", err)
	}
}

func TestParseNoteVerifierKeyRejects(t *testing.T) {
	k := newSoftKey(t)
	vkey, _ := NoteVerifierKey("alice", &k.PublicKey)
	name, rest, _ := strings.Cut(vkey, "+")
	hash, b64, _ := strings.Cut(rest, "+")
	raw, _ := base64.StdEncoding.DecodeString(b64)
	wrongType := append([]byte{1}, raw[1:]...)
	for _, bad := range []string{
		"",
		name,
		name + "+" + hash,
		name + "+" + "00000000" + "+" + b64,
		name + "+" + strings.ToUpper(hash) + "+" + b64,
		name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(wrongType),
		name + "+" + hash + "+" + b64 + "=",
		"al ice+" + hash + "+" + b64,
	} {
		if _, err := ParseNoteVerifierKey(bad); err == nil {
			t.Errorf("ParseNoteVerifierKey(%q) succeeded", bad)
		}
	}
}

func FuzzParseNoteVerifierKey(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	vkey, _ := NoteVerifierKey("alice", &k.PublicKey)
	f.Add(vkey)
	f.Add("alice+00000000+AA==")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseNoteVerifierKey(s)
		if err != nil {
			return
		}
		pub := v.(*noteVerifier).pub
		if again, _ := NoteVerifierKey(v.Name(), pub); again != s {
			t.Fatalf("accepted non-canonical key %q (canonical %q)", s, again)
		}
	})
}

// TestNoteSignerVirtualCard signs a note on a virtual PIV card through
// piv-go, exactly as on a YubiKey, and checks it with note.Open.
func TestNoteSignerVirtualCard(t *testing.T) {
	card := vcardtest.Start(t, 1)[0]
	yk, err := piv.Open(card.Reader)
	if err != nil {
		t.Fatalf("piv.Open(%q): %v", card.Reader, err)
	}
	defer yk.Close()
	slot, ok := piv.RetiredKeyManagementSlot(0x82)
	if !ok {
		t.Fatal("no retired slot 0x82")
	}
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, slot, piv.Key{
		Algorithm:   piv.AlgorithmEC256,
		PINPolicy:   piv.PINPolicyNever,
		TouchPolicy: piv.TouchPolicyNever,
	})
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	priv, err := yk.PrivateKey(slot, pub, piv.KeyAuth{PIN: piv.DefaultPIN})
	if err != nil {
		t.Fatalf("PrivateKey: %v", err)
	}
	cs, ok := priv.(crypto.Signer)
	if !ok {
		t.Fatalf("card key is %T, not a crypto.Signer", priv)
	}
	s, err := NewNoteSigner("breakglass.example/alice", cs)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewNoteVerifier("breakglass.example/alice", pub.(*ecdsa.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: testNoteText}, s)
	if err != nil {
		t.Fatalf("signing on the card: %v", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		t.Fatalf("note.Open of a card signature: %v\n%s", err, msg)
	}
	if n.Text != testNoteText {
		t.Fatalf("text = %q", n.Text)
	}
	// A second signature is fresh (ECDSA on the card is randomized) and
	// verifies too.
	msg2, err := note.Sign(&note.Note{Text: testNoteText}, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg2, note.VerifierList(v)); err != nil {
		t.Fatal(err)
	}
	for _, m := range [][]byte{msg, msg2} {
		if !isNormalised(t, pub.(*ecdsa.PublicKey), m) {
			t.Errorf("the card signature in\n%s\nis not normalised to even R", m)
		}
	}
}

// noteSignature returns the raw ECDSA signature of the one signature line of
// the signed note msg.
func noteSignature(t *testing.T, msg []byte) []byte {
	t.Helper()
	i := strings.LastIndex(string(msg), "— ")
	fields := strings.Fields(string(msg[i:]))
	raw, err := base64.StdEncoding.DecodeString(fields[len(fields)-1])
	if err != nil || len(raw) < 5 {
		t.Fatalf("no signature in %q", msg)
	}
	return raw[4:]
}

// isNormalised reports whether the signature on the signed note msg verifies
// in a one-signature batch, that is, has R = lift_x(r) with even y.
func isNormalised(t *testing.T, pub *ecdsa.PublicKey, msg []byte) bool {
	t.Helper()
	text := msg[:strings.Index(string(msg), "\n\n")+1]
	d := sha256.Sum256(text)
	var b ecdsabatch.Batch
	return b.Add(pub, d[:], noteSignature(t, msg)) && b.Verify()
}

// flipSigner returns signatures in the other of the two valid forms, (r, n−s),
// to check that the note signer normalises whatever the token returns.
type flipSigner struct{ *ecdsa.PrivateKey }

func (s flipSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	sig, err := s.PrivateKey.Sign(r, d, o)
	if err != nil {
		return nil, err
	}
	return ecdsabatch.Twin(sig)
}

// TestNoteSignerNormalises checks that every signature the note signer
// writes is in the even-R form that batch verification needs, whichever
// form the token returned, and that both forms verify.
func TestNoteSignerNormalises(t *testing.T) {
	k := newSoftKey(t)
	v, err := NewNoteVerifier("alice", &k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.(interface{ PublicKey() *ecdsa.PublicKey }).PublicKey(); !got.Equal(&k.PublicKey) {
		t.Fatal("PublicKey() is not the verifier's key")
	}
	for _, tc := range []struct {
		name string
		s    crypto.Signer
	}{{"plain", k}, {"flipped", flipSigner{k}}} {
		s, err := NewNoteSigner("alice", tc.s)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 24 {
			text := testNoteText + strings.Repeat("x", i+1) + "\n"
			msg, err := note.Sign(&note.Note{Text: text}, s)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if !isNormalised(t, &k.PublicKey, msg) {
				t.Fatalf("%s signer: signature %d is not normalised to even R", tc.name, i)
			}
			// The other form is just as valid for the verifier, and no
			// batch accepts it.
			raw := noteSignature(t, msg)
			flipped, err := ecdsabatch.Twin(raw)
			if err != nil {
				t.Fatal(err)
			}
			d := sha256.Sum256([]byte(text))
			if !v.Verify([]byte(text), flipped) {
				t.Fatalf("%s: the verifier rejects the odd-R form", tc.name)
			}
			var b ecdsabatch.Batch
			if b.Add(&k.PublicKey, d[:], flipped) && b.Verify() {
				t.Fatalf("%s: a batch accepts the odd-R form", tc.name)
			}
		}
	}
}
