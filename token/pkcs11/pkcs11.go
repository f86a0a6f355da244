package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/token"
)

// Labels of the two keys breakglass generates on a PKCS#11 token.
const (
	LabelKeyAgreement = "breakglass key agreement"
	LabelSigning      = "breakglass signing"
)

// oidP256 is the DER encoding of the prime256v1 OID, the CKA_EC_PARAMS of
// every breakglass key.
var oidP256 = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}

// Options say how to open a token.
type Options struct {
	// Module is the PKCS#11 module path. It overrides the URI's
	// module-path query attribute.
	Module string
	// PIN supplies the user PIN when the token needs it. When nil, the
	// URI's pin-source attribute is used, if any.
	PIN token.PINFunc
	// KeyAgreementID and SigningID are the CKA_IDs of the two keys. When
	// nil, the URI's id attribute (key agreement) and the breakglass labels
	// are used.
	KeyAgreementID, SigningID []byte
	// ConfirmUnknownTries is asked before a PIN goes to a token that
	// cannot say how many tries it has left after a wrong PIN (see the
	// package comment, # PINs); true sends the PIN. When it is nil or
	// says false, the login is refused with a *token.PINError with
	// Retries -1 and Tried false, and no try is spent.
	ConfirmUnknownTries func(token.Info) bool
}

// module is one loaded and initialised PKCS#11 library. A process
// initialises each library once; the last Close finalises it, so a test can
// switch SOFTHSM2_CONF between tokens.
type module struct {
	path string
	ctx  *p11.Ctx
	refs int
}

var (
	modulesMu sync.Mutex
	modules   = map[string]*module{}
)

func loadModule(path string) (*module, error) {
	if path == "" {
		return nil, errors.New("no PKCS#11 module given (use --module PATH or module-path= in the URI)")
	}
	modulesMu.Lock()
	defer modulesMu.Unlock()
	if m := modules[path]; m != nil {
		m.refs++
		return m, nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("PKCS#11 module: %w", err)
	}
	ctx := p11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("PKCS#11 module %s could not be loaded", path)
	}
	if err := ctx.Initialize(); err != nil && !isRV(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, fmt.Errorf("PKCS#11 module %s: initialize: %w", path, err)
	}
	m := &module{path: path, ctx: ctx, refs: 1}
	modules[path] = m
	return m, nil
}

func (m *module) release() {
	modulesMu.Lock()
	defer modulesMu.Unlock()
	m.refs--
	if m.refs == 0 {
		m.ctx.Finalize()
		m.ctx.Destroy()
		delete(modules, m.path)
	}
}

func isRV(err error, rv uint) bool {
	var e p11.Error
	return errors.As(err, &e) && uint(e) == rv
}

// Token is an open PKCS#11 token with its two breakglass keys.
type Token struct {
	mod     *module
	slot    uint
	session p11.SessionHandle
	info    token.Info
	pin     token.PINFunc
	confirm func(token.Info) bool

	mu       sync.Mutex
	loggedIn bool
	kxPriv   p11.ObjectHandle
	sigPriv  p11.ObjectHandle
	kxPub    *ecdh.PublicKey
	sigPub   *ecdsa.PublicKey
	closed   bool
}

var _ token.Token = (*Token)(nil)

// Slot is one token a module reports.
type Slot struct {
	ID   uint
	Info p11.TokenInfo
	// Description is the slot's description; modules that front smart
	// cards (OpenSC, ykcs11) put the PC/SC reader name there.
	Description string
	// Firmware is the token's firmware version, "major.minor".
	Firmware string
	// PIN is what the token's flags say of the user PIN: "ok", "count
	// low", "final try", "locked", "to be changed" or "not initialised"
	// (PKCS#11 has no count of tries left).
	PIN string
	// Keys are the breakglass public keys the token shows without a login.
	Keys []PublicKey
}

// Tokens lists the tokens present in the module at modulePath, with what
// each says of itself without a login.
func Tokens(modulePath string) ([]Slot, error) {
	m, err := loadModule(modulePath)
	if err != nil {
		return nil, err
	}
	defer m.release()
	ids, err := m.ctx.GetSlotList(true)
	if err != nil {
		return nil, &token.NotPresentError{What: "PKCS#11 module lists no slots", Cause: err, Reason: token.NoSuchToken}
	}
	var out []Slot
	for _, id := range ids {
		ti, err := m.ctx.GetTokenInfo(id)
		if err != nil || ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		out = append(out, Slot{ID: id, Info: trimInfo(ti), Description: slotDescription(m, id),
			Firmware: firmware(ti.FirmwareVersion), PIN: pinState(ti.Flags), Keys: breakglassKeys(m, id)})
	}
	return out, nil
}

func slotDescription(m *module, id uint) string {
	si, err := m.ctx.GetSlotInfo(id)
	if err != nil {
		return ""
	}
	return strings.TrimRight(si.SlotDescription, " \x00")
}

func trimInfo(ti p11.TokenInfo) p11.TokenInfo {
	ti.Label = strings.TrimRight(ti.Label, " \x00")
	ti.SerialNumber = strings.TrimRight(ti.SerialNumber, " \x00")
	ti.ManufacturerID = strings.TrimRight(ti.ManufacturerID, " \x00")
	ti.Model = strings.TrimRight(ti.Model, " \x00")
	return ti
}

// selectSlot finds the one token the URI's path attributes match.
func selectSlot(m *module, u *token.URI) (uint, p11.TokenInfo, error) {
	ids, err := m.ctx.GetSlotList(true)
	if err != nil {
		return 0, p11.TokenInfo{}, &token.NotPresentError{What: "PKCS#11 module lists no slots", Cause: err, Reason: token.NoSuchToken}
	}
	var found, present []Slot
	for _, id := range ids {
		ti, err := m.ctx.GetTokenInfo(id)
		if err != nil {
			continue
		}
		ti = trimInfo(ti)
		if ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue // a free slot, as SoftHSM2 always offers one
		}
		s := Slot{ID: id, Info: ti, Description: slotDescription(m, id)}
		present = append(present, s)
		if matches(u, id, s.Description, ti) {
			found = append(found, s)
		}
	}
	switch len(found) {
	case 0:
		return 0, p11.TokenInfo{}, &NoMatchError{URI: u.Without("pin-value", "pin-source", "module-path"), Module: m.path, Present: present}
	case 1:
		return found[0].ID, found[0].Info, nil
	}
	var names []string
	for _, f := range found {
		names = append(names, fmt.Sprintf("%q (serial %s)", f.Info.Label, f.Info.SerialNumber))
	}
	return 0, p11.TokenInfo{}, fmt.Errorf("%d PKCS#11 tokens match %s: %s; add token= or serial= to the URI", len(found), u.Without("pin-value", "pin-source", "module-path"), strings.Join(names, ", "))
}

func matches(u *token.URI, id uint, slotDesc string, ti p11.TokenInfo) bool {
	have := map[string]string{
		"slot-description": slotDesc,
		"token":            ti.Label,
		"serial":           ti.SerialNumber,
		"manufacturer":     ti.ManufacturerID,
		"model":            ti.Model,
		"slot-id":          strconv.FormatUint(uint64(id), 10),
	}
	for _, a := range u.Path {
		if v, ok := have[a.Name]; ok && a.Value != v {
			return false
		}
	}
	return true
}

// tokenURI is the URI stored in enrollment records: token label and serial,
// and the module path.
func tokenURI(modulePath string, ti p11.TokenInfo) string {
	u := &token.URI{Scheme: token.SchemePKCS11}
	if ti.Label != "" {
		u.Set("token", ti.Label)
	}
	if ti.SerialNumber != "" {
		u.Set("serial", ti.SerialNumber)
	}
	u.SetQuery("module-path", modulePath)
	return u.String()
}

func openSession(uri string, opts Options) (*Token, *token.URI, error) {
	u, err := token.ParseURI(uri)
	if err != nil {
		return nil, nil, err
	}
	if u.Scheme != token.SchemePKCS11 {
		return nil, nil, fmt.Errorf("token URI %q is not a pkcs11: URI", uri)
	}
	path := opts.Module
	if path == "" {
		path, _ = u.GetQuery("module-path")
	}
	m, err := loadModule(path)
	if err != nil {
		return nil, nil, err
	}
	slot, ti, err := selectSlot(m, u)
	if err != nil {
		m.release()
		return nil, nil, err
	}
	sh, err := m.ctx.OpenSession(slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		m.release()
		return nil, nil, translate(fmt.Sprintf("token %q", ti.Label), err)
	}
	pin := opts.PIN
	if pin == nil {
		if src, ok := u.GetQuery("pin-source"); ok {
			pin = PINFromSource(src)
		}
	}
	t := &Token{mod: m, slot: slot, session: sh, pin: pin, confirm: opts.ConfirmUnknownTries}
	t.info = token.Info{
		Kind:     token.KindPKCS11,
		Serial:   ti.SerialNumber,
		Label:    ti.Label,
		URI:      tokenURI(path, ti),
		Firmware: fmt.Sprintf("%d.%d", ti.FirmwareVersion.Major, ti.FirmwareVersion.Minor),
	}
	return t, u, nil
}

// PINFromSource returns a PINFunc reading the PIN from an RFC 7512
// pin-source: a file path or a file: URI. A trailing newline is dropped.
func PINFromSource(src string) token.PINFunc {
	return func() ([]byte, error) {
		path := strings.TrimPrefix(src, "file:")
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("pin-source: %v", err)
		}
		p := bytes.TrimRight(b, "\r\n")
		out := bytes.Clone(p)
		secret.Wipe(b)
		return out, nil
	}
}

// Open opens the token the pkcs11: URI names and finds its breakglass keys.
// It returns an error wrapping token.ErrNotEnrolled when the keys are not
// there.
func Open(uri string, opts Options) (*Token, error) {
	t, u, err := openSession(uri, opts)
	if err != nil {
		return nil, err
	}
	kxID := opts.KeyAgreementID
	if kxID == nil {
		if id, ok := u.Get("id"); ok {
			kxID = []byte(id)
		}
	}
	if err := t.findKeys(kxID, opts.SigningID); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// findKeys locates the private key objects and reads their public keys. It
// logs in first when the private objects are hidden until login.
func (t *Token) findKeys(kxID, sigID []byte) error {
	find := func() error {
		var err error
		if t.kxPriv, t.kxPub, err = t.findKey(kxID, LabelKeyAgreement); err != nil {
			return err
		}
		var sigPub *ecdh.PublicKey
		if t.sigPriv, sigPub, err = t.findKey(sigID, LabelSigning); err != nil {
			return err
		}
		t.sigPub, err = token.ECDSAPublicKey(sigPub)
		return err
	}
	err := find()
	if errors.Is(err, token.ErrNotEnrolled) && !t.loggedIn {
		if lerr := t.login(); lerr != nil {
			return lerr
		}
		err = find()
	}
	if err != nil {
		return err
	}
	t.info.KeyAgreementID = t.id(t.kxPriv)
	t.info.SigningID = t.id(t.sigPriv)
	return nil
}

func (t *Token) id(h p11.ObjectHandle) string {
	attrs, err := t.mod.ctx.GetAttributeValue(t.session, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, nil)})
	if err != nil || len(attrs) == 0 {
		return ""
	}
	return hex.EncodeToString(attrs[0].Value)
}

func (t *Token) findObjects(tmpl []*p11.Attribute) ([]p11.ObjectHandle, error) {
	ctx := t.mod.ctx
	if err := ctx.FindObjectsInit(t.session, tmpl); err != nil {
		return nil, translate(t.info.Name(), err)
	}
	defer ctx.FindObjectsFinal(t.session)
	var all []p11.ObjectHandle
	for {
		objs, _, err := ctx.FindObjects(t.session, 16)
		if err != nil {
			return nil, translate(t.info.Name(), err)
		}
		if len(objs) == 0 {
			return all, nil
		}
		all = append(all, objs...)
	}
}

// findKey finds the private key with the given CKA_ID (or, when id is nil,
// label) and its public key, from the public-key object or a certificate
// with the same CKA_ID.
func (t *Token) findKey(id []byte, label string) (p11.ObjectHandle, *ecdh.PublicKey, error) {
	sel := p11.NewAttribute(p11.CKA_LABEL, label)
	what := fmt.Sprintf("label %q", label)
	if id != nil {
		sel = p11.NewAttribute(p11.CKA_ID, id)
		what = fmt.Sprintf("id %x", id)
	}
	privs, err := t.findObjects([]*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY), sel})
	if err != nil {
		return 0, nil, err
	}
	switch len(privs) {
	case 0:
		return 0, nil, fmt.Errorf("%s: no private key with %s: %w", t.info.Name(), what, token.ErrNotEnrolled)
	case 1:
	default:
		return 0, nil, fmt.Errorf("%s: %d private keys with %s; give the key ids", t.info.Name(), len(privs), what)
	}
	keyID := id
	if keyID == nil {
		attrs, err := t.mod.ctx.GetAttributeValue(t.session, privs[0], []*p11.Attribute{p11.NewAttribute(p11.CKA_ID, nil)})
		if err != nil {
			return 0, nil, translate(t.info.Name(), err)
		}
		keyID = attrs[0].Value
	}
	pub, err := t.publicKey(keyID)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: public key for %s: %w", t.info.Name(), what, err)
	}
	return privs[0], pub, nil
}

func (t *Token) publicKey(id []byte) (*ecdh.PublicKey, error) {
	pubs, err := t.findObjects([]*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY), p11.NewAttribute(p11.CKA_ID, id)})
	if err != nil {
		return nil, err
	}
	if len(pubs) > 0 {
		attrs, err := t.mod.ctx.GetAttributeValue(t.session, pubs[0], []*p11.Attribute{
			p11.NewAttribute(p11.CKA_EC_PARAMS, nil), p11.NewAttribute(p11.CKA_EC_POINT, nil)})
		if err == nil {
			return parseECPoint(attrs[0].Value, attrs[1].Value)
		}
	}
	certs, err := t.findObjects([]*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_CERTIFICATE), p11.NewAttribute(p11.CKA_ID, id)})
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, errors.New("neither a public-key object nor a certificate")
	}
	attrs, err := t.mod.ctx.GetAttributeValue(t.session, certs[0], []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)})
	if err != nil {
		return nil, translate(t.info.Name(), err)
	}
	cert, err := x509.ParseCertificate(attrs[0].Value)
	if err != nil {
		return nil, err
	}
	return token.ECDHPublicKey(cert.PublicKey)
}

// parseECPoint decodes CKA_EC_POINT: an uncompressed P-256 point, DER
// wrapped in an OCTET STRING as PKCS#11 says, or raw as some modules give.
func parseECPoint(params, point []byte) (*ecdh.PublicKey, error) {
	if !bytes.Equal(params, oidP256) {
		return nil, errors.New("not a P-256 key")
	}
	var raw []byte
	if rest, err := asn1.Unmarshal(point, &raw); err != nil || len(rest) > 0 {
		raw = point
	}
	return ecdh.P256().NewPublicKey(raw)
}

// Info identifies the token.
func (t *Token) Info() token.Info { return t.info }

// PINRetries reports the PIN tries left as far as PKCS#11 says: 0 when the
// PIN is locked, 1 on the final try, -1 otherwise (PKCS#11 has no count).
func (t *Token) PINRetries() (int, error) {
	flags, err := t.tokenFlags()
	if err != nil {
		return 0, err
	}
	return retriesFromFlags(flags), nil
}

func retriesFromFlags(flags uint) int {
	switch {
	case flags&p11.CKF_USER_PIN_LOCKED != 0:
		return 0
	case flags&p11.CKF_USER_PIN_FINAL_TRY != 0:
		return 1
	}
	return -1
}

// login logs the user in, never on the final try, and after a wrong PIN
// only with confirmation (Options.ConfirmUnknownTries).
func (t *Token) login() error {
	if t.loggedIn {
		return nil
	}
	flags, err := t.tokenFlags()
	if err != nil {
		return err
	}
	if flags&p11.CKF_LOGIN_REQUIRED == 0 {
		t.loggedIn = true
		return nil
	}
	if r := retriesFromFlags(flags); !token.SafeToTry(r) {
		return &token.PINError{Token: t.info.Name(), Retries: r}
	}
	if t.triesUnknown(flags) && (t.confirm == nil || !t.confirm(t.info)) {
		return &token.PINError{Token: t.info.Name(), Retries: -1}
	}
	if t.pin == nil {
		return fmt.Errorf("%s: a PIN is needed but none was given", t.info.Name())
	}
	pin, err := t.pin()
	if err != nil {
		return err
	}
	err = t.mod.ctx.Login(t.session, p11.CKU_USER, string(pin))
	secret.Wipe(pin)
	switch {
	case err == nil, isRV(err, p11.CKR_USER_ALREADY_LOGGED_IN):
		t.loggedIn = true
		wrongPINs.clear(t.info)
		return nil
	case isRV(err, p11.CKR_PIN_INCORRECT), isRV(err, p11.CKR_PIN_INVALID), isRV(err, p11.CKR_PIN_LEN_RANGE):
		after, ferr := t.tokenFlags()
		if ferr != nil || after&pinFlags == 0 {
			wrongPINs.mark(t.info) // the token will not say so itself
		}
		return &token.PINError{Token: t.info.Name(), Retries: retriesFromFlags(after), Tried: true}
	case isRV(err, p11.CKR_PIN_LOCKED):
		return &token.PINError{Token: t.info.Name(), Retries: 0, Tried: true}
	}
	return translate(t.info.Name(), err)
}

// VerifyPIN logs in now (token.PINVerifier), never on the final try.
func (t *Token) VerifyPIN() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ready()
}

// ready checks, with t.mu held, that t is open and logged in for a
// private-key operation.
func (t *Token) ready() error {
	if t.closed {
		return errors.New("token is closed")
	}
	return t.login()
}

// KeyAgreementKey returns the P-256 key-agreement key; ECDH runs on the
// token (CKM_ECDH1_DERIVE).
func (t *Token) KeyAgreementKey() ecdh.KeyExchanger { return kx{t} }

// SigningKey returns the P-256 signing key; ECDSA runs on the token
// (CKM_ECDSA) and signatures come back ASN.1-encoded.
func (t *Token) SigningKey() crypto.Signer { return signer{t} }

type kx struct{ t *Token }

func (k kx) PublicKey() *ecdh.PublicKey { return k.t.kxPub }
func (k kx) Curve() ecdh.Curve          { return ecdh.P256() }

// ECDH derives the shared x-coordinate with peer on the token. The secret
// comes back through a short-lived, non-token, extractable session object
// that is destroyed right after reading.
func (k kx) ECDH(peer *ecdh.PublicKey) ([]byte, error) {
	t := k.t
	if peer.Curve() != ecdh.P256() {
		return nil, errors.New("ECDH: peer key is not P-256")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ready(); err != nil {
		return nil, err
	}
	mech := []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDH1_DERIVE, p11.NewECDH1DeriveParams(p11.CKD_NULL, nil, peer.Bytes()))}
	base := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_SECRET_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_GENERIC_SECRET),
		p11.NewAttribute(p11.CKA_TOKEN, false),
		p11.NewAttribute(p11.CKA_SENSITIVE, false),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, true),
	}
	h, err := t.mod.ctx.DeriveKey(t.session, mech, t.kxPriv, append(base, p11.NewAttribute(p11.CKA_VALUE_LEN, 32)))
	if isRV(err, p11.CKR_TEMPLATE_INCONSISTENT) || isRV(err, p11.CKR_ATTRIBUTE_TYPE_INVALID) {
		// Some modules refuse CKA_VALUE_LEN with CKD_NULL.
		h, err = t.mod.ctx.DeriveKey(t.session, mech, t.kxPriv, base)
	}
	if err != nil {
		return nil, translate(t.info.Name(), err)
	}
	defer t.mod.ctx.DestroyObject(t.session, h)
	attrs, err := t.mod.ctx.GetAttributeValue(t.session, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)})
	if err != nil {
		return nil, translate(t.info.Name(), err)
	}
	v := attrs[0].Value
	if len(v) != 32 {
		secret.Wipe(v)
		return nil, fmt.Errorf("%s: ECDH returned %d bytes, want 32", t.info.Name(), len(v))
	}
	return v, nil
}

type signer struct{ t *Token }

func (s signer) Public() crypto.PublicKey { return s.t.sigPub }

// Sign signs digest with CKM_ECDSA on the token and returns an ASN.1
// signature, as crypto.Signer requires.
func (s signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	t := s.t
	if opts != nil && opts.HashFunc() != 0 && len(digest) != opts.HashFunc().Size() {
		return nil, errors.New("sign: digest length does not match the hash")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.ready(); err != nil {
		return nil, err
	}
	if err := t.mod.ctx.SignInit(t.session, []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDSA, nil)}, t.sigPriv); err != nil {
		return nil, translate(t.info.Name(), err)
	}
	raw, err := t.mod.ctx.Sign(t.session, digest)
	if err != nil {
		return nil, translate(t.info.Name(), err)
	}
	return rawToASN1(raw)
}

// rawToASN1 turns a PKCS#11 ECDSA signature r‖s into ASN.1 SEQUENCE{r, s}.
func rawToASN1(raw []byte) ([]byte, error) {
	if len(raw) != 64 {
		return nil, fmt.Errorf("sign: token returned a %d-byte signature, want 64", len(raw))
	}
	r := new(big.Int).SetBytes(raw[:32])
	s := new(big.Int).SetBytes(raw[32:])
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.Bytes()
}

// Close logs out, closes the session and releases the module.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.loggedIn {
		t.mod.ctx.Logout(t.session)
	}
	t.mod.ctx.CloseSession(t.session)
	t.mod.release()
	return nil
}

// translate turns PKCS#11 return values into token errors.
func translate(name string, err error) error {
	switch {
	case err == nil:
		return nil
	case isRV(err, p11.CKR_DEVICE_REMOVED), isRV(err, p11.CKR_TOKEN_NOT_PRESENT),
		isRV(err, p11.CKR_SESSION_HANDLE_INVALID), isRV(err, p11.CKR_SESSION_CLOSED),
		isRV(err, p11.CKR_DEVICE_ERROR), isRV(err, p11.CKR_TOKEN_NOT_RECOGNIZED):
		return &token.NotPresentError{What: name + " was removed or cannot be reached", Cause: err, Reason: token.Removed}
	case isRV(err, p11.CKR_PIN_LOCKED):
		return &token.PINError{Token: name, Retries: 0}
	case isRV(err, p11.CKR_USER_NOT_LOGGED_IN):
		return fmt.Errorf("%s: not logged in (a PIN is needed): %w", name, err)
	case isRV(err, p11.CKR_FUNCTION_CANCELED):
		return fmt.Errorf("%s: %w", name, token.ErrTouchTimeout)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// EnrollOptions say how to enroll a token.
type EnrollOptions struct {
	Options
	// Force replaces existing breakglass keys.
	Force bool
}

// Enroll generates the two breakglass keys on the token named by uri and
// returns it open. The keys are P-256, generated on the token, sensitive and
// not extractable: one may only derive (ECDH), the other only sign. It
// refuses, with an error wrapping token.ErrSlotInUse, when the token already
// holds breakglass keys, unless opts.Force is set.
func Enroll(uri string, opts EnrollOptions) (*Token, error) {
	t, _, err := openSession(uri, opts.Options)
	if err != nil {
		return nil, err
	}
	if err := t.enroll(opts.Force); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Token) enroll(force bool) error {
	if err := t.login(); err != nil {
		return err
	}
	var existing []p11.ObjectHandle
	for _, label := range []string{LabelKeyAgreement, LabelSigning} {
		objs, err := t.findObjects([]*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, label)})
		if err != nil {
			return err
		}
		existing = append(existing, objs...)
	}
	if len(existing) > 0 && !force {
		return fmt.Errorf("%s already holds breakglass keys (use --force to replace them): %w", t.info.Name(), token.ErrSlotInUse)
	}
	for _, h := range existing {
		if err := t.mod.ctx.DestroyObject(t.session, h); err != nil {
			return translate(t.info.Name(), err)
		}
	}
	kxID, sigID := make([]byte, 8), make([]byte, 8)
	rand.Read(kxID)
	rand.Read(sigID)
	if err := t.generate(kxID, LabelKeyAgreement, p11.CKA_DERIVE); err != nil {
		return err
	}
	if err := t.generate(sigID, LabelSigning, p11.CKA_SIGN); err != nil {
		return err
	}
	return t.findKeys(kxID, sigID)
}

func (t *Token) generate(id []byte, label string, usage uint) error {
	pubUsage, other := uint(p11.CKA_VERIFY), uint(p11.CKA_DERIVE)
	if usage == p11.CKA_DERIVE {
		pubUsage, other = p11.CKA_DERIVE, p11.CKA_SIGN
	}
	pub := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_EC_PARAMS, oidP256),
		p11.NewAttribute(p11.CKA_LABEL, label),
		p11.NewAttribute(p11.CKA_ID, id),
		p11.NewAttribute(pubUsage, true),
	}
	priv := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_EC),
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_LABEL, label),
		p11.NewAttribute(p11.CKA_ID, id),
		p11.NewAttribute(usage, true),
		p11.NewAttribute(other, false),
		p11.NewAttribute(p11.CKA_DECRYPT, false),
		p11.NewAttribute(p11.CKA_UNWRAP, false),
	}
	_, _, err := t.mod.ctx.GenerateKeyPair(t.session,
		[]*p11.Mechanism{p11.NewMechanism(p11.CKM_EC_KEY_PAIR_GEN, nil)}, pub, priv)
	if err != nil {
		return fmt.Errorf("generating the %s key: %w", label, translate(t.info.Name(), err))
	}
	return nil
}

// keyAttributes are the private-key attributes KeyAttributes reports, by
// the names it reports them under.
var keyAttributes = []struct {
	typ  uint
	name string
}{
	{p11.CKA_SENSITIVE, "sensitive"},
	{p11.CKA_EXTRACTABLE, "extractable"},
	{p11.CKA_DERIVE, "derive"},
	{p11.CKA_SIGN, "sign"},
	{p11.CKA_ALWAYS_SENSITIVE, "always-sensitive"},
	{p11.CKA_NEVER_EXTRACTABLE, "never-extractable"},
}

// KeyAttributes reports the security attributes of the two private keys,
// as the token states them (for tests and `card list`).
func (t *Token) KeyAttributes() (map[string]map[string]bool, error) {
	var tmpl []*p11.Attribute
	for _, k := range keyAttributes {
		tmpl = append(tmpl, p11.NewAttribute(k.typ, nil))
	}
	out := map[string]map[string]bool{}
	for name, h := range map[string]p11.ObjectHandle{"key-agreement": t.kxPriv, "signing": t.sigPriv} {
		attrs, err := t.mod.ctx.GetAttributeValue(t.session, h, tmpl)
		if err != nil {
			return nil, translate(t.info.Name(), err)
		}
		m := map[string]bool{}
		for _, a := range attrs {
			for _, k := range keyAttributes {
				if a.Type == k.typ {
					m[k.name] = len(a.Value) == 1 && a.Value[0] != 0
				}
			}
		}
		out[name] = m
	}
	return out, nil
}
