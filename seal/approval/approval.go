// Package approval is what a custodian's token signs before their share of
// a sealed secret is used: the request the tap approves.
//
// An approval is a short text (its [Message]) naming the action, the sealed
// secret and its header hash, the custodian, the operator, the reason, the
// ticket, the use case, for a remote tap the request id, and the time:
//
//	breakglass tap approval v1
//	action: unseal
//	secret: prod-aws
//	header-hash: 4f1c…             64 hex digits
//	custodian: alice
//	operator: bob
//	reason: SSO outage
//	ticket: INC-4711
//	use-case: SSO is down
//	request: 9f1c…                 a remote tap only
//	time: 2026-11-24T04:00:00Z
//
// Values are single lines (a newline in a value becomes a space). The
// custodian's token signs SHA-256 of the message with its signing key
// (ECDSA P-256, ASN.1 DER), the key the custodian's enrollment record
// names. The logbook's tap entry carries the approval, and a remote tap's
// response carries it to the operator (package remote), so that a release
// names every approver and exactly what each approved.
package approval

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
)

// Version is the first line of every approval message.
const Version = "breakglass tap approval v1"

// Request is what an approval approves, besides the secret itself.
type Request struct {
	Action   string // "unseal", "drill", "reseal", "aws session", "unseal (remote tap)"
	Operator string
	Reason   string
	Ticket   string
	UseCase  string
	// RequestID names the remote request a remote tap approves.
	RequestID string
}

// Message is the text a custodian's token signs to approve r for the sealed
// secret named secretName whose header hash is headerHash.
func Message(secretName string, headerHash [32]byte, r Request, custodian string, at time.Time) []byte {
	var b strings.Builder
	line := func(k, v string) {
		b.WriteString(k + ": " + strings.ReplaceAll(v, "\n", " ") + "\n")
	}
	b.WriteString(Version + "\n")
	line("action", r.Action)
	line("secret", secretName)
	line("header-hash", hex.EncodeToString(headerHash[:]))
	line("custodian", custodian)
	line("operator", r.Operator)
	line("reason", r.Reason)
	line("ticket", r.Ticket)
	line("use-case", r.UseCase)
	if r.RequestID != "" {
		line("request", r.RequestID)
	}
	line("time", at.UTC().Format(time.RFC3339))
	return []byte(b.String())
}

// An Approval is a signed approval as a ceremony keeps it.
type Approval struct {
	Custodian      string // roster name
	Index          int    // custodian index in the roster
	Token          string // "piv 10000002", "pkcs11 …", "paper", "remote"
	KeyFingerprint string // of the signing key ("" for paper)
	Message        []byte // the signed text, see Message
	Signature      []byte // ASN.1 ECDSA P-256 over SHA-256(Message); nil for paper
	At             time.Time
}

// Fingerprint is a short name of the signed approval, for the screen and
// the logbook: the first 8 bytes of SHA-256(Message ‖ Signature), in four
// groups of four hex digits.
func (a *Approval) Fingerprint() string {
	h := sha256.New()
	h.Write(a.Message)
	h.Write(a.Signature)
	s := hex.EncodeToString(h.Sum(nil)[:8])
	return s[0:4] + " " + s[4:8] + " " + s[8:12] + " " + s[12:16]
}

// ErrBadSignature: an approval signature does not verify with the key.
var ErrBadSignature = errors.New("the approval signature does not verify")

// Sign has signer (a token's signing key: the token may ask for a touch)
// sign msg, and checks the signature before returning it, so that a card
// that answers garbage is caught here.
func Sign(signer crypto.Signer, msg []byte) ([]byte, error) {
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("the signing key is not ECDSA")
	}
	digest := sha256.Sum256(msg)
	sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	if Verify(pub, msg, sig) != nil {
		return nil, errors.New("the card returned an approval signature that does not verify")
	}
	return sig, nil
}

// Verify checks sig over msg with pub, or returns ErrBadSignature.
func Verify(pub *ecdsa.PublicKey, msg, sig []byte) error {
	digest := sha256.Sum256(msg)
	if pub == nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return ErrBadSignature
	}
	return nil
}
