package seal

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"slices"

	"filippo.io/age/armor"
)

// The payload and each token share are age files in age's ASCII armor
// (C2SP age, "ASCII armor"): PEM type AGE ENCRYPTED FILE, standard padded
// base64, 64 columns, no headers. Decoding here is strict, so that every
// accepted file has exactly one encoding.

const columns = 64

var b64pad = base64.StdEncoding.Strict()

// armorLines is the state of a strict decode of armor data lines.
type armorLines struct {
	lines int  // data lines seen
	final bool // the last line seen was short or padded
}

// add decodes one data line (without its LF) and appends it to dst.
func (a *armorLines) add(dst []byte, line []byte) ([]byte, error) {
	if a.final {
		return nil, errors.New("armor: a short line is not the last line")
	}
	if len(line) == 0 || len(line) > columns || len(line)%4 != 0 {
		return nil, errors.New("armor: bad line length")
	}
	if len(line) < columns || line[len(line)-1] == '=' {
		a.final = true
	}
	n := len(dst)
	dst = slices.Grow(dst, b64pad.DecodedLen(len(line)))
	m, err := b64pad.Decode(dst[n:n+b64pad.DecodedLen(len(line))], line)
	if err != nil {
		return nil, errors.New("armor: invalid or non-canonical base64")
	}
	a.lines++
	return dst[:n+m], nil
}

// decodeArmor decodes a whole armored age file held in lines (without
// LFs), from the BEGIN line to the END line.
func decodeArmor(ls []string) ([]byte, error) {
	if len(ls) < 3 || ls[0] != armor.Header || ls[len(ls)-1] != armor.Footer {
		return nil, errors.New("armor: missing BEGIN or END line")
	}
	var a armorLines
	var out []byte
	var err error
	for _, l := range ls[1 : len(ls)-1] {
		if out, err = a.add(out, []byte(l)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// encodeArmor armors an age file exactly as filippo.io/age/armor does.
func encodeArmor(data []byte) []byte {
	var b bytes.Buffer
	w := armor.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

// payloadReader strictly decodes the armored payload from r, whose BEGIN
// line was already read, and requires end of input right after the END
// line. It streams: at most one line is held.
type payloadReader struct {
	r       *bufio.Reader
	line    int // line number of the last line read, for errors
	a       armorLines
	pending []byte
	buf     []byte
	err     error
}

func (p *payloadReader) fail(msg string) error {
	p.err = &FormatError{Line: p.line, Msg: "payload: " + msg}
	return p.err
}

func (p *payloadReader) Read(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if len(p.pending) > 0 {
			m := copy(b[n:], p.pending)
			p.pending = p.pending[m:]
			n += m
			continue
		}
		if p.err != nil {
			break
		}
		line, err := p.r.ReadSlice('\n')
		p.line++
		if err != nil {
			if err == io.EOF || err == bufio.ErrBufferFull {
				p.fail("truncated, or a line is too long")
			} else {
				p.err = err
			}
			break
		}
		line = line[:len(line)-1]
		if string(line) == armor.Footer {
			if p.a.lines == 0 {
				p.fail("no data")
			} else if _, err := p.r.ReadByte(); err != io.EOF {
				p.fail("data after the END line")
			} else {
				p.err = io.EOF
			}
			break
		}
		// Decode straight into b when a whole line fits.
		if len(b)-n >= columns/4*3 {
			out, err := p.a.add(b[n:n], line)
			if err != nil {
				p.fail(err.Error())
				break
			}
			n += len(out)
			continue
		}
		if p.buf, err = p.a.add(p.buf[:0], line); err != nil {
			p.fail(err.Error())
			break
		}
		p.pending = p.buf
	}
	if n > 0 {
		return n, nil
	}
	return 0, p.err
}
