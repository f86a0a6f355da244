package seal

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"io"
	"slices"
	"strconv"
	"strings"

	"filippo.io/age/armor"
)

// The armor lines of the sealed block.
const (
	blockBegin = "-----BEGIN BREAKGLASS SEALED SECRET-----"
	blockEnd   = "-----END BREAKGLASS SEALED SECRET-----"
)

// Limits on the sealed block, so that Parse holds a bounded amount.
const (
	maxBlock = 1 << 20
	maxLine  = 4096
)

// A File is a parsed .glass file: the header, each token custodian's share,
// and the not yet read payload. Parse checks the file's digest, so a File
// whose header was damaged is never returned and no token is used for it.
type File struct {
	Header *Header

	hash   [32]byte       // H
	shares map[int][]byte // binary age share files by custodian index
	mac    [32]byte
	digest [32]byte

	payload io.Reader // *payloadReader, or the binary age file
	binary  bool
	opened  bool
}

// ageMagic starts every binary age file.
const ageMagic = "age-encryption.org/v1\n"

// BinaryPayload reports whether the payload is a binary (not armored) age file.
func (f *File) BinaryPayload() bool { return f.binary }

// HeaderHash returns H, the SHA-256 of the canonical header text. The
// logbook's seal entry records it; compare it before any tap.
func (f *File) HeaderHash() [32]byte { return f.hash }

// Parse reads the sealed block of a .glass file from r and checks it; the
// payload is left in r for [Unseal.Open] to stream. r must not be read by
// anyone else afterwards.
func Parse(r io.Reader) (*File, error) {
	start := offsetOf(r)
	br := bufio.NewReaderSize(r, 64<<10)
	var raw bytes.Buffer // the block as read, for the digest
	var ls []string
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull || len(line) > maxLine {
			return nil, &FormatError{Line: len(ls) + 1, Msg: "line too long"}
		}
		if err == io.EOF {
			return nil, &FormatError{Line: len(ls) + 1, Msg: "truncated (no END line, or no final newline)"}
		}
		if err != nil {
			return nil, err
		}
		raw.Write(line)
		if raw.Len() > maxBlock {
			return nil, &FormatError{Line: len(ls) + 1, Msg: "sealed block larger than 1 MiB"}
		}
		ls = append(ls, string(line[:len(line)-1]))
		if len(ls) == 1 && ls[0] != blockBegin {
			return nil, &FormatError{Line: 1, Msg: "not a breakglass sealed secret (no BEGIN line)"}
		}
		if ls[len(ls)-1] == blockEnd {
			break
		}
	}
	n := len(ls)
	if n < 4 || !strings.HasPrefix(ls[n-2], "digest: ") || !strings.HasPrefix(ls[n-3], "mac: ") {
		return nil, &FormatError{Line: n, Msg: "missing mac or digest line"}
	}
	f := &File{shares: map[int][]byte{}}
	// Digest first: it covers everything up to the mac line, so any
	// accidental damage is found before reading a single field.
	d, err := b64.DecodeString(strings.TrimPrefix(ls[n-2], "digest: "))
	if err != nil || len(d) != 32 {
		return nil, &FormatError{Line: n - 1, Msg: "digest is not 32 bytes of canonical base64"}
	}
	copy(f.digest[:], d)
	covered := raw.Len() - len(ls[n-2]) - len(ls[n-1]) - 2
	sum := sha256.Sum256(raw.Bytes()[:covered])
	if subtle.ConstantTimeCompare(sum[:], f.digest[:]) != 1 {
		return nil, ErrDamaged
	}
	m, err := b64.DecodeString(strings.TrimPrefix(ls[n-3], "mac: "))
	if err != nil || len(m) != 32 {
		return nil, &FormatError{Line: n - 2, Msg: "mac is not 32 bytes of canonical base64"}
	}
	copy(f.mac[:], m)

	// Header. It ends at the first "share:" or "mac:" line.
	end := 1
	for end < n-3 && !strings.HasPrefix(ls[end], "share: ") {
		end++
	}
	hl := &lines{ls: ls[1:end], base: 2}
	h, err := parseHeader(hl)
	if err != nil {
		return nil, err
	}
	if hl.i != len(hl.ls) {
		return nil, hl.errorf("unexpected line in header")
	}
	f.Header = h
	text, err := h.marshal()
	if err != nil {
		return nil, &FormatError{Msg: "header: " + err.Error()}
	}
	f.hash = sha256.Sum256(text)

	// Shares, one per token custodian, in roster order.
	i := end
	for idx, c := range h.Custodians() {
		if c.Paper() {
			continue
		}
		if i >= n-3 || ls[i] != "share: "+strconv.Itoa(idx) {
			return nil, &FormatError{Line: i + 1, Msg: "expected share " + strconv.Itoa(idx) + " (" + c.Name + ")"}
		}
		j := i + 1
		for j < n-3 && ls[j] != armor.Footer {
			j++
		}
		if j >= n-3 {
			return nil, &FormatError{Line: i + 2, Msg: "share " + strconv.Itoa(idx) + " has no END line"}
		}
		data, err := decodeArmor(ls[i+1 : j+1])
		if err != nil {
			return nil, &FormatError{Line: i + 2, Msg: "share " + strconv.Itoa(idx) + ": " + err.Error()}
		}
		if !bytes.HasPrefix(data, []byte("age-encryption.org/v1\n-> p256tag ")) {
			return nil, &FormatError{Line: i + 2, Msg: "share " + strconv.Itoa(idx) + " is not an age file with a p256tag stanza"}
		}
		f.shares[idx] = data
		i = j + 1
	}
	if i != n-3 {
		return nil, &FormatError{Line: i + 1, Msg: "unexpected line after the shares"}
	}

	// The payload follows at once: an armored age file (its BEGIN line is
	// read here; the rest streams), or a binary one that age reads as is.
	if b, _ := br.Peek(len(ageMagic)); string(b) == ageMagic {
		f.binary = true
		f.payload = br
		if at := sectionFrom(r, start, int64(raw.Len())); at != nil {
			f.payload = at
		}
		return f, nil
	}
	line, err := br.ReadSlice('\n')
	if err != nil || string(line) != armor.Header+"\n" {
		return nil, &FormatError{Line: n + 1, Msg: "missing payload (no BEGIN AGE ENCRYPTED FILE line, nor a binary age file)"}
	}
	f.payload = &payloadReader{r: br, line: n + 1}
	return f, nil
}

// appendBlock returns the sealed block for h, shares and mac, with its
// digest: the canonical encoding Parse accepts.
func appendBlock(h *Header, shares map[int][]byte, mac [32]byte) ([]byte, error) {
	text, err := h.marshal()
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(blockBegin + "\n")
	b.Write(text)
	for idx, c := range h.Custodians() {
		if c.Paper() {
			continue
		}
		s, ok := shares[idx]
		if !ok {
			return nil, errors.New("missing share for custodian " + c.Name)
		}
		b.WriteString("share: " + strconv.Itoa(idx) + "\n")
		b.Write(encodeArmor(s))
	}
	b.WriteString("mac: " + b64.EncodeToString(mac[:]) + "\n")
	sum := sha256.Sum256(b.Bytes())
	b.WriteString("digest: " + b64.EncodeToString(sum[:]) + "\n")
	b.WriteString(blockEnd + "\n")
	return b.Bytes(), nil
}

// marshalBlock re-encodes the sealed block of a parsed file.
func (f *File) marshalBlock() ([]byte, error) {
	return appendBlock(f.Header, f.shares, f.mac)
}

// A binary payload in a source that can be read at an offset (a regular
// file, a bytes.Reader) is decrypted with age.DecryptReaderAt rather than
// streamed through Parse's bufio.Reader: chunks are read straight into
// age's buffer and decrypted in place, and the last chunk is authenticated
// before Open returns. For a large secret that is as fast as `age -d`.

// offsetOf returns where r is positioned when it is an io.ReaderAt and an
// io.Seeker, else -1.
func offsetOf(r io.Reader) int64 {
	_, ok := r.(io.ReaderAt)
	s, ok2 := r.(io.Seeker)
	if !ok || !ok2 {
		return -1
	}
	pos, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return -1
	}
	return pos
}

// sectionFrom returns the rest of r after the n bytes of the sealed block
// that Parse read from offset start on, or nil when r cannot be read at an
// offset. It moves r's position: r is not read as a stream afterwards.
func sectionFrom(r io.Reader, start, n int64) *io.SectionReader {
	if start < 0 {
		return nil
	}
	end, err := r.(io.Seeker).Seek(0, io.SeekEnd)
	if err != nil || end < start+n {
		return nil
	}
	return io.NewSectionReader(r.(io.ReaderAt), start+n, end-start-n)
}

// ShareFile returns token custodian idx's share as a standalone armored
// age file: the block after the "share: idx" line of the .glass, byte for
// byte (the encoding is canonical), which stock age decrypts with the
// custodian's token and the breakglass plugin. It returns false for a
// paper custodian or an index not in the roster.
func (f *File) ShareFile(idx int) ([]byte, bool) {
	s, ok := f.shares[idx]
	if !ok {
		return nil, false
	}
	return encodeArmor(s), true
}

// CustodianShareFile is ShareFile of the token custodian named name. A
// name the roster does not hold is an *[UnknownCustodianError]; a paper
// custodian, whose share is the mnemonic they keep and not in the file, a
// *[ShareError] wrapping [ErrPaperCustodian].
func (f *File) CustodianShareFile(name string) ([]byte, error) {
	cs := f.Header.Custodians()
	idx := slices.IndexFunc(cs, func(c Custodian) bool { return c.Name == name })
	switch {
	case idx < 0:
		names := make([]string, len(cs))
		for i, c := range cs {
			names[i] = c.Name
		}
		return nil, &UnknownCustodianError{Name: name, Secret: f.Header.Name, Custodians: names}
	case cs[idx].Paper():
		return nil, &ShareError{Index: idx, Custodian: name, Err: ErrPaperCustodian}
	}
	b, ok := f.ShareFile(idx)
	if !ok { // a parsed file holds every token custodian's share
		return nil, &ShareError{Index: idx, Custodian: name, Err: errors.New("the file holds no share for this custodian")}
	}
	return b, nil
}
