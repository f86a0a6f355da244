package seal

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// ageChunk is the plaintext size of one age payload chunk.
const ageChunk = 64 << 10

// payloadSources are the ways a .glass file reaches Parse. A binary payload
// is decrypted with ReadAt from the first two (Open's fast path) and
// streamed from the third.
var payloadSources = []struct {
	name   string
	readAt bool
	open   func(t *testing.T, file []byte) io.Reader
}{
	{"bytes.Reader", true, func(t *testing.T, file []byte) io.Reader { return bytes.NewReader(file) }},
	{"file at an offset", true, func(t *testing.T, file []byte) io.Reader {
		// The .glass file starts 7 bytes into the file: Parse must take
		// the payload's offset from where the reader was, not from 0.
		name := filepath.Join(t.TempDir(), "x.glass")
		if err := os.WriteFile(name, append([]byte("prefix\n"), file...), 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		if _, err := f.Seek(7, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		return f
	}},
	{"stream", false, func(t *testing.T, file []byte) io.Reader { return struct{ io.Reader }{bytes.NewReader(file)} }},
}

// openPayload parses file from src, taps twice and opens the payload.
func openPayload(t *testing.T, file []byte, src func(*testing.T, []byte) io.Reader) (*File, io.Reader, error) {
	t.Helper()
	f, err := Parse(src(t, file))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	u := f.NewUnseal()
	for i := range 2 {
		if _, err := u.Tap(testKey(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := u.Open()
	return f, r, err
}

// hashOnly hides a hash's other methods, so that io.Copy uses the
// reader's WriteTo when it has one.
type hashOnly struct{ io.Writer }

// TestBinaryPayloadSources: a binary payload opens to the same plaintext
// from every kind of source, whatever its size against age's chunks
// (empty tail, exact multiples, one byte over), read with Read (io.ReadAll)
// or with WriteTo (io.Copy).
func TestBinaryPayloadSources(t *testing.T) {
	p := basicParams(t, 2, 3)
	p.BinaryPayload = true
	for _, n := range []int64{1, ageChunk - 1, ageChunk, ageChunk + 1, 3 * ageChunk, 3*ageChunk + 12345} {
		var b bytes.Buffer
		if _, err := Seal(&b, payload(n), p, detRand(7)); err != nil {
			t.Fatal(err)
		}
		want, _ := io.ReadAll(payload(n))
		for _, src := range payloadSources {
			t.Run(fmt.Sprintf("%d/%s", n, src.name), func(t *testing.T) {
				f, r, err := openPayload(t, b.Bytes(), src.open)
				if err != nil {
					t.Fatal(err)
				}
				if _, at := f.payload.(*io.SectionReader); at != src.readAt {
					t.Errorf("payload read with ReadAt: %v, want %v", at, src.readAt)
				}
				got, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("Read: %d bytes, %v; want %d bytes", len(got), err, n)
				}
				_, r, err = openPayload(t, b.Bytes(), src.open)
				if err != nil {
					t.Fatal(err)
				}
				h := sha256.New()
				m, err := io.Copy(hashOnly{h}, r)
				if err != nil || m != n || !bytes.Equal(h.Sum(nil), sha256Of(want)) {
					t.Fatalf("WriteTo: %d bytes, %v; want %d bytes", m, err, n)
				}
			})
		}
	}
}

func sha256Of(b []byte) []byte { s := sha256.Sum256(b); return s[:] }

// TestBinaryPayloadDamage: damage in any chunk of a multi-chunk payload,
// a lost last chunk, a truncation and trailing bytes are errors on every
// path, with no more plaintext than the chunks before the damage.
func TestBinaryPayloadDamage(t *testing.T) {
	p := basicParams(t, 2, 3)
	p.BinaryPayload = true
	const n = 3*ageChunk + 5 // four chunks, the last one 5 bytes
	var b bytes.Buffer
	if _, err := Seal(&b, payload(n), p, detRand(8)); err != nil {
		t.Fatal(err)
	}
	file := b.Bytes()
	const encChunk = ageChunk + 16
	lastChunk := 5 + 16
	flip := func(off int) []byte { m := bytes.Clone(file); m[len(file)-off] ^= 0x20; return m }
	cases := []struct {
		name  string
		file  []byte
		valid int // plaintext bytes that may come out before the error
	}{
		{"last chunk damaged", flip(1), 3 * ageChunk},
		{"third chunk damaged", flip(lastChunk + 100), 2 * ageChunk},
		{"second chunk damaged", flip(lastChunk + encChunk + 100), ageChunk},
		{"first chunk damaged", flip(lastChunk + 2*encChunk + 100), 0},
		{"stream nonce damaged", flip(lastChunk + 3*encChunk + 1), 0},
		{"last chunk lost", file[:len(file)-lastChunk], 3 * ageChunk},
		{"truncated", file[:len(file)-1], 3 * ageChunk},
		{"trailing byte", append(bytes.Clone(file), 0), n},
	}
	for _, c := range cases {
		for _, src := range payloadSources {
			t.Run(c.name+"/"+src.name, func(t *testing.T) {
				_, r, err := openPayload(t, c.file, src.open)
				if err != nil {
					return // refused before any plaintext
				}
				var got bytes.Buffer
				_, err = io.Copy(hashOnly{&got}, r)
				if err == nil {
					t.Fatalf("no error; %d bytes of plaintext", got.Len())
				}
				if got.Len() > c.valid {
					t.Fatalf("%d bytes of plaintext before the error, more than the %d before the damage", got.Len(), c.valid)
				}
			})
		}
	}
}
