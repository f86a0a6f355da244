package slip39

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// vector is one entry of testdata/vectors.json: a description, mnemonics,
// the master secret in hex ("" when combining must fail) and a BIP-32 key
// we do not use.
type vector struct {
	description string
	mnemonics   []string
	secret      string
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw [][]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	var out []vector
	for i, r := range raw {
		var v vector
		if len(r) != 4 {
			t.Fatalf("vector %d: %d fields, want 4", i+1, len(r))
		}
		for k, dst := range []any{&v.description, &v.mnemonics, &v.secret} {
			if err := json.Unmarshal(r[k], dst); err != nil {
				t.Fatalf("vector %d field %d: %v", i+1, k, err)
			}
		}
		out = append(out, v)
	}
	return out
}

// wantError maps the reason a must-fail vector gives in its description to
// the error class it must produce.
func wantError(t *testing.T, description string) error {
	t.Helper()
	for _, c := range []struct {
		phrase string
		err    error
	}{
		{"invalid checksum", ErrChecksum},
		{"invalid padding", ErrPadding},
		{"Basic sharing 2-of-3", ErrNotEnoughMembers}, // one share of two
		{"different identifiers", ErrMismatch},
		{"different iteration exponents", ErrMismatch},
		{"mismatching group thresholds", ErrMismatch},
		{"mismatching group counts", ErrMismatch},
		{"greater group threshold than group counts", ErrInvalidShare},
		{"duplicate member indices", ErrDuplicate},
		{"mismatching member thresholds", ErrMismatch},
		{"invalid digest", ErrDigest},
		{"Insufficient number of groups", ErrNotEnoughGroups},
		{"insufficient number of members", ErrNotEnoughMembers},
		{"insufficient length", ErrLength},
		{"invalid master secret length", ErrLength},
	} {
		if strings.Contains(description, c.phrase) {
			return c.err
		}
	}
	t.Fatalf("no expected error class for %q", description)
	return nil
}

func TestVectorsFile(t *testing.T) {
	data, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	const want = "13ebecebdd869dd2bc2cdf69e7ce3a158cf106cac76c39d17682b1c6cdabbdc4"
	if got := hex.EncodeToString(sha256Sum(data)); got != want {
		t.Errorf("testdata/vectors.json SHA-256 = %s, want %s (the official file, unmodified)", got, want)
	}
	vs := loadVectors(t)
	valid := 0
	for _, v := range vs {
		if v.secret != "" {
			valid++
		}
	}
	if len(vs) != 45 || valid != 15 {
		t.Errorf("%d vectors, %d valid; want 45, 15", len(vs), valid)
	}
}

func TestVectors(t *testing.T) {
	passphrase := []byte("TREZOR")
	for _, v := range loadVectors(t) {
		t.Run(v.description, func(t *testing.T) {
			shares, err := ParseMnemonics(v.mnemonics)
			var secret []byte
			if err == nil {
				secret, err = Combine(shares, passphrase)
			}

			if v.secret == "" {
				want := wantError(t, v.description)
				if err == nil {
					t.Fatalf("combined to %x, want an error", secret)
				}
				if !errors.Is(err, want) {
					t.Fatalf("error %q, want one wrapping %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(secret); got != v.secret {
				t.Errorf("master secret %s, want %s", got, v.secret)
			}
			for i, s := range shares {
				if got := s.Mnemonic(); got != v.mnemonics[i] {
					t.Errorf("share %d re-encodes to\n%s\nwant\n%s", i+1, got, v.mnemonics[i])
				}
				bin, err := s.MarshalBinary()
				if err != nil {
					t.Fatal(err)
				}
				var back Share
				if err := back.UnmarshalBinary(bin); err != nil {
					t.Fatalf("share %d: binary form does not parse: %v", i+1, err)
				}
				if !sharesEqual(back, s) {
					t.Errorf("share %d: binary round trip changed the share", i+1)
				}
			}
			st, err := Progress(shares)
			if err != nil || !st.Complete() || len(st.Use) != len(shares) {
				t.Errorf("Progress = %+v, %v; want complete, using every share", st, err)
			}
		})
	}
}

func sharesEqual(a, b Share) bool {
	return a.ID == b.ID && a.Extendable == b.Extendable && a.IterationExp == b.IterationExp &&
		a.GroupIndex == b.GroupIndex && a.GroupThreshold == b.GroupThreshold && a.GroupCount == b.GroupCount &&
		a.MemberIndex == b.MemberIndex && a.MemberThreshold == b.MemberThreshold && bytes.Equal(a.Value, b.Value)
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func TestWordlist(t *testing.T) {
	const want = "bcc4555340332d169718aed8bf31dd9d5248cb7da6e5d355140ef4f1e601eec3"
	if got := hex.EncodeToString(sha256Sum([]byte(wordlistText))); got != want {
		t.Fatalf("wordlist.txt SHA-256 = %s, want %s", got, want)
	}
	list, index := wordTables()
	if list[0] != "academic" || list[1023] != "zero" || len(index) != 1024 {
		t.Errorf("word list: first %q, last %q, %d distinct", list[0], list[1023], len(index))
	}
	prefixes := map[string]bool{}
	for i, w := range list {
		if len(w) < 4 || len(w) > maxWordLen {
			t.Errorf("word %d %q has %d letters", i, w, len(w))
		}
		if prefixes[w[:4]] {
			t.Errorf("word %d %q repeats a 4-letter prefix", i, w)
		}
		prefixes[w[:4]] = true
		if i > 0 && list[i-1] >= w {
			t.Errorf("word %d %q is out of order", i, w)
		}
	}
}
