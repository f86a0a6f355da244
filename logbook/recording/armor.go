package recording

import (
	"encoding/base64"
	"encoding/binary"
	"io"

	"filippo.io/age/armor"
)

// armorBuffer is how much armored text an armorWriter gathers before it
// writes to the file.
const armorBuffer = 256 << 10

// An armorWriter writes age's ASCII armor, byte for byte what
// armor.NewWriter writes (the BEGIN line, the base64 in lines of 64
// columns, the last one shorter and possibly empty, the END line), into
// its own buffer, which it writes to dst when full and at the end of
// each armored file. age's writer encodes through a base64 stream
// encoder and wraps the lines through a second buffer, a copy and a call
// per line; this one encodes each line in place. One armorWriter writes
// armored files one after the other (begin … end, begin … end).
type armorWriter struct {
	dst  io.Writer
	buf  []byte
	rem  [3]byte // bytes not yet encoded (base64 takes 3 at a time)
	nrem int
	col  int // columns on the current line
}

const (
	armorColumns = 64                   // base64 characters per line
	armorBytes   = armorColumns / 4 * 3 // bytes per line
)

func newArmorWriter(dst io.Writer) *armorWriter {
	return &armorWriter{dst: dst, buf: make([]byte, 0, armorBuffer)}
}

// begin starts an armored file.
func (a *armorWriter) begin() error {
	a.nrem, a.col = 0, 0
	return a.raw(armor.Header + "\n")
}

// raw adds s to the buffer as is.
func (a *armorWriter) raw(s string) error {
	if len(a.buf)+len(s) > cap(a.buf) {
		if err := a.flush(); err != nil {
			return err
		}
	}
	a.buf = append(a.buf, s...)
	return nil
}

// Write encodes p.
func (a *armorWriter) Write(p []byte) (int, error) {
	n := len(p)
	if a.nrem > 0 {
		k := copy(a.rem[a.nrem:], p)
		a.nrem += k
		p = p[k:]
		if a.nrem < 3 {
			return n, nil
		}
		if err := a.encode(a.rem[:]); err != nil {
			return 0, err
		}
		a.nrem = 0
	}
	whole := len(p) / 3 * 3
	if err := a.encode(p[:whole]); err != nil {
		return 0, err
	}
	a.nrem = copy(a.rem[:], p[whole:])
	return n, nil
}

// encode encodes p, a multiple of 3 bytes, in lines.
func (a *armorWriter) encode(p []byte) error {
	for len(p) > 0 {
		if a.col == 0 && len(p) >= armorBytes {
			// Whole lines, as many as the buffer takes.
			n := min(len(p)/armorBytes, (cap(a.buf)-len(a.buf))/(armorColumns+1))
			if n == 0 {
				if err := a.flush(); err != nil {
					return err
				}
				continue
			}
			end := len(a.buf) + n*(armorColumns+1)
			encodeLines(a.buf[len(a.buf):end], p[:n*armorBytes])
			a.buf = a.buf[:end]
			p = p[n*armorBytes:]
			continue
		}
		k := min((armorColumns-a.col)/4*3, len(p)) // to the end of the line
		out := base64.StdEncoding.EncodedLen(k) + 1
		if len(a.buf)+out > cap(a.buf) {
			if err := a.flush(); err != nil {
				return err
			}
		}
		b := a.buf[len(a.buf) : len(a.buf)+out]
		base64.StdEncoding.Encode(b, p[:k])
		a.col += out - 1
		if a.col == armorColumns {
			b[out-1] = '\n'
			a.col = 0
		} else {
			b = b[:out-1]
		}
		a.buf = a.buf[:len(a.buf)+len(b)]
		p = p[k:]
	}
	return nil
}

// end ends the armored file and writes the buffer to dst.
func (a *armorWriter) end() error {
	if a.nrem > 0 {
		var b [4]byte
		base64.StdEncoding.Encode(b[:], a.rem[:a.nrem])
		if err := a.raw(string(b[:])); err != nil {
			return err
		}
		a.col += 4
		a.nrem = 0
	}
	footer := armor.Footer + "\n"
	if a.col > 0 {
		footer = "\n" + footer
	}
	if err := a.raw(footer); err != nil {
		return err
	}
	return a.flush()
}

// flush writes the buffer to dst.
func (a *armorWriter) flush() error {
	if len(a.buf) == 0 {
		return nil
	}
	_, err := a.dst.Write(a.buf)
	a.buf = a.buf[:0]
	return err
}

// base64Pairs maps 12 bits to their two base64 characters (standard
// alphabet), the first in the low byte.
var base64Pairs = func() (t [1 << 12]uint16) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range t {
		t[i] = uint16(alphabet[i>>6]) | uint16(alphabet[i&63])<<8
	}
	return t
}()

// encodeLines encodes src, whole lines of armorBytes, into dst, lines of
// armorColumns base64 characters and a newline: what
// base64.StdEncoding.Encode writes, with half the table lookups and an
// eighth of the stores (six bytes in, eight characters out at a time).
func encodeLines(dst, src []byte) {
	for len(src) >= armorBytes && len(dst) >= armorColumns+1 {
		s, d := src[:armorBytes:armorBytes], dst[:armorColumns+1:armorColumns+1]
		for j := 0; j < armorBytes/6; j++ {
			x := uint64(binary.BigEndian.Uint32(s[6*j:]))<<16 | uint64(binary.BigEndian.Uint16(s[6*j+4:]))
			binary.LittleEndian.PutUint64(d[8*j:], uint64(base64Pairs[x>>36&0xfff])|
				uint64(base64Pairs[x>>24&0xfff])<<16|
				uint64(base64Pairs[x>>12&0xfff])<<32|
				uint64(base64Pairs[x&0xfff])<<48)
		}
		d[armorColumns] = '\n'
		src, dst = src[armorBytes:], dst[armorColumns+1:]
	}
}
