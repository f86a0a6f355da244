package aws

// The sealed key: what a .glass made by aws provision decrypts to. Recovery
// with standard tools depends on this format (docs/runbook-aws.md), so it
// has exactly one encoding.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/breakglass/breakglass/internal/secret"
)

// The sealed secret of an aws provision is the long-term access key in the
// AWS CLI's credential_process shape, exactly
//
//	{"Version":1,"AccessKeyId":"AKIA…","SecretAccessKey":"…"}
//
// with no spaces and no newline, so that a key recovered with standard
// tools (docs/runbook-aws.md) can be handed to any AWS client as is.
var (
	sealedKeyPrefix = []byte(`{"Version":1,"AccessKeyId":"`)
	sealedKeyMiddle = []byte(`","SecretAccessKey":"`)
	sealedKeySuffix = []byte(`"}`)
	accessKeyIDRE   = regexp.MustCompile(`^[A-Z0-9]{16,128}$`)
)

// MaxSealedKey bounds the plaintext of a sealed AWS key.
const MaxSealedKey = 1024

// MarshalSealedKey encodes k as the sealed plaintext. The caller wipes the
// result.
func MarshalSealedKey(k *Credentials) ([]byte, error) {
	if !ValidAccessKeyID(k.AccessKeyID) || !validSecretKey(k.SecretAccessKey) {
		return nil, errors.New("the new access key has an unexpected shape; it was not sealed")
	}
	b := make([]byte, 0, len(sealedKeyPrefix)+len(k.AccessKeyID)+len(sealedKeyMiddle)+len(k.SecretAccessKey)+len(sealedKeySuffix))
	b = append(b, sealedKeyPrefix...)
	b = append(b, k.AccessKeyID...)
	b = append(b, sealedKeyMiddle...)
	b = append(b, k.SecretAccessKey...)
	b = append(b, sealedKeySuffix...)
	return b, nil
}

// ParseSealedKey decodes the sealed plaintext. It accepts only the exact
// encoding MarshalSealedKey writes. The returned secret is a copy; the
// caller wipes both b and the result. Errors never quote b.
func ParseSealedKey(b []byte) (*Credentials, error) {
	bad := errors.New("the unsealed secret is not an AWS access key sealed by breakglass aws provision")
	if len(b) > MaxSealedKey || len(b) < len(sealedKeyPrefix)+len(sealedKeySuffix) || !bytes.HasPrefix(b, sealedKeyPrefix) || !bytes.HasSuffix(b, sealedKeySuffix) {
		return nil, bad
	}
	body := b[len(sealedKeyPrefix) : len(b)-len(sealedKeySuffix)]
	i := bytes.Index(body, sealedKeyMiddle)
	if i < 0 {
		return nil, bad
	}
	id, sec := body[:i], body[i+len(sealedKeyMiddle):]
	if !accessKeyIDRE.Match(id) || !validSecretKey(sec) {
		return nil, bad
	}
	return &Credentials{AccessKeyID: string(id), SecretAccessKey: bytes.Clone(sec)}, nil
}

// validSecretKey: AWS secret access keys are 40 base64 characters; allow
// some room without letting JSON syntax in.
func validSecretKey(b []byte) bool {
	if len(b) < 16 || len(b) > 128 {
		return false
	}
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/', c == '=':
		default:
			return false
		}
	}
	return true
}

// ValidAccessKeyID reports whether id has the shape of an AWS access key
// id: 16 to 128 upper-case letters and digits.
func ValidAccessKeyID(id string) bool { return accessKeyIDRE.MatchString(id) }

// ErrSealedKeyTooLarge: the plaintext is longer than any sealed key
// (MaxSealedKey): not a secret made by aws provision.
var ErrSealedKeyTooLarge = errors.New("the secret is larger than a sealed AWS key")

// A KeyIDMismatchError is a sealed key whose id is not the one its
// header names: the file is not as provisioned.
type KeyIDMismatchError struct {
	Sealed, Header string
}

func (e *KeyIDMismatchError) Error() string {
	return fmt.Sprintf("the sealed access key %s is not the key id %s its header names", e.Sealed, e.Header)
}

// ReadSealedKey reads a sealed key's plaintext from r (an unsealed
// payload), parses it, and checks that its id is keyID, the one the
// header names. The plaintext read is wiped; the caller wipes the key.
// Errors: ErrSealedKeyTooLarge, ParseSealedKey's, *KeyIDMismatchError, or
// r's own.
func ReadSealedKey(r io.Reader, keyID string) (*Credentials, error) {
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(r, MaxSealedKey+1))
	buf := b.Bytes()
	defer secret.Wipe(buf)
	switch {
	case err != nil:
		return nil, err
	case n > MaxSealedKey:
		return nil, ErrSealedKeyTooLarge
	}
	key, err := ParseSealedKey(buf)
	if err != nil {
		return nil, err
	}
	if key.AccessKeyID != keyID {
		key.Wipe()
		return nil, &KeyIDMismatchError{Sealed: key.AccessKeyID, Header: keyID}
	}
	return key, nil
}
