package piv

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/token"
)

// Subject common names of the label certificates enrollment stores in the
// two slots. They let breakglass (and PKCS#11 modules such as libykcs11 and
// OpenSC, which find keys through certificates) see which slots hold
// breakglass keys. A label certificate proves nothing: it is signed by a
// throwaway key. Attestation is the proof.
const (
	labelKeyAgreement = "breakglass key agreement"
	labelSigning      = "breakglass signing"
)

// EnrollOptions say how to enroll a PIV card.
type EnrollOptions struct {
	Selector
	// KeyAgreementSlot and SigningSlot choose the slots; zero means the
	// first free retired slots (82, then 83, …).
	KeyAgreementSlot, SigningSlot uint32
	// PINPolicy applies to both keys (default once). TouchPolicy applies
	// to the key-agreement key (default always), SigningTouchPolicy to the
	// signing key (default cached: one touch covers a tap's approval
	// signature and its ECDH).
	PINPolicy          piv.PINPolicy
	TouchPolicy        piv.TouchPolicy
	SigningTouchPolicy piv.TouchPolicy
	// Force lets enrollment overwrite keys already in the chosen slots.
	Force bool
	// PIN supplies the card's current PIN (not asked on a factory-fresh
	// card).
	PIN token.PINFunc
	// NewSecrets is called when the card still has its factory PIN or PUK;
	// it must return a new PIN and PUK (6–8 characters each). Enrollment
	// refuses to leave a default credential on the card.
	NewSecrets func(pinDefault, pukDefault bool) (pin, puk []byte, err error)
	// Resume is asked, when the card already holds labelled breakglass keys
	// with the requested policies and neither Force nor slots are given,
	// whether to finish the enrollment with those keys (true) instead of
	// refusing. It is called before any PIN is asked. Only the caller can
	// tell an enrollment that stopped after generating its keys (a touch
	// timeout while self-signing the record) from a finished one: by the
	// records and logbook entries it knows. An error is returned as is.
	Resume func(ExistingKeys) (bool, error)
}

// ExistingKeys are the breakglass keys already on a card: the slots whose
// label certificates name them, holding the keys those certificates name.
type ExistingKeys struct {
	Serial                        uint32
	KeyAgreementSlot, SigningSlot uint32
	KeyAgreement, Signing         crypto.PublicKey
}

// Attestations are the certificates that prove the keys were generated on
// a YubiKey: one per slot, signed by the card's attestation key, whose
// certificate (slot f9) chains to Yubico's PIV root.
type Attestations struct {
	KeyAgreement, Signing, Intermediate *x509.Certificate
}

// ErrDefaultCredentials means a factory PIN or PUK is still set and no new
// one was supplied.
var ErrDefaultCredentials = errors.New("the card still has its factory PIN or PUK")

// Enroll prepares a card for breakglass and generates its two keys:
//
//  1. On a factory-fresh card, it sets the new PIN and PUK from
//     NewSecrets and replaces the default management key with a random
//     AES-192 key stored PIN-protected on the card (the way ykman's
//     PIN-protected mode does: object 5FC109 plus flag 02 in 5FFF00), so
//     that no default credential survives.
//  2. It generates a P-256 key-agreement key and a separate P-256 signing
//     key in retired slots, with the requested policies, refusing to
//     overwrite a key unless Force is set (token.ErrSlotInUse).
//  3. It reads the attestation certificates and stores label certificates
//     in the slots.
//
// When the card already holds breakglass keys and Resume says so, step 2
// keeps them instead: only the attestations are read, so an enrollment
// that stopped after generating its keys can be finished.
//
// The returned token is open and already knows the PIN.
func Enroll(opts EnrollOptions) (*Token, *Attestations, error) {
	if opts.PINPolicy == 0 {
		opts.PINPolicy = piv.PINPolicyOnce
	}
	if opts.TouchPolicy == 0 {
		opts.TouchPolicy = piv.TouchPolicyAlways
	}
	if opts.SigningTouchPolicy == 0 {
		opts.SigningTouchPolicy = piv.TouchPolicyCached
	}
	found, err := Find(opts.Selector)
	if err != nil {
		return nil, nil, err
	}
	if len(found) > 1 {
		return nil, nil, &ChoiceError{Cards: found}
	}
	f := found[0]
	name := fmt.Sprintf("card %d", f.Serial)
	creds, err := ReadCredentials(f.Reader)
	if err != nil {
		return nil, nil, translate(name, err)
	}
	e := &enrollment{opts: opts, f: f, name: name, creds: creds}
	defer e.wipe()
	if err := e.open(); err != nil {
		return nil, nil, err
	}
	t, att, err := e.run()
	if err != nil {
		e.yk.Close()
		return nil, nil, err
	}
	return t, att, nil
}

type enrollment struct {
	opts   EnrollOptions
	f      Found
	name   string
	creds  Credentials
	yk     *piv.YubiKey
	pin    []byte
	mgmt   []byte
	resume bool // keep the labelled keys (Resume said so)
}

func (e *enrollment) wipe() {
	secret.Wipe(e.pin)
	secret.Wipe(e.mgmt)
}

func (e *enrollment) open() error {
	yk, err := piv.Open(e.f.Reader)
	if err != nil {
		return translate(e.name, err)
	}
	e.yk = yk
	return nil
}

func (e *enrollment) run() (*Token, *Attestations, error) {
	// Slots first: a card that is already enrolled is refused, or its
	// enrollment resumed, before any PIN is asked or changed.
	kx, sig, err := e.chooseSlots()
	if err != nil {
		return nil, nil, err
	}
	if err := e.credentials(); err != nil {
		return nil, nil, err
	}
	att := &Attestations{}
	for _, k := range []struct {
		n     uint32
		touch piv.TouchPolicy
		label string
		out   **x509.Certificate
	}{
		{kx, e.opts.TouchPolicy, labelKeyAgreement, &att.KeyAgreement},
		{sig, e.opts.SigningTouchPolicy, labelSigning, &att.Signing},
	} {
		slot, _ := piv.RetiredKeyManagementSlot(k.n)
		if e.resume {
			if *k.out, err = e.yk.Attest(slot); err != nil {
				return nil, nil, translate(fmt.Sprintf("%s: attesting slot %x", e.name, k.n), err)
			}
			continue
		}
		pub, err := e.yk.GenerateKey(e.mgmt, slot, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: e.opts.PINPolicy, TouchPolicy: k.touch})
		if err != nil {
			return nil, nil, translate(fmt.Sprintf("%s: generating a key in slot %x", e.name, k.n), err)
		}
		cert, err := labelCertificate(pub.(*ecdsa.PublicKey), k.label, kx, sig)
		if err != nil {
			return nil, nil, err
		}
		if err := e.yk.SetCertificate(e.mgmt, slot, cert); err != nil {
			return nil, nil, translate(fmt.Sprintf("%s: labelling slot %x", e.name, k.n), err)
		}
		if *k.out, err = e.yk.Attest(slot); err != nil {
			return nil, nil, translate(fmt.Sprintf("%s: attesting slot %x", e.name, k.n), err)
		}
	}
	if att.Intermediate, err = e.yk.AttestationCertificate(); err != nil {
		return nil, nil, translate(e.name+": reading the attestation certificate", err)
	}
	// Tell PKCS#11 modules (OpenSC) how many retired slots hold keys.
	e.yk.Close()
	herr := setKeyHistory(e.f.Reader, e.mgmt, int(max(kx, sig))-FirstRetiredSlot+1)
	if err := e.open(); err != nil {
		return nil, nil, err
	}
	if herr != nil {
		return nil, nil, translate(e.name+": writing the key history object", herr)
	}
	pin := e.pin
	t, err := newToken(e.yk, e.f, Options{KeyAgreementSlot: kx, SigningSlot: sig, PIN: e.opts.PIN})
	if err != nil {
		return nil, nil, err
	}
	if pin != nil {
		t.pin = append([]byte(nil), pin...)
	}
	return t, att, nil
}

// credentials replaces factory credentials and obtains the management key.
func (e *enrollment) credentials() error {
	c := e.creds
	if c.PINDefault || c.PUKDefault {
		if e.opts.NewSecrets == nil {
			return fmt.Errorf("%s: %w", e.name, ErrDefaultCredentials)
		}
		pin, puk, err := e.opts.NewSecrets(c.PINDefault, c.PUKDefault)
		if err != nil {
			return err
		}
		defer secret.Wipe(puk)
		var bad error
		if c.PUKDefault {
			bad = checkSecret("PUK", puk, piv.DefaultPUK)
		}
		if c.PINDefault && bad == nil {
			bad = checkSecret("PIN", pin, piv.DefaultPIN)
		}
		if bad != nil {
			secret.Wipe(pin)
			return bad
		}
		if c.PUKDefault {
			if err := e.yk.SetPUK(piv.DefaultPUK, string(puk)); err != nil {
				secret.Wipe(pin)
				return translate(e.name+": changing the PUK", err)
			}
		}
		if c.PINDefault {
			if err := e.yk.SetPIN(piv.DefaultPIN, string(pin)); err != nil {
				secret.Wipe(pin)
				return translate(e.name+": changing the PIN", err)
			}
			e.pin = pin
		} else {
			secret.Wipe(pin)
		}
	}
	if e.pin == nil {
		if err := e.verifyPIN(); err != nil {
			return err
		}
	}
	if c.MgmtKeyDefault {
		key := make([]byte, 24) // AES-192 on 5.4+, 3DES before
		if _, err := rand.Read(key); err != nil {
			return err
		}
		e.mgmt = key
		// Store the new key PIN-protected first, authenticated with the
		// default key: if changing the key fails, the default still works
		// and enrollment can be run again.
		if err := e.yk.SetMetadata(piv.DefaultManagementKey, &piv.Metadata{ManagementKey: &key}); err != nil {
			return translate(e.name+": storing the management key", err)
		}
		if err := e.yk.SetManagementKey(piv.DefaultManagementKey, key); err != nil {
			return translate(e.name+": changing the management key", err)
		}
		e.yk.Close()
		if err := setAdminFlag(e.f.Reader, key, adminFlagMgmtKeyProtected); err != nil {
			e.open()
			return translate(e.name+": flagging the management key as PIN-protected", err)
		}
		if err := e.open(); err != nil {
			return err
		}
		return e.verifyPIN()
	}
	md, err := e.yk.Metadata(string(e.pin))
	if err != nil {
		return translate(e.name+": reading the PIN-protected management key", err)
	}
	if md.ManagementKey == nil {
		return fmt.Errorf("%s: the management key is neither the factory default nor stored PIN-protected on the card; set it PIN-protected (ykman piv access change-management-key --protect) and try again", e.name)
	}
	e.mgmt = append([]byte(nil), *md.ManagementKey...)
	return nil
}

// verifyPIN verifies the PIN, asking for it once, never on the last try.
func (e *enrollment) verifyPIN() error {
	if e.pin == nil {
		// The counter from GET METADATA: an empty VERIFY would answer 9000
		// if the PIN is still verified from an earlier session.
		r := e.creds.PINRetries
		if !token.SafeToTry(r) {
			return &token.PINError{Token: e.name, Retries: r}
		}
		if e.opts.PIN == nil {
			return fmt.Errorf("%s: a PIN is needed but none was given", e.name)
		}
		p, err := e.opts.PIN()
		if err != nil {
			return err
		}
		e.pin = p
	}
	if err := e.yk.VerifyPIN(string(e.pin)); err != nil {
		secret.Wipe(e.pin)
		e.pin = nil
		var auth piv.AuthErr
		if errors.As(err, &auth) {
			return &token.PINError{Token: e.name, Retries: auth.Retries, Tried: true}
		}
		return translate(e.name, err)
	}
	return nil
}

// CheckNewPIN reports why pin cannot become a card's PIN: a YubiKey takes
// 6 to 8 characters (bytes; the PIV encoding pads to 8, the card refuses
// fewer than 6), and breakglass refuses the factory default. The error
// states the rule, to show as soon as the PIN is typed.
func CheckNewPIN(pin []byte) error { return checkSecret("PIN", pin, piv.DefaultPIN) }

// CheckNewPUK is CheckNewPIN for the PUK (the same 6 to 8 characters).
func CheckNewPUK(puk []byte) error { return checkSecret("PUK", puk, piv.DefaultPUK) }

func checkSecret(what string, s []byte, def string) error {
	if len(s) < 6 || len(s) > 8 {
		return fmt.Errorf("the new %s must have 6 to 8 characters", what)
	}
	if string(s) == def {
		return fmt.Errorf("the new %s must not be the factory default", what)
	}
	return nil
}

// chooseSlots picks the key-agreement and signing slots.
func (e *enrollment) chooseSlots() (uint32, uint32, error) {
	used := map[uint32]bool{}
	for n := uint32(FirstRetiredSlot); n <= LastRetiredSlot; n++ {
		slot, _ := piv.RetiredKeyManagementSlot(n)
		_, err := e.yk.KeyInfo(slot)
		switch {
		case err == nil:
			used[n] = true
		case !errors.Is(err, piv.ErrNotFound):
			return 0, 0, translate(e.name+": reading slot metadata", err)
		}
	}
	lkx, lsig, err := labelledSlots(e.yk)
	if err != nil {
		return 0, 0, err
	}
	kx, sig := e.opts.KeyAgreementSlot, e.opts.SigningSlot
	if kx == 0 && sig == 0 && lkx != 0 && !e.opts.Force {
		if lsig != 0 && lsig != lkx && e.opts.Resume != nil {
			keys, err := e.existingKeys(lkx, lsig)
			if err != nil {
				return 0, 0, err
			}
			if keys != nil {
				ok, err := e.opts.Resume(*keys)
				if err != nil {
					return 0, 0, err
				}
				if ok {
					e.resume = true
					return lkx, lsig, nil
				}
			}
		}
		return 0, 0, fmt.Errorf("%s is already enrolled (slots %x and %x); use --force to replace its keys: %w", e.name, lkx, lsig, token.ErrSlotInUse)
	}
	next := func(skip uint32) uint32 {
		for n := uint32(FirstRetiredSlot); n <= LastRetiredSlot; n++ {
			if !used[n] && n != skip {
				return n
			}
		}
		return 0
	}
	if kx == 0 {
		if e.opts.Force && lkx != 0 {
			kx = lkx
		} else {
			kx = next(sig)
		}
	}
	if sig == 0 {
		if e.opts.Force && lsig != 0 && lsig != kx {
			sig = lsig
		} else {
			sig = next(kx)
		}
	}
	if kx == 0 || sig == 0 {
		return 0, 0, fmt.Errorf("%s: no free retired slot (82 to 95): %w", e.name, token.ErrSlotInUse)
	}
	if kx == sig {
		return 0, 0, fmt.Errorf("the key-agreement and signing keys need two different slots (both %x)", kx)
	}
	for _, n := range []uint32{kx, sig} {
		if used[n] && !e.opts.Force {
			return 0, 0, fmt.Errorf("%s: slot %x already holds a key; use --force to overwrite it: %w", e.name, n, token.ErrSlotInUse)
		}
	}
	return kx, sig, nil
}

// existingKeys reads the keys in the labelled slots kx and sig. It returns
// nil when a slot holds no key or a key other than its label names (the
// slots were changed by another tool: not breakglass's keys to resume), and
// an error wrapping token.ErrSlotInUse when their policies are not the
// requested ones (a resumed enrollment would not be the one asked for).
func (e *enrollment) existingKeys(kx, sig uint32) (*ExistingKeys, error) {
	keys := &ExistingKeys{Serial: e.f.Serial, KeyAgreementSlot: kx, SigningSlot: sig}
	for _, k := range []struct {
		n     uint32
		touch piv.TouchPolicy
		out   *crypto.PublicKey
	}{
		{kx, e.opts.TouchPolicy, &keys.KeyAgreement},
		{sig, e.opts.SigningTouchPolicy, &keys.Signing},
	} {
		slot, _ := piv.RetiredKeyManagementSlot(k.n)
		ki, err := e.yk.KeyInfo(slot)
		if errors.Is(err, piv.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, translate(e.name+": reading slot metadata", err)
		}
		cert, err := e.yk.Certificate(slot)
		if err != nil {
			return nil, translate(e.name+": reading the label certificate", err)
		}
		pub, ok := ki.PublicKey.(*ecdsa.PublicKey)
		if !ok || !pub.Equal(cert.PublicKey) {
			return nil, nil
		}
		if ki.PINPolicy != e.opts.PINPolicy || ki.TouchPolicy != k.touch {
			return nil, fmt.Errorf("%s already holds breakglass keys (slots %x and %x), and slot %x has PIN policy %s and touch policy %s, not the %s and %s asked for; use --force to replace its keys: %w",
				e.name, kx, sig, k.n, PINPolicyName(ki.PINPolicy), TouchPolicyName(ki.TouchPolicy),
				PINPolicyName(e.opts.PINPolicy), TouchPolicyName(k.touch), token.ErrSlotInUse)
		}
		*k.out = pub
	}
	return keys, nil
}

// labelCertificate makes the certificate stored in a breakglass slot: the
// slot's public key, a subject naming the role and both slots, signed by a
// throwaway key.
func labelCertificate(pub *ecdsa.PublicKey, label string, kx, sig uint32) (*x509.Certificate, error) {
	throwaway, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         label,
			Organization:       []string{"breakglass"},
			OrganizationalUnit: []string{fmt.Sprintf("slots %x/%x", kx, sig)},
		},
		Issuer:    pkix.Name{CommonName: "breakglass slot label (not an attestation)"},
		NotBefore: time.Now().Add(-time.Hour).UTC(),
		NotAfter:  time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC),
		KeyUsage:  x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, &x509.Certificate{Subject: tmpl.Issuer}, pub, throwaway)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// labelledSlots finds the slots whose certificates are breakglass labels.
func labelledSlots(yk *piv.YubiKey) (kx, sig uint32, err error) {
	for n := uint32(FirstRetiredSlot); n <= LastRetiredSlot; n++ {
		slot, _ := piv.RetiredKeyManagementSlot(n)
		cert, err := yk.Certificate(slot)
		if errors.Is(err, piv.ErrNotFound) {
			continue
		}
		if err != nil {
			if _, ok := translate("", err).(*token.NotPresentError); ok {
				return 0, 0, translate("", err)
			}
			continue
		}
		if len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "breakglass" {
			continue
		}
		switch cert.Subject.CommonName {
		case labelKeyAgreement:
			if kx == 0 {
				kx = n
			}
		case labelSigning:
			if sig == 0 {
				sig = n
			}
		}
	}
	return kx, sig, nil
}

// NewRecord builds the enrollment record of an enrolled card: keys,
// policies, firmware and attestation certificates. The caller signs it with
// t.SigningKey().
func NewRecord(c token.Custodian, t *Token, att *Attestations, now time.Time) (*token.Record, error) {
	r, err := token.NewRecord(c, t.Info(), t.kxPub, t.sigPub, now)
	if err != nil {
		return nil, err
	}
	r.Token.Label = ""
	kp, kt, sp, st := t.Policies()
	r.Keys.KeyAgreement.PINPolicy, r.Keys.KeyAgreement.TouchPolicy = kp, kt
	r.Keys.Signing.PINPolicy, r.Keys.Signing.TouchPolicy = sp, st
	if att != nil {
		r.Keys.KeyAgreement.Attestation = base64.StdEncoding.EncodeToString(att.KeyAgreement.Raw)
		r.Keys.Signing.Attestation = base64.StdEncoding.EncodeToString(att.Signing.Raw)
		r.Keys.AttestationIntermediate = base64.StdEncoding.EncodeToString(att.Intermediate.Raw)
	}
	return r, nil
}

// OpenRecord opens the card an enrollment record describes, at the
// record's slots, restricted to sel's readers.
func OpenRecord(r *token.Record, sel Selector, pin token.PINFunc) (*Token, error) {
	if r.Token.Kind != token.KindPIV || r.Keys == nil {
		return nil, fmt.Errorf("the record of %s is not for a PIV card", r.Custodian.Name)
	}
	serial, err := strconv.ParseUint(r.Token.Serial, 10, 32)
	if err != nil {
		return nil, &token.FieldError{Field: "token.serial", Reason: "not a number"}
	}
	kx, err := ParseSlot(r.Keys.KeyAgreement.ID)
	if err != nil {
		return nil, &token.FieldError{Field: "keys.key-agreement.id", Reason: err.Error()}
	}
	sig, err := ParseSlot(r.Keys.Signing.ID)
	if err != nil {
		return nil, &token.FieldError{Field: "keys.signing.id", Reason: err.Error()}
	}
	sel.Serial = uint32(serial)
	return Open(Options{Selector: sel, KeyAgreementSlot: kx, SigningSlot: sig, PIN: pin})
}
