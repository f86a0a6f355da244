package token

// Card-backed signed-note keys.
//
// A token's signing key becomes a [note.Signer] here, so that logbook entries
// and checkpoints are ordinary C2SP signed notes (c2sp.org/signed-note) that
// anyone can check with golang.org/x/mod/sumdb/note and the matching
// [note.Verifier] from [NewNoteVerifier].
//
// The signature type is 0x02, "ECDSA signatures as implemented by
// github.com/transparency-dev/witness":
//
//   - the signature is ECDSA over SHA-256(note text), ASN.1 DER encoded
//     (the form crypto.Signer returns and PIV cards produce);
//   - the key ID is the first four bytes, big-endian, of SHA-256 of the DER
//     SubjectPublicKeyInfo of the public key. Unlike Ed25519 (type 0x01) the
//     key name and type byte are NOT hashed in; signed-note.md says so in the
//     0x02 bullet, and transparency-dev's verifier computes it that way;
//   - the verifier key text is "<name>+<key ID as 8 hex digits>+" followed by
//     base64(0x02 || DER SubjectPublicKeyInfo).
//
// Only NIST P-256 is accepted (the spec allows P-384 and P-521, and says
// SHOULD P-256; breakglass tokens hold P-256 keys).
//
// Signatures are normalised: of the two valid forms (r, s) and (r, n−s) of
// every ECDSA signature, the signer writes the one whose point R has an even
// y-coordinate (see internal/ecdsabatch), so that the logbook can check
// thousands of signatures in one batch. Standard ECDSA verifiers accept both
// forms, and the verifier here accepts any valid signature.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/breakglass/breakglass/internal/ecdsabatch"
	"golang.org/x/mod/sumdb/note"
)

// noteSigTypeECDSA is the C2SP signed-note signature type byte for ECDSA.
const noteSigTypeECDSA = 0x02

// NewNoteSigner returns a [note.Signer] that signs with s, which must hold a
// NIST P-256 ECDSA key (for example a PIV card's slot key from piv-go, or a
// PKCS#11 key). name is the key name written on every signature line; it
// must be non-empty and contain no spaces or '+'.
//
// Each Sign call is one signature on the token, which may need a touch. The
// returned signer also has a Fingerprint method (see [NewNoteVerifier]).
func NewNoteSigner(name string, s crypto.Signer) (note.Signer, error) {
	if s == nil {
		return nil, errors.New("token: note signer: no key")
	}
	pub, ok := s.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("token: note signer %q: key is %T, want an ECDSA P-256 key", name, s.Public())
	}
	k, err := newNoteKey(name, pub)
	if err != nil {
		return nil, err
	}
	return &noteSigner{noteKey: k, s: s}, nil
}

// NewNoteVerifier returns the [note.Verifier] for signatures made by
// [NewNoteSigner] with the same name and the private key of pub.
//
// The verifier (like the signer) also has a method
//
//	Fingerprint() string
//
// returning [Fingerprint] of pub, such as "3f2a 91c0 7b44 e1d2", the form
// enrollment records show. The logbook
// uses it to check that an entry's actor key matches the key that signed.
// It also has
//
//	PublicKey() *ecdsa.PublicKey
//
// returning pub, which the logbook uses to check many signatures in one batch.
func NewNoteVerifier(name string, pub *ecdsa.PublicKey) (note.Verifier, error) {
	k, err := newNoteKey(name, pub)
	if err != nil {
		return nil, err
	}
	return &noteVerifier{noteKey: k}, nil
}

// NoteVerifierKey returns the verifier key text for name and pub,
// "<name>+<key ID hex>+<base64(0x02 || SPKI)>", the encoding that
// transparency-dev's note.NewVerifier and [ParseNoteVerifierKey] accept.
func NoteVerifierKey(name string, pub *ecdsa.PublicKey) (string, error) {
	k, err := newNoteKey(name, pub)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s+%08x+%s", k.name, k.hash,
		base64.StdEncoding.EncodeToString(append([]byte{noteSigTypeECDSA}, k.spki...))), nil
}

// ParseNoteVerifierKey parses a verifier key written by [NoteVerifierKey].
func ParseNoteVerifierKey(vkey string) (note.Verifier, error) {
	name, rest, ok1 := strings.Cut(vkey, "+")
	hexHash, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 {
		return nil, errors.New("token: malformed note verifier key: want NAME+KEYID+KEY")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(raw) < 2 {
		return nil, fmt.Errorf("token: note verifier key %q: malformed base64 key", name)
	}
	if raw[0] != noteSigTypeECDSA {
		return nil, fmt.Errorf("token: note verifier key %q: signature type 0x%02x, want 0x02 (ECDSA)", name, raw[0])
	}
	pk, err := x509.ParsePKIXPublicKey(raw[1:])
	if err != nil {
		return nil, fmt.Errorf("token: note verifier key %q: %v", name, err)
	}
	pub, ok := pk.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("token: note verifier key %q: key is %T, want ECDSA P-256", name, pk)
	}
	k, err := newNoteKey(name, pub)
	if err != nil {
		return nil, err
	}
	if len(hexHash) != 8 || strings.ToLower(hexHash) != hexHash {
		return nil, fmt.Errorf("token: note verifier key %q: key ID %q is not 8 lowercase hex digits", name, hexHash)
	}
	h, err := strconv.ParseUint(hexHash, 16, 32)
	if err != nil || uint32(h) != k.hash {
		return nil, fmt.Errorf("token: note verifier key %q: key ID %s does not match the key (want %08x)", name, hexHash, k.hash)
	}
	// Canonical: re-encoding must give the same text.
	if want, _ := NoteVerifierKey(name, pub); want != vkey {
		return nil, fmt.Errorf("token: note verifier key %q: not in canonical form", name)
	}
	return &noteVerifier{noteKey: k}, nil
}

type noteKey struct {
	name string
	hash uint32
	pub  *ecdsa.PublicKey
	spki []byte
	fp   string
}

func newNoteKey(name string, pub *ecdsa.PublicKey) (noteKey, error) {
	if !noteSigValidName(name) {
		return noteKey{}, fmt.Errorf("token: note key name %q: must be non-empty, without spaces or '+'", name)
	}
	if pub == nil || pub.Curve != elliptic.P256() {
		return noteKey{}, fmt.Errorf("token: note key %q: want an ECDSA key on NIST P-256", name)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return noteKey{}, fmt.Errorf("token: note key %q: %v", name, err)
	}
	sum := sha256.Sum256(spki)
	return noteKey{name: name, hash: binary.BigEndian.Uint32(sum[:4]), pub: pub, spki: spki, fp: fingerprintDER(spki)}, nil
}

// noteSigValidName reports whether name is a valid signed-note key name.
func noteSigValidName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 && !strings.Contains(name, "+")
}

func (k *noteKey) Name() string        { return k.name }
func (k *noteKey) KeyHash() uint32     { return k.hash }
func (k *noteKey) Fingerprint() string { return k.fp }

type noteSigner struct {
	noteKey
	s crypto.Signer
}

// Sign signs msg on the token. It checks the signature against the public key
// before returning it, so a wrong key in the slot is caught at signing time
// rather than by an auditor later, and normalises it to the even-R form
// (see the comment at the top of this file).
func (s *noteSigner) Sign(msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	sig, err := s.s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("token: signing as %s: %w", s.name, err)
	}
	norm, err := ecdsabatch.Normalize(s.pub, d[:], sig)
	if err != nil {
		return nil, fmt.Errorf("token: signing as %s: the token returned a signature that does not verify with its public key", s.name)
	}
	return norm, nil
}

type noteVerifier struct {
	noteKey
}

// Verify reports whether sig is a valid ECDSA signature of SHA-256(msg),
// normalised or not.
func (v *noteVerifier) Verify(msg, sig []byte) bool {
	d := sha256.Sum256(msg)
	return ecdsa.VerifyASN1(v.pub, d[:], sig)
}

// PublicKey returns the verifier's public key, for callers that check many
// signatures at once (the logbook, with internal/ecdsabatch) and need to
// reach the key behind the [note.Verifier] interface.
func (v *noteVerifier) PublicKey() *ecdsa.PublicKey { return v.pub }
