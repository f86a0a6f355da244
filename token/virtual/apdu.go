package virtual

// ISO/IEC 7816-4 command and response APDUs, as far as a PIV card over
// pcscd needs them: short and extended length, command chaining and
// response chaining with GET RESPONSE.

// Status words (ISO/IEC 7816-4 §5.1.3, SP 800-73-4 Part 2 §3, Yubico extensions).
const (
	swOK                  = 0x9000
	swMoreData            = 0x6100 // | remaining (00 = 256 or more)
	swVerifyFail          = 0x63C0 // | retries left, capped at 15
	swMemoryFailure       = 0x6581
	swWrongLength         = 0x6700
	swSecurityStatus      = 0x6982 // PIN or management key missing, touch timeout
	swAuthBlocked         = 0x6983
	swConditionsNotMet    = 0x6985
	swIncorrectData       = 0x6A80
	swFuncNotSupported    = 0x6A81
	swFileNotFound        = 0x6A82
	swNotEnoughMemory     = 0x6A84
	swIncorrectP1P2       = 0x6A86
	swReferenceNotFound   = 0x6A88
	swWrongP1P2           = 0x6B00
	swINSNotSupported     = 0x6D00
	swCLANotSupported     = 0x6E00
	swNoPreciseDiagnosis  = 0x6F00
	swLastCommandExpected = 0x6883
)

// command is a parsed command APDU.
type command struct {
	cla, ins, p1, p2 byte
	data             []byte
	le               int  // expected response length; 0 when absent
	extended         bool // extended length encoding
}

// chained reports whether more chunks of this command follow (CLA bit 0x10).
func (c *command) chained() bool { return c.cla&0x10 != 0 }

// parseCommand decodes a command APDU in any of the four ISO cases, short or
// extended. It returns a status word other than swOK when the APDU is malformed.
func parseCommand(b []byte) (command, uint16) {
	var c command
	if len(b) < 4 {
		return c, swWrongLength
	}
	c.cla, c.ins, c.p1, c.p2 = b[0], b[1], b[2], b[3]
	body := b[4:]
	switch {
	case len(body) == 0: // case 1
	case len(body) == 1: // case 2 short: Le only
		c.le = int(body[0])
		if c.le == 0 {
			c.le = 256
		}
	case body[0] != 0: // case 3 or 4 short
		lc := int(body[0])
		switch len(body) {
		case 1 + lc:
			c.data = body[1:]
		case 2 + lc:
			c.data = body[1 : 1+lc]
			c.le = int(body[1+lc])
			if c.le == 0 {
				c.le = 256
			}
		default:
			return c, swWrongLength
		}
	default: // body[0] == 0 and at least 2 bytes: extended
		c.extended = true
		if len(body) < 3 {
			return c, swWrongLength
		}
		n := int(body[1])<<8 | int(body[2])
		if len(body) == 3 { // case 2 extended
			c.le = n
			if c.le == 0 {
				c.le = 65536
			}
			break
		}
		if n == 0 {
			return c, swWrongLength
		}
		switch len(body) {
		case 3 + n:
			c.data = body[3:]
		case 5 + n:
			c.data = body[3 : 3+n]
			c.le = int(body[3+n])<<8 | int(body[4+n])
			if c.le == 0 {
				c.le = 65536
			}
		default:
			return c, swWrongLength
		}
	}
	return c, swOK
}

// response builds an R-APDU: data followed by the status word.
func response(data []byte, sw uint16) []byte {
	out := make([]byte, 0, len(data)+2)
	out = append(out, data...)
	return append(out, byte(sw>>8), byte(sw))
}

// swError is a status word returned as an error by command handlers.
type swError uint16

func (e swError) Error() string { return "status " + hex16(uint16(e)) }

func hex16(v uint16) string {
	const digits = "0123456789ABCDEF"
	return string([]byte{digits[v>>12], digits[v>>8&15], digits[v>>4&15], digits[v&15]})
}
