package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	w := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	if err := Write(p, 0o600, false, w("one")); err != nil {
		t.Fatal(err)
	}
	if err := Write(p, 0o600, false, w("two")); !errors.Is(err, ErrExists) {
		t.Fatalf("overwrote: %v", err)
	}
	if err := Write(p, 0o644, true, w("three")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := Write(p, 0o644, true, func(io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("write error: %v", err)
	}
	b, _ := os.ReadFile(p)
	fi, _ := os.Stat(p)
	if string(b) != "three" || fi.Mode().Perm() != 0o644 {
		t.Fatalf("%q %v", b, fi.Mode())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	var ce *CreateError
	if err := Write(filepath.Join(dir, "no", "such"), 0o600, false, w("x")); !errors.As(err, &ce) {
		t.Fatalf("no directory: %v", err)
	}
}
