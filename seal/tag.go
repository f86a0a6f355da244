package seal

import (
	"crypto/ecdh"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"

	"filippo.io/age"
	"filippo.io/age/tag"
	"filippo.io/hpke"
)

// p256tagLabel is the HPKE info string and tag salt of the age p256tag
// recipient type (C2SP age, "The tagged recipient types").
const p256tagLabel = "age-encryption.org/p256tag"

// b64 is the base64 variant age uses in stanza arguments and bodies:
// standard alphabet, no padding, canonical (strict) decoding.
var b64 = base64.RawStdEncoding.Strict()

// A TagIdentity is an age identity for p256tag stanzas whose private key is
// reachable only through a [crypto/ecdh.KeyExchanger]: a PIV card, a PKCS#11
// token, or in tests a software *ecdh.PrivateKey.
//
// Unwrap performs at most one ECDH per stanza whose tag matches the key, and
// none at all for stanzas addressed to other keys.
type TagIdentity struct {
	kx        ecdh.KeyExchanger
	recipient *tag.Recipient
	hpkeKey   hpke.PrivateKey
}

var _ age.Identity = &TagIdentity{}

// NewTagIdentity returns the p256tag identity of kx, which must be a P-256 key.
func NewTagIdentity(kx ecdh.KeyExchanger) (*TagIdentity, error) {
	if kx == nil || kx.Curve() != ecdh.P256() {
		return nil, errors.New("seal: p256tag needs a P-256 key")
	}
	pub := kx.PublicKey()
	if pub == nil {
		return nil, errors.New("seal: the key has no public key")
	}
	r, err := TagRecipient(pub)
	if err != nil {
		return nil, err
	}
	k, err := hpke.NewDHKEMPrivateKey(kx)
	if err != nil {
		return nil, fmt.Errorf("seal: %v", err)
	}
	return &TagIdentity{kx: kx, recipient: r, hpkeKey: k}, nil
}

// Recipient returns the age1tag1… recipient that encrypts to this identity.
func (i *TagIdentity) Recipient() *tag.Recipient { return i.recipient }

// Unwrap implements [age.Identity]. It ignores stanzas of other types,
// rejects malformed p256tag stanzas (wrong argument count, non-canonical
// base64, a tag that is not 4 bytes, an encapsulated key that is not 65
// bytes, a body that is not 32 bytes), skips stanzas whose tag is not this
// key's, and returns an error wrapping [age.ErrIncorrectIdentity] when no
// stanza opens. Any other error (for example from the token) is fatal.
func (i *TagIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, s := range stanzas {
		if s.Type != "p256tag" {
			continue
		}
		if len(s.Args) != 2 {
			return nil, errors.New("malformed p256tag stanza: want 2 arguments")
		}
		t, err := b64.DecodeString(s.Args[0])
		if err != nil || len(t) != 4 {
			return nil, errors.New("malformed p256tag stanza: the tag is not 4 bytes of canonical base64")
		}
		enc, err := b64.DecodeString(s.Args[1])
		if err != nil || len(enc) != 65 {
			return nil, errors.New("malformed p256tag stanza: the encapsulated key is not 65 bytes of canonical base64")
		}
		if len(s.Body) != 32 {
			return nil, errors.New("malformed p256tag stanza: the body is not 32 bytes")
		}
		want, err := i.recipient.Tag(enc)
		if err != nil {
			return nil, fmt.Errorf("malformed p256tag stanza: %v", err)
		}
		if subtle.ConstantTimeCompare(t, want) != 1 {
			continue
		}
		// The tag matched: this is (very likely) ours. NewRecipient runs the
		// one ECDH on the token.
		r, err := hpke.NewRecipient(enc, i.hpkeKey, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte(p256tagLabel))
		if err != nil {
			return nil, fmt.Errorf("p256tag key agreement failed: %w", err)
		}
		fileKey, err := r.Open(nil, s.Body)
		if err != nil {
			// 4-byte tags collide; another stanza may still be ours.
			continue
		}
		return fileKey, nil
	}
	return nil, age.ErrIncorrectIdentity
}

// TagRecipient returns the age p256tag recipient (age1tag1…) of a P-256
// public key.
func TagRecipient(pub *ecdh.PublicKey) (*tag.Recipient, error) {
	c, err := compressP256(pub)
	if err != nil {
		return nil, err
	}
	r, err := tag.NewClassicRecipient(c)
	if err != nil {
		return nil, fmt.Errorf("seal: %v", err)
	}
	return r, nil
}

// compressP256 returns the 33-byte SEC 1 compressed form of a P-256 key.
func compressP256(pub *ecdh.PublicKey) ([]byte, error) {
	if pub == nil || pub.Curve() != ecdh.P256() {
		return nil, errors.New("seal: not a P-256 public key")
	}
	u := pub.Bytes() // 0x04 ‖ X ‖ Y
	if len(u) != 65 || u[0] != 4 {
		return nil, errors.New("seal: unexpected P-256 public key encoding")
	}
	c := make([]byte, 33)
	c[0] = 2 | u[64]&1
	copy(c[1:], u[1:33])
	return c, nil
}
