package virtual

import "errors"

// BER-TLV as PIV uses it: one- to three-byte tags, definite lengths in
// minimal DER form (piv-go parses responses with encoding/asn1, which rejects
// anything else).

var errTLV = errors.New("malformed TLV")

// tlv appends tag, minimal length and value to dst.
func tlv(dst []byte, tag uint32, value []byte) []byte {
	switch {
	case tag > 0xFFFF:
		dst = append(dst, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		dst = append(dst, byte(tag>>8), byte(tag))
	default:
		dst = append(dst, byte(tag))
	}
	n := len(value)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n <= 0xFF:
		dst = append(dst, 0x81, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, value...)
}

// readTLV reads one TLV from b and returns its tag, value and the rest.
// Multi-byte tags follow BER: a first byte with low bits 11111 is followed by
// bytes whose high bit says whether another follows.
func readTLV(b []byte) (tag uint32, value, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errTLV
	}
	i := 0
	tag = uint32(b[i])
	i++
	if tag&0x1F == 0x1F {
		for {
			if i >= len(b) || i >= 3 {
				return 0, nil, nil, errTLV
			}
			tag = tag<<8 | uint32(b[i])
			i++
			if b[i-1]&0x80 == 0 {
				break
			}
		}
	}
	if i >= len(b) {
		return 0, nil, nil, errTLV
	}
	n := int(b[i])
	i++
	if n&0x80 != 0 {
		k := n & 0x7F
		if k == 0 || k > 3 || i+k > len(b) {
			return 0, nil, nil, errTLV
		}
		n = 0
		for j := 0; j < k; j++ {
			n = n<<8 | int(b[i+j])
		}
		i += k
	}
	if n > len(b)-i {
		return 0, nil, nil, errTLV
	}
	return tag, b[i : i+n], b[i+n:], nil
}

// parseTLVs splits b into a tag→value map; repeated tags keep the first.
// Order is also returned, for templates where it matters.
func parseTLVs(b []byte) (map[uint32][]byte, []uint32, error) {
	m := make(map[uint32][]byte)
	var order []uint32
	for len(b) > 0 {
		tag, v, rest, err := readTLV(b)
		if err != nil {
			return nil, nil, err
		}
		if _, dup := m[tag]; !dup {
			m[tag] = v
			order = append(order, tag)
		}
		b = rest
	}
	return m, order, nil
}
