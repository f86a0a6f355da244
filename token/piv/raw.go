package piv

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv/internal/pcsc"
)

// The few commands piv-go does not expose go through package pcsc. Each
// opens its own exclusive connection, so piv-go's handle must be closed.

// Key references and objects (NIST SP 800-73-4 Part 1 Table 4b; Yubico
// PIV extensions for 5FFF00 and GET METADATA).
const (
	refPIN                    = 0x80
	refPUK                    = 0x81
	refMgmt                   = 0x9B
	insMetadata               = 0xF7 // Yubico GET METADATA
	insGetData                = 0xCB // SP 800-73-4 Part 2 §3.1.2
	insPutData                = 0xDB // SP 800-73-4 Part 2 §3.3.2
	insAuth                   = 0x87 // GENERAL AUTHENTICATE, SP 800-73-4 Part 2 §3.2.4
	objAdminData              = 0x5FFF00
	objKeyHistory             = 0x5FC10C // SP 800-73-4 Part 1 §3.3.2
	adminFlagMgmtKeyProtected = 0x02     // ykman: management key stored in 5FC109
	algTDES                   = 0x03
	algAES128                 = 0x08
	algAES192                 = 0x0A
	algAES256                 = 0x0C
)

// Credentials is what the card says about its PIN, PUK and management key.
type Credentials struct {
	PINDefault, PUKDefault, MgmtKeyDefault bool
	PINRetries, PUKRetries                 int
	MgmtKeyAlgorithm                       byte
	// MgmtKeyProtected is true when the admin data object says the
	// management key is stored PIN-protected on the card (ykman's flag).
	MgmtKeyProtected bool
}

func rawConnect(reader string) (*pcsc.Conn, error) {
	c, err := pcsc.Connect(reader)
	if err != nil {
		var pe *pcsc.Error
		if errors.As(err, &pe) {
			return nil, &token.NotPresentError{What: fmt.Sprintf("reader %q: %s", reader, pcsc.Message(pe.RC)), Cause: err, Reason: notPresentReason(pe.RC)}
		}
		return nil, err
	}
	if _, sw, err := c.Transmit([]byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}); err != nil || sw != 0x9000 {
		c.Close()
		if err == nil {
			err = fmt.Errorf("card answered %04X", sw)
		}
		return nil, fmt.Errorf("selecting the PIV application: %w", err)
	}
	return c, nil
}

// ReadCredentials reads the default flags and retry counters of the PIN, PUK
// and management key (GET METADATA, firmware 5.3+). It costs no PIN try.
func ReadCredentials(reader string) (Credentials, error) {
	var cr Credentials
	c, err := rawConnect(reader)
	if err != nil {
		return cr, err
	}
	defer c.Close()
	for _, ref := range []byte{refPIN, refPUK, refMgmt} {
		data, sw, err := c.Transmit([]byte{0x00, insMetadata, 0x00, ref, 0x00})
		if err != nil {
			return cr, err
		}
		if sw != 0x9000 {
			return cr, fmt.Errorf("GET METADATA %02X: card answered %04X (firmware older than 5.3?)", ref, sw)
		}
		tlvs, err := parseTLVs(data)
		if err != nil {
			return cr, fmt.Errorf("GET METADATA %02X: %v", ref, err)
		}
		def := len(tlvs[0x05]) == 1 && tlvs[0x05][0] == 1
		switch ref {
		case refPIN:
			cr.PINDefault = def
			if r := tlvs[0x06]; len(r) == 2 {
				cr.PINRetries = int(r[1])
			}
		case refPUK:
			cr.PUKDefault = def
			if r := tlvs[0x06]; len(r) == 2 {
				cr.PUKRetries = int(r[1])
			}
		case refMgmt:
			cr.MgmtKeyDefault = def
			if a := tlvs[0x01]; len(a) == 1 {
				cr.MgmtKeyAlgorithm = a[0]
			}
		}
	}
	admin, err := getData(c, objAdminData)
	if err != nil {
		return cr, err
	}
	cr.MgmtKeyProtected = adminFlags(admin)&adminFlagMgmtKeyProtected != 0
	return cr, nil
}

// parseTLVs parses simple one-byte-tag BER-TLVs into a map. A tag given
// twice is refused: which of the two counts would be a guess.
func parseTLVs(b []byte) (map[byte][]byte, error) {
	m := map[byte][]byte{}
	for len(b) > 0 {
		tag, v, rest, err := nextTLV(b)
		if err != nil {
			return nil, err
		}
		if _, dup := m[tag]; dup {
			return nil, fmt.Errorf("TLV tag %02x given twice", tag)
		}
		m[tag] = v
		b = rest
	}
	return m, nil
}

// nextTLV reads one TLV with a one-byte tag. Its length must be in the
// shortest form (as tlv writes it and as SP 800-73 and the YubiKey use), so
// that each value has one encoding.
func nextTLV(b []byte) (tag byte, value, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errors.New("truncated TLV")
	}
	tag, n, off := b[0], int(b[1]), 2
	switch {
	case b[1] == 0x81 && len(b) >= 3:
		n, off = int(b[2]), 3
		if n < 0x80 {
			return 0, nil, nil, errors.New("TLV length not in its shortest form")
		}
	case b[1] == 0x82 && len(b) >= 4:
		n, off = int(b[2])<<8|int(b[3]), 4
		if n < 0x100 {
			return 0, nil, nil, errors.New("TLV length not in its shortest form")
		}
	case b[1] >= 0x80:
		return 0, nil, nil, errors.New("bad TLV length")
	}
	if len(b) < off+n {
		return 0, nil, nil, errors.New("truncated TLV")
	}
	return tag, b[off : off+n], b[off+n:], nil
}

func tlv(tag byte, v []byte) []byte {
	switch {
	case len(v) < 0x80:
		return append([]byte{tag, byte(len(v))}, v...)
	case len(v) < 0x100:
		return append([]byte{tag, 0x81, byte(len(v))}, v...)
	}
	return append([]byte{tag, 0x82, byte(len(v) >> 8), byte(len(v))}, v...)
}

// getData reads a data object's value (inside tag 53); absent → nil.
func getData(c *pcsc.Conn, obj uint32) ([]byte, error) {
	resp, sw, err := c.Transmit([]byte{0x00, insGetData, 0x3F, 0xFF, 0x05, 0x5C, 0x03, byte(obj >> 16), byte(obj >> 8), byte(obj)})
	if err != nil {
		return nil, err
	}
	if sw == 0x6A82 {
		return nil, nil
	}
	if sw != 0x9000 {
		return nil, fmt.Errorf("GET DATA %06X: card answered %04X", obj, sw)
	}
	tag, v, _, err := nextTLV(resp)
	if err != nil || tag != 0x53 {
		return nil, fmt.Errorf("GET DATA %06X: malformed response", obj)
	}
	return v, nil
}

// putData writes a data object's value (inside tag 53), as getData reads it.
func putData(c *pcsc.Conn, obj uint32, value []byte) error {
	data := append([]byte{0x5C, 0x03, byte(obj >> 16), byte(obj >> 8), byte(obj)}, tlv(0x53, value)...)
	_, sw, err := c.Transmit(append([]byte{0x00, insPutData, 0x3F, 0xFF, byte(len(data))}, data...))
	if err != nil {
		return err
	}
	if sw != 0x9000 {
		return fmt.Errorf("PUT DATA %06X: card answered %04X", obj, sw)
	}
	return nil
}

// adminFlags returns tag 81 of the admin data object 80 { 81 flags … }.
func adminFlags(admin []byte) byte {
	tag, v, _, err := nextTLV(admin)
	if err != nil || tag != 0x80 {
		return 0
	}
	m, err := parseTLVs(v)
	if err != nil || len(m[0x81]) != 1 {
		return 0
	}
	return m[0x81][0]
}

// setAdminFlag sets flags in the admin data object (5FFF00), keeping its
// other fields, so ykman and yubico-piv-tool know the management key is
// stored PIN-protected.
func setAdminFlag(reader string, mgmtKey []byte, flag byte) error {
	c, err := mgmtConnect(reader, mgmtKey)
	if err != nil {
		return err
	}
	defer c.Close()
	admin, err := getData(c, objAdminData)
	if err != nil {
		return err
	}
	var inner []byte
	flags := flag
	if tag, v, _, err := nextTLV(admin); err == nil && tag == 0x80 {
		for len(v) > 0 {
			t, val, rest, err := nextTLV(v)
			if err != nil {
				break
			}
			if t == 0x81 && len(val) == 1 {
				flags |= val[0]
			} else {
				inner = append(inner, tlv(t, val)...)
			}
			v = rest
		}
	}
	inner = append(tlv(0x81, []byte{flags}), inner...)
	return putData(c, objAdminData, tlv(0x80, inner))
}

// mgmtConnect connects to reader and authenticates with the management
// key, for the commands that need it.
func mgmtConnect(reader string, mgmtKey []byte) (*pcsc.Conn, error) {
	c, err := rawConnect(reader)
	if err != nil {
		return nil, err
	}
	if err := mgmtAuth(c, mgmtKey); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// mgmtAuth authenticates with the management key (mutual authentication,
// SP 800-73-4 Part 2 Appendix A.1; the algorithm comes from GET METADATA).
func mgmtAuth(c *pcsc.Conn, key []byte) error {
	meta, sw, err := c.Transmit([]byte{0x00, insMetadata, 0x00, refMgmt, 0x00})
	if err != nil {
		return err
	}
	alg := byte(algTDES)
	if sw == 0x9000 {
		if m, err := parseTLVs(meta); err == nil && len(m[0x01]) == 1 {
			alg = m[0x01][0]
		}
	}
	var block cipher.Block
	switch alg {
	case algTDES:
		block, err = des.NewTripleDESCipher(key)
	case algAES128, algAES192, algAES256:
		block, err = aes.NewCipher(key)
	default:
		return fmt.Errorf("management key algorithm %02X not supported", alg)
	}
	if err != nil {
		return fmt.Errorf("management key: %v", err)
	}
	n := block.BlockSize()
	resp, sw, err := c.Transmit([]byte{0x00, insAuth, alg, refMgmt, 0x04, 0x7C, 0x02, 0x80, 0x00})
	if err != nil {
		return err
	}
	if sw != 0x9000 {
		return fmt.Errorf("management key authentication: card answered %04X", sw)
	}
	tag, v, _, err := nextTLV(resp)
	if err != nil || tag != 0x7C {
		return errors.New("management key authentication: malformed witness")
	}
	m, err := parseTLVs(v)
	if err != nil || len(m[0x80]) != n {
		return errors.New("management key authentication: malformed witness")
	}
	witness := make([]byte, n)
	block.Decrypt(witness, m[0x80])
	challenge := make([]byte, n)
	rand.Read(challenge)
	body := tlv(0x7C, append(tlv(0x80, witness), tlv(0x81, challenge)...))
	resp, sw, err = c.Transmit(append([]byte{0x00, insAuth, alg, refMgmt, byte(len(body))}, body...))
	if err != nil {
		return err
	}
	if sw != 0x9000 {
		return fmt.Errorf("management key authentication: card answered %04X (wrong management key?)", sw)
	}
	tag, v, _, err = nextTLV(resp)
	if err != nil || tag != 0x7C {
		return errors.New("management key authentication: malformed response")
	}
	m, err = parseTLVs(v)
	if err != nil || len(m[0x82]) != n {
		return errors.New("management key authentication: malformed response")
	}
	want := make([]byte, n)
	block.Encrypt(want, challenge)
	if subtle.ConstantTimeCompare(want, m[0x82]) != 1 {
		return errors.New("management key authentication: the card did not prove it knows the key")
	}
	return nil
}

// setKeyHistory writes the key history object (5FC10C, SP 800-73-4 Part 1
// §3.3.2) saying the first n retired slots hold keys with on-card
// certificates, so that OpenSC's PIV driver lists them.
func setKeyHistory(reader string, mgmtKey []byte, n int) error {
	c, err := mgmtConnect(reader, mgmtKey)
	if err != nil {
		return err
	}
	defer c.Close()
	value := append(append(tlv(0xC1, []byte{byte(n)}), tlv(0xC2, []byte{0})...), 0xFE, 0x00)
	return putData(c, objKeyHistory, value)
}
