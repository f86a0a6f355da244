// Package remote is the air-gap protocol of a remote tap: a custodian who
// cannot come to the unsealing laptop taps on their own machine, and their
// share travels to the operator encrypted to a key that only the waiting
// unseal holds.
//
// # The exchange
//
//  1. The operator writes a [Request] ([NewRequest]) bound to a fresh
//     ephemeral age X25519 identity, which stays on the laptop.
//  2. The custodian checks the request against the sealed file they have
//     ([Request.CheckFile]), approves it with their token and opens their
//     share ([Answer]): the share is checked against the approved file
//     (seal.File.OpenShare) and re-encrypted to the request's recipient.
//  3. The operator opens the [Response] with the request's identity
//     ([Response.Open]), which checks that it answers this request, that
//     the share is marked for the custodian it names and belongs to this
//     file, and that the approval is signed by the custodian's enrolled key
//     over exactly this request.
//
// Requests and responses are short text blocks, specified in
// docs/format-remote.md; each has exactly one encoding, which the parsers
// enforce by re-encoding what they read.
package remote

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/token"
)

const (
	requestBegin  = "-----BEGIN BREAKGLASS UNSEAL REQUEST-----"
	requestEnd    = "-----END BREAKGLASS UNSEAL REQUEST-----"
	responseBegin = "-----BEGIN BREAKGLASS TAP RESPONSE-----"
	responseEnd   = "-----END BREAKGLASS TAP RESPONSE-----"

	// maxShare bounds the decrypted share a response carries.
	maxShare = 4096
	// MaxText bounds a request or response text.
	MaxText = 64 << 10
)

var (
	requestFields  = []string{"request", "secret", "header-hash", "operator", "reason", "ticket", "use-case", "created-at", "expires-at", "recipient"}
	responseFields = []string{"request", "custodian", "index", "signing-key", "approval-time", "signature"}
)

// Action is the action a remote tap's approval names.
const Action = "unseal (remote tap)"

// A Request asks remote custodians to tap for one unseal.
type Request struct {
	ID         string // 32 hex digits, random
	Secret     string // the sealed secret's name
	HeaderHash string // the .glass header hash, 64 hex digits
	Operator   string
	Reason     string
	Ticket     string
	UseCase    string
	CreatedAt  time.Time // UTC, whole seconds
	ExpiresAt  time.Time // UTC, whole seconds
	Recipient  string    // age1… X25519 recipient of the ephemeral identity
}

// NewRequest makes a request to unseal f, valid for valid from now, and the
// ephemeral identity whose recipient it names. The caller keeps the identity
// secret (mode 0600) and deletes it once an unseal has used it.
func NewRequest(f *seal.File, operator, reason, ticket, useCase string, now time.Time, valid time.Duration) (*Request, *age.X25519Identity, error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, nil, err
	}
	rid := make([]byte, 16)
	if _, err := rand.Read(rid); err != nil {
		return nil, nil, err
	}
	h := f.HeaderHash()
	now = now.UTC().Truncate(time.Second)
	r := &Request{ID: hex.EncodeToString(rid), Secret: f.Header.Name, HeaderHash: hex.EncodeToString(h[:]),
		Operator: oneLine(operator), Reason: oneLine(reason), Ticket: oneLine(ticket), UseCase: oneLine(useCase),
		CreatedAt: now, ExpiresAt: now.Add(valid).Truncate(time.Second), Recipient: id.Recipient().String()}
	return r, id, nil
}

// oneLine makes v a value of a request line.
func oneLine(v string) string { return strings.ReplaceAll(v, "\n", " ") }

// Marshal encodes r.
func (r *Request) Marshal() []byte {
	return marshalBlock(requestBegin, requestEnd, requestFields, map[string]string{
		"request": r.ID, "secret": r.Secret, "header-hash": r.HeaderHash, "operator": r.Operator,
		"reason": r.Reason, "ticket": r.Ticket, "use-case": r.UseCase,
		"created-at": r.CreatedAt.UTC().Format(time.RFC3339), "expires-at": r.ExpiresAt.UTC().Format(time.RFC3339),
		"recipient": r.Recipient,
	})
}

// ParseRequest parses a request. It accepts only the encoding Marshal
// writes.
func ParseRequest(b []byte) (*Request, error) {
	f, rest, err := parseBlock(b, requestBegin, requestEnd, requestFields)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New("unexpected text after the END line")
	}
	if id, err := hex.DecodeString(f["request"]); err != nil || len(id) != 16 || hex.EncodeToString(id) != f["request"] {
		return nil, errors.New("request id is not 32 hex digits")
	}
	if h, err := hex.DecodeString(f["header-hash"]); err != nil || len(h) != 32 || hex.EncodeToString(h) != f["header-hash"] {
		return nil, errors.New("header-hash is not 64 hex digits")
	}
	r := &Request{ID: f["request"], Secret: f["secret"], HeaderHash: f["header-hash"], Operator: f["operator"],
		Reason: f["reason"], Ticket: f["ticket"], UseCase: f["use-case"], Recipient: f["recipient"]}
	for k, t := range map[string]*time.Time{"created-at": &r.CreatedAt, "expires-at": &r.ExpiresAt} {
		if *t, err = time.Parse(time.RFC3339, f[k]); err != nil {
			return nil, fmt.Errorf("%s is not an RFC 3339 time", k)
		}
	}
	if _, err := age.ParseX25519Recipient(f["recipient"]); err != nil {
		return nil, fmt.Errorf("recipient: %v", err)
	}
	if !bytes.Equal(r.Marshal(), b) {
		return nil, errors.New("not in canonical form (times in UTC as 2006-01-02T15:04:05Z)")
	}
	return r, nil
}

// Short is the request id's first 8 hex digits, for messages.
func (r *Request) Short() string { return r.ID[:8] }

// Approval is what a custodian approves by tapping r.
func (r *Request) Approval() approval.Request {
	return approval.Request{Action: Action, Operator: r.Operator, Reason: r.Reason, Ticket: r.Ticket,
		UseCase: r.UseCase, RequestID: r.ID}
}

// Expired reports whether r can no longer be answered at now.
func (r *Request) Expired(now time.Time) bool { return now.After(r.ExpiresAt) }

// A MismatchError is a request that does not fit the sealed file it is
// checked against: Field is "header-hash", "secret" or "use-case".
type MismatchError struct {
	Field     string
	Request   string   // what the request says
	File      string   // what the file says
	UseCases  []string // the file's use cases, for Field "use-case"
	FileShort string   // the file's header hash, first 12 hex digits
}

func (e *MismatchError) Error() string {
	switch e.Field {
	case "header-hash":
		return fmt.Sprintf("the request is for another version of the secret (header hash %s…, the file has %s…)", shortHex(e.Request, 12), e.FileShort)
	case "use-case":
		return fmt.Sprintf("the request's use case %q is not one sealed in the file", e.Request)
	}
	return fmt.Sprintf("the request names the secret %q, but the file seals %q", e.Request, e.File)
}

func shortHex(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// CheckFile checks r against the sealed file f it asks to unseal: the same
// header, the same secret name, and a use case sealed in f (any, when f
// names none). It returns a *MismatchError.
func (r *Request) CheckFile(f *seal.File) error {
	h := f.HeaderHash()
	hh := hex.EncodeToString(h[:])
	switch {
	case r.HeaderHash != hh:
		return &MismatchError{Field: "header-hash", Request: r.HeaderHash, File: hh, FileShort: hh[:12]}
	case r.Secret != f.Header.Name:
		return &MismatchError{Field: "secret", Request: r.Secret, File: f.Header.Name}
	case f.Header.CheckUseCase(r.UseCase) != nil:
		return &MismatchError{Field: "use-case", Request: r.UseCase, UseCases: f.Header.UseCases}
	}
	return nil
}

// A Response answers a request with one custodian's share and approval.
type Response struct {
	RequestID    string
	Custodian    string // roster name
	Index        int    // roster index
	SigningKey   *ecdsa.PublicKey
	ApprovalTime time.Time // UTC, whole seconds
	Signature    []byte    // over approval.Message of the request, see Answer
	Share        []byte    // armored age file: the share plaintext, to the request's recipient
}

// Marshal encodes r.
func (r *Response) Marshal() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(r.SigningKey)
	if err != nil {
		return nil, err
	}
	b := marshalBlock(responseBegin, responseEnd, responseFields, map[string]string{
		"request": r.RequestID, "custodian": r.Custodian, "index": strconv.Itoa(r.Index),
		"signing-key": base64.StdEncoding.EncodeToString(der), "approval-time": r.ApprovalTime.UTC().Format(time.RFC3339),
		"signature": base64.StdEncoding.EncodeToString(r.Signature),
	})
	return append(b, r.Share...), nil
}

// ParseResponse parses a response. It accepts only the encoding Marshal
// writes; the share it carries is opened by [Response.Open].
func ParseResponse(b []byte) (*Response, error) {
	if len(b) > MaxText {
		return nil, errors.New("too large for a tap response")
	}
	f, rest, err := parseBlock(b, responseBegin, responseEnd, responseFields)
	if err != nil {
		return nil, err
	}
	r := &Response{RequestID: f["request"], Custodian: f["custodian"], Share: rest}
	if id, err := hex.DecodeString(r.RequestID); err != nil || len(id) != 16 || hex.EncodeToString(id) != r.RequestID {
		return nil, errors.New("request id is not 32 hex digits")
	}
	if r.Index, err = strconv.Atoi(f["index"]); err != nil || r.Index < 0 || strconv.Itoa(r.Index) != f["index"] {
		return nil, errors.New("index is not a custodian index")
	}
	der, err := base64.StdEncoding.Strict().DecodeString(f["signing-key"])
	if err != nil {
		return nil, errors.New("signing-key is not base64")
	}
	pk, err := x509.ParsePKIXPublicKey(der)
	pub, ok := pk.(*ecdsa.PublicKey)
	if err != nil || !ok {
		return nil, errors.New("signing-key is not an ECDSA public key")
	}
	r.SigningKey = pub
	if r.ApprovalTime, err = time.Parse(time.RFC3339, f["approval-time"]); err != nil {
		return nil, errors.New("approval-time is not an RFC 3339 time")
	}
	if r.Signature, err = base64.StdEncoding.Strict().DecodeString(f["signature"]); err != nil {
		return nil, errors.New("signature is not base64")
	}
	if _, err := armor.NewReader(bytes.NewReader(rest)).Read(make([]byte, 1)); err != nil {
		return nil, errors.New("the share is not an armored age file")
	}
	if m, err := r.Marshal(); err != nil || !bytes.Equal(m, b) {
		return nil, errors.New("not in canonical form")
	}
	return r, nil
}

// Answer is the custodian's side: kx and signer are the custodian's token's
// keys. It signs the approval of req for f (the token asks for the PIN and
// a touch), opens the custodian's share with every check of
// seal.File.OpenShare, and encrypts it to the request's recipient. The
// caller has checked req against f ([Request.CheckFile]) and that it has
// not expired. idx is the custodian the token belongs to (f.Custodian).
func Answer(f *seal.File, req *Request, idx int, kx ecdh.KeyExchanger, signer crypto.Signer, now time.Time) (*Response, *approval.Approval, error) {
	cs := f.Header.Custodians()
	if idx < 0 || idx >= len(cs) {
		return nil, nil, fmt.Errorf("no custodian %d in the roster", idx)
	}
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, errors.New("the signing key is not ECDSA")
	}
	rcpt, err := age.ParseX25519Recipient(req.Recipient)
	if err != nil {
		return nil, nil, err
	}
	at := now.UTC().Truncate(time.Second)
	msg := approval.Message(f.Header.Name, f.HeaderHash(), req.Approval(), cs[idx].Name, at)
	sig, err := approval.Sign(signer, msg)
	if err != nil {
		return nil, nil, err
	}
	got, pt, err := f.OpenShare(kx)
	if err != nil {
		return nil, nil, err
	}
	defer clear(pt)
	if got != idx {
		return nil, nil, fmt.Errorf("the card opened custodian %d's share, not %d's", got, idx)
	}
	var enc bytes.Buffer
	aw := armor.NewWriter(&enc)
	ew, err := age.Encrypt(aw, rcpt)
	if err == nil {
		_, err = ew.Write(pt)
	}
	if err == nil {
		err = ew.Close()
	}
	if err == nil {
		err = aw.Close()
	}
	if err != nil {
		return nil, nil, err
	}
	fp, _ := token.Fingerprint(pub)
	resp := &Response{RequestID: req.ID, Custodian: cs[idx].Name, Index: idx, SigningKey: pub,
		ApprovalTime: at, Signature: sig, Share: enc.Bytes()}
	return resp, &approval.Approval{Custodian: cs[idx].Name, Index: idx, Token: "remote", KeyFingerprint: fp,
		Message: msg, Signature: sig, At: at}, nil
}

// Reasons a response is rejected, wrapped in a *RejectError.
var (
	ErrOtherRequest = errors.New("it answers another request")
	ErrNotOpened    = errors.New("it does not open with this request's key")
	ErrNotMarked    = errors.New("the share is not marked for the custodian it names")
	ErrOtherFile    = errors.New("the share belongs to another sealed secret")
	ErrNotEnrolled  = errors.New("it is not signed by the custodian's enrolled key")
)

// A RejectError says why a response was rejected; it wraps one of the Err
// values above or approval.ErrBadSignature.
type RejectError struct {
	Err    error
	Detail string
}

func (e *RejectError) Error() string { return e.Detail }
func (e *RejectError) Unwrap() error { return e.Err }

func reject(err error, detail string) error {
	if detail == "" {
		detail = err.Error()
	}
	return &RejectError{Err: err, Detail: detail}
}

// Open is the operator's side: id is the request's ephemeral identity and f
// the file being unsealed, which req was checked against. It returns the
// share's mnemonic (the caller wipes it; the unseal checks it against the
// custodian's commitment) and the custodian's approval. Every rejection is
// a *RejectError.
func (r *Response) Open(f *seal.File, req *Request, id *age.X25519Identity) ([]byte, *approval.Approval, error) {
	if r.RequestID != req.ID {
		return nil, nil, reject(ErrOtherRequest, fmt.Sprintf("it answers another request (%s, not %s)", shortHex(r.RequestID, 8), req.Short()))
	}
	dr, err := age.Decrypt(armor.NewReader(bytes.NewReader(r.Share)), id)
	if err != nil {
		return nil, nil, reject(ErrNotOpened, ErrNotOpened.Error()+": "+err.Error())
	}
	pt, err := io.ReadAll(io.LimitReader(dr, maxShare))
	defer clear(pt)
	if err != nil {
		return nil, nil, reject(ErrNotOpened, err.Error())
	}
	hh, idx, m, err := seal.ParseShare(pt)
	if err != nil {
		return nil, nil, reject(ErrNotMarked, err.Error())
	}
	cs := f.Header.Custodians()
	if idx != r.Index || idx >= len(cs) || cs[idx].Name != r.Custodian {
		clear(m)
		return nil, nil, reject(ErrNotMarked, "the share is not marked for custodian "+r.Custodian)
	}
	if hh != f.HeaderHash() {
		clear(m)
		return nil, nil, reject(ErrOtherFile, "")
	}
	fp, _ := token.Fingerprint(r.SigningKey)
	if cs[idx].Fingerprint != "" && strings.ReplaceAll(fp, " ", "") != cs[idx].Fingerprint {
		clear(m)
		return nil, nil, reject(ErrNotEnrolled, "it is not signed by "+r.Custodian+"'s enrolled key")
	}
	msg := approval.Message(f.Header.Name, f.HeaderHash(), req.Approval(), r.Custodian, r.ApprovalTime)
	if err := approval.Verify(r.SigningKey, msg, r.Signature); err != nil {
		clear(m)
		return nil, nil, reject(err, "")
	}
	return m, &approval.Approval{Custodian: r.Custodian, Index: idx, Token: "remote", KeyFingerprint: fp,
		Message: msg, Signature: r.Signature, At: r.ApprovalTime}, nil
}

// marshalBlock writes "key: value" lines between BEGIN and END.
func marshalBlock(begin, end string, keys []string, fields map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString(begin + "\n")
	for _, k := range keys {
		b.WriteString(k + ": " + oneLine(fields[k]) + "\n")
	}
	b.WriteString(end + "\n")
	return b.Bytes()
}

// parseBlock reads the "key: value" lines of a request or response, in
// exactly the order of keys; rest is what follows the END line.
func parseBlock(b []byte, begin, end string, keys []string) (map[string]string, []byte, error) {
	if len(b) > MaxText {
		return nil, nil, errors.New("too large")
	}
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) < len(keys)+2 || lines[0] != begin+"\n" {
		return nil, nil, fmt.Errorf("not a %s (no %s line)", strings.ToLower(strings.Trim(begin, "- ")), begin)
	}
	f := map[string]string{}
	for i, k := range keys {
		l := strings.TrimSuffix(lines[i+1], "\n")
		v, ok := strings.CutPrefix(l, k+": ")
		if !ok || !strings.HasSuffix(lines[i+1], "\n") {
			return nil, nil, fmt.Errorf("line %d: expected %q", i+2, k)
		}
		f[k] = v
	}
	if lines[len(keys)+1] != end+"\n" {
		return nil, nil, fmt.Errorf("line %d: expected %s", len(keys)+2, end)
	}
	n := 0
	for _, l := range lines[:len(keys)+2] {
		n += len(l)
	}
	return f, b[n:], nil
}
