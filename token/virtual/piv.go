package virtual

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/breakglass/breakglass/internal/secret"
)

// Instructions (SP 800-73-4 Part 2 §3 and Yubico's extensions).
const (
	insSelect       = 0xA4
	insGetResponse  = 0xC0
	insGetData      = 0xCB
	insPutData      = 0xDB
	insVerify       = 0x20
	insChangeRef    = 0x24
	insResetRetry   = 0x2C
	insGenAuth      = 0x87
	insGenerate     = 0x47
	insGetVersion   = 0xFD
	insGetSerial    = 0xF8
	insGetMetadata  = 0xF7
	insAttest       = 0xF9
	insReset        = 0xFB
	insSetRetries   = 0xFA
	insSetMgmtKey   = 0xFF
	insImportKey    = 0xFE
	insReadConfig   = 0x1D // Management applet: device info
	maxChainedData  = 1 << 16
	maxObjectLength = 3063 // YubiKey 4.3+ object size limit
)

// Key references.
const (
	keyPIN         = 0x80
	keyPUK         = 0x81
	keyMgmt        = 0x9B
	keyAttestation = 0xF9
)

// Data objects.
const (
	objDiscovery       = 0x7E
	objBiometricGroup  = 0x7F61
	objAttestationCert = 0x5FFF01
)

var (
	aidPIV        = []byte{0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00}
	aidManagement = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}

	// Application property template returned on SELECT (SP 800-73-4 Part 2 §3.1.1).
	selectResponse = []byte{0x61, 0x11, 0x4F, 0x06, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
		0x79, 0x07, 0x4F, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}
	// Discovery object as a YubiKey returns it: PIV AID and PIN usage policy.
	discoveryObject = []byte{0x7E, 0x12, 0x4F, 0x0B, 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00,
		0x00, 0x10, 0x00, 0x01, 0x00, 0x5F, 0x2F, 0x02, 0x40, 0x00}
)

// transmit handles one APDU with c.mu held: command chaining, response
// chaining, then dispatch.
func (c *Card) transmit(apdu []byte) []byte {
	cmd, sw := parseCommand(apdu)
	if sw != swOK {
		c.sess.pending = nil
		return response(nil, sw)
	}
	if cmd.cla&^0x10 != 0 {
		return response(nil, swCLANotSupported)
	}
	if cmd.ins == insGetResponse {
		return c.getResponse(cmd)
	}
	c.sess.pending = nil

	// Command chaining: collect data until the last chunk.
	if ch := c.sess.chain; ch != nil {
		if ch.ins != cmd.ins || ch.p1 != cmd.p1 || ch.p2 != cmd.p2 {
			secret.Wipe(ch.data)
			c.sess.chain = nil
		} else {
			if len(ch.data)+len(cmd.data) > maxChainedData {
				secret.Wipe(ch.data)
				c.sess.chain = nil
				return response(nil, swWrongLength)
			}
			ch.data = append(ch.data, cmd.data...)
			if cmd.chained() {
				return response(nil, swOK)
			}
			c.sess.chain = nil
			cmd.data = ch.data
			defer secret.Wipe(ch.data)
		}
	} else if cmd.chained() {
		c.sess.chain = &command{ins: cmd.ins, p1: cmd.p1, p2: cmd.p2,
			data: append([]byte(nil), cmd.data...)}
		return response(nil, swOK)
	}

	data, err := c.dispatch(&cmd)
	sw = swOK
	if err != nil {
		var e swError
		if errors.As(err, &e) {
			sw = uint16(e)
		} else {
			sw = swNoPreciseDiagnosis
		}
		return response(nil, sw)
	}
	return c.respond(data, cmd)
}

// respond returns data in one piece for extended APDUs, otherwise in chunks
// of at most 256 bytes followed by 61xx.
func (c *Card) respond(data []byte, cmd command) []byte {
	max := 256
	if cmd.extended {
		max = 65536
	}
	if len(data) <= max {
		return response(data, swOK)
	}
	c.sess.pending = append([]byte(nil), data[max:]...)
	return response(data[:max], moreData(len(c.sess.pending)))
}

func moreData(n int) uint16 {
	if n >= 256 {
		return swMoreData
	}
	return swMoreData | uint16(n)
}

func (c *Card) getResponse(cmd command) []byte {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return response(nil, swIncorrectP1P2)
	}
	if len(c.sess.pending) == 0 {
		return response(nil, swConditionsNotMet)
	}
	n := cmd.le
	if n == 0 || n > 256 {
		n = 256
	}
	if cmd.extended {
		n = len(c.sess.pending)
	}
	if n > len(c.sess.pending) {
		n = len(c.sess.pending)
	}
	out := c.sess.pending[:n]
	c.sess.pending = c.sess.pending[n:]
	if len(c.sess.pending) == 0 {
		c.sess.pending = nil
		return response(out, swOK)
	}
	return response(out, moreData(len(c.sess.pending)))
}

// dispatch runs a complete command and returns its response data.
func (c *Card) dispatch(cmd *command) ([]byte, error) {
	if cmd.ins == insSelect {
		return c.selectApplet(cmd)
	}
	switch c.sess.selected {
	case appletPIV:
	case appletManagement:
		if cmd.ins == insReadConfig {
			return c.deviceInfo(), nil
		}
		return nil, swError(swINSNotSupported)
	default:
		return nil, swError(swINSNotSupported)
	}
	switch cmd.ins {
	case insGetVersion:
		f := c.st.Firmware
		return []byte{f[0], f[1], f[2]}, nil
	case insGetSerial:
		s := c.st.Serial
		return []byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)}, nil
	case insGetMetadata:
		return c.metadata(cmd)
	case insVerify:
		return nil, c.verify(cmd)
	case insChangeRef:
		return nil, c.changeReference(cmd)
	case insResetRetry:
		return nil, c.resetRetryCounter(cmd)
	case insSetRetries:
		return nil, c.setRetries(cmd)
	case insReset:
		return nil, c.reset(cmd)
	case insGenAuth:
		return c.generalAuthenticate(cmd)
	case insSetMgmtKey:
		return nil, c.setManagementKey(cmd)
	case insGenerate:
		return c.generate(cmd)
	case insImportKey:
		return nil, c.importKey(cmd)
	case insAttest:
		if cmd.p2 != 0 {
			return nil, swError(swIncorrectP1P2)
		}
		if !keySlot(cmd.p1) {
			return nil, swError(swWrongP1P2)
		}
		return c.attest(cmd.p1)
	case insGetData:
		return c.getData(cmd)
	case insPutData:
		return nil, c.putData(cmd)
	}
	return nil, swError(swINSNotSupported)
}

func (c *Card) selectApplet(cmd *command) ([]byte, error) {
	if cmd.p1 != 0x04 {
		return nil, swError(swIncorrectP1P2)
	}
	aid := cmd.data
	switch {
	case len(aid) >= 5 && len(aid) <= len(aidPIV) && bytes.HasPrefix(aidPIV, aid):
		// (Re)selecting the applet ends the PIN and management key
		// session; libykpiv relies on this to read the retry counter.
		c.deauthenticate()
		c.sess.selected = appletPIV
		return selectResponse, nil
	case bytes.Equal(aid, aidManagement):
		// Selecting another applet ends the PIV session, as on a YubiKey.
		c.deauthenticate()
		c.sess.selected = appletManagement
		f := c.st.Firmware
		return []byte(string(rune('0'+f[0])) + "." + itoa(int(f[1])) + "." + itoa(int(f[2]))), nil
	}
	return nil, swError(swFileNotFound)
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// deauthenticate forgets PIN verification and management key authentication.
func (c *Card) deauthenticate() {
	c.sess.pinVerified, c.sess.pinFresh, c.sess.mgmtAuth = false, false, false
	c.sess.witness, c.sess.challenge = nil, nil
}

// deviceInfo answers the Management applet's READ CONFIG: serial, form
// factor, firmware and the PIV application as the only USB application.
func (c *Card) deviceInfo() []byte {
	s := c.st.Serial
	f := c.st.Firmware
	var b []byte
	b = tlv(b, 0x01, []byte{0x00, 0x10}) // USB supported: PIV
	b = tlv(b, 0x03, []byte{0x00, 0x10}) // USB enabled: PIV
	b = tlv(b, 0x02, []byte{byte(s >> 24), byte(s >> 16), byte(s >> 8), byte(s)})
	b = tlv(b, 0x04, []byte{c.st.FormFactor})
	b = tlv(b, 0x05, []byte{f[0], f[1], f[2]})
	return append([]byte{byte(len(b))}, b...)
}

// keySlot reports whether ref is an asymmetric key slot usable for keys.
func keySlot(ref byte) bool {
	switch {
	case ref == 0x9A, ref == 0x9C, ref == 0x9D, ref == 0x9E:
		return true
	case ref >= 0x82 && ref <= 0x95:
		return true
	}
	return false
}

// defaultPolicies returns a YubiKey's default PIN and touch policy for a slot.
func defaultPolicies(ref byte) (pin, touch byte) {
	switch ref {
	case 0x9C:
		return pinAlways, touchNever
	case 0x9E:
		return pinNever, touchNever
	}
	return pinOnce, touchNever
}

// publicKeyTLV encodes an EC public key as tag 86 (SP 800-73-4 Part 2 §3.3.2).
func publicKeyTLV(k *slotKey) ([]byte, error) {
	priv, err := k.ecdsaKey()
	if err != nil {
		return nil, err
	}
	pub, err := priv.PublicKey.Bytes()
	if err != nil {
		return nil, err
	}
	return tlv(nil, 0x86, pub), nil
}

func (c *Card) metadata(cmd *command) ([]byte, error) {
	if cmd.p1 != 0 {
		return nil, swError(swIncorrectP1P2)
	}
	st := c.st
	var b []byte
	switch ref := cmd.p2; {
	case ref == keyPIN || ref == keyPUK:
		def, tries, max := !st.PINChanged, st.PINTries, st.PINMax
		if ref == keyPUK {
			def, tries, max = !st.PUKChanged, st.PUKTries, st.PUKMax
		}
		b = tlv(b, 0x01, []byte{algPIN})
		b = tlv(b, 0x05, []byte{boolByte(def)})
		b = tlv(b, 0x06, []byte{byte(max), byte(tries)})
	case ref == keyMgmt:
		touch := byte(touchNever)
		if st.MgmtTouch {
			touch = touchAlways
		}
		b = tlv(b, 0x01, []byte{st.MgmtAlg})
		b = tlv(b, 0x02, []byte{0x00, touch})
		b = tlv(b, 0x05, []byte{boolByte(subtle.ConstantTimeCompare(st.MgmtKey, defaultMgmtKey) == 1)})
	case keySlot(ref) || ref == keyAttestation:
		k := st.Keys[ref]
		if k == nil {
			return nil, swError(swReferenceNotFound)
		}
		pub, err := publicKeyTLV(k)
		if err != nil {
			return nil, err
		}
		b = tlv(b, 0x01, []byte{k.Alg})
		b = tlv(b, 0x02, []byte{k.PINPolicy, k.TouchPolicy})
		b = tlv(b, 0x03, []byte{k.Origin})
		b = tlv(b, 0x04, pub)
	default:
		return nil, swError(swWrongP1P2)
	}
	return b, nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// unpad strips the FF padding of an 8-byte PIN or PUK block.
func unpad(b []byte) []byte {
	return bytes.TrimRight(b, "\xff")
}

// validSecret reports whether an unpadded PIN or PUK has an acceptable length.
func validSecret(b []byte) bool { return len(b) >= 6 && len(b) <= 8 }

func triesSW(n int) error {
	if n > 15 {
		n = 15
	}
	return swError(swVerifyFail | uint16(n))
}

// checkSecret compares a padded 8-byte block with a stored secret, counting
// down on a mismatch and persisting the counter.
func (c *Card) checkSecret(block []byte, stored []byte, tries *int, max int) error {
	if *tries == 0 {
		return swError(swAuthBlocked)
	}
	given := unpad(block)
	if subtle.ConstantTimeCompare(given, stored) != 1 {
		*tries--
		if err := c.save(); err != nil {
			return err
		}
		return triesSW(*tries)
	}
	if *tries != max {
		*tries = max
		if err := c.save(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Card) verify(cmd *command) error {
	if cmd.p2 != keyPIN {
		return swError(swIncorrectP1P2)
	}
	switch cmd.p1 {
	case 0xFF: // reset the verification status (YubiKey 5.4.3+)
		if len(cmd.data) != 0 {
			return swError(swIncorrectData)
		}
		c.sess.pinVerified, c.sess.pinFresh = false, false
		return nil
	case 0x00:
	default:
		return swError(swIncorrectP1P2)
	}
	st := c.st
	if len(cmd.data) == 0 { // retries query
		switch {
		case c.sess.pinVerified:
			return nil
		case st.PINTries == 0:
			return swError(swAuthBlocked)
		}
		return triesSW(st.PINTries)
	}
	if len(cmd.data) != 8 {
		return swError(swIncorrectData)
	}
	c.sess.pinVerified, c.sess.pinFresh = false, false
	if err := c.checkSecret(cmd.data, st.PIN, &st.PINTries, st.PINMax); err != nil {
		return err
	}
	c.sess.pinVerified, c.sess.pinFresh = true, true
	return nil
}

func (c *Card) changeReference(cmd *command) error {
	if cmd.p1 != 0 || (cmd.p2 != keyPIN && cmd.p2 != keyPUK) {
		return swError(swIncorrectP1P2)
	}
	if len(cmd.data) != 16 {
		return swError(swIncorrectData)
	}
	st := c.st
	cur, tries, max, changed := &st.PIN, &st.PINTries, st.PINMax, &st.PINChanged
	if cmd.p2 == keyPUK {
		cur, tries, max, changed = &st.PUK, &st.PUKTries, st.PUKMax, &st.PUKChanged
	}
	next := unpad(cmd.data[8:])
	if *tries > 0 && !validSecret(next) {
		return swError(swIncorrectData)
	}
	if err := c.checkSecret(cmd.data[:8], *cur, tries, max); err != nil {
		return err
	}
	secret.Wipe(*cur)
	*cur = append([]byte(nil), next...)
	*changed = true
	if err := c.save(); err != nil {
		return err
	}
	if cmd.p2 == keyPIN {
		c.sess.pinVerified = true
	}
	return nil
}

func (c *Card) resetRetryCounter(cmd *command) error {
	if cmd.p1 != 0 || cmd.p2 != keyPIN {
		return swError(swIncorrectP1P2)
	}
	if len(cmd.data) != 16 {
		return swError(swIncorrectData)
	}
	st := c.st
	next := unpad(cmd.data[8:])
	if st.PUKTries > 0 && !validSecret(next) {
		return swError(swIncorrectData)
	}
	if err := c.checkSecret(cmd.data[:8], st.PUK, &st.PUKTries, st.PUKMax); err != nil {
		return err
	}
	secret.Wipe(st.PIN)
	st.PIN = append([]byte(nil), next...)
	st.PINTries = st.PINMax
	st.PINChanged = true
	return c.save()
}

func (c *Card) setRetries(cmd *command) error {
	if !c.sess.mgmtAuth || !c.sess.pinVerified {
		return swError(swSecurityStatus)
	}
	if cmd.p1 == 0 || cmd.p2 == 0 {
		return swError(swIncorrectP1P2)
	}
	st := c.st
	mgmtAlg, mgmtKey, mgmtTouch := st.MgmtAlg, st.MgmtKey, st.MgmtTouch
	st.resetCredentials()
	st.MgmtAlg, st.MgmtKey, st.MgmtTouch = mgmtAlg, mgmtKey, mgmtTouch
	st.PINMax, st.PINTries = int(cmd.p1), int(cmd.p1)
	st.PUKMax, st.PUKTries = int(cmd.p2), int(cmd.p2)
	c.sess.pinVerified, c.sess.pinFresh = false, false
	return c.save()
}

func (c *Card) reset(cmd *command) error {
	if cmd.p1 != 0 || cmd.p2 != 0 {
		return swError(swIncorrectP1P2)
	}
	st := c.st
	if st.PINTries != 0 || st.PUKTries != 0 {
		return swError(swConditionsNotMet)
	}
	for ref, k := range st.Keys {
		if ref != keyAttestation {
			secret.Wipe(k.Private)
			delete(st.Keys, ref)
		}
	}
	for tag, v := range st.Objects {
		if tag != objAttestationCert {
			secret.Wipe(v)
			delete(st.Objects, tag)
		}
	}
	secret.Wipe(st.MgmtKey)
	st.resetCredentials()
	c.deauthenticate()
	return c.save()
}

// mgmtCipher returns the block cipher of the management key.
func (c *Card) mgmtCipher() (cipher.Block, error) {
	if c.st.MgmtAlg == alg3DES {
		return des.NewTripleDESCipher(c.st.MgmtKey)
	}
	return aes.NewCipher(c.st.MgmtKey)
}

func (c *Card) generalAuthenticate(cmd *command) ([]byte, error) {
	tmpl, _, err := parseTLVs(cmd.data)
	if err != nil {
		return nil, swError(swIncorrectData)
	}
	dyn, ok := tmpl[0x7C]
	if !ok || len(tmpl) != 1 {
		return nil, swError(swIncorrectData)
	}
	fields, order, err := parseTLVs(dyn)
	if err != nil {
		return nil, swError(swIncorrectData)
	}
	if cmd.p2 == keyMgmt {
		return c.authenticateManagement(cmd.p1, fields, order)
	}
	if !keySlot(cmd.p2) {
		return nil, swError(swWrongP1P2)
	}
	return c.useKey(cmd.p1, cmd.p2, fields)
}

// authenticateManagement runs mutual (witness + challenge) or one-way
// (challenge + response) management key authentication.
func (c *Card) authenticateManagement(alg byte, f map[uint32][]byte, order []uint32) ([]byte, error) {
	st := c.st
	if alg != st.MgmtAlg {
		return nil, swError(swIncorrectData)
	}
	block, err := c.mgmtCipher()
	if err != nil {
		return nil, err
	}
	n := block.BlockSize()
	witness, hasWitness := f[0x80]
	challenge, hasChallenge := f[0x81]
	resp, hasResponse := f[0x82]
	fail := func() ([]byte, error) {
		c.sess.mgmtAuth = false
		c.sess.witness, c.sess.challenge = nil, nil
		return nil, swError(swSecurityStatus)
	}
	switch {
	case hasWitness && len(witness) == 0 && len(order) == 1:
		// Step 1 of mutual authentication: send an encrypted witness.
		c.sess.mgmtAuth = false
		c.sess.challenge = nil
		w := make([]byte, n)
		rand.Read(w)
		c.sess.witness = w
		enc := make([]byte, n)
		block.Encrypt(enc, w)
		return tlv(nil, 0x7C, tlv(nil, 0x80, enc)), nil
	case hasWitness && hasChallenge && len(order) == 2:
		// Step 2: check the decrypted witness, answer the host's challenge.
		expected := c.sess.witness
		c.sess.witness = nil
		if expected == nil || len(witness) != n || len(challenge) != n ||
			subtle.ConstantTimeCompare(witness, expected) != 1 {
			return fail()
		}
		if err := c.touchManagement(); err != nil {
			return nil, err
		}
		enc := make([]byte, n)
		block.Encrypt(enc, challenge)
		c.sess.mgmtAuth = true
		return tlv(nil, 0x7C, tlv(nil, 0x82, enc)), nil
	case hasChallenge && len(challenge) == 0 && len(order) == 1:
		// One-way authentication, step 1: send a plain challenge.
		c.sess.mgmtAuth = false
		c.sess.witness = nil
		ch := make([]byte, n)
		rand.Read(ch)
		c.sess.challenge = ch
		return tlv(nil, 0x7C, tlv(nil, 0x81, ch)), nil
	case hasResponse && len(order) == 1:
		// One-way authentication, step 2: the host encrypted our challenge.
		ch := c.sess.challenge
		c.sess.challenge = nil
		if ch == nil || len(resp) != n {
			return fail()
		}
		want := make([]byte, n)
		block.Encrypt(want, ch)
		if subtle.ConstantTimeCompare(want, resp) != 1 {
			return fail()
		}
		if err := c.touchManagement(); err != nil {
			return nil, err
		}
		c.sess.mgmtAuth = true
		return nil, nil
	}
	return nil, swError(swIncorrectData)
}

func (c *Card) touchManagement() error {
	if !c.st.MgmtTouch {
		return nil
	}
	if err := c.waitTouch(c.sessionContext(), "management key"); err != nil {
		return swError(swSecurityStatus)
	}
	return nil
}

// useKey signs or agrees a key with the private key in slot ref, after
// enforcing its PIN and touch policies.
func (c *Card) useKey(alg, ref byte, f map[uint32][]byte) ([]byte, error) {
	k := c.st.Keys[ref]
	if k == nil || k.Alg != alg {
		return nil, swError(swIncorrectData)
	}
	resp, hasResp := f[0x82]
	digest, hasDigest := f[0x81]
	point, hasPoint := f[0x85]
	if !hasResp || len(resp) != 0 || hasDigest == hasPoint {
		return nil, swError(swIncorrectData)
	}
	priv, err := k.ecdsaKey()
	if err != nil {
		return nil, err
	}
	size := (priv.Curve.Params().BitSize + 7) / 8
	var peer []byte
	if hasDigest {
		if len(digest) == 0 || len(digest) > size {
			return nil, swError(swIncorrectData)
		}
	} else {
		if len(point) != 1+2*size || point[0] != 4 {
			return nil, swError(swIncorrectData)
		}
		peer = point
	}
	switch k.PINPolicy {
	case pinOnce:
		if !c.sess.pinVerified {
			return nil, swError(swSecurityStatus)
		}
	case pinAlways:
		if !c.sess.pinFresh {
			return nil, swError(swSecurityStatus)
		}
	}
	// A VERIFY enables one private key operation of a PIN-always key: the
	// next one, whatever its slot.
	c.sess.pinFresh = false
	if err := c.touchKey(k, ref); err != nil {
		return nil, err
	}
	var out []byte
	if hasDigest {
		out, err = ecdsa.SignASN1(rand.Reader, priv, digest)
	} else {
		out, err = ecdhX(priv, peer)
	}
	if err != nil {
		return nil, swError(swIncorrectData)
	}
	defer secret.Wipe(out)
	return tlv(nil, 0x7C, tlv(nil, 0x82, out)), nil
}

// ecdhX returns the x-coordinate of priv·peer (SP 800-56A, as PIV returns it).
func ecdhX(priv *ecdsa.PrivateKey, peer []byte) ([]byte, error) {
	k, err := priv.ECDH()
	if err != nil {
		return nil, err
	}
	p, err := k.Curve().NewPublicKey(peer)
	if err != nil {
		return nil, err
	}
	return k.ECDH(p)
}

func (c *Card) touchKey(k *slotKey, ref byte) error {
	switch k.TouchPolicy {
	case touchAlways:
	case touchCached:
		if !c.sess.lastTouch.IsZero() && time.Since(c.sess.lastTouch) < c.opts.TouchCache {
			return nil
		}
	default:
		return nil
	}
	if err := c.waitTouch(c.sessionContext(), "slot "+hexByte(ref)); err != nil {
		return swError(swSecurityStatus)
	}
	c.sess.lastTouch = time.Now()
	return nil
}

func hexByte(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

func (c *Card) setManagementKey(cmd *command) error {
	if !c.sess.mgmtAuth {
		return swError(swSecurityStatus)
	}
	if cmd.p1 != 0xFF || (cmd.p2 != 0xFF && cmd.p2 != 0xFE) {
		return swError(swIncorrectP1P2)
	}
	d := cmd.data
	if len(d) < 3 || d[1] != keyMgmt || int(d[2]) != len(d)-3 {
		return swError(swIncorrectData)
	}
	alg, key := d[0], d[3:]
	n, ok := mgmtKeyLen(alg)
	if !ok || len(key) != n {
		return swError(swIncorrectData)
	}
	if alg != alg3DES && c.st.Firmware[0] == 5 && c.st.Firmware[1] < 4 {
		return swError(swIncorrectData)
	}
	secret.Wipe(c.st.MgmtKey)
	c.st.MgmtAlg = alg
	c.st.MgmtKey = append([]byte(nil), key...)
	c.st.MgmtTouch = cmd.p2 == 0xFE
	return c.save()
}

// keyPolicies parses the AA/AB policy tags of GENERATE and IMPORT.
func keyPolicies(ref byte, f map[uint32][]byte) (pin, touch byte, err error) {
	pin, touch = defaultPolicies(ref)
	if v, ok := f[0xAA]; ok {
		if len(v) != 1 || v[0] > pinAlways {
			return 0, 0, swError(swIncorrectData)
		}
		if v[0] != pinDefault {
			pin = v[0]
		}
	}
	if v, ok := f[0xAB]; ok {
		if len(v) != 1 || v[0] > touchCached {
			return 0, 0, swError(swIncorrectData)
		}
		if v[0] != touchDefault {
			touch = v[0]
		}
	}
	return pin, touch, nil
}

func (c *Card) generate(cmd *command) ([]byte, error) {
	if !c.sess.mgmtAuth {
		return nil, swError(swSecurityStatus)
	}
	if cmd.p1 != 0 {
		return nil, swError(swIncorrectP1P2)
	}
	ref := cmd.p2
	if !keySlot(ref) {
		return nil, swError(swWrongP1P2)
	}
	outer, _, err := parseTLVs(cmd.data)
	if err != nil || outer[0xAC] == nil {
		return nil, swError(swIncorrectData)
	}
	f, _, err := parseTLVs(outer[0xAC])
	if err != nil || len(f[0x80]) != 1 {
		return nil, swError(swIncorrectData)
	}
	alg := f[0x80][0]
	ec, _, ok := curve(alg)
	if !ok {
		return nil, swError(swIncorrectData)
	}
	pin, touch, err := keyPolicies(ref, f)
	if err != nil {
		return nil, err
	}
	priv, err := ecdsa.GenerateKey(ec, rand.Reader)
	if err != nil {
		return nil, err
	}
	k := &slotKey{Alg: alg, Private: mustRaw(priv), PINPolicy: pin, TouchPolicy: touch, Origin: originGenerated}
	if old := c.st.Keys[ref]; old != nil {
		secret.Wipe(old.Private)
	}
	c.st.Keys[ref] = k
	if err := c.save(); err != nil {
		return nil, err
	}
	pub, err := publicKeyTLV(k)
	if err != nil {
		return nil, err
	}
	return tlv(nil, 0x7F49, pub), nil
}

func (c *Card) importKey(cmd *command) error {
	if !c.sess.mgmtAuth {
		return swError(swSecurityStatus)
	}
	ref, alg := cmd.p2, cmd.p1
	if !keySlot(ref) {
		return swError(swWrongP1P2)
	}
	ec, _, ok := curve(alg)
	if !ok {
		return swError(swIncorrectData)
	}
	f, _, err := parseTLVs(cmd.data)
	if err != nil {
		return swError(swIncorrectData)
	}
	scalar := f[0x06]
	size := (ec.Params().BitSize + 7) / 8
	if len(scalar) != size {
		return swError(swIncorrectData)
	}
	priv, err := ecdsa.ParseRawPrivateKey(ec, scalar)
	if err != nil {
		return swError(swIncorrectData)
	}
	pin, touch, err := keyPolicies(ref, f)
	if err != nil {
		return err
	}
	if old := c.st.Keys[ref]; old != nil {
		secret.Wipe(old.Private)
	}
	c.st.Keys[ref] = &slotKey{Alg: alg, Private: mustRaw(priv), PINPolicy: pin, TouchPolicy: touch, Origin: originImported}
	return c.save()
}

// mustRaw returns the raw scalar of an ECDSA key generated or parsed here.
func mustRaw(k *ecdsa.PrivateKey) []byte {
	b, err := k.Bytes()
	if err != nil {
		panic(err) // only for curves we never use
	}
	return b
}

// objectTag parses the 5C tag list of GET DATA and PUT DATA.
func objectTag(v []byte) (uint32, bool) {
	switch len(v) {
	case 1:
		return uint32(v[0]), v[0] == objDiscovery
	case 2:
		t := uint32(v[0])<<8 | uint32(v[1])
		return t, t == objBiometricGroup
	case 3:
		t := uint32(v[0])<<16 | uint32(v[1])<<8 | uint32(v[2])
		return t, t >= 0x5FC101 && t <= 0x5FC123 || t >= 0x5FFF00 && t <= 0x5FFF15
	}
	return 0, false
}

// pinProtected lists objects that need the PIN to read (SP 800-73-4 Part 1 Table 3).
func pinProtected(tag uint32) bool {
	switch tag {
	case 0x5FC103, 0x5FC108, 0x5FC109, 0x5FC121, objBiometricGroup:
		return true
	}
	return false
}

func (c *Card) getData(cmd *command) ([]byte, error) {
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return nil, swError(swIncorrectP1P2)
	}
	t, v, rest, err := readTLV(cmd.data)
	if err != nil || t != 0x5C || len(rest) != 0 {
		return nil, swError(swIncorrectData)
	}
	tag, ok := objectTag(v)
	if !ok {
		return nil, swError(swIncorrectData)
	}
	if tag == objDiscovery {
		return discoveryObject, nil
	}
	if pinProtected(tag) && !c.sess.pinVerified {
		return nil, swError(swSecurityStatus)
	}
	obj, ok := c.st.Objects[tag]
	if !ok {
		return nil, swError(swFileNotFound)
	}
	return tlv(nil, 0x53, obj), nil
}

func (c *Card) putData(cmd *command) error {
	if !c.sess.mgmtAuth {
		return swError(swSecurityStatus)
	}
	if cmd.p1 != 0x3F || cmd.p2 != 0xFF {
		return swError(swIncorrectP1P2)
	}
	t, v, rest, err := readTLV(cmd.data)
	if err != nil || t != 0x5C {
		return swError(swIncorrectData)
	}
	tag, ok := objectTag(v)
	if !ok || tag == objDiscovery {
		return swError(swIncorrectData)
	}
	t, value, rest, err := readTLV(rest)
	if err != nil || t != 0x53 || len(rest) != 0 {
		return swError(swIncorrectData)
	}
	if len(value) > maxObjectLength {
		return swError(swNotEnoughMemory)
	}
	if old, ok := c.st.Objects[tag]; ok {
		secret.Wipe(old)
	}
	if len(value) == 0 {
		delete(c.st.Objects, tag)
	} else {
		c.st.Objects[tag] = append([]byte(nil), value...)
	}
	return c.save()
}

// certObject wraps a DER certificate as a PIV certificate object value.
func certObject(der []byte) []byte {
	b := tlv(nil, 0x70, der)
	b = tlv(b, 0x71, []byte{0x00})
	return tlv(b, 0xFE, nil)
}

var _ = elliptic.P256
