package seal

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestRecover(t *testing.T) {
	var out bytes.Buffer
	p := Params{Name: "r", SealedBy: "t", Threshold: 2, Custodians: []Custodian{
		{Name: "a", Kind: KindPaper}, {Name: "b", Kind: KindPaper}, {Name: "c", Kind: KindPaper}}}
	s, err := Seal(&out, strings.NewReader("hi"), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := func(i int) string { return s.Paper[i].Mnemonic }
	for _, tc := range []struct {
		name     string
		in       []string
		complete bool
		err      error
	}{
		{"two", []string{m(0), m(2)}, true, nil},
		{"three", []string{m(0), m(1), m(2)}, true, nil},
		{"duplicate and case", []string{strings.ToUpper(m(1)), m(1), "  " + m(2)}, true, nil},
		{"one", []string{m(1)}, false, ErrNotEnoughShares},
		{"none", nil, false, ErrNotEnoughShares},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := CheckMnemonics(tc.in)
			if tc.in != nil && (err != nil || st.Complete != tc.complete) {
				t.Fatalf("CheckMnemonics = %+v, %v", st, err)
			}
			scalar, err := Recover(tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Recover error %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			id, _ := IdentityString(scalar)
			xid, err := x25519Identity(scalar)
			if err != nil || xid.Recipient().String() != s.Header.Recipient || !strings.HasPrefix(id, "AGE-SECRET-KEY-1") {
				t.Fatalf("recovered the wrong identity")
			}
		})
	}
	if _, err := Recover([]string{m(0), "not a mnemonic at all"}); err == nil {
		t.Fatal("a malformed mnemonic was accepted")
	}
}

// FuzzShareMnemonic: an accepted share plaintext is the canonical encoding
// of what was parsed.
func FuzzShareMnemonic(f *testing.F) {
	f.Add([]byte("breakglass share v1\nheader-hash: " + strings.Repeat("ab", 32) + "\ncustodian: 3\nmnemonic: academic acid acrobat\n"))
	f.Add([]byte("breakglass share v1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, idx, err := ShareMnemonic(b)
		if err != nil {
			if m != nil || idx != -1 {
				t.Fatal("a rejected share returned values")
			}
			return
		}
		s, _ := parseSharePlaintext(b)
		if out := s.marshal(); !bytes.Equal(out, b) || !bytes.Equal(s.mnemonic, m) || s.index != idx {
			t.Fatalf("accepted a non-canonical share plaintext %q", b)
		}
	})
}

// FuzzRecover: Recover succeeds exactly when CheckMnemonics says the set is
// complete, and never panics on arbitrary words.
func FuzzRecover(f *testing.F) {
	var out bytes.Buffer
	s, err := Seal(&out, strings.NewReader("x"), Params{Name: "f", SealedBy: "t", Threshold: 2,
		Custodians: []Custodian{{Name: "a", Kind: KindPaper}, {Name: "b", Kind: KindPaper}}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(s.Paper[0].Mnemonic, s.Paper[1].Mnemonic)
	f.Add(s.Paper[0].Mnemonic, s.Paper[0].Mnemonic)
	f.Add("academic acid", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		st, cerr := CheckMnemonics([]string{a, b})
		scalar, rerr := Recover([]string{a, b})
		if (cerr == nil && st.Complete) != (rerr == nil) {
			t.Fatalf("CheckMnemonics = %+v, %v but Recover error %v", st, cerr, rerr)
		}
		if rerr == nil && len(scalar) != 32 {
			t.Fatalf("recovered %d bytes", len(scalar))
		}
	})
}
