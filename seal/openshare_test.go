package seal

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestOpenShare: the custodian's side of a remote tap hands out a share
// only when it belongs to the file the card approved. Each row swaps a
// share block the way someone with write access to the case could (the
// MAC is not checked without taps) and names the error OpenShare must give.
func TestOpenShare(t *testing.T) {
	p := basicParams(t, 2, 3)
	fileA, _ := sealString(t, "secret A", p, 20)
	fileB, _ := sealString(t, "secret B", p, 21)
	fa, err := Parse(bytes.NewReader(fileA))
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := Parse(bytes.NewReader(fileB))
	shareOf := func(f *File, i int) []byte { return append([]byte(nil), f.shares[i]...) }

	for _, tc := range []struct {
		name   string
		change func(f *File)
		key    int
		want   error // nil: success
	}{
		{"the file's own share", func(f *File) {}, 1, nil},
		{"another secret's share spliced in", func(f *File) { f.shares[1] = shareOf(fb, 1) }, 1, ErrOtherFile},
		{"the same custodian's share of another index", func(f *File) { f.shares[1] = wrapShare(t, 1, mustOpen(t, fa, 0)) }, 1, ErrBadShare},
		{"a share that breaks its commitment", func(f *File) {
			s, _ := parseSharePlaintext(mustOpen(t, fa, 1))
			s.mnemonic = []byte("academic acid acrobat romp academic")
			f.shares[1] = wrapShare(t, 1, s.marshal())
		}, 1, ErrBadShare},
		{"a card not in the roster", func(f *File) {}, 7, ErrNotInRoster},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(bytes.NewReader(rebuild(t, fileA, tc.change)))
			if err != nil {
				t.Fatal(err)
			}
			idx, pt, err := f.OpenShare(testKey(t, tc.key))
			if tc.want == nil {
				if err != nil || idx != tc.key {
					t.Fatalf("got %d, %v", idx, err)
				}
				m, i, err := ShareMnemonic(pt)
				if err != nil || i != tc.key || !bytes.Contains(pt, []byte(fmt.Sprintf("header-hash: %x\n", f.HeaderHash()))) || len(m) == 0 {
					t.Fatalf("share plaintext %q: %v", pt, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || pt != nil {
				t.Fatalf("got %v (plaintext %d bytes), want %v", err, len(pt), tc.want)
			}
		})
	}
}

// mustOpen decrypts custodian i's share block of f with its test key.
func mustOpen(t testing.TB, f *File, i int) []byte {
	t.Helper()
	s, err := f.openShare(i, testKey(t, i))
	if err != nil {
		t.Fatal(err)
	}
	return s.marshal()
}
