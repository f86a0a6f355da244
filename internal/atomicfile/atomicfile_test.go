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

// TestReplace: the new content replaces the old one whole; a crash just
// before the rename leaves the old content.
func TestReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "checkpoint")
	if err := Replace(path, 0o644, []byte("one"), nil); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() { recover() }()
		Replace(path, 0o644, []byte("two"), func() { panic("crash") })
	}()
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Fatalf("after a crash before the rename: %q", b)
	}
	if err := Replace(path, 0o600, []byte("three"), nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if b, _ := os.ReadFile(path); string(b) != "three" || err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("replaced: %q, %v", b, fi.Mode())
	}
	if es, _ := os.ReadDir(filepath.Dir(path)); len(es) != 1 {
		t.Errorf("files left behind: %v", es)
	}
}

func TestCheckNew(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	if err := CheckNew(path); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CheckNew(path); !errors.Is(err, ErrAlreadyExists) {
		t.Errorf("CheckNew(existing) = %v", err)
	}
	var ce *CreateError
	if err := CheckNew(filepath.Join(dir, "no", "such", "dir", "out")); !errors.As(err, &ce) {
		t.Errorf("CheckNew(in a missing directory) = %v", err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("CheckNew left files: %v", es)
	}
}
