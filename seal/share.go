package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
)

// Share plaintext: what a token custodian's p256tag age file decrypts to.
// See docs/format-glass.md, "Share plaintext". It is text, so that a
// custodian who opens their share with stock age reads a SLIP-0039 mnemonic.
const shareMagic = "breakglass share v1\n"

// commitmentLabel prefixes the commitment hash input.
const commitmentLabel = "breakglass glass v1 share commitment\x00"

// maxMnemonicWords bounds a mnemonic; SLIP-0039 needs 33 for 32 bytes.
const maxMnemonicWords = 64

type sharePlaintext struct {
	headerHash [32]byte
	index      int
	mnemonic   []byte // lower-case words separated by single spaces
}

// marshal encodes s canonically into one allocation of the exact size, so
// that no stray copy of the mnemonic is left behind; the caller wipes it.
func (s *sharePlaintext) marshal() []byte {
	idx := strconv.Itoa(s.index)
	n := len(shareMagic) + len("header-hash: \n") + 64 + len("custodian: \n") + len(idx) + len("mnemonic: \n") + len(s.mnemonic)
	b := make([]byte, 0, n)
	b = append(b, shareMagic...)
	b = append(b, "header-hash: "...)
	b = hex.AppendEncode(b, s.headerHash[:])
	b = append(b, "\ncustodian: "...)
	b = append(b, idx...)
	b = append(b, "\nmnemonic: "...)
	b = append(b, s.mnemonic...)
	return append(b, '\n')
}

func (s *sharePlaintext) wipe() { clear(s.mnemonic) }

var errSharePlaintext = errors.New("the decrypted share is not a breakglass share")

// parseSharePlaintext parses the canonical share plaintext. The mnemonic is
// copied; the caller wipes b.
func parseSharePlaintext(b []byte) (*sharePlaintext, error) {
	rest, ok := bytes.CutPrefix(b, []byte(shareMagic))
	if !ok {
		return nil, errSharePlaintext
	}
	field := func(key string) ([]byte, bool) {
		var line []byte
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return nil, false
		}
		return bytes.CutPrefix(line, []byte(key+": "))
	}
	s := &sharePlaintext{}
	h, ok := field("header-hash")
	if !ok || len(h) != 64 {
		return nil, errSharePlaintext
	}
	if _, err := hex.Decode(s.headerHash[:], h); err != nil || hex.EncodeToString(s.headerHash[:]) != string(h) {
		return nil, errSharePlaintext
	}
	idx, ok := field("custodian")
	if !ok {
		return nil, errSharePlaintext
	}
	if s.index, ok = atoi(string(idx), 0, maxGroups*maxMembers-1); !ok {
		return nil, errSharePlaintext
	}
	m, ok := field("mnemonic")
	if !ok || len(rest) != 0 || !validMnemonicText(m) {
		return nil, errSharePlaintext
	}
	s.mnemonic = bytes.Clone(m)
	return s, nil
}

// validMnemonicText checks the syntax only: 1 to 64 words of 1 to 16
// lower-case ASCII letters, separated by single spaces.
func validMnemonicText(m []byte) bool {
	words, n := 0, 0
	for i, c := range m {
		switch {
		case c >= 'a' && c <= 'z':
			n++
			if n > 16 {
				return false
			}
		case c == ' ' && n > 0 && i != len(m)-1:
			words++
			n = 0
		default:
			return false
		}
	}
	if n == 0 {
		return false
	}
	return words+1 <= maxMnemonicWords
}

// commitment is SHA-256(label ‖ seal-id ‖ index ‖ mnemonic).
func commitment(sealID [16]byte, index int, mnemonic []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(commitmentLabel))
	h.Write(sealID[:])
	h.Write([]byte{byte(index)})
	h.Write(mnemonic)
	var out [32]byte
	h.Sum(out[:0])
	return out
}
