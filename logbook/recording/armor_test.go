package recording

import (
	"bytes"
	"io"
	"testing"

	"filippo.io/age/armor"
)

// ageArmor is p armored by age's own writer, written in pieces of step.
func ageArmor(t testing.TB, p []byte, step int) []byte {
	var b bytes.Buffer
	w := armor.NewWriter(&b)
	for i := 0; i < len(p); i += step {
		if _, err := w.Write(p[i:min(i+step, len(p))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// armorFiles armors each of files with one armorWriter, one after the
// other, written in pieces of step, into a dst that takes writes.
func armorFiles(t testing.TB, files [][]byte, step int) []byte {
	var b bytes.Buffer
	a := newArmorWriter(&b)
	for _, p := range files {
		if err := a.begin(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(p); i += step {
			if _, err := a.Write(p[i:min(i+step, len(p))]); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.end(); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestArmorWriterMatchesAge(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz\x00\xff"), 30000) // > armorBuffer armored
	for _, n := range []int{0, 1, 2, 3, 4, 47, 48, 49, 95, 96, 97, 1000, len(big)} {
		for _, step := range []int{1, 2, 5, 47, 48, 64 << 10, 1 << 30} {
			if n > 1000 && step < 47 {
				continue
			}
			p := big[:n]
			want := ageArmor(t, p, step)
			if got := armorFiles(t, [][]byte{p}, step); !bytes.Equal(got, want) {
				t.Fatalf("%d bytes in steps of %d:\n%s\nwant\n%s", n, step, got, want)
			}
			// Two files back to back: the second starts afresh.
			if got := armorFiles(t, [][]byte{big[:49], p}, step); !bytes.Equal(got, append(ageArmor(t, big[:49], step), want...)) {
				t.Fatalf("after another file, %d bytes in steps of %d differ", n, step)
			}
			back, err := io.ReadAll(armor.NewReader(bytes.NewReader(want)))
			if err != nil || !bytes.Equal(back, p) {
				t.Fatalf("%d bytes: age's reader: %v", n, err)
			}
		}
	}
}

// FuzzArmorWriter: the armor is age's, byte for byte, however the data
// comes in.
func FuzzArmorWriter(f *testing.F) {
	f.Add([]byte("hello"), uint16(1), uint16(2))
	f.Add(bytes.Repeat([]byte{0xff}, 200), uint16(47), uint16(0))
	f.Fuzz(func(t *testing.T, p []byte, step, cut uint16) {
		s := int(step)%300 + 1
		c := int(cut) % (len(p) + 1)
		files := [][]byte{p[:c], p[c:]}
		want := append(ageArmor(t, p[:c], s), ageArmor(t, p[c:], s)...)
		if got := armorFiles(t, files, s); !bytes.Equal(got, want) {
			t.Fatalf("got\n%s\nwant\n%s", got, want)
		}
	})
}

// failWriter fails every write.
type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestArmorWriterError(t *testing.T) {
	a := newArmorWriter(failWriter{})
	if err := a.begin(); err != nil {
		t.Fatal(err) // buffered
	}
	a.Write(make([]byte, 1000))
	if err := a.end(); err != io.ErrClosedPipe {
		t.Fatalf("end: %v, want the write's error", err)
	}
	if _, err := a.Write(make([]byte, armorBuffer)); err != io.ErrClosedPipe {
		t.Fatalf("a write past the buffer: %v, want the write's error", err)
	}
}

func BenchmarkArmor(b *testing.B) {
	p := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz\x00\xff"), 64<<10/38)
	a := newArmorWriter(io.Discard)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		a.begin()
		a.Write(p)
		a.end()
	}
}

func BenchmarkArmorAge(b *testing.B) {
	p := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz\x00\xff"), 64<<10/38)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		a := armor.NewWriter(io.Discard)
		a.Write(p)
		a.Close()
	}
}
