package piv

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv/internal/pcsc"
)

// Default slots: the retired key-management slots 82–95 (NIST SP 800-73-4
// Part 1, Table 4b), so that 9a/9c/9d/9e stay free for other uses.
const (
	FirstRetiredSlot = 0x82
	LastRetiredSlot  = 0x95
)

// Selector chooses a card among the PC/SC readers.
type Selector struct {
	Serial uint32 // 0: any serial
	Reader string // "": any reader; otherwise the exact reader name
	// ReaderPrefix, when set, restricts the search to readers whose name
	// starts with it (tests use "Virtual PCD").
	ReaderPrefix string
}

func (s Selector) String() string {
	switch {
	case s.Serial != 0 && s.Reader != "":
		return fmt.Sprintf("card %d in reader %q", s.Serial, s.Reader)
	case s.Serial != 0:
		return fmt.Sprintf("card %d", s.Serial)
	case s.Reader != "":
		return fmt.Sprintf("the card in reader %q", s.Reader)
	}
	return "a PIV card"
}

// Options say which card and slots to open.
type Options struct {
	Selector
	// KeyAgreementSlot and SigningSlot locate the keys (0x82…0x95). When
	// zero, the slots labelled by breakglass enrollment are used.
	KeyAgreementSlot, SigningSlot uint32
	// PIN supplies the PIN when a key needs it.
	PIN token.PINFunc
}

// Readers lists the PC/SC readers the selector allows.
func Readers(sel Selector) ([]string, error) {
	all, err := piv.Cards()
	if err != nil {
		return nil, translate("PC/SC", err)
	}
	var out []string
	for _, r := range all {
		if sel.Reader != "" && r != sel.Reader {
			continue
		}
		if sel.ReaderPrefix != "" && !strings.HasPrefix(r, sel.ReaderPrefix) {
			continue
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		if sel.Reader != "" {
			return nil, &token.NotPresentError{What: fmt.Sprintf("no reader named %q", sel.Reader)}
		}
		return nil, &token.NotPresentError{What: "no smart card reader"}
	}
	return out, nil
}

// A ChoiceError means several cards match and the caller must choose one.
type ChoiceError struct {
	Cards []Found
}

// Found is a card found in a reader.
type Found struct {
	Reader string
	Serial uint32
}

func (e *ChoiceError) Error() string {
	var s []string
	for _, c := range e.Cards {
		s = append(s, fmt.Sprintf("%d (%s)", c.Serial, c.Reader))
	}
	return fmt.Sprintf("%d PIV cards are connected: %s", len(e.Cards), strings.Join(s, ", "))
}

// Find lists the cards the selector matches. Readers without a card are
// skipped; a card another program holds is skipped too, and so is one that
// does not answer yet (just put in). When no card matches and some reader's
// card was held by another program, Find looks again for up to settleTime:
// another command looking at every card (card list, say) holds each one
// for a moment, and the card wanted may be that one. Find holds no card
// when it returns, whatever went wrong (see probe).
func Find(sel Selector) ([]Found, error) {
	found, busy, lastErr, err := findOnce(sel)
	for deadline := time.Now().Add(settleTime); err == nil && len(found) == 0 && len(busy) > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		found, busy, lastErr, err = findOnce(sel)
	}
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		what := "no PIV card is connected"
		if sel.Serial != 0 || sel.Reader != "" {
			what = sel.String() + " is not connected"
		}
		if lastErr != nil && sel.Reader != "" {
			return nil, translate(what, lastErr)
		}
		if len(busy) > 0 {
			return nil, &token.NotPresentError{What: fmt.Sprintf("%s, or another program holds it (the card in %s is in use)", what, strings.Join(busy, ", ")), Reason: token.InUse}
		}
		return nil, &token.NotPresentError{What: what}
	}
	return found, nil
}

// findOnce looks at each reader the selector allows once: the cards that
// match, the readers whose card another program holds, and the last
// error a card gave.
func findOnce(sel Selector) (found []Found, busy []string, lastErr, err error) {
	readers, err := Readers(sel)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, r := range readers {
		serial, err := probe(r)
		var pe *pcsc.Error
		if errors.As(err, &pe) && pe.RC == pcsc.SharingViol {
			busy = append(busy, strconv.Quote(r))
		}
		if err != nil {
			lastErr = err
			continue
		}
		if sel.Serial != 0 && serial != sel.Serial {
			continue
		}
		found = append(found, Found{Reader: r, Serial: serial})
	}
	return found, busy, lastErr, nil
}

// openOne opens the one card the selector matches, with piv-go, right
// after Find saw it answer.
func openOne(sel Selector) (*piv.YubiKey, Found, error) {
	found, err := Find(sel)
	if err != nil {
		return nil, Found{}, err
	}
	if len(found) > 1 {
		return nil, Found{}, &ChoiceError{Cards: found}
	}
	yk, err := piv.Open(found[0].Reader)
	if err != nil {
		return nil, Found{}, translate(sel.String(), err)
	}
	return yk, found[0], nil
}

// Token is an open PIV card with its two breakglass keys.
type Token struct {
	mu      sync.Mutex
	yk      *piv.YubiKey
	reader  string
	serial  uint32
	version piv.Version
	info    token.Info

	kxSlot, sigSlot piv.Slot
	kxInfo, sigInfo piv.KeyInfo
	kxPub           *ecdh.PublicKey
	sigPub          *ecdsa.PublicKey

	pinFn  token.PINFunc
	pin    []byte // the PIN once the card accepted it; wiped by Close
	closed bool
}

var _ token.Token = (*Token)(nil)

// URI returns the piv: URI of a card and its slots.
func URI(serial uint32, kxSlot, sigSlot uint32) string {
	u := &token.URI{Scheme: token.SchemePIV}
	u.Set("serial", strconv.FormatUint(uint64(serial), 10))
	if kxSlot != 0 {
		u.Set("slot", strconv.FormatUint(uint64(kxSlot), 16))
	}
	if sigSlot != 0 {
		u.Set("sign-slot", strconv.FormatUint(uint64(sigSlot), 16))
	}
	return u.String()
}

// ParseURI reads a piv: URI into options.
func ParseURI(s string) (Options, error) {
	var o Options
	u, err := token.ParseURI(s)
	if err != nil {
		return o, err
	}
	if u.Scheme != token.SchemePIV {
		return o, fmt.Errorf("token URI %q is not a piv: URI", s)
	}
	for _, a := range u.Path {
		switch a.Name {
		case "serial":
			n, err := strconv.ParseUint(a.Value, 10, 32)
			if err != nil {
				return o, fmt.Errorf("token URI %q: serial %q is not a number", s, a.Value)
			}
			o.Serial = uint32(n)
		case "reader":
			o.Reader = a.Value
		case "slot", "sign-slot":
			n, err := ParseSlot(a.Value)
			if err != nil {
				return o, fmt.Errorf("token URI %q: %v", s, err)
			}
			if a.Name == "slot" {
				o.KeyAgreementSlot = n
			} else {
				o.SigningSlot = n
			}
		default:
			return o, fmt.Errorf("token URI %q: unknown attribute %q", s, a.Name)
		}
	}
	return o, nil
}

// ParseSlot parses a retired slot number in hex ("82"…"95", "0x82").
func ParseSlot(s string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(s), "0x"), 16, 32)
	if err != nil || n < FirstRetiredSlot || n > LastRetiredSlot {
		return 0, fmt.Errorf("slot %q is not a retired key-management slot (82 to 95)", s)
	}
	return uint32(n), nil
}

// Open opens the card and its breakglass keys.
func Open(opts Options) (*Token, error) {
	yk, f, err := openOne(opts.Selector)
	if err != nil {
		return nil, err
	}
	t, err := newToken(yk, f, opts)
	if err != nil {
		yk.Close()
		return nil, err
	}
	return t, nil
}

func newToken(yk *piv.YubiKey, f Found, opts Options) (*Token, error) {
	t := &Token{yk: yk, reader: f.Reader, serial: f.Serial, version: yk.Version(), pinFn: opts.PIN}
	kx, sig := opts.KeyAgreementSlot, opts.SigningSlot
	if kx == 0 || sig == 0 {
		lkx, lsig, err := labelledSlots(yk)
		if err != nil {
			return nil, err
		}
		if kx == 0 {
			kx = lkx
		}
		if sig == 0 {
			sig = lsig
		}
		if kx == 0 || sig == 0 {
			return nil, fmt.Errorf("card %d: %w (no slot is labelled by breakglass enrollment)", f.Serial, token.ErrNotEnrolled)
		}
	}
	var err error
	if t.kxSlot, t.kxInfo, err = t.loadKey(kx); err != nil {
		return nil, err
	}
	if t.sigSlot, t.sigInfo, err = t.loadKey(sig); err != nil {
		return nil, err
	}
	kp := t.kxInfo.PublicKey.(*ecdsa.PublicKey)
	if t.kxPub, err = kp.ECDH(); err != nil {
		return nil, err
	}
	t.sigPub = t.sigInfo.PublicKey.(*ecdsa.PublicKey)
	t.info = token.Info{
		Kind:           token.KindPIV,
		Serial:         strconv.FormatUint(uint64(f.Serial), 10),
		URI:            URI(f.Serial, kx, sig),
		Reader:         f.Reader,
		Label:          "YubiKey",
		Firmware:       versionString(t.version),
		KeyAgreementID: strconv.FormatUint(uint64(kx), 16),
		SigningID:      strconv.FormatUint(uint64(sig), 16),
	}
	return t, nil
}

func versionString(v piv.Version) string {
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

func (t *Token) loadKey(n uint32) (piv.Slot, piv.KeyInfo, error) {
	slot, ok := piv.RetiredKeyManagementSlot(n)
	if !ok {
		return piv.Slot{}, piv.KeyInfo{}, fmt.Errorf("slot %x is not a retired key-management slot", n)
	}
	ki, err := t.yk.KeyInfo(slot)
	if errors.Is(err, piv.ErrNotFound) {
		return slot, ki, fmt.Errorf("card %d: slot %x is empty: %w", t.serial, n, token.ErrNotEnrolled)
	}
	if err != nil {
		return slot, ki, translate(fmt.Sprintf("card %d", t.serial), err)
	}
	pub, ok := ki.PublicKey.(*ecdsa.PublicKey)
	if ki.Algorithm != piv.AlgorithmEC256 || !ok || pub.Curve != elliptic.P256() {
		return slot, ki, fmt.Errorf("card %d: slot %x does not hold a P-256 key: %w", t.serial, n, token.ErrNotEnrolled)
	}
	return slot, ki, nil
}

// Info identifies the card and its slots.
func (t *Token) Info() token.Info { return t.info }

// Serial is the card's serial number.
func (t *Token) Serial() uint32 { return t.serial }

// Policies returns the PIN and touch policies of the key-agreement and
// signing keys, as the card reports them.
func (t *Token) Policies() (kxPIN, kxTouch, sigPIN, sigTouch string) {
	return PINPolicyName(t.kxInfo.PINPolicy), TouchPolicyName(t.kxInfo.TouchPolicy),
		PINPolicyName(t.sigInfo.PINPolicy), TouchPolicyName(t.sigInfo.TouchPolicy)
}

// PINRetries reads the PIN retry counter; reading costs no try.
func (t *Token) PINRetries() (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.retries()
}

// retries returns the counter, or -2 when the PIN is already verified in
// this session (the card answers an empty VERIFY with 9000).
func (t *Token) retries() (int, error) {
	if err := t.ensureOpen(); err != nil {
		return 0, err
	}
	r, err := t.yk.Retries()
	if err != nil {
		if strings.Contains(err.Error(), "expected error code") {
			return -2, nil
		}
		return 0, translate(t.info.Name(), err)
	}
	return r, nil
}

// login makes sure the PIN is verified, never spending the last try. For
// PIN policy "always" it returns the PIN for piv-go to send right before
// the operation.
func (t *Token) login(policy piv.PINPolicy) (string, error) {
	if policy == piv.PINPolicyNever {
		return "", nil
	}
	r, err := t.retries()
	if err != nil {
		return "", err
	}
	if r == -2 && policy != piv.PINPolicyAlways {
		return "", nil // verified earlier in this session
	}
	if r >= 0 && !token.SafeToTry(r) {
		return "", &token.PINError{Token: t.info.Name(), Retries: r}
	}
	if t.pin == nil {
		if t.pinFn == nil {
			return "", fmt.Errorf("%s: a PIN is needed but none was given", t.info.Name())
		}
		p, err := t.askPIN()
		if err != nil {
			return "", err
		}
		t.pin = p
	}
	if policy == piv.PINPolicyAlways {
		return string(t.pin), nil // piv-go verifies right before the operation
	}
	if err := t.yk.VerifyPIN(string(t.pin)); err != nil {
		secret.Wipe(t.pin)
		t.pin = nil
		return "", t.translate(err, false)
	}
	return "", nil
}

// VerifyPIN verifies the PIN now (token.PINVerifier), never spending the
// last try. A key with PIN policy "always" still asks the card again when
// it is used.
func (t *Token) VerifyPIN() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errors.New("token is closed")
	}
	_, err := t.login(piv.PINPolicyOnce)
	return err
}

// askPIN asks for the PIN with the card released, so that nobody waits on
// a card held while a person finds their PIN: other programs (card list,
// ykman) can use it meanwhile, and one pulled out is simply gone. Then the
// card is opened again, in the same reader; it must be the same card, and
// its retry counter is read again before the PIN is returned.
func (t *Token) askPIN() ([]byte, error) {
	t.release()
	p, err := t.pinFn()
	if err != nil {
		return nil, err
	}
	r, err := t.retries()
	if err != nil {
		secret.Wipe(p)
		return nil, err
	}
	if r >= 0 && !token.SafeToTry(r) {
		secret.Wipe(p)
		return nil, &token.PINError{Token: t.info.Name(), Retries: r}
	}
	return p, nil
}

// release closes the connection to the card, which ensureOpen opens again
// when the card is needed.
func (t *Token) release() {
	if t.yk != nil {
		t.yk.Close()
		t.yk = nil
	}
}

// ensureOpen opens the card again after release: the card with this serial
// in the same reader, else an error wrapping token.ErrNotPresent.
func (t *Token) ensureOpen() error {
	if t.closed {
		return errors.New("token is closed")
	}
	if t.yk != nil {
		return nil
	}
	yk, _, err := openOne(Selector{Serial: t.serial, Reader: t.reader})
	for deadline := time.Now().Add(settleTime); err != nil && settling(err) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		yk, _, err = openOne(Selector{Serial: t.serial, Reader: t.reader})
	}
	if err != nil {
		if errors.Is(err, token.ErrNotPresent) {
			return &token.NotPresentError{What: t.info.Name() + " is no longer in reader " + strconv.Quote(t.reader), Cause: err}
		}
		return translate(t.info.Name(), err)
	}
	t.yk = yk
	return nil
}

// privateKey runs f with the slot's private key, PIN verified.
func (t *Token) privateKey(slot piv.Slot, info piv.KeyInfo, f func(*piv.ECDSAPrivateKey) ([]byte, error)) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errors.New("token is closed")
	}
	pin, err := t.login(info.PINPolicy)
	if err != nil {
		return nil, err
	}
	if err := t.ensureOpen(); err != nil {
		return nil, err
	}
	k, err := t.yk.PrivateKey(slot, info.PublicKey, piv.KeyAuth{PIN: pin, PINPolicy: info.PINPolicy})
	if err != nil {
		return nil, t.translate(err, false)
	}
	out, err := f(k.(*piv.ECDSAPrivateKey))
	if err != nil {
		return nil, t.translate(err, info.TouchPolicy != piv.TouchPolicyNever)
	}
	return out, nil
}

// KeyAgreementKey returns the key-agreement key; ECDH runs on the card.
func (t *Token) KeyAgreementKey() ecdh.KeyExchanger { return kx{t} }

// SigningKey returns the signing key; ECDSA runs on the card.
func (t *Token) SigningKey() crypto.Signer { return signer{t} }

type kx struct{ t *Token }

func (k kx) PublicKey() *ecdh.PublicKey { return k.t.kxPub }
func (k kx) Curve() ecdh.Curve          { return ecdh.P256() }
func (k kx) ECDH(peer *ecdh.PublicKey) ([]byte, error) {
	if peer.Curve() != ecdh.P256() {
		return nil, errors.New("ECDH: peer key is not P-256")
	}
	return k.t.privateKey(k.t.kxSlot, k.t.kxInfo, func(p *piv.ECDSAPrivateKey) ([]byte, error) {
		return p.ECDH(peer)
	})
}

type signer struct{ t *Token }

func (s signer) Public() crypto.PublicKey { return s.t.sigPub }
func (s signer) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.t.privateKey(s.t.sigSlot, s.t.sigInfo, func(p *piv.ECDSAPrivateKey) ([]byte, error) {
		return p.Sign(rand, digest, opts)
	})
}

// Close releases the card and wipes the PIN.
func (t *Token) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	secret.Wipe(t.pin)
	t.pin = nil
	if t.yk == nil {
		return nil
	}
	err := t.yk.Close()
	t.yk = nil
	return err
}

// statusError is piv-go's APDU error, which reports the status word.
type statusError interface{ Status() uint16 }

func (t *Token) translate(err error, touch bool) error {
	var auth piv.AuthErr
	if errors.As(err, &auth) {
		return &token.PINError{Token: t.info.Name(), Retries: auth.Retries, Tried: true}
	}
	var sw statusError
	if touch && errors.As(err, &sw) && sw.Status() == 0x6982 {
		return fmt.Errorf("%s: %w", t.info.Name(), token.ErrTouchTimeout)
	}
	return translate(t.info.Name(), err)
}

// pcscProblems maps piv-go's PC/SC messages to what the user should hear.
var pcscProblems = []struct {
	msg, what string
	reason    token.NotPresentReason
}{
	{"resource manager is not running", "the PC/SC daemon (pcscd) is not running", token.NoDaemon},
	{"cannot find a smart card reader", "no smart card reader", token.NotPresentUnknown},
	{"has been removed", "the card was removed", token.Removed},
	{"no Smart Card is currently in the device", "no card in the reader", token.NotPresentUnknown},
	{"not currently available for use", "the reader is not available", token.NotPresentUnknown},
	{"power has been removed", "the card was removed", token.Removed},
	{"has been reset", "the card was reset (removed and put back?)", token.Removed},
	{"reader name is not recognized", "the reader went away", token.NotPresentUnknown},
	{"other connections outstanding", "another program is using the card", token.InUse},
	{"reader driver does not meet", "the reader went away", token.NotPresentUnknown},
	{"scard response too short: 0", "the card was removed", token.Removed},
}

// translate turns piv-go errors into token errors.
func translate(name string, err error) error {
	if err == nil {
		return nil
	}
	if e, ok := translatePCSC(name, err); ok {
		return e
	}
	msg := err.Error()
	for _, p := range pcscProblems {
		if strings.Contains(msg, p.msg) {
			return &token.NotPresentError{What: name + ": " + p.what, Cause: err, Reason: p.reason}
		}
	}
	var auth piv.AuthErr
	if errors.As(err, &auth) {
		return &token.PINError{Token: name, Retries: auth.Retries, Tried: true}
	}
	return fmt.Errorf("%s: %w", name, err)
}

// PINPolicyName names a piv-go PIN policy as enrollment records do.
func PINPolicyName(p piv.PINPolicy) string {
	switch p {
	case piv.PINPolicyNever:
		return "never"
	case piv.PINPolicyOnce:
		return "once"
	case piv.PINPolicyAlways:
		return "always"
	case piv.PINPolicyMatchOnce:
		return "match-once"
	case piv.PINPolicyMatchAlways:
		return "match-always"
	}
	return "unknown"
}

// TouchPolicyName names a piv-go touch policy as enrollment records do.
func TouchPolicyName(p piv.TouchPolicy) string {
	switch p {
	case piv.TouchPolicyNever:
		return "never"
	case piv.TouchPolicyAlways:
		return "always"
	case piv.TouchPolicyCached:
		return "cached"
	}
	return "unknown"
}

// ParsePINPolicy parses "never", "once" or "always".
func ParsePINPolicy(s string) (piv.PINPolicy, error) {
	switch s {
	case "never":
		return piv.PINPolicyNever, nil
	case "once":
		return piv.PINPolicyOnce, nil
	case "always":
		return piv.PINPolicyAlways, nil
	}
	return 0, fmt.Errorf("PIN policy %q: want never, once or always", s)
}

// ParseTouchPolicy parses "never", "always" or "cached".
func ParseTouchPolicy(s string) (piv.TouchPolicy, error) {
	switch s {
	case "never":
		return piv.TouchPolicyNever, nil
	case "always":
		return piv.TouchPolicyAlways, nil
	case "cached":
		return piv.TouchPolicyCached, nil
	}
	return 0, fmt.Errorf("touch policy %q: want never, always or cached", s)
}
