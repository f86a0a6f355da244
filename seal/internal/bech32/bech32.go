// Package bech32 encodes byte strings as BIP-173 Bech32, without the 90
// character limit, as age does for its keys.
//
// Only encoding is needed by breakglass: it turns the 32-byte X25519 scalar
// that SLIP-0039 shares reconstruct into the AGE-SECRET-KEY-1… string that
// age (and the age CLI) parse. Decoding is left to age itself.
package bech32

import (
	"errors"
	"strings"
)

const charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

var generator = [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}

func polymod(values []byte) uint32 {
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := range 5 {
			if (top>>i)&1 == 1 {
				chk ^= generator[i]
			}
		}
	}
	return chk
}

func hrpExpand(hrp string) []byte {
	out := make([]byte, 0, 2*len(hrp)+1)
	for i := range len(hrp) {
		out = append(out, hrp[i]>>5)
	}
	out = append(out, 0)
	for i := range len(hrp) {
		out = append(out, hrp[i]&31)
	}
	return out
}

// to5 regroups 8-bit bytes into 5-bit values, padding the last one with zeros.
func to5(data []byte) []byte {
	var out []byte
	acc, bits := uint32(0), 0
	for _, b := range data {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, byte(acc>>bits)&31)
		}
	}
	if bits > 0 {
		out = append(out, byte(acc<<(5-bits))&31)
	}
	return out
}

// Encode returns the Bech32 encoding of data with the human-readable part
// hrp. The result has the case of hrp, which must be all lower or all upper
// case printable ASCII.
func Encode(hrp string, data []byte) (string, error) {
	if hrp == "" {
		return "", errors.New("bech32: empty human-readable part")
	}
	lower := strings.ToLower(hrp)
	if hrp != lower && hrp != strings.ToUpper(hrp) {
		return "", errors.New("bech32: mixed-case human-readable part")
	}
	for i := range len(hrp) {
		if hrp[i] < 33 || hrp[i] > 126 {
			return "", errors.New("bech32: invalid character in human-readable part")
		}
	}
	values := to5(data)
	check := append(hrpExpand(lower), values...)
	check = append(check, 0, 0, 0, 0, 0, 0)
	mod := polymod(check) ^ 1
	var sb strings.Builder
	sb.WriteString(lower)
	sb.WriteByte('1')
	for _, v := range values {
		sb.WriteByte(charset[v])
	}
	for i := range 6 {
		sb.WriteByte(charset[(mod>>(5*(5-i)))&31])
	}
	if hrp != lower {
		return strings.ToUpper(sb.String()), nil
	}
	return sb.String(), nil
}
