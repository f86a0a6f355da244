package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseGroupSpec(t *testing.T) {
	for _, tc := range []struct {
		in    string
		name  string
		k     int
		paths []string
		ok    bool
	}{
		{"security:2:a.card.json,b.card.json,c.card.json", "security", 2, []string{"a.card.json", "b.card.json", "c.card.json"}, true},
		{"ops:1: a.json , b.json,", "ops", 1, []string{"a.json", "b.json"}, true},
		{"dir:1:x/y:z.json", "dir", 1, []string{"x/y:z.json"}, true},
		{"security:2", "", 0, nil, false},
		{":2:a.json", "", 0, nil, false},
		{"s:two:a.json", "", 0, nil, false},
		{"s:02:a.json", "", 0, nil, false},
		{"s:2:", "", 0, nil, false},
		{"s:2:,,", "", 0, nil, false},
	} {
		name, k, paths, err := parseGroupSpec(tc.in)
		if (err == nil) != tc.ok || name != tc.name || k != tc.k || !reflect.DeepEqual(paths, tc.paths) {
			t.Errorf("parseGroupSpec(%q) = %q, %d, %q, %v", tc.in, name, k, paths, err)
		}
	}
}

// FuzzParseGroupSpec: an accepted spec re-encodes to a spec that parses to
// the same group.
func FuzzParseGroupSpec(f *testing.F) {
	f.Add("security:2:a.card.json,b.card.json")
	f.Add("p:1:x")
	f.Add("::")
	f.Fuzz(func(t *testing.T, s string) {
		name, k, paths, err := parseGroupSpec(s)
		if err != nil {
			if name != "" || paths != nil {
				t.Fatal("a rejected spec returned values")
			}
			return
		}
		again := name + ":" + strconv.Itoa(k) + ":" + strings.Join(paths, ",")
		n2, k2, p2, err := parseGroupSpec(again)
		if err != nil || n2 != name || k2 != k || !reflect.DeepEqual(p2, paths) {
			t.Fatalf("%q → %q did not round-trip: %q %d %q %v", s, again, n2, k2, p2, err)
		}
		for _, p := range paths {
			if p == "" || strings.Contains(p, ",") || strings.TrimSpace(p) != p {
				t.Fatalf("bad path %q", p)
			}
		}
	})
}

func TestWriteNewFile(t *testing.T) {
	dir := t.TempDir()
	entries := func() []string {
		es, _ := os.ReadDir(dir)
		var n []string
		for _, e := range es {
			n = append(n, e.Name())
		}
		return n
	}
	path := filepath.Join(dir, "out.txt")
	if err := writeNewFile(path, 0o600, false, func(w io.Writer) error { _, err := io.WriteString(w, "one"); return err }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat: %v %v", fi, err)
	}
	// Exists: refused, the old content kept, no temporary file left.
	err := writeNewFile(path, 0o600, false, func(w io.Writer) error { _, err := io.WriteString(w, "two"); return err })
	if err == nil {
		t.Fatal("overwrote an existing file")
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Fatalf("content changed to %q", b)
	}
	// A failing writer: nothing is left behind.
	bad := filepath.Join(dir, "bad.txt")
	boom := errors.New("boom")
	if err := writeNewFile(bad, 0o600, false, func(w io.Writer) error { io.WriteString(w, "half"); return boom }); !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if got := entries(); !reflect.DeepEqual(got, []string{"out.txt"}) {
		t.Fatalf("directory holds %q", got)
	}
	// Replace swaps in the new content.
	if err := writeNewFile(path, 0o644, true, func(w io.Writer) error { _, err := io.WriteString(w, "three"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "three" {
		t.Fatalf("content %q", b)
	}
	// A directory that does not exist.
	if err := writeNewFile(filepath.Join(dir, "no", "x"), 0o600, false, func(io.Writer) error { return nil }); err == nil {
		t.Fatal("wrote into a missing directory")
	}
	if err := checkNewFile(path); err == nil {
		t.Fatal("checkNewFile accepted an existing file")
	}
	if err := checkNewFile(filepath.Join(dir, "new")); err != nil {
		t.Fatal(err)
	}
}
