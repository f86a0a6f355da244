package virtual

import (
	"bytes"
	"crypto/aes"
	"crypto/des"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testCADir string

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "virtual-ca")
	if err != nil {
		panic(err)
	}
	testCADir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

func newCard(t testing.TB, o Options) *Card {
	t.Helper()
	if o.StateFile == "" {
		o.StateFile = filepath.Join(t.TempDir(), "card.json")
	}
	if o.CADir == "" {
		o.CADir = testCADir
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func h(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// tx sends an APDU and checks the status word.
func tx(t testing.TB, c *Card, apdu []byte, wantSW uint16) []byte {
	t.Helper()
	r := c.Transmit(apdu)
	if len(r) < 2 {
		t.Fatalf("%X: response too short: %X", apdu, r)
	}
	sw := uint16(r[len(r)-2])<<8 | uint16(r[len(r)-1])
	if sw != wantSW {
		t.Fatalf("%X: SW %04X, want %04X", apdu, sw, wantSW)
	}
	return r[:len(r)-2]
}

func selectPIV(t testing.TB, c *Card) {
	t.Helper()
	tx(t, c, h("00A4040005A000000308"), swOK)
}

func pad8(s string) []byte {
	b := []byte(s)
	for len(b) < 8 {
		b = append(b, 0xFF)
	}
	return b
}

func apdu(cla, ins, p1, p2 byte, data []byte) []byte {
	b := []byte{cla, ins, p1, p2}
	if len(data) > 0 {
		b = append(b, byte(len(data)))
		b = append(b, data...)
	}
	return b
}

// mgmtAuth runs mutual authentication with the given key.
func mgmtAuth(t testing.TB, c *Card, alg byte, key []byte) {
	t.Helper()
	r := tx(t, c, apdu(0, insGenAuth, alg, keyMgmt, h("7C028000")), swOK)
	var n int
	var dec func(dst, src []byte)
	var enc func(dst, src []byte)
	if alg == alg3DES {
		b, _ := des.NewTripleDESCipher(key)
		n, dec, enc = 8, b.Decrypt, b.Encrypt
	} else {
		b, _ := aes.NewCipher(key)
		n, dec, enc = 16, b.Decrypt, b.Encrypt
	}
	if len(r) != 4+n {
		t.Fatalf("witness: %X", r)
	}
	w := make([]byte, n)
	dec(w, r[4:])
	ch := make([]byte, n)
	rand.Read(ch)
	body := append([]byte{0x7C, byte(4 + 2*n), 0x80, byte(n)}, w...)
	body = append(body, 0x81, byte(n))
	body = append(body, ch...)
	r = tx(t, c, apdu(0, insGenAuth, alg, keyMgmt, body), swOK)
	want := make([]byte, n)
	enc(want, ch)
	if !bytes.Equal(r[4:], want) {
		t.Fatal("card answered the challenge wrongly")
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name     string
		apdu     string
		sw       uint16
		data     string
		le       int
		extended bool
	}{
		{"case 1", "00FD0000", swOK, "", 0, false},
		{"case 2 short Le 00", "00FD000000", swOK, "", 256, false},
		{"case 2 short", "00FD000003", swOK, "", 3, false},
		{"case 3 short", "00200080023132", swOK, "3132", 0, false},
		{"case 4 short", "0020008002313200", swOK, "3132", 256, false},
		{"case 2 extended", "00FD0000000100", swOK, "", 256, true},
		{"case 2 extended 65536", "00FD0000000000", swOK, "", 65536, true},
		{"case 3 extended", "00DB3FFF000003010203", swOK, "010203", 0, true},
		{"case 4 extended", "00DB3FFF0000030102030000", swOK, "010203", 65536, true},
		{"too short", "00FD00", swWrongLength, "", 0, false},
		{"Lc too long", "002000800531", swWrongLength, "", 0, false},
		{"6-byte extended", "00FD00000001", swWrongLength, "", 0, true},
		{"extended Lc 0", "00DB3FFF000000", swOK, "", 65536, true},
		{"extended bad length", "00DB3FFF00000301", swWrongLength, "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, sw := parseCommand(h(tt.apdu))
			if sw != tt.sw {
				t.Fatalf("SW %04X, want %04X", sw, tt.sw)
			}
			if sw != swOK {
				return
			}
			if !bytes.Equal(c.data, h(tt.data)) || c.le != tt.le || c.extended != tt.extended {
				t.Fatalf("got data %X le %d ext %v", c.data, c.le, c.extended)
			}
		})
	}
}

func TestSelectAndInfo(t *testing.T) {
	c := newCard(t, Options{Serial: 12345678})
	tx(t, c, h("00FD000000"), swINSNotSupported) // nothing selected yet
	tx(t, c, h("00A4040005A000000309"), swFileNotFound)
	r := tx(t, c, h("00A4040005A000000308"), swOK)
	if !bytes.Equal(r, selectResponse) {
		t.Fatalf("select: %X", r)
	}
	tx(t, c, h("00A404000BA0000003080000100001"+"00"), swOK)
	if r := tx(t, c, h("00FD0000"), swOK); !bytes.Equal(r, []byte{5, 7, 1}) {
		t.Fatalf("version %X", r)
	}
	if r := tx(t, c, h("00F8000000"), swOK); !bytes.Equal(r, h("00BC614E")) {
		t.Fatalf("serial %X", r)
	}
	tx(t, c, h("80FD0000"), swCLANotSupported)
	tx(t, c, h("00EE0000"), swINSNotSupported)
	// Management applet: device info with the form factor, then back.
	tx(t, c, h("00A4040008A000000527471117"), swOK)
	r = tx(t, c, h("001D000000"), swOK)
	if int(r[0]) != len(r)-1 || !bytes.Contains(r, h("040101")) || !bytes.Contains(r, h("0204 00BC614E")) {
		t.Fatalf("device info %X", r)
	}
	selectPIV(t, c)
	r = tx(t, c, h("00CB3FFF 03 5C017E"), swOK)
	if !bytes.Equal(r, discoveryObject) {
		t.Fatalf("discovery %X", r)
	}
}

func TestPIN(t *testing.T) {
	c := newCard(t, Options{})
	selectPIV(t, c)
	tx(t, c, h("0020008000"), swVerifyFail|3) // retries, 5-byte form
	tx(t, c, h("00200080"), swVerifyFail|3)   // retries, case 1
	tx(t, c, apdu(0, insVerify, 0, 0x80, pad8("654321")), swVerifyFail|2)
	tx(t, c, apdu(0, insVerify, 0, 0x80, pad8("123456")), swOK)
	tx(t, c, h("00200080"), swOK) // verified in this session
	tx(t, c, h("0020FF80"), swOK) // forget it
	tx(t, c, h("00200080"), swVerifyFail|3)
	tx(t, c, apdu(0, insVerify, 0, 0x80, []byte("123456")), swIncorrectData) // not padded
	// Change the PIN; a too-short new PIN costs no try.
	tx(t, c, apdu(0, insChangeRef, 0, 0x80, append(pad8("123456"), pad8("12")...)), swIncorrectData)
	tx(t, c, apdu(0, insChangeRef, 0, 0x80, append(pad8("000000"), pad8("87654321")...)), swVerifyFail|2)
	tx(t, c, apdu(0, insChangeRef, 0, 0x80, append(pad8("123456"), pad8("87654321")...)), swOK)
	// Block it.
	for i := 2; i >= 0; i-- {
		tx(t, c, apdu(0, insVerify, 0, 0x80, pad8("000000")), swVerifyFail|uint16(i))
	}
	tx(t, c, apdu(0, insVerify, 0, 0x80, pad8("87654321")), swAuthBlocked)
	tx(t, c, h("00200080"), swAuthBlocked)
	// RESET is refused while the PUK works.
	tx(t, c, h("00FB0000"), swConditionsNotMet)
	// Unblock with the PUK; a wrong PUK counts down the PUK.
	tx(t, c, apdu(0, insResetRetry, 0, 0x80, append(pad8("00000000"), pad8("111111")...)), swVerifyFail|2)
	tx(t, c, apdu(0, insResetRetry, 0, 0x80, append(pad8("12345678"), pad8("111111")...)), swOK)
	tx(t, c, h("00200080"), swVerifyFail|3)
	tx(t, c, apdu(0, insVerify, 0, 0x80, pad8("111111")), swOK)
	// Metadata shows the PIN is no longer the default.
	if r := tx(t, c, h("00F7008000"), swOK); !bytes.Equal(r, h("0101FF 050100 06020303")) {
		t.Fatalf("PIN metadata %X", r)
	}
	if r := tx(t, c, h("00F7008100"), swOK); !bytes.Equal(r, h("0101FF 050101 06020303")) {
		t.Fatalf("PUK metadata %X", r)
	}
}

func TestResetOnlyWhenBlocked(t *testing.T) {
	c := newCard(t, Options{Firmware: Firmware543})
	selectPIV(t, c)
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
	tx(t, c, apdu(0, insGenerate, 0, 0x9A, h("AC03800111")), swOK)
	for i := 2; i >= 0; i-- {
		tx(t, c, apdu(0, insVerify, 0, 0x80, pad8("000000")), swVerifyFail|uint16(i))
	}
	tx(t, c, h("00FB0000"), swConditionsNotMet)
	for i := 2; i >= 0; i-- { // both ways of trying the PUK count
		tx(t, c, apdu(0, insChangeRef, 0, 0x81, append(pad8("00000000"), pad8("00000000")...)), swVerifyFail|uint16(i))
	}
	tx(t, c, h("00FB0000"), swOK)
	tx(t, c, h("00F7009A00"), swReferenceNotFound)
	tx(t, c, h("00200080"), swVerifyFail|3)
	tx(t, c, apdu(0, insVerify, 0, 0x80, pad8("123456")), swOK)
	// The attestation key and its certificate survive.
	tx(t, c, h("00F700F900"), swOK)
	if r := c.Transmit(h("00CB3FFF 05 5C035FFF01")); r[len(r)-2] != 0x61 {
		t.Fatalf("attestation certificate: %X", r[len(r)-2:])
	}
	mgmtAuth(t, c, alg3DES, defaultMgmtKey)
}

func TestManagementKey(t *testing.T) {
	tests := []struct {
		fw  Firmware
		alg byte
	}{{Firmware571, algAES192}, {Firmware543, alg3DES}}
	for _, tt := range tests {
		t.Run(tt.fw.String(), func(t *testing.T) {
			c := newCard(t, Options{Firmware: tt.fw})
			selectPIV(t, c)
			if r := tx(t, c, h("00F7009B00"), swOK); !bytes.Equal(r, []byte{1, 1, tt.alg, 2, 2, 0, 1, 5, 1, 1}) {
				t.Fatalf("9B metadata %X", r)
			}
			// Without authentication, writes are refused.
			tx(t, c, apdu(0, insGenerate, 0, 0x9A, h("AC03800111")), swSecurityStatus)
			tx(t, c, apdu(0, insPutData, 0x3F, 0xFF, h("5C035FC102 5301AA")), swSecurityStatus)
			// Wrong algorithm, wrong witness.
			other := byte(alg3DES)
			if tt.alg == alg3DES {
				other = algAES192
			}
			tx(t, c, apdu(0, insGenAuth, other, keyMgmt, h("7C028000")), swIncorrectData)
			n := 8
			if tt.alg != alg3DES {
				n = 16
			}
			tx(t, c, apdu(0, insGenAuth, tt.alg, keyMgmt, h("7C028000")), swOK)
			bad := append([]byte{0x7C, byte(4 + 2*n), 0x80, byte(n)}, make([]byte, n)...)
			bad = append(append(bad, 0x81, byte(n)), make([]byte, n)...)
			tx(t, c, apdu(0, insGenAuth, tt.alg, keyMgmt, bad), swSecurityStatus)
			tx(t, c, apdu(0, insGenerate, 0, 0x9A, h("AC03800111")), swSecurityStatus)

			// One-way authentication, as libykpiv's auth_getchallenge does.
			r := tx(t, c, apdu(0, insGenAuth, tt.alg, keyMgmt, h("7C028100")), swOK)
			var resp []byte
			if tt.alg == alg3DES {
				b, _ := des.NewTripleDESCipher(defaultMgmtKey)
				resp = make([]byte, 8)
				b.Encrypt(resp, r[4:])
			} else {
				b, _ := aes.NewCipher(defaultMgmtKey)
				resp = make([]byte, 16)
				b.Encrypt(resp, r[4:])
			}
			tx(t, c, apdu(0, insGenAuth, tt.alg, keyMgmt, append([]byte{0x7C, byte(2 + n), 0x82, byte(n)}, resp...)), swOK)
			tx(t, c, apdu(0, insPutData, 0x3F, 0xFF, h("5C035FC102 5301AA")), swOK)

			// SET MANAGEMENT KEY to AES-128, then authenticate with it.
			newKey := h("00112233445566778899AABBCCDDEEFF")
			tx(t, c, apdu(0, insSetMgmtKey, 0xFF, 0xFF, append([]byte{algAES128, 0x9B, 16}, newKey...)), swOK)
			c.PowerCycle()
			selectPIV(t, c)
			mgmtAuth(t, c, algAES128, newKey)
			if r := tx(t, c, h("00F7009B00"), swOK); !bytes.Equal(r, []byte{1, 1, algAES128, 2, 2, 0, 1, 5, 1, 0}) {
				t.Fatalf("9B metadata %X", r)
			}
		})
	}
}

func generate(t testing.TB, c *Card, slot, alg, pin, touch byte) *ecdsa.PublicKey {
	t.Helper()
	r := tx(t, c, apdu(0, insGenerate, 0, slot, []byte{0xAC, 9, 0x80, 1, alg, 0xAA, 1, pin, 0xAB, 1, touch}), swOK)
	ec, _, _ := curve(alg)
	_, v, _, err := readTLV(r)
	if err != nil {
		t.Fatal(err)
	}
	_, pt, _, _ := readTLV(v)
	pub, err := ecdsa.ParseUncompressedPublicKey(ec, pt)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestKeysAndPolicies(t *testing.T) {
	c := newCard(t, Options{Touch: Touch{Mode: TouchDeny}, TouchTimeout: 50 * time.Millisecond})
	selectPIV(t, c)
	mgmtAuth(t, c, algAES192, defaultMgmtKey)
	never := generate(t, c, 0x9E, algP384, pinNever, touchNever)
	once := generate(t, c, 0x82, algP256, pinOnce, touchNever)
	always := generate(t, c, 0x9C, algP256, pinAlways, touchNever)
	touch := generate(t, c, 0x95, algP256, pinNever, touchAlways)
	tx(t, c, apdu(0, insGenerate, 0, 0x9B, h("AC03800111")), swWrongP1P2)
	tx(t, c, apdu(0, insGenerate, 0, 0x96, h("AC03800111")), swWrongP1P2)
	tx(t, c, apdu(0, insGenerate, 0, 0x9A, h("AC03800107")), swIncorrectData) // RSA-2048 not offered

	digest := sha256.Sum256([]byte("hello"))
	sign := func(slot, alg byte, size int) []byte {
		return append([]byte{0x7C, byte(4 + size), 0x82, 0x00, 0x81, byte(size)}, digest[:size]...)
	}
	r := tx(t, c, apdu(0, insGenAuth, algP384, 0x9E, sign(0x9E, algP384, 32)), swOK)
	if !ecdsa.VerifyASN1(never, digest[:], r[4:]) {
		t.Fatal("P-384 signature does not verify")
	}
	tx(t, c, apdu(0, insGenAuth, algP256, 0x9E, sign(0x9E, algP256, 32)), swIncorrectData) // wrong algorithm
	tx(t, c, apdu(0, insGenAuth, algP256, 0x9D, sign(0x9D, algP256, 32)), swIncorrectData) // empty slot

	// PIN once: refused before VERIFY, then fine for the session.
	tx(t, c, apdu(0, insGenAuth, algP256, 0x82, sign(0x82, algP256, 32)), swSecurityStatus)
	tx(t, c, apdu(0, insVerify, 0, 0x80, pad8("123456")), swOK)
	for i := 0; i < 2; i++ {
		r = tx(t, c, apdu(0, insGenAuth, algP256, 0x82, sign(0x82, algP256, 32)), swOK)
		if !ecdsa.VerifyASN1(once, digest[:], r[4:]) {
			t.Fatal("signature does not verify")
		}
	}
	// PIN always: the VERIFY is consumed by one operation.
	tx(t, c, apdu(0, insGenAuth, algP256, 0x9C, sign(0x9C, algP256, 32)), swSecurityStatus)
	tx(t, c, apdu(0, insVerify, 0, 0x80, pad8("123456")), swOK)
	r = tx(t, c, apdu(0, insGenAuth, algP256, 0x9C, sign(0x9C, algP256, 32)), swOK)
	if !ecdsa.VerifyASN1(always, digest[:], r[4:]) {
		t.Fatal("signature does not verify")
	}
	tx(t, c, apdu(0, insGenAuth, algP256, 0x9C, sign(0x9C, algP256, 32)), swSecurityStatus)
	// A power cycle forgets the PIN.
	c.PowerCycle()
	selectPIV(t, c)
	tx(t, c, apdu(0, insGenAuth, algP256, 0x82, sign(0x82, algP256, 32)), swSecurityStatus)

	// Touch always, with touch denied: 6982 after the timeout.
	start := time.Now()
	tx(t, c, apdu(0, insGenAuth, algP256, 0x95, sign(0x95, algP256, 32)), swSecurityStatus)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("touch refused after %v, before the timeout", d)
	}

	// ECDH with the PIN-never P-384 key, checked against crypto/ecdh.
	peer, _ := ecdh.P384().GenerateKey(rand.Reader)
	pt := peer.PublicKey().Bytes()
	body := append([]byte{0x7C, 0x81, byte(4 + len(pt)), 0x82, 0x00, 0x85, byte(len(pt))}, pt...)
	r = tx(t, c, apdu(0, insGenAuth, algP384, 0x9E, body), swOK)
	pubECDH, _ := never.ECDH()
	want, _ := peer.ECDH(pubECDH)
	if !bytes.Equal(r[4:], want) {
		t.Fatalf("ECDH %X, want %X", r[4:], want)
	}
	// A point not on the curve is refused.
	bad := bytes.Clone(body)
	bad[len(bad)-1] ^= 1
	tx(t, c, apdu(0, insGenAuth, algP384, 0x9E, bad), swIncorrectData)

	// Metadata and attestation.
	if r := tx(t, c, h("00F7009500"), swOK); !bytes.HasPrefix(r, h("010111 02020102 030101 0443 8641 04")) {
		t.Fatalf("metadata %X", r)
	}
	_ = touch
	tx(t, c, h("00F7009D00"), swReferenceNotFound)
	tx(t, c, h("00F99D00"), swIncorrectData)
	tx(t, c, h("00F99B00"), swWrongP1P2)
}

func TestTouchCached(t *testing.T) {
	c := newCard(t, Options{Touch: Touch{Mode: TouchDelay, Delay: 30 * time.Millisecond}, TouchCache: time.Hour})
	selectPIV(t, c)
	mgmtAuth(t, c, algAES192, defaultMgmtKey)
	generate(t, c, 0x9A, algP256, pinNever, touchCached)
	digest := make([]byte, 32)
	body := append([]byte{0x7C, 36, 0x82, 0x00, 0x81, 32}, digest...)
	start := time.Now()
	tx(t, c, apdu(0, insGenAuth, algP256, 0x9A, body), swOK)
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("first use did not wait for a touch")
	}
	start = time.Now()
	tx(t, c, apdu(0, insGenAuth, algP256, 0x9A, body), swOK)
	if time.Since(start) >= 30*time.Millisecond {
		t.Fatal("second use waited for a touch despite the cache")
	}
}

func TestRemoveAbortsTouch(t *testing.T) {
	c := newCard(t, Options{Touch: Touch{Mode: TouchDeny}, TouchTimeout: time.Minute})
	selectPIV(t, c)
	mgmtAuth(t, c, algAES192, defaultMgmtKey)
	generate(t, c, 0x9A, algP256, pinNever, touchAlways)
	done := make(chan []byte)
	go func() {
		done <- c.Transmit(apdu(0, insGenAuth, algP256, 0x9A, append([]byte{0x7C, 36, 0x82, 0x00, 0x81, 32}, make([]byte, 32)...)))
	}()
	time.Sleep(50 * time.Millisecond)
	c.Remove()
	select {
	case r := <-done:
		if !bytes.Equal(r, h("6982")) {
			t.Fatalf("got %X", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("removing the card did not end the touch wait")
	}
}

func TestObjectsAndChaining(t *testing.T) {
	c := newCard(t, Options{})
	selectPIV(t, c)
	tx(t, c, h("00CB3FFF 05 5C035FC105"), swFileNotFound)
	tx(t, c, h("00CB3FFF 05 5C035FC201"), swIncorrectData) // not a PIV object
	mgmtAuth(t, c, algAES192, defaultMgmtKey)
	obj := make([]byte, 1000)
	rand.Read(obj)
	put := append(h("5C035FC105 538203E8"), obj...)
	// Send it in chained chunks of 255 bytes, as piv-go does.
	for len(put) > 255 {
		if r := tx(t, c, apdu(0x10, insPutData, 0x3F, 0xFF, put[:255]), swOK); len(r) != 0 {
			t.Fatalf("intermediate chunk answered %X", r)
		}
		put = put[255:]
	}
	tx(t, c, apdu(0, insPutData, 0x3F, 0xFF, put), swOK)
	// Read it back with GET RESPONSE, short APDUs.
	r := c.Transmit(h("00CB3FFF 05 5C035FC105 00"))
	var got []byte
	for {
		sw := r[len(r)-2:]
		got = append(got, r[:len(r)-2]...)
		if sw[0] == 0x90 {
			break
		}
		if sw[0] != 0x61 || len(r)-2 != 256 {
			t.Fatalf("unexpected chunk: %d bytes, SW %X", len(r)-2, sw)
		}
		r = c.Transmit(h("00C0000000"))
	}
	if want := append(h("538203E8"), obj...); !bytes.Equal(got, want) {
		t.Fatal("object read back differs")
	}
	// GET RESPONSE with a short Le returns that much.
	if r = c.Transmit(h("00CB3FFF 05 5C035FC105 00")); r[len(r)-2] != 0x61 {
		t.Fatalf("first chunk: %X", r[len(r)-2:])
	}
	r = c.Transmit(h("00C0000010"))
	if len(r) != 18 || r[16] != 0x61 {
		t.Fatalf("GET RESPONSE Le=16: %X", r[len(r)-2:])
	}
	// An extended APDU gets everything at once.
	r = tx(t, c, h("00CB3FFF 000005 5C035FC105 0000"), swOK)
	if len(r) != 1004 {
		t.Fatalf("extended read: %d bytes", len(r))
	}
	// Extended PUT DATA, then delete.
	ext := append(h("00DB3FFF 00"), byte((len(obj)+9)>>8), byte(len(obj)+9))
	ext = append(append(ext, h("5C035FC10A 538203E8")...), obj...)
	tx(t, c, ext, swOK)
	tx(t, c, apdu(0, insPutData, 0x3F, 0xFF, h("5C035FC10A 5300")), swOK)
	tx(t, c, h("00CB3FFF 05 5C035FC10A"), swFileNotFound)
	// GET RESPONSE with nothing pending.
	tx(t, c, h("00C0000000"), swConditionsNotMet)
	// Too big.
	big := append(h("5C035FC10A 53820C00"), make([]byte, 0xC00)...)
	tx(t, c, append(append(h("00DB3FFF 00"), byte(len(big)>>8), byte(len(big))), big...), swNotEnoughMemory)
	// PIN-protected data needs the PIN.
	tx(t, c, apdu(0, insPutData, 0x3F, 0xFF, h("5C035FC109 5304 88028900")), swOK)
	tx(t, c, h("00CB3FFF 05 5C035FC109"), swSecurityStatus)
	tx(t, c, apdu(0, insVerify, 0, 0x80, pad8("123456")), swOK)
	tx(t, c, h("00CB3FFF 05 5C035FC109"), swOK)
}

func TestAttestation(t *testing.T) {
	c := newCard(t, Options{Serial: 424242})
	selectPIV(t, c)
	mgmtAuth(t, c, algAES192, defaultMgmtKey)
	pub := generate(t, c, 0x9A, algP256, pinOnce, touchCached)
	r := c.Transmit(h("00F99A0000"))
	der := r[:len(r)-2]
	for r[len(r)-2] == 0x61 {
		r = c.Transmit(h("00C0000000"))
		der = append(der, r[:len(r)-2]...)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(cert.PublicKey) || cert.Subject.CommonName != "YubiKey PIV Attestation 9a" {
		t.Fatalf("attested %v %q", cert.PublicKey, cert.Subject.CommonName)
	}
	exts := map[string][]byte{}
	for _, e := range cert.Extensions {
		exts[e.Id.String()] = e.Value
	}
	if !bytes.Equal(exts["1.3.6.1.4.1.41482.3.3"], []byte{5, 7, 1}) ||
		!bytes.Equal(exts["1.3.6.1.4.1.41482.3.7"], h("020306 7932")) ||
		!bytes.Equal(exts["1.3.6.1.4.1.41482.3.8"], []byte{pinOnce, touchCached}) ||
		!bytes.Equal(exts["1.3.6.1.4.1.41482.3.9"], []byte{1}) {
		t.Fatalf("extensions %X", exts)
	}
	f9, err := c.attestationCert()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := TestCA(testCADir)
	if err != nil {
		t.Fatal(err)
	}
	inter := x509.NewCertPool()
	inter.AddCert(f9)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.CertPool(), Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ca.Cert.Subject.CommonName, "VIRTUAL TEST CA") {
		t.Fatalf("CA subject %q", ca.Cert.Subject)
	}
	// Imported keys cannot be attested.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	d, _ := k.Bytes()
	tx(t, c, apdu(0, insImportKey, algP256, 0x9D, append([]byte{0x06, 32}, d...)), swOK)
	tx(t, c, h("00F99D00"), swIncorrectData)
	if r := tx(t, c, h("00F7009D00"), swOK); !bytes.Contains(r, h("030102")) {
		t.Fatalf("imported key metadata %X", r)
	}
}

func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.json")
	c := newCard(t, Options{StateFile: path})
	selectPIV(t, c)
	mgmtAuth(t, c, algAES192, defaultMgmtKey)
	pub := generate(t, c, 0x9A, algP256, pinNever, touchNever)
	tx(t, c, apdu(0, insVerify, 0, 0x80, pad8("000000")), swVerifyFail|2)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode: %v %v", fi.Mode(), err)
	}
	c2 := newCard(t, Options{StateFile: path, Serial: 1, Firmware: Firmware543})
	if c2.Serial() != c.Serial() || c2.Firmware() != Firmware571 {
		t.Fatal("a restarted card changed serial or firmware")
	}
	selectPIV(t, c2)
	tx(t, c2, h("00200080"), swVerifyFail|2)
	r := tx(t, c2, h("00F7009A00"), swOK)
	p, _ := pub.Bytes()
	if !bytes.Contains(r, p) {
		t.Fatal("the key did not survive the restart")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Fatalf("temporary files left behind: %v", entries)
	}
}

func TestStateTamper(t *testing.T) {
	path := filepath.Join(t.TempDir(), "card.json")
	newCard(t, Options{StateFile: path})
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, old, new string }{
		{"version", `"version": 1`, `"version": 2`},
		{"pin tries", `"pin_tries": 3`, `"pin_tries": 9`},
		{"mgmt key length", `"mgmt_alg": 10`, `"mgmt_alg": 12`},
		{"truncated", `"objects"`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := strings.Replace(string(orig), tt.old, tt.new, 1)
			if s == string(orig) {
				t.Fatalf("%q not in the state file", tt.old)
			}
			if tt.new == "" {
				s = s[:strings.Index(string(orig), tt.old)]
			}
			p := filepath.Join(t.TempDir(), "card.json")
			os.WriteFile(p, []byte(s), 0o600)
			if _, err := New(Options{StateFile: p, CADir: testCADir}); err == nil {
				t.Fatal("a tampered state file was accepted")
			}
		})
	}
}

func TestCAFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := TestCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	again, err := TestCA(dir)
	if err != nil || !again.Cert.Equal(ca.Cert) {
		t.Fatalf("second TestCA gave a different CA: %v", err)
	}
	for name, mode := range map[string]os.FileMode{"ca.pem": 0o644, "ca.key": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != mode {
			t.Fatalf("%s: %v %v", name, fi.Mode(), err)
		}
	}
	// A key that does not match the certificate is refused.
	other := filepath.Join(t.TempDir(), "other")
	if _, err := TestCA(other); err != nil {
		t.Fatal(err)
	}
	key, _ := os.ReadFile(filepath.Join(other, "ca.key"))
	os.WriteFile(filepath.Join(dir, "ca.key"), key, 0o600)
	if _, err := TestCA(dir); err == nil {
		t.Fatal("mismatched CA key accepted")
	}
}

func TestParseTouch(t *testing.T) {
	for _, s := range []string{"auto", "deny", "interactive", "delay=2s"} {
		tc, err := ParseTouch(s)
		if err != nil || tc.String() != s {
			t.Fatalf("%q: %v %v", s, tc, err)
		}
	}
	for _, s := range []string{"delay=", "delay=-1s", "sometimes"} {
		if _, err := ParseTouch(s); err == nil {
			t.Fatalf("%q accepted", s)
		}
	}
}

func TestInteractiveTouch(t *testing.T) {
	r, w, _ := os.Pipe()
	defer w.Close()
	var prompt bytes.Buffer
	c := newCard(t, Options{Touch: Touch{Mode: TouchInteractive}, TouchInput: r, TouchPrompt: &prompt, TouchTimeout: 5 * time.Second})
	selectPIV(t, c)
	mgmtAuth(t, c, algAES192, defaultMgmtKey)
	generate(t, c, 0x9A, algP256, pinNever, touchAlways)
	go func() {
		time.Sleep(100 * time.Millisecond)
		w.Write([]byte("\n"))
	}()
	tx(t, c, apdu(0, insGenAuth, algP256, 0x9A, append([]byte{0x7C, 36, 0x82, 0x00, 0x81, 32}, make([]byte, 32)...)), swOK)
	if !strings.Contains(prompt.String(), "press Enter") {
		t.Fatalf("prompt: %q", prompt.String())
	}
}

// FuzzTransmit checks that no APDU makes the card panic and that every
// response ends with a well-formed status word.
func FuzzTransmit(f *testing.F) {
	for _, s := range []string{"00A4040005A000000308", "00FD000000", "00200080", "10DB3FFF01AA",
		"00CB3FFF055C035FC105", "00DB3FFF000003010203", "0087119A0A7C0882008104AABBCCDD",
		"00F7009B00", "00C0000000", "0047009A05AC03800111"} {
		f.Add(h(s))
	}
	c := newCard(f, Options{TouchTimeout: time.Millisecond})
	f.Fuzz(func(t *testing.T, b []byte) {
		c.Transmit(h("00A4040005A000000308"))
		mgmt := c.Transmit(h("00F7009B00"))
		_ = mgmt
		r := c.Transmit(b)
		if len(r) < 2 {
			t.Fatalf("%X: response %X has no status word", b, r)
		}
		sw1 := r[len(r)-2]
		switch sw1 {
		case 0x90, 0x61, 0x63, 0x65, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6D, 0x6E, 0x6F:
		default:
			t.Fatalf("%X: bad SW1 %02X", b, sw1)
		}
		if sw1 != 0x90 && sw1 != 0x61 && len(r) != 2 {
			t.Fatalf("%X: error with data %X", b, r)
		}
	})
}

// FuzzParseCommand checks that a parsed APDU re-encodes to the same bytes.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"00FD0000", "00FD000000", "00200080023132", "0020008002313200",
		"00FD0000000100", "00DB3FFF000003010203", "00DB3FFF0000030102030000"} {
		f.Add(h(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, sw := parseCommand(b)
		if sw != swOK {
			return
		}
		out := []byte{c.cla, c.ins, c.p1, c.p2}
		enc := func(n int) []byte {
			if c.extended {
				return []byte{byte(n >> 8), byte(n)}
			}
			return []byte{byte(n)}
		}
		if c.extended {
			out = append(out, 0)
		}
		if len(c.data) > 0 {
			out = append(append(out, enc(len(c.data))...), c.data...)
		}
		if c.le > 0 {
			out = append(out, enc(c.le%(map[bool]int{true: 65536, false: 256}[c.extended]))...)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("%X parsed and re-encoded as %X", b, out)
		}
	})
}
