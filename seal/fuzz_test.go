package seal

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse: any file Parse accepts (with a payload that reads to the end
// without an armor error) re-encodes to exactly the same bytes.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(glassVectorDir, "*.txt"))
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		if _, file, ok := bytes.Cut(raw, []byte("\n\n")); ok {
			f.Add(file)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(bytes.NewReader(b))
		if err != nil {
			if g != nil {
				t.Fatal("Parse returned a file and an error")
			}
			return
		}
		payload, err := io.ReadAll(g.payload)
		if err != nil {
			return
		}
		block, err := g.marshalBlock()
		if err != nil {
			t.Fatalf("accepted a file it cannot marshal: %v", err)
		}
		out := append(block, encodeArmor(payload)...)
		if g.binary {
			out = append(block, payload...)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("accepted a second encoding:\n%q\nre-encodes as\n%q", b, out)
		}
	})
}

// FuzzSharePlaintext: an accepted share plaintext re-encodes to itself.
func FuzzSharePlaintext(f *testing.F) {
	f.Add([]byte(shareMagic + "header-hash: " + string(bytes.Repeat([]byte("ab"), 32)) + "\ncustodian: 3\nmnemonic: academic acid acne\n"))
	f.Add([]byte(shareMagic + "header-hash: 00\ncustodian: 03\nmnemonic: x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSharePlaintext(b)
		if err != nil {
			return
		}
		if out := s.marshal(); !bytes.Equal(out, b) {
			t.Fatalf("accepted a second encoding: %q re-encodes as %q", b, out)
		}
	})
}
