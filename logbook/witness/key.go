package witness

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
)

// sigTypeCosignature is the signed-note signature type of Ed25519
// cosignatures (c2sp.org/tlog-cosignature, "cosignature/v1").
const sigTypeCosignature = 0x04

// cosigSize is the size of a cosignature/v1 signature: an 8-byte big-endian
// timestamp and an Ed25519 signature.
const cosigSize = 8 + ed25519.SignatureSize

// GenerateKey makes a new witness key named name (a schema-less URL such as
// "witness.example.com/security"). It returns the private key text skey,
// "PRIVATE+KEY+NAME+KEYID+BASE64(0x04 || 32-byte Ed25519 seed)", to keep in
// a file only the witness can read, and the verifier key text vkey,
// "NAME+KEYID+BASE64(0x04 || 32-byte Ed25519 public key)", the c2sp.org
// vkey encoding that logs put in their witnesses file.
func GenerateKey(name string) (skey, vkey string, err error) {
	if !validName(name) {
		return "", "", fmt.Errorf("witness name %q: want a non-empty name without spaces or '+', such as witness.example.com/security", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	h := keyHash(name, pub)
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte{sigTypeCosignature}, priv.Seed()...)))
	vkey = fmt.Sprintf("%s+%08x+%s", name, h, base64.StdEncoding.EncodeToString(append([]byte{sigTypeCosignature}, pub...)))
	return skey, vkey, nil
}

// NewSigner parses a private key text made by [GenerateKey] and returns the
// cosigner: torchwood's cosignature/v1 signer, which timestamps every
// cosignature with the current time.
func NewSigner(skey string) (*torchwood.CosignatureSigner, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(skey), "PRIVATE+KEY+")
	if !ok {
		return nil, errors.New("not a witness private key (want PRIVATE+KEY+NAME+KEYID+KEY, as log witness keygen writes)")
	}
	name, raw, err := splitKey(rest)
	if err != nil {
		return nil, err
	}
	if len(raw) != 1+ed25519.SeedSize || raw[0] != sigTypeCosignature {
		return nil, fmt.Errorf("witness private key %s: want type 0x04 (Ed25519 cosignature/v1) and a 32-byte seed", name)
	}
	priv := ed25519.NewKeyFromSeed(raw[1:])
	s, err := torchwood.NewCosignatureSigner(name, priv)
	if err != nil {
		return nil, fmt.Errorf("witness private key %s: %v", name, err)
	}
	if want := keyHash(name, priv.Public().(ed25519.PublicKey)); want != s.KeyHash() || !strings.HasPrefix(rest, fmt.Sprintf("%s+%08x+", name, want)) {
		return nil, fmt.Errorf("witness private key %s: the key ID does not match the key", name)
	}
	return s, nil
}

// VerifierKey returns the verifier key text of a torchwood cosigner.
func VerifierKey(s *torchwood.CosignatureSigner) string { return s.Verifier().String() }

// A Verifier checks Ed25519 cosignatures (c2sp.org/tlog-cosignature,
// cosignature/v1) of one witness. It is a [note.Verifier]: give it to
// note.Open with a checkpoint that carries cosignature lines. (torchwood
// v0.6.1 builds a verifier only from a private key, so this one is ours; the
// tests check it against torchwood's signer and sigsum-go.)
type Verifier struct {
	name string
	hash uint32
	key  ed25519.PublicKey
	vkey string
}

var _ note.Verifier = (*Verifier)(nil)

// NewVerifier parses a witness verifier key, NAME+KEYID+BASE64(0x04 ||
// 32-byte Ed25519 public key), in its canonical encoding.
func NewVerifier(vkey string) (*Verifier, error) {
	name, raw, err := splitKey(vkey)
	if err != nil {
		return nil, err
	}
	if len(raw) != 1+ed25519.PublicKeySize || raw[0] != sigTypeCosignature {
		if len(raw) > 0 && raw[0] != sigTypeCosignature {
			return nil, fmt.Errorf("witness key %s: signature type 0x%02x, want 0x04 (Ed25519 cosignature/v1)", name, raw[0])
		}
		return nil, fmt.Errorf("witness key %s: want type 0x04 and a 32-byte Ed25519 public key", name)
	}
	v := &Verifier{name: name, key: ed25519.PublicKey(raw[1:]), vkey: vkey}
	v.hash = keyHash(name, v.key)
	if want := fmt.Sprintf("%s+%08x+%s", name, v.hash, base64.StdEncoding.EncodeToString(raw)); want != vkey {
		return nil, fmt.Errorf("witness key %s: the key ID does not match the key, or the key is not in canonical form", name)
	}
	return v, nil
}

// splitKey splits NAME+KEYID+BASE64 and decodes the key bytes.
func splitKey(k string) (name string, raw []byte, err error) {
	name, rest, ok1 := strings.Cut(k, "+")
	id, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || !validName(name) || len(id) != 8 {
		return "", nil, errors.New("malformed witness key: want NAME+KEYID+KEY")
	}
	if _, err := strconv.ParseUint(id, 16, 32); err != nil {
		return "", nil, fmt.Errorf("witness key %s: key ID %q is not 8 hex digits", name, id)
	}
	raw, err = base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return "", nil, fmt.Errorf("witness key %s: malformed base64 key", name)
	}
	return name, raw, nil
}

func (v *Verifier) Name() string    { return v.name }
func (v *Verifier) KeyHash() uint32 { return v.hash }

// String returns the verifier key text.
func (v *Verifier) String() string { return v.vkey }

// Verify reports whether sig is a valid cosignature/v1 of the checkpoint
// msg: an 8-byte big-endian timestamp, then the Ed25519 signature of
// "cosignature/v1\ntime T\n" followed by msg.
func (v *Verifier) Verify(msg, sig []byte) bool {
	if len(sig) != cosigSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > math.MaxInt64 {
		return false
	}
	if c, err := torchwood.ParseCheckpoint(string(msg)); err != nil || c.String() != string(msg) {
		return false
	}
	m := fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, msg)
	return ed25519.Verify(v.key, m, sig[8:])
}

// Timestamp returns the time a cosignature line says it was made.
func Timestamp(sig note.Signature) (time.Time, error) {
	t, err := torchwood.CosignatureTimestamp(sig)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(t, 0).UTC(), nil
}

// keyHash is the key ID of an Ed25519 cosigner: SHA-256(name || "\n" ||
// 0x04 || public key)[:4].
func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{sigTypeCosignature})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// validName reports whether name can be a signed-note key name: non-empty,
// valid UTF-8, no Unicode space and no '+'.
func validName(name string) bool {
	return name != "" && utf8.ValidString(name) && strings.IndexFunc(name, unicode.IsSpace) < 0 &&
		!strings.Contains(name, "+") && strings.IndexFunc(name, unicode.IsControl) < 0
}
