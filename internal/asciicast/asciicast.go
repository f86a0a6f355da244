// Package asciicast writes and reads terminal recordings in the asciicast v2
// format, the newline-delimited JSON that asciinema records and plays
// (https://docs.asciinema.org/manual/asciicast/v2/).
//
// # Format
//
// A recording is a header line, a JSON object, followed by one line per
// event, each a JSON array of three elements: the time in seconds since the
// start, the event type and its data.
//
//	{"version":2,"width":80,"height":24,"timestamp":1767240000,"title":"prod"}
//	[0.105123,"o","$ "]
//	[1.201000,"i","l"]
//	[1.201733,"o","l"]
//	[3.000000,"r","100x30"]
//
// The event types are "o" (what the terminal showed), "i" (what the person
// typed), "r" (the terminal was resized to COLUMNSxROWS) and "m" (a marker
// with a label). Players show the "o" events and skip the others; asciinema
// 2.2 (Debian's package) plays what [Writer] writes.
//
// # Writing
//
// [Writer] writes each event with a single Write call of one whole line, so
// that a writer underneath can cut the stream into pieces between events
// (see package logbook/recording). Terminal output is bytes, JSON strings are
// text: a UTF-8 sequence split between two reads is held back and written
// with the next event of the same stream, and bytes that are not UTF-8
// become U+FFFD, as in asciinema's own recorder.
//
// # Reading
//
// [Reader] parses a recording line by line and is strict about what it
// accepts: the header must say version 2 with a positive size, every event
// must be a three-element array with a non-negative time that never goes
// backwards, and a resize must read COLUMNSxROWS. An error names the line.
// A last line without its newline is reported as [ErrTruncated], so that a
// recording cut short is told apart from one that was edited.
package asciicast

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Event types.
const (
	Output = "o" // what the terminal showed
	Input  = "i" // what the person typed
	Resize = "r" // the terminal's new size, "COLUMNSxROWS"
	Marker = "m" // a marker, with a label
)

// A Header is the first line of a recording.
type Header struct {
	Version   int               `json:"version"`             // always 2
	Width     int               `json:"width"`               // columns
	Height    int               `json:"height"`              // rows
	Timestamp int64             `json:"timestamp,omitempty"` // start, Unix seconds
	Command   string            `json:"command,omitempty"`   // what ran
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"` // SHELL and TERM, by convention
}

// An Event is one line after the header.
type Event struct {
	Time float64 // seconds since the start
	Type string  // Output, Input, Resize, Marker, or another type a newer writer used
	Data string
}

// Size parses the data of a Resize event.
func (e Event) Size() (cols, rows int, err error) {
	c, r, ok := strings.Cut(e.Data, "x")
	if ok {
		cols, err = strconv.Atoi(c)
		if err == nil {
			rows, err = strconv.Atoi(r)
		}
	}
	if !ok || err != nil || cols <= 0 || rows <= 0 || c[0] == '+' || r[0] == '+' {
		return 0, 0, fmt.Errorf("resize %q is not COLUMNSxROWS", e.Data)
	}
	return cols, rows, nil
}

// A Writer writes a recording. It is not safe for concurrent use.
type Writer struct {
	w    io.Writer
	line []byte
	held [2][]byte // an incomplete UTF-8 sequence at the end of the last Output, Input
	last float64
}

// NewWriter writes h (Version set to 2) as the first line of w.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Version = 2
	if h.Width <= 0 || h.Height <= 0 {
		return nil, fmt.Errorf("asciicast: terminal size %dx%d", h.Width, h.Height)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return nil, err
	}
	return &Writer{w: w}, nil
}

// Output records what the terminal showed at t.
func (w *Writer) Output(t time.Duration, p []byte) error { return w.bytes(t, 0, Output, p) }

// Input records what was typed at t.
func (w *Writer) Input(t time.Duration, p []byte) error { return w.bytes(t, 1, Input, p) }

// Resize records that the terminal became cols x rows at t.
func (w *Writer) Resize(t time.Duration, cols, rows int) error {
	return w.event(t, Resize, []byte(strconv.Itoa(cols)+"x"+strconv.Itoa(rows)))
}

// Marker records a marker at t.
func (w *Writer) Marker(t time.Duration, label string) error {
	return w.event(t, Marker, []byte(label))
}

// Flush writes what Output and Input held back (an incomplete UTF-8
// sequence at the very end), as U+FFFD, at t.
func (w *Writer) Flush(t time.Duration) error {
	for i, typ := range []string{Output, Input} {
		if h := w.held[i]; len(h) > 0 {
			w.held[i] = nil
			if err := w.event(t, typ, h); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *Writer) bytes(t time.Duration, stream int, typ string, p []byte) error {
	if h := w.held[stream]; len(h) > 0 {
		p = append(h, p...)
		w.held[stream] = nil
	}
	// Hold back a UTF-8 sequence that the next read may complete.
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax+1; i-- {
		if utf8.RuneStart(p[i]) {
			if !utf8.FullRune(p[i:]) {
				w.held[stream] = append([]byte(nil), p[i:]...)
				p = p[:i]
			}
			break
		}
	}
	if len(p) == 0 {
		return nil
	}
	return w.event(t, typ, p)
}

func (w *Writer) event(t time.Duration, typ string, data []byte) error {
	secs := max(t.Seconds(), w.last) // never backwards
	w.last = secs
	b := append(w.line[:0], '[')
	b = strconv.AppendFloat(b, secs, 'f', 6, 64)
	b = append(b, `,"`...)
	b = append(b, typ...)
	b = append(b, `",`...)
	b = AppendString(b, data)
	b = append(b, "]\n"...)
	w.line = b
	_, err := w.w.Write(b)
	return err
}

// AppendString appends p as a JSON string, byte for byte what
// encoding/json writes for string(p) with HTML escaping off
// (json.Encoder.SetEscapeHTML(false)): quotes, backslashes and control
// characters escaped (\b \f \n \r \t, others \u00XX), U+2028 and U+2029
// escaped, other UTF-8 kept as is, and each byte that is not UTF-8 written
// as \ufffd. It skips runs of plain ASCII eight bytes at a time; terminal
// output is mostly that.
func AppendString(dst, p []byte) []byte {
	const hex = "0123456789abcdef"
	dst = slices.Grow(dst, len(p)+len(p)/16+2)
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(p); {
		if i+8 <= len(p) {
			m := special8(binary.LittleEndian.Uint64(p[i:]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8 // the first byte to look at
		}
		c := p[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, p[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRune(p[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, p[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, p[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += n
			continue
		}
		i += n
		start = i
	}
	dst = append(dst, p[start:]...)
	return append(dst, '"')
}

// special8 finds, in the eight bytes in x (little-endian), those that a
// JSON string cannot hold as is: 0x80 and above (to check as UTF-8),
// below 0x20, a quote or a backslash. It returns 0 when there is none;
// else the lowest bit set is the high bit of the first such byte (higher
// bits may be set for bytes that are not special).
func special8(x uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	zero := func(v uint64) uint64 { return (v - ones) & ^v & highs } // a zero byte
	ctl := (x - 0x20*ones) & ^x & highs                              // a byte below 0x20
	return x&highs | ctl | zero(x^'"'*ones) | zero(x^'\\'*ones)
}

// ErrTruncated: the recording ends in the middle of a line.
var ErrTruncated = errors.New("the recording ends in the middle of a line (cut short)")

// A SyntaxError is a line that is not asciicast v2.
type SyntaxError struct {
	Line int // from 1; the header is line 1
	Err  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("asciicast line %d: %s", e.Line, e.Err) }

// MaxLine bounds a line the Reader accepts.
const MaxLine = 64 << 20

// A Reader reads a recording.
type Reader struct {
	r      *bufio.Reader
	header Header
	line   int
	last   float64
	err    error
}

// NewReader reads and checks the header line.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 64<<10)}
	b, err := rd.readLine()
	if err == io.EOF {
		return nil, &SyntaxError{Line: 1, Err: "empty recording, no header"}
	}
	if err != nil {
		return nil, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, &SyntaxError{Line: 1, Err: "the header is not a JSON object"}
	}
	if err := json.Unmarshal(b, &rd.header); err != nil {
		return nil, &SyntaxError{Line: 1, Err: "header: " + err.Error()}
	}
	h := rd.header
	switch {
	case h.Version != 2:
		return nil, &SyntaxError{Line: 1, Err: fmt.Sprintf("version %d, want 2", h.Version)}
	case h.Width <= 0 || h.Height <= 0:
		return nil, &SyntaxError{Line: 1, Err: fmt.Sprintf("terminal size %dx%d", h.Width, h.Height)}
	}
	return rd, nil
}

// Header is the recording's header.
func (r *Reader) Header() Header { return r.header }

// Line is the number of the line Next read last (the header is 1).
func (r *Reader) Line() int { return r.line }

func (r *Reader) readLine() ([]byte, error) {
	var long []byte
	for {
		b, err := r.r.ReadSlice('\n')
		switch {
		case err == bufio.ErrBufferFull:
			long = append(long, b...)
			if len(long) > MaxLine {
				return nil, &SyntaxError{Line: r.line + 1, Err: "line too long"}
			}
			continue
		case err == io.EOF && len(b)+len(long) == 0:
			return nil, io.EOF
		case err == io.EOF:
			return nil, fmt.Errorf("line %d: %w", r.line+1, ErrTruncated)
		case err != nil:
			return nil, err
		}
		r.line++
		if long != nil {
			b = append(long, b...)
		}
		return b[:len(b)-1], nil
	}
}

// Next returns the next event, or io.EOF after the last one.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	e, err := r.next()
	if err != nil {
		r.err = err
	}
	return e, err
}

func (r *Reader) next() (Event, error) {
	b, err := r.readLine()
	if err != nil {
		return Event{}, err
	}
	bad := func(format string, args ...any) (Event, error) {
		return Event{}, &SyntaxError{Line: r.line, Err: fmt.Sprintf(format, args...)}
	}
	var a []json.RawMessage
	if err := json.Unmarshal(b, &a); err != nil || a == nil {
		return bad("not a JSON array")
	}
	if len(a) != 3 {
		return bad("an event has 3 elements, not %d", len(a))
	}
	var e Event
	if a[0][0] < '0' || a[0][0] > '9' || json.Unmarshal(a[0], &e.Time) != nil || math.IsInf(e.Time, 0) {
		return bad("the time is not a non-negative number")
	}
	if e.Time < r.last {
		return bad("the time goes backwards (%.6f after %.6f)", e.Time, r.last)
	}
	r.last = e.Time
	if a[1][0] != '"' || json.Unmarshal(a[1], &e.Type) != nil || e.Type == "" {
		return bad("the event type is not a string")
	}
	if a[2][0] != '"' || json.Unmarshal(a[2], &e.Data) != nil {
		return bad("the event data is not a string")
	}
	if e.Type == Resize {
		if _, _, err := e.Size(); err != nil {
			return bad("%v", err)
		}
	}
	return e, nil
}
