package slip39

import (
	"bytes"
	"fmt"
	"strings"
)

// Limits of the share format.
const (
	maxShares      = 16 // groups per set, members per group
	maxIterExp     = 15 // 4-bit field
	maxID          = 1<<15 - 1
	minSecretLen   = 16   // bytes; 128 bits
	metadataWords  = 4    // id, ext, e; then GI, Gt, g, I, t
	minMnemonicLen = 20   // words: metadata, 13 value words (128 bits), checksum
	maxMnemonicLen = 1000 // words; far beyond any real secret, bounds the work

	// maxValueLen is the longest share value that fits in maxMnemonicLen words.
	maxValueLen = (maxMnemonicLen - metadataWords - checksumWords) * radixBits / 16 * 2
)

// A Share is one SLIP-0039 share: the metadata every mnemonic carries and
// the share value. Counts and thresholds are the real numbers (1 to 16);
// indices are the x coordinates, from 0.
type Share struct {
	ID              uint16 // random identifier of the set, 15 bits
	Extendable      bool   // the set was made with the extendable-backup flag
	IterationExp    uint8  // PBKDF2 iterations are 10000·2^IterationExp in total
	GroupIndex      uint8  // which group this share belongs to, from 0
	GroupThreshold  uint8  // groups needed to recover the secret
	GroupCount      uint8  // groups in the set
	MemberIndex     uint8  // which member of its group this share is, from 0
	MemberThreshold uint8  // members of this group needed to recover its group share
	Value           []byte // the share value: secret; same length as the master secret
}

// Validate reports whether every field of s is in range for the format.
// Shares from [Generate] and [ParseMnemonic] are always valid.
func (s Share) Validate() error {
	switch {
	case s.ID > maxID:
		return fmt.Errorf("%w: identifier does not fit in 15 bits", ErrInvalidShare)
	case s.IterationExp > maxIterExp:
		return fmt.Errorf("%w: iteration exponent %d is above %d", ErrInvalidShare, s.IterationExp, maxIterExp)
	case s.GroupCount < 1 || s.GroupCount > maxShares:
		return fmt.Errorf("%w: group count %d is not between 1 and %d", ErrInvalidShare, s.GroupCount, maxShares)
	case s.GroupThreshold < 1 || s.GroupThreshold > s.GroupCount:
		return fmt.Errorf("%w: group threshold %d is not between 1 and the group count %d",
			ErrInvalidShare, s.GroupThreshold, s.GroupCount)
	case s.GroupIndex >= s.GroupCount:
		return fmt.Errorf("%w: group index %d is not below the group count %d", ErrInvalidShare, s.GroupIndex, s.GroupCount)
	case s.MemberThreshold < 1 || s.MemberThreshold > maxShares:
		return fmt.Errorf("%w: member threshold %d is not between 1 and %d", ErrInvalidShare, s.MemberThreshold, maxShares)
	case s.MemberIndex >= maxShares:
		return fmt.Errorf("%w: member index %d is above %d", ErrInvalidShare, s.MemberIndex, maxShares-1)
	case len(s.Value) < minSecretLen || len(s.Value)%2 != 0:
		return fmt.Errorf("%w: a share value of %d bytes is not an even number of at least %d",
			ErrInvalidShare, len(s.Value), minSecretLen)
	case len(s.Value) > maxValueLen:
		return fmt.Errorf("%w: a share value of %d bytes is too long", ErrInvalidShare, len(s.Value))
	}
	return nil
}

// String describes s without its value, so that printing a share by mistake
// does not leak it.
func (s Share) String() string {
	return fmt.Sprintf("slip39 share (set %d, group %d of %d, %d needed; member %d, %d needed; %d bytes)",
		s.ID, s.GroupIndex+1, s.GroupCount, s.GroupThreshold, s.MemberIndex+1, s.MemberThreshold, len(s.Value))
}

// GoString is String, for %#v.
func (s Share) GoString() string { return s.String() }

// Wipe overwrites the share value with zeros.
func (s Share) Wipe() { wipe(s.Value) }

// ParseMnemonic reads a share from its words, separated by any white space,
// in any letter case. It checks the length, the checksum and the padding,
// and that the metadata is in range; it does not correct mistakes, and its
// errors name word positions, never words.
func ParseMnemonic(mnemonic string) (Share, error) {
	return parseFields(strings.Fields(mnemonic))
}

// ParseMnemonics reads several mnemonics, as [ParseMnemonic] does; an error
// is a [*ShareError] naming the mnemonic that failed.
func ParseMnemonics(mnemonics []string) ([]Share, error) {
	shares := make([]Share, 0, len(mnemonics))
	for i, m := range mnemonics {
		s, err := ParseMnemonic(m)
		if err != nil {
			for _, s := range shares {
				s.Wipe()
			}
			return nil, &ShareError{i, err}
		}
		shares = append(shares, s)
	}
	return shares, nil
}

// Mnemonic returns the words of s, lower case, separated by single spaces.
// The string cannot be wiped; [Share.AppendMnemonic] writes to a buffer that
// can. It panics if s is not valid (see [Share.Validate]).
func (s Share) Mnemonic() string {
	b := s.AppendMnemonic(nil)
	defer wipe(b)
	return string(b)
}

// AppendMnemonic appends the words of s to dst, as [Share.Mnemonic] returns
// them. It panics if s is not valid.
func (s Share) AppendMnemonic(dst []byte) []byte {
	words := s.mustWords()
	defer wipeWords(words)
	for i, v := range words {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, wordAt(v)...)
	}
	return dst
}

// MarshalText returns the mnemonic of s; it fails if s is not valid.
func (s Share) MarshalText() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s.AppendMnemonic(nil), nil
}

// UnmarshalText reads a mnemonic as [ParseMnemonic] does. On error s is left
// unchanged.
func (s *Share) UnmarshalText(text []byte) error {
	share, err := parseFields(bytes.Fields(text))
	if err != nil {
		return err
	}
	*s = share
	return nil
}

// MarshalBinary returns the compact form of s: the 10-bit values of its
// words, checksum included, packed big-endian into ceil(10·words/8) bytes
// with zero bits at the end. It fails if s is not valid.
func (s Share) MarshalBinary() ([]byte, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	words := s.mustWords()
	defer wipeWords(words)
	out := make([]byte, 0, (len(words)*radixBits+7)/8)
	var acc uint32
	n := 0
	for _, v := range words {
		acc = acc<<radixBits | uint32(v)
		n += radixBits
		for n >= 8 {
			out = append(out, byte(acc>>(n-8)))
			n -= 8
			acc &= 1<<n - 1
		}
	}
	if n > 0 {
		out = append(out, byte(acc<<(8-n)))
	}
	return out, nil
}

// UnmarshalBinary reads the form MarshalBinary writes, with the same checks
// as [ParseMnemonic], and rejects any other encoding of the same share. On
// error s is left unchanged.
func (s *Share) UnmarshalBinary(data []byte) error {
	count := len(data) * 8 / radixBits
	if count > maxMnemonicLen || (count*radixBits+7)/8 != len(data) {
		return fmt.Errorf("%w: %d bytes is not the length of a packed share", ErrLength, len(data))
	}
	words := make([]uint16, 0, count)
	defer func() { wipeWords(words) }()
	var acc uint32
	n := 0
	for _, b := range data {
		acc = acc<<8 | uint32(b)
		n += 8
		if n >= radixBits {
			words = append(words, uint16(acc>>(n-radixBits)))
			n -= radixBits
			acc &= 1<<n - 1
		}
	}
	if acc != 0 {
		return fmt.Errorf("%w: the bits after the last word are not zero", ErrPadding)
	}
	share, err := decodeWords(words)
	if err != nil {
		return err
	}
	*s = share
	return nil
}

// parseFields looks up each word and decodes the values.
func parseFields[T string | []byte](fields []T) (Share, error) {
	if len(fields) > maxMnemonicLen {
		return Share{}, fmt.Errorf("%w: %d words is far too many for a share", ErrLength, len(fields))
	}
	words := make([]uint16, len(fields))
	defer wipeWords(words)
	var buf [maxWordLen]byte
	defer clear(buf[:])
	for i, f := range fields {
		if len(f) > maxWordLen {
			return Share{}, fmt.Errorf("%w: word %d is not in the list", ErrUnknownWord, i+1)
		}
		w := buf[:copy(buf[:], f)]
		for k, c := range w {
			if 'A' <= c && c <= 'Z' {
				w[k] = c + 'a' - 'A'
			}
		}
		v, ok := wordIndex(w)
		if !ok {
			return Share{}, fmt.Errorf("%w: word %d is not in the list", ErrUnknownWord, i+1)
		}
		words[i] = v
	}
	return decodeWords(words)
}

// valueLayout returns, for a share of the given number of words, the padding
// bits before the value and the value length in bytes. A share value is a
// whole number of 16-bit units; at most 8 bits of padding make up the
// difference to the 10-bit words.
func valueLayout(words int) (pad, length int, ok bool) {
	bits := (words - metadataWords - checksumWords) * radixBits
	pad = bits % 16
	return pad, (bits - pad) / 8, pad <= 8
}

// decodeWords checks and decodes the 10-bit values of a share.
func decodeWords(words []uint16) (Share, error) {
	if len(words) < minMnemonicLen {
		return Share{}, fmt.Errorf("%w: %d words; a share has at least %d", ErrLength, len(words), minMnemonicLen)
	}
	pad, length, ok := valueLayout(len(words))
	if !ok {
		return Share{}, fmt.Errorf("%w: no share value fits in %d words", ErrLength, len(words))
	}
	extendable := words[1]>>4&1 == 1
	if !rsVerify(customization(extendable), words) {
		return Share{}, ErrChecksum
	}

	r := bitReader{words: words[:len(words)-checksumWords]}
	defer r.wipe()
	head := r.read(20)
	params := r.read(20)
	if r.read(pad) != 0 {
		return Share{}, fmt.Errorf("%w: the bits before the share value are not zero", ErrPadding)
	}
	s := Share{
		ID:              uint16(head >> 5),
		Extendable:      extendable,
		IterationExp:    uint8(head & 0xF),
		GroupIndex:      uint8(params >> 16 & 0xF),
		GroupThreshold:  uint8(params>>12&0xF) + 1,
		GroupCount:      uint8(params>>8&0xF) + 1,
		MemberIndex:     uint8(params >> 4 & 0xF),
		MemberThreshold: uint8(params&0xF) + 1,
		Value:           make([]byte, length),
	}
	for k := range s.Value {
		s.Value[k] = byte(r.read(8))
	}
	if err := s.Validate(); err != nil {
		s.Wipe()
		return Share{}, err
	}
	return s, nil
}

// mustWords encodes s as 10-bit values, checksum included.
func (s Share) mustWords() []uint16 {
	if err := s.Validate(); err != nil {
		panic("slip39: encoding an invalid share: " + err.Error())
	}
	valueWords := (len(s.Value)*8 + radixBits - 1) / radixBits
	total := metadataWords + valueWords + checksumWords
	w := bitWriter{words: make([]uint16, 0, total)}
	ext := uint32(0)
	if s.Extendable {
		ext = 1
	}
	w.write(uint32(s.ID)<<5|ext<<4|uint32(s.IterationExp), 20)
	w.write(uint32(s.GroupIndex)<<16|uint32(s.GroupThreshold-1)<<12|uint32(s.GroupCount-1)<<8|
		uint32(s.MemberIndex)<<4|uint32(s.MemberThreshold-1), 20)
	w.write(0, valueWords*radixBits-len(s.Value)*8)
	for _, b := range s.Value {
		w.write(uint32(b), 8)
	}
	sum := rsChecksum(customization(s.Extendable), w.words)
	return append(w.words, sum[:]...)
}

// A bitReader reads big-endian bit fields of up to 20 bits from 10-bit words.
type bitReader struct {
	words []uint16
	acc   uint32
	n     int
}

func (r *bitReader) read(bits int) uint32 {
	for r.n < bits {
		r.acc = r.acc<<radixBits | uint32(r.words[0])
		r.words = r.words[1:]
		r.n += radixBits
	}
	r.n -= bits
	v := r.acc >> r.n
	r.acc &= 1<<r.n - 1
	return v
}

func (r *bitReader) wipe() { r.acc = 0 }

// A bitWriter writes big-endian bit fields of up to 20 bits as 10-bit words.
type bitWriter struct {
	words []uint16
	acc   uint32
	n     int
}

func (w *bitWriter) write(v uint32, bits int) {
	w.acc = w.acc<<bits | v
	w.n += bits
	for w.n >= radixBits {
		w.n -= radixBits
		w.words = append(w.words, uint16(w.acc>>w.n))
		w.acc &= 1<<w.n - 1
	}
}

func wipeWords(w []uint16) { clear(w) }
