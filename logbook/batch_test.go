package logbook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/breakglass/breakglass/internal/ecdsabatch"
)

// editSignature applies f to the DER signature on the last signature line of
// the signed record rec.
func editSignature(t testing.TB, rec []byte, f func(der []byte) []byte) []byte {
	t.Helper()
	line := bytes.LastIndex(rec[:len(rec)-1], []byte("\n")) + 1
	sp := bytes.LastIndexByte(rec, ' ')
	raw, err := base64.StdEncoding.DecodeString(string(rec[sp+1 : len(rec)-1]))
	if err != nil || sp < line {
		t.Fatalf("no signature line in %q", rec)
	}
	raw = append(raw[:4:4], f(raw[4:])...)
	out := append([]byte(nil), rec[:sp+1]...)
	return append(append(out, base64.StdEncoding.EncodeToString(raw)...), '\n')
}

// flipLastBit changes s by one: a well-formed signature that does not verify.
func flipLastBit(der []byte) []byte {
	der = append([]byte(nil), der...)
	der[len(der)-1] ^= 1
	return der
}

// oddTwin turns (r, s) into (r, n−s): just as valid, but with odd R when
// (r, s) was normalised, so a batch holding it fails.
func oddTwin(t testing.TB) func(der []byte) []byte {
	return func(der []byte) []byte {
		twin, err := ecdsabatch.Twin(der)
		if err != nil {
			t.Fatalf("signature %x: %v", der, err)
		}
		return twin
	}
}

// TestVerifyBatchFallback checks 3000-entry logbooks, checked as one batch
// or (with blocks of 2048) as two: when a batch fails, its block is checked
// entry by entry, and the first bad entry is named exactly as without
// batches; when it fails only because a valid signature is not normalised,
// the logbook verifies.
func TestVerifyBatchFallback(t *testing.T) {
	const n = 3000
	if n > sigBlock {
		t.Fatalf("the test wants one signature block by default; sigBlock is %d", sigBlock)
	}
	badSig := func(name string) string {
		return "has a signature by " + name + " that does not verify (changed after signing)"
	}
	for _, tc := range []struct {
		name    string
		odd     bool
		edit    map[int]func([]byte) []byte // changes a signature
		resign  map[int]string              // signs an entry with this key instead
		wantIdx int64
		wantMsg string // "" = verifies
	}{
		{name: "normalised signatures"},
		{name: "signatures not normalised (older signers)", odd: true},
		{name: "odd twins of entries 7 and 2500", edit: map[int]func([]byte) []byte{7: oddTwin(t), 2500: oddTwin(t)}},
		{name: "bad signature in the middle", edit: map[int]func([]byte) []byte{1500: flipLastBit},
			wantIdx: 1500, wantMsg: badSig("alice")},
		{name: "bad signature in the second block", edit: map[int]func([]byte) []byte{2900: flipLastBit},
			wantIdx: 2900, wantMsg: badSig("carol")},
		{name: "bad signatures in both blocks", edit: map[int]func([]byte) []byte{2100: flipLastBit, 1000: flipLastBit, 1001: oddTwin(t)},
			wantIdx: 1000, wantMsg: badSig("bob")},
		{name: "bad first and last", odd: true, edit: map[int]func([]byte) []byte{0: flipLastBit, n - 1: flipLastBit},
			wantIdx: 0, wantMsg: badSig("alice")},
		{name: "signed by another actor", resign: map[int]string{1700: "alice"}, wantIdx: 1700, wantMsg: "is not signed by its actor carol (signed by alice)"},
		{name: "signed by a key not in the roster", resign: map[int]string{2500: "dave"},
			wantIdx: 2500, wantMsg: fmt.Sprintf("is signed only by keys not in the roster (dave+%08x)", testSigner(t, "dave").KeyHash())},
		{name: "bad signature before another actor", edit: map[int]func([]byte) []byte{1699: flipLastBit},
			resign: map[int]string{1700: "alice"}, wantIdx: 1699, wantMsg: badSig("bob")},
		{name: "another actor before a bad signature", edit: map[int]func([]byte) []byte{1701: flipLastBit},
			resign: map[int]string{1700: "alice"}, wantIdx: 1700, wantMsg: "is not signed by its actor carol (signed by alice)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "logbook")
			writeBigLog(t, dir, n, tc.odd, func(i int, rec []byte) []byte {
				if name := tc.resign[i]; name != "" {
					text := rec[:bytes.Index(rec, []byte("\n\n"))+1]
					var err error
					if rec, err = note.Sign(&note.Note{Text: string(text)}, testSigner(t, name)); err != nil {
						t.Fatal(err)
					}
				}
				if f := tc.edit[i]; f != nil {
					return editSignature(t, rec, f)
				}
				return rec
			})
			for _, block := range []int{0, 2048} {
				testingOnlySigBlock = block
				t.Cleanup(func() { testingOnlySigBlock = 0 })
				checkOpen(t, dir, n, tc.wantIdx, tc.wantMsg)
			}
		})
	}
}

// checkOpen opens the logbook in dir and checks that it has n entries, or,
// if wantMsg is not "", that it fails with that message about entry wantIdx.
func checkOpen(t *testing.T, dir string, n int, wantIdx int64, wantMsg string) {
	t.Helper()
	l, err := Open(dir, testRoster(t))
	if wantMsg == "" {
		if err != nil {
			t.Fatalf("Open (blocks of %d): %v", testingOnlySigBlock, err)
		}
		if l.Size() != int64(n) {
			t.Fatalf("size %d, want %d", l.Size(), n)
		}
		return
	}
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("Open (blocks of %d): %v, want a *VerifyError", testingOnlySigBlock, err)
	}
	if ve.Index != wantIdx || ve.Msg != wantMsg {
		t.Fatalf("Open (blocks of %d): entry %d %s\nwant: entry %d %s", testingOnlySigBlock, ve.Index, ve.Msg, wantIdx, wantMsg)
	}
}
