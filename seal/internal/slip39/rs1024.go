package slip39

// The RS1024 checksum: a Reed-Solomon code over GF(1024) in its BCH view,
// three words long, that detects any error in up to three words. The
// customization string ("shamir" or "shamir_extendable") is hashed in first,
// so a share cannot be read with the wrong extendable flag.

// checksumWords is the number of words the checksum takes.
const checksumWords = 3

// rsGen holds the generator constants of the code (SLIP-0039, RS1024).
var rsGen = [10]uint32{
	0x00E0E040, 0x01C1C080, 0x03838100, 0x07070200, 0x0E0E0009,
	0x1C0C2412, 0x38086C24, 0x3090FC48, 0x21B1F890, 0x03F3F120,
}

// rsPolymod folds the customization string and then the 10-bit values into
// the running checksum chk.
func rsPolymod(custom string, values []uint16) uint32 {
	chk := uint32(1)
	step := func(v uint32) {
		b := chk >> 20
		chk = (chk&0xFFFFF)<<10 ^ v
		for i := range rsGen {
			chk ^= rsGen[i] & -(b >> i & 1)
		}
	}
	for i := range len(custom) {
		step(uint32(custom[i]))
	}
	for _, v := range values {
		step(uint32(v))
	}
	return chk
}

// rsChecksum returns the three checksum words for data.
func rsChecksum(custom string, data []uint16) [checksumWords]uint16 {
	x := rsPolymod(custom, append(append([]uint16(nil), data...), 0, 0, 0)) ^ 1
	return [checksumWords]uint16{uint16(x >> 20 & 1023), uint16(x >> 10 & 1023), uint16(x & 1023)}
}

// rsVerify reports whether words (data followed by its checksum) are intact.
func rsVerify(custom string, words []uint16) bool {
	return rsPolymod(custom, words) == 1
}

// customization returns the customization string for the extendable flag.
func customization(extendable bool) string {
	if extendable {
		return "shamir_extendable"
	}
	return "shamir"
}
