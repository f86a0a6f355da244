package recording

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// MaxSegment is the plaintext after which a Writer starts a new segment
// even before its flush timer fires, so that a reader never holds much
// more than this in memory.
const MaxSegment = 4 << 20

// maxArmoredSegment bounds a segment a Reader accepts (a segment of
// MaxSegment plaintext, armored, is about 5.5 MiB).
const maxArmoredSegment = 64 << 20

// keyComment starts the plaintext of the key segment.
const keyComment = "# breakglass session recording key: decrypt the other segments of this file with it\n"

// A File is where a Writer writes: an *os.File, or a test's writer.
type File interface {
	io.Writer
	Sync() error
	Truncate(size int64) error
}

// A Writer writes an encrypted recording: the key segment, then segments
// of lines (see the package comment). It is not safe for concurrent use.
type Writer struct {
	f     File
	sum   hash.Hash // of what f accepted
	size  int64     // bytes f accepted
	rcpt  age.Recipient
	arm   *armorWriter // into countWriter
	enc   io.WriteCloser
	plain int // plaintext bytes in the open segment

	good     int64  // size at the end of the last complete segment
	goodSum  []byte // sum's state then
	segments int    // complete segments, the key segment included
	err      error
}

// countWriter passes writes to f and hashes and counts what f accepted.
type countWriter struct{ w *Writer }

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.f.Write(p)
	c.w.sum.Write(p[:n])
	c.w.size += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return n, err
}

// NewWriter starts an encrypted recording on f: it makes the recording
// key, writes the key segment (the key, encrypted to recipients) and
// syncs f. It fails if the recipients cannot wrap a key (a plugin that is
// missing, say) or f cannot be written.
func NewWriter(f File, recipients ...age.Recipient) (*Writer, error) {
	if len(recipients) == 0 {
		return nil, errors.New("no recipients to encrypt the recording to")
	}
	key, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, sum: sha256.New(), rcpt: key.Recipient()}
	w.arm = newArmorWriter(countWriter{w})
	if err := w.open(recipients...); err != nil {
		return nil, err
	}
	if _, err := io.WriteString(w.enc, keyComment+key.String()+"\n"); err != nil {
		return nil, err
	}
	if err := w.closeSegment(); err != nil {
		return nil, err
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open(recipients ...age.Recipient) error {
	if err := w.arm.begin(); err != nil {
		return err
	}
	enc, err := age.Encrypt(w.arm, recipients...)
	if err != nil {
		return err
	}
	w.enc, w.plain = enc, 0
	return nil
}

func (w *Writer) closeSegment() error {
	if err := w.enc.Close(); err != nil {
		return err
	}
	if err := w.arm.end(); err != nil {
		return err
	}
	w.enc = nil
	w.good, w.segments = w.size, w.segments+1
	st, err := w.sum.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return err
	}
	w.goodSum = st
	return nil
}

// Write adds p, whole lines, to the open segment (opening one if needed).
// After an error every call fails with it.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.enc == nil {
		if err := w.open(w.rcpt); err != nil {
			return 0, w.fail(err)
		}
	}
	n, err := w.enc.Write(p)
	w.plain += n
	if err != nil {
		return n, w.fail(err)
	}
	if w.plain >= MaxSegment {
		return n, w.Flush()
	}
	return n, nil
}

// Flush ends the open segment, if any, and writes it out: what was written
// so far can be read even if the process dies now. It does not sync.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if w.enc == nil {
		return nil
	}
	if err := w.closeSegment(); err != nil {
		return w.fail(err)
	}
	return nil
}

// fail stops the writer at its first error: f is cut back to the last
// complete segment, so that the file stays readable to its end.
func (w *Writer) fail(err error) error {
	if w.err != nil {
		return w.err
	}
	w.err = err
	if w.size != w.good && w.f.Truncate(w.good) == nil {
		w.size = w.good
		w.sum = sha256.New()
		w.sum.(encoding.BinaryUnmarshaler).UnmarshalBinary(w.goodSum)
	}
	return err
}

// Close flushes and syncs. It does not close f.
func (w *Writer) Close() error {
	if err := w.Flush(); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return w.fail(err)
	}
	return nil
}

// Err is the error that stopped the writer, or nil.
func (w *Writer) Err() error { return w.err }

// Sum is the SHA-256 and size of what the file holds.
func (w *Writer) Sum() (sum [32]byte, size int64) {
	copy(sum[:], w.sum.Sum(nil))
	return sum, w.size
}

// Segments is the number of complete segments written, the key segment
// included.
func (w *Writer) Segments() int { return w.segments }

// A TruncatedError: the file ends inside a segment, or a segment is
// damaged. What Reader returned before it is complete and authentic as far
// as age goes (see the package comment for what vouches for the whole).
type TruncatedError struct {
	Segment int   // the segment that is cut short or damaged, from 0 (the key segment)
	Offset  int64 // where it starts in the file
	Cut     bool  // the file ends inside it (else it does not decrypt)
	Err     error
}

func (e *TruncatedError) Error() string {
	if e.Cut {
		return fmt.Sprintf("the recording is cut short: segment %d (at byte %d) is incomplete; what comes before it is complete", e.Segment, e.Offset)
	}
	return fmt.Sprintf("segment %d of the recording (at byte %d) does not decrypt: %v", e.Segment, e.Offset, e.Err)
}

func (e *TruncatedError) Unwrap() error { return e.Err }

// ErrNotRecording: the file is not an encrypted recording.
var ErrNotRecording = errors.New("not a breakglass recording (no armored age segment)")

// A Reader decrypts a recording: the key segment with the caller's
// identities, then the other segments with the recording key. Read returns
// their plaintext, the asciicast, in order.
type Reader struct {
	r       *bufio.Reader
	key     []age.Identity
	buf     []byte // plaintext of the current segment, not yet read
	segment int    // the next segment's number
	offset  int64  // where it starts
	err     error
}

// Open reads the key segment of the recording in r with identities. An
// identity that does not fit gives an error wrapping
// *age.NoIdentityMatchError.
func Open(r io.Reader, identities ...age.Identity) (*Reader, error) {
	rd := &Reader{r: bufio.NewReaderSize(r, 64<<10)}
	plain, err := rd.nextSegment(identities)
	if err == io.EOF {
		return nil, ErrNotRecording
	}
	if err != nil {
		var te *TruncatedError
		if errors.As(err, &te) && !te.Cut {
			var nm *age.NoIdentityMatchError
			if errors.As(te.Err, &nm) {
				return nil, fmt.Errorf("the recording key: %w", nm)
			}
		}
		return nil, err
	}
	if !bytes.HasPrefix(plain, []byte(keyComment)) {
		return nil, fmt.Errorf("%w: the first segment holds no recording key", ErrNotRecording)
	}
	ids, err := age.ParseIdentities(bytes.NewReader(plain))
	if err != nil || len(ids) != 1 {
		return nil, fmt.Errorf("%w: the first segment holds no recording key", ErrNotRecording)
	}
	rd.key = ids
	return rd, nil
}

// Segments is the number of complete segments read so far, the key
// segment included.
func (r *Reader) Segments() int { return r.segment }

// Offset is how many bytes of the file the complete segments read so far
// take.
func (r *Reader) Offset() int64 { return r.offset }

// Read returns the plaintext of the segments in order. At the end it
// returns io.EOF; a segment cut short or damaged gives a *TruncatedError,
// after the plaintext of every segment before it.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		r.buf, r.err = r.nextSegment(r.key)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// nextSegment reads and decrypts one armored segment.
func (r *Reader) nextSegment(ids []age.Identity) ([]byte, error) {
	var seg bytes.Buffer
	start := r.offset
	n := int64(0)
	trunc := func(cut bool, err error) ([]byte, error) {
		return nil, &TruncatedError{Segment: r.segment, Offset: start, Cut: cut, Err: err}
	}
	for {
		line, err := r.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return trunc(false, errors.New("a line longer than armor allows"))
		}
		n += int64(len(line))
		if err == io.EOF {
			if seg.Len() == 0 && len(line) == 0 {
				return nil, io.EOF
			}
			return trunc(true, io.ErrUnexpectedEOF)
		}
		if err != nil {
			return nil, err
		}
		if seg.Len() == 0 && strings.TrimSuffix(string(line), "\n") != armor.Header {
			return trunc(false, fmt.Errorf("%q where a segment should begin", truncate(line)))
		}
		seg.Write(line)
		if seg.Len() > maxArmoredSegment {
			return trunc(false, errors.New("segment too large"))
		}
		if strings.TrimSuffix(string(line), "\n") == armor.Footer {
			break
		}
	}
	dr, err := age.Decrypt(armor.NewReader(&seg), ids...)
	if err != nil {
		return trunc(false, err)
	}
	plain, err := io.ReadAll(dr)
	if err != nil {
		return trunc(false, err)
	}
	r.segment++
	r.offset += n
	return plain, nil
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}
