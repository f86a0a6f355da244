package token

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/breakglass/breakglass/internal/secret"
)

// RecordFormat is the value of the "format" field of version 1 records.
const RecordFormat = "breakglass.enrollment/v1"

// signatureContext prefixes the canonical bytes before hashing and signing,
// so a record signature can never be mistaken for another signature by the
// same key (a logbook entry, a test challenge).
const signatureContext = "breakglass enrollment record v1\n"

// A Record is an enrollment record: the public description of one
// custodian's token. See the package documentation for the format.
type Record struct {
	Format     string            `json:"format"`
	Custodian  Custodian         `json:"custodian"`
	Token      RecordToken       `json:"token"`
	Keys       *RecordKeys       `json:"keys,omitempty"`
	Paper      *Paper            `json:"paper,omitempty"`
	EnrolledAt string            `json:"enrolled-at"`
	Digests    map[string]string `json:"field-digests,omitempty"`
	Signature  string            `json:"signature,omitempty"`
	_          struct{}          // keep composite literals keyed
}

// Custodian is the person who holds the token.
type Custodian struct {
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	Team  string `json:"team,omitempty"`
}

// RecordToken identifies the token.
type RecordToken struct {
	Kind     Kind   `json:"kind"`
	Serial   string `json:"serial,omitempty"`
	URI      string `json:"uri,omitempty"`
	Label    string `json:"label,omitempty"`
	Firmware string `json:"firmware,omitempty"`
}

// RecordKeys holds the token's two public keys and, for PIV, the
// attestation intermediate (the card's f9 certificate).
type RecordKeys struct {
	KeyAgreement RecordKey `json:"key-agreement"`
	Signing      RecordKey `json:"signing"`
	// AttestationIntermediate is the base64 DER certificate of the PIV
	// attestation key (slot f9), which signs the slot attestations.
	AttestationIntermediate string `json:"attestation-intermediate,omitempty"`
}

// RecordKey is one public key and where it lives.
type RecordKey struct {
	ID          string `json:"id"`          // PIV slot ("82") or PKCS#11 CKA_ID, hex
	PublicKey   string `json:"public-key"`  // base64 DER SubjectPublicKeyInfo, P-256
	Fingerprint string `json:"fingerprint"` // see Fingerprint; must match PublicKey
	PINPolicy   string `json:"pin-policy,omitempty"`
	TouchPolicy string `json:"touch-policy,omitempty"`
	// Attestation is the base64 DER attestation certificate of a PIV slot.
	Attestation string `json:"attestation,omitempty"`
}

// Paper describes where a paper custodian keeps their share.
type Paper struct {
	Location string `json:"location,omitempty"`
}

// A FieldError names the field of a record that is wrong.
type FieldError struct {
	Field  string // dotted path, e.g. "custodian.email"
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("enrollment record: %s: %s", e.Field, e.Reason)
}

// NewRecord starts a record for custodian c on the token described by info,
// with the token's two public keys. Callers fill in policies and
// attestations, then call Sign.
func NewRecord(c Custodian, info Info, kx, sig crypto.PublicKey, now time.Time) (*Record, error) {
	r := &Record{
		Format:     RecordFormat,
		Custodian:  c,
		Token:      RecordToken{Kind: info.Kind, Serial: info.Serial, URI: info.URI, Label: info.Label, Firmware: info.Firmware},
		EnrolledAt: now.UTC().Truncate(time.Second).Format(time.RFC3339),
		Keys:       &RecordKeys{},
	}
	var err error
	if r.Keys.KeyAgreement, err = newRecordKey(info.KeyAgreementID, kx); err != nil {
		return nil, err
	}
	if r.Keys.Signing, err = newRecordKey(info.SigningID, sig); err != nil {
		return nil, err
	}
	return r, nil
}

// NewPaperRecord returns the record of a paper custodian. It has no keys
// and no signature.
func NewPaperRecord(c Custodian, location string, now time.Time) *Record {
	return &Record{
		Format:     RecordFormat,
		Custodian:  c,
		Token:      RecordToken{Kind: KindPaper},
		Paper:      &Paper{Location: location},
		EnrolledAt: now.UTC().Truncate(time.Second).Format(time.RFC3339),
	}
}

func newRecordKey(id string, pub crypto.PublicKey) (RecordKey, error) {
	if e, ok := pub.(*ecdh.PublicKey); ok {
		p, err := ECDSAPublicKey(e)
		if err != nil {
			return RecordKey{}, err
		}
		pub = p
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return RecordKey{}, err
	}
	return RecordKey{ID: id, PublicKey: base64.StdEncoding.EncodeToString(der), Fingerprint: fingerprintDER(der)}, nil
}

// Marshal returns the canonical encoding of r: indented JSON with fields in
// the order of the Go structs, map keys sorted, and a final newline.
func (r *Record) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ParseRecord parses a record in canonical form. It checks the structure
// (known format, P-256 keys whose fingerprints match) but not the
// signature: call Verify for that. A record that is not in canonical form
// is rejected; when a signed field changed, the error names it.
func ParseRecord(b []byte) (*Record, error) {
	var probe struct {
		Format string `json:"format"`
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&probe); err != nil {
		return nil, fmt.Errorf("enrollment record: not JSON: %v", err)
	}
	if probe.Format != RecordFormat {
		if strings.HasPrefix(probe.Format, "breakglass.enrollment/") {
			return nil, &FieldError{"format", fmt.Sprintf("%q is newer than this breakglass understands (want %q); upgrade breakglass", probe.Format, RecordFormat)}
		}
		return nil, &FieldError{"format", fmt.Sprintf("%q is not an enrollment record (want %q)", probe.Format, RecordFormat)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	r := new(Record)
	if err := dec.Decode(r); err != nil {
		return nil, fmt.Errorf("enrollment record: %v", err)
	}
	if dec.More() {
		return nil, errors.New("enrollment record: trailing data after the record")
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	out, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(out, b) {
		if err := r.checkDigests(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("enrollment record: not in canonical form at line %d (was it edited by hand?)", firstDiffLine(out, b))
	}
	return r, nil
}

func firstDiffLine(a, b []byte) int {
	line := 1
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return line
		}
		if a[i] == '\n' {
			line++
		}
	}
	return line
}

// check validates the structure of r.
func (r *Record) check() error {
	if r.Format != RecordFormat {
		return &FieldError{"format", fmt.Sprintf("want %q", RecordFormat)}
	}
	if strings.TrimSpace(r.Custodian.Name) == "" {
		return &FieldError{"custodian.name", "missing"}
	}
	if t, err := time.Parse(time.RFC3339, r.EnrolledAt); err != nil || t.UTC().Format(time.RFC3339) != r.EnrolledAt {
		return &FieldError{"enrolled-at", "not an RFC 3339 UTC time such as 2026-01-02T15:04:05Z"}
	}
	switch r.Token.Kind {
	case KindPaper:
		if r.Keys != nil {
			return &FieldError{"keys", "a paper record has no keys"}
		}
		if r.Signature != "" || r.Digests != nil {
			return &FieldError{"signature", "a paper record is not signed"}
		}
		return nil
	case KindPIV, KindPKCS11:
	default:
		return &FieldError{"token.kind", fmt.Sprintf("unknown kind %q (want piv, pkcs11 or paper)", r.Token.Kind)}
	}
	if r.Paper != nil {
		return &FieldError{"paper", "only paper records have a paper section"}
	}
	if r.Keys == nil {
		return &FieldError{"keys", "missing"}
	}
	for _, k := range []struct {
		name string
		key  *RecordKey
	}{{"keys.key-agreement", &r.Keys.KeyAgreement}, {"keys.signing", &r.Keys.Signing}} {
		if k.key.ID == "" {
			return &FieldError{k.name + ".id", "missing"}
		}
		der, err := base64.StdEncoding.Strict().DecodeString(k.key.PublicKey)
		if err != nil {
			return &FieldError{k.name + ".public-key", "not base64"}
		}
		if _, err := parseP256(der); err != nil {
			return &FieldError{k.name + ".public-key", err.Error()}
		}
		if fp := fingerprintDER(der); fp != k.key.Fingerprint {
			return &FieldError{k.name + ".fingerprint", fmt.Sprintf("does not match the public key (which has %s)", fp)}
		}
		if k.key.Attestation != "" {
			if _, err := base64.StdEncoding.Strict().DecodeString(k.key.Attestation); err != nil {
				return &FieldError{k.name + ".attestation", "not base64"}
			}
		}
	}
	if r.Keys.KeyAgreement.PublicKey == r.Keys.Signing.PublicKey {
		return &FieldError{"keys.signing.public-key", "same key as the key-agreement key"}
	}
	if r.Keys.AttestationIntermediate != "" {
		if _, err := base64.StdEncoding.Strict().DecodeString(r.Keys.AttestationIntermediate); err != nil {
			return &FieldError{"keys.attestation-intermediate", "not base64"}
		}
	}
	return nil
}

func parseP256(der []byte) (*ecdsa.PublicKey, error) {
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("not a public key: %v", err)
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("not a P-256 key")
	}
	return k, nil
}

// KeyAgreementPublicKey returns the public key shares are wrapped to.
func (r *Record) KeyAgreementPublicKey() (*ecdh.PublicKey, error) {
	if r.Keys == nil {
		return nil, &FieldError{"keys", "a paper record has no keys"}
	}
	k, err := r.key(r.Keys.KeyAgreement.PublicKey)
	if err != nil {
		return nil, &FieldError{"keys.key-agreement.public-key", err.Error()}
	}
	return k.ECDH()
}

// SigningPublicKey returns the public key that signs for this custodian.
func (r *Record) SigningPublicKey() (*ecdsa.PublicKey, error) {
	if r.Keys == nil {
		return nil, &FieldError{"keys", "a paper record has no keys"}
	}
	k, err := r.key(r.Keys.Signing.PublicKey)
	if err != nil {
		return nil, &FieldError{"keys.signing.public-key", err.Error()}
	}
	return k, nil
}

func (r *Record) key(b64 string) (*ecdsa.PublicKey, error) {
	der, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil {
		return nil, err
	}
	return parseP256(der)
}

// Fingerprint is the record's short name: the fingerprint of its signing
// key, or for a paper record the first 8 bytes of SHA-256 of its canonical
// encoding, in the same hex groups.
func (r *Record) Fingerprint() string {
	if r.Keys != nil {
		return r.Keys.Signing.Fingerprint
	}
	b, _ := r.Marshal()
	return fingerprintDER(b)
}

// fields lists the signed fields of r as dotted paths and values, in a
// fixed order. Fingerprints are derived from the keys and not listed.
func (r *Record) fields() [][2]string {
	f := [][2]string{
		{"format", r.Format},
		{"custodian.name", r.Custodian.Name},
		{"custodian.email", r.Custodian.Email},
		{"custodian.team", r.Custodian.Team},
		{"token.kind", string(r.Token.Kind)},
		{"token.serial", r.Token.Serial},
		{"token.uri", r.Token.URI},
		{"token.label", r.Token.Label},
		{"token.firmware", r.Token.Firmware},
		{"enrolled-at", r.EnrolledAt},
	}
	if r.Keys != nil {
		for _, k := range []struct {
			name string
			key  RecordKey
		}{{"keys.key-agreement", r.Keys.KeyAgreement}, {"keys.signing", r.Keys.Signing}} {
			f = append(f,
				[2]string{k.name + ".id", k.key.ID},
				[2]string{k.name + ".public-key", k.key.PublicKey},
				[2]string{k.name + ".pin-policy", k.key.PINPolicy},
				[2]string{k.name + ".touch-policy", k.key.TouchPolicy},
				[2]string{k.name + ".attestation", k.key.Attestation})
		}
		f = append(f, [2]string{"keys.attestation-intermediate", r.Keys.AttestationIntermediate})
	}
	if r.Paper != nil {
		f = append(f, [2]string{"paper.location", r.Paper.Location})
	}
	return f
}

func fieldDigest(path, value string) string {
	h := sha256.New()
	io.WriteString(h, "breakglass enrollment field\x00"+path+"\x00"+value)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func (r *Record) computeDigests() map[string]string {
	m := map[string]string{}
	for _, f := range r.fields() {
		if f[1] != "" {
			m[f[0]] = fieldDigest(f[0], f[1])
		}
	}
	return m
}

// checkDigests compares every field with the digest recorded at signing
// time, to name the field that was edited.
func (r *Record) checkDigests() error {
	if r.Digests == nil {
		return nil
	}
	got := r.computeDigests()
	for _, f := range r.fields() {
		want, signed := r.Digests[f[0]]
		have, present := got[f[0]]
		switch {
		case signed && !present:
			return &FieldError{f[0], "was removed after the record was signed"}
		case !signed && present:
			return &FieldError{f[0], "was added after the record was signed"}
		case signed && want != have:
			return &FieldError{f[0], "was changed after the record was signed"}
		}
	}
	var extra []string
	for k := range r.Digests {
		if _, ok := got[k]; !ok {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return &FieldError{"field-digests", fmt.Sprintf("lists unknown field %q", extra[0])}
	}
	return nil
}

// signedMessage is the digest the self-signature covers: SHA-256 of a fixed
// context string followed by the canonical record without its signature.
func (r *Record) signedMessage() ([]byte, error) {
	c := *r
	c.Signature = ""
	b, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	io.WriteString(h, signatureContext)
	h.Write(b)
	return h.Sum(nil), nil
}

// Sign self-signs r with the token's signing key (proof of possession). s
// must be the key listed in r.Keys.Signing.
func (r *Record) Sign(s crypto.Signer) error {
	if r.Keys == nil {
		return errors.New("enrollment record: a paper record is not signed")
	}
	if err := r.check(); err != nil {
		return err
	}
	want, err := r.SigningPublicKey()
	if err != nil {
		return err
	}
	if !want.Equal(s.Public()) {
		return errors.New("enrollment record: signer is not the record's signing key")
	}
	r.Signature = ""
	r.Digests = r.computeDigests()
	msg, err := r.signedMessage()
	if err != nil {
		return err
	}
	sig, err := s.Sign(rand.Reader, msg, crypto.SHA256)
	if err != nil {
		r.Digests = nil
		return err
	}
	if !ecdsa.VerifyASN1(want, msg, sig) {
		r.Digests = nil
		return errors.New("enrollment record: the token returned a signature that does not verify")
	}
	r.Signature = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// Verify checks r's structure and self-signature. The error is a
// *FieldError naming the edited field when one can be named. Paper records
// carry no signature and verify when well formed.
//
// Verify proves possession of the signing key at enrollment, and that the
// record has not changed since. It does not check PIV attestation; see
// package token/piv.
func (r *Record) Verify() error {
	if err := r.check(); err != nil {
		return err
	}
	if r.Token.Kind == KindPaper {
		return nil
	}
	if r.Signature == "" {
		return &FieldError{"signature", "missing (the record was never signed)"}
	}
	if r.Digests == nil {
		return &FieldError{"field-digests", "missing"}
	}
	if err := r.checkDigests(); err != nil {
		return err
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(r.Signature)
	if err != nil {
		return &FieldError{"signature", "not base64"}
	}
	pub, err := r.SigningPublicKey()
	if err != nil {
		return err
	}
	msg, err := r.signedMessage()
	if err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(pub, msg, sig) {
		return &FieldError{"signature", "does not verify: the signature or the field digests were edited"}
	}
	return nil
}

// Matches reports whether tok holds the keys of r. On a mismatch it returns
// a *WrongTokenError naming r's custodian.
func (r *Record) Matches(tok Token) error {
	info := tok.Info()
	if r.Keys == nil {
		return &WrongTokenError{Token: info.Name(), Expected: r.Custodian.Name, Reason: "the record is for a paper share"}
	}
	kx, err := r.KeyAgreementPublicKey()
	if err != nil {
		return err
	}
	sig, err := r.SigningPublicKey()
	if err != nil {
		return err
	}
	if !kx.Equal(tok.KeyAgreementKey().PublicKey()) {
		return &WrongTokenError{Token: info.Name(), Expected: r.Custodian.Name, Reason: "its key-agreement key differs"}
	}
	if !sig.Equal(tok.SigningKey().Public()) {
		return &WrongTokenError{Token: info.Name(), Expected: r.Custodian.Name, Reason: "its signing key differs"}
	}
	return nil
}

// Challenge proves that tok still holds the private keys of r, with nothing
// at stake: it runs ECDH on the token against a fresh ephemeral key and
// compares with the software side, then signs a fresh random challenge and
// verifies the signature with the record's key. Each step may need the PIN
// and a touch.
func (r *Record) Challenge(tok Token) error {
	if err := r.Matches(tok); err != nil {
		return err
	}
	kx, _ := r.KeyAgreementPublicKey()
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	want, err := eph.ECDH(kx)
	if err != nil {
		return err
	}
	defer secret.Wipe(want)
	got, err := tok.KeyAgreementKey().ECDH(eph.PublicKey())
	if err != nil {
		return fmt.Errorf("key agreement on the token: %w", err)
	}
	defer secret.Wipe(got)
	if !bytes.Equal(got, want) {
		return &WrongTokenError{Token: tok.Info().Name(), Expected: r.Custodian.Name, Reason: "ECDH on the token gave a different secret"}
	}
	challenge := make([]byte, 32)
	rand.Read(challenge)
	h := sha256.New()
	io.WriteString(h, "breakglass card test challenge\n")
	h.Write(challenge)
	digest := h.Sum(nil)
	sig, err := tok.SigningKey().Sign(rand.Reader, digest, crypto.SHA256)
	if err != nil {
		return fmt.Errorf("signing on the token: %w", err)
	}
	pub, _ := r.SigningPublicKey()
	if !ecdsa.VerifyASN1(pub, digest, sig) {
		return &WrongTokenError{Token: tok.Info().Name(), Expected: r.Custodian.Name, Reason: "the token's signature does not verify"}
	}
	return nil
}
