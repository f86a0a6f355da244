package piv

import (
	"bytes"
	"testing"
)

// FuzzTLV: a TLV sequence that parses has exactly one encoding — writing
// back what nextTLV read (with tlv) gives the input byte for byte — and
// parseTLVs accepts it only when no tag repeats.
func FuzzTLV(f *testing.F) {
	f.Add([]byte{0x01, 0x01, 0x12, 0x02, 0x02, 0x01, 0x01})
	f.Add(append([]byte{0x53, 0x81, 0x80}, make([]byte, 0x80)...))
	f.Add(append([]byte{0x53, 0x82, 0x01, 0x00}, make([]byte, 0x100)...))
	f.Add([]byte{0x53, 0x81, 0x01, 0x00})       // non-minimal
	f.Add([]byte{0x01, 0x01, 0x00, 0x01, 0x00}) // a repeated tag
	f.Fuzz(func(t *testing.T, b []byte) {
		var out []byte
		tags := map[byte]bool{}
		dup := false
		for rest := b; len(rest) > 0; {
			tag, v, r, err := nextTLV(rest)
			if err != nil {
				if _, perr := parseTLVs(b); perr == nil {
					t.Fatalf("parseTLVs accepted what nextTLV refuses: %x", b)
				}
				return
			}
			dup = dup || tags[tag]
			tags[tag] = true
			out = append(out, tlv(tag, v)...)
			rest = r
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("accepted a second encoding: %x re-encodes as %x", b, out)
		}
		if m, err := parseTLVs(b); (err == nil) == dup || (err == nil && len(m) != len(tags)) {
			t.Fatalf("parseTLVs(%x) = %v, %v with a repeated tag %v", b, m, err, dup)
		}
	})
}
