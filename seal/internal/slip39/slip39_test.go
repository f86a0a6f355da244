package slip39

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// detRand is a deterministic reader for tests: SHA-256 in counter mode over
// a seed string.
type detRand struct {
	seed string
	n    int
	buf  []byte
}

func newDetRand(seed string) *detRand { return &detRand{seed: seed} }

func (r *detRand) Read(p []byte) (int, error) {
	for len(r.buf) < len(p) {
		s := sha256.Sum256(fmt.Appendf(nil, "%s/%d", r.seed, r.n))
		r.n++
		r.buf = append(r.buf, s[:]...)
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func testSecret(n int) []byte {
	s := make([]byte, n)
	for i := range s {
		s[i] = byte(i*37 + 11)
	}
	return s
}

// subsets returns every k-element subset of 0..n-1, in lexical order.
func subsets(n, k int) [][]int {
	var out [][]int
	var rec func(start int, cur []int)
	rec = func(start int, cur []int) {
		if len(cur) == k {
			out = append(out, slices.Clone(cur))
			return
		}
		for i := start; i < n; i++ {
			rec(i+1, append(cur, i))
		}
	}
	rec(0, nil)
	return out
}

// minimalSets returns every minimal collection of shares that recovers the
// secret: each choice of groupThreshold groups, times each choice of
// threshold members within them.
func minimalSets(groups [][]Share, groupThreshold int) [][]Share {
	var out [][]Share
	for _, gs := range subsets(len(groups), groupThreshold) {
		partial := [][]Share{nil}
		for _, gi := range gs {
			g := groups[gi]
			var next [][]Share
			for _, ms := range subsets(len(g), int(g[0].MemberThreshold)) {
				for _, p := range partial {
					set := slices.Clone(p)
					for _, mi := range ms {
						set = append(set, g[mi])
					}
					next = append(next, set)
				}
			}
			partial = next
		}
		out = append(out, partial...)
	}
	return out
}

var configs = []struct {
	name           string
	groupThreshold int
	groups         []GroupSpec
}{
	{"1 of 1", 1, []GroupSpec{{1, 1}}},
	{"2 of 2", 1, []GroupSpec{{2, 2}}},
	{"2 of 3", 1, []GroupSpec{{2, 3}}},
	{"3 of 5", 1, []GroupSpec{{3, 5}}},
	{"4 of 4", 1, []GroupSpec{{4, 4}}},
	{"security 3 of 5 and platform 1 of 1", 2, []GroupSpec{{3, 5}, {1, 1}}},
	{"either of two groups", 1, []GroupSpec{{2, 3}, {1, 1}}},
	{"2 of 3 groups", 2, []GroupSpec{{2, 3}, {1, 1}, {2, 2}}},
	{"3 of 3 groups", 3, []GroupSpec{{2, 2}, {1, 1}, {2, 3}}},
}

func TestGenerateCombine(t *testing.T) {
	for _, c := range configs {
		for _, size := range []int{16, 32} {
			t.Run(fmt.Sprintf("%s/%d bytes", c.name, size), func(t *testing.T) {
				secret := testSecret(size)
				passphrase := []byte("correct horse")
				groups, err := Generate(newDetRand(c.name), secret, passphrase, c.groupThreshold, c.groups, 0)
				if err != nil {
					t.Fatal(err)
				}
				checkShape(t, groups, c.groupThreshold, c.groups, size)

				for _, set := range minimalSets(groups, c.groupThreshold) {
					got, err := Combine(set, passphrase)
					if err != nil {
						t.Fatalf("%s: %v", describe(set), err)
					}
					if !bytes.Equal(got, secret) {
						t.Fatalf("%s: recovered %x, want %x", describe(set), got, secret)
					}
					// One share fewer never recovers anything.
					for drop := range set {
						less := slices.Delete(slices.Clone(set), drop, drop+1)
						if got, err := Combine(less, passphrase); err == nil {
							t.Fatalf("%s: recovered %x from one share too few", describe(less), got)
						} else if !errors.Is(err, ErrNotEnoughMembers) && !errors.Is(err, ErrNotEnoughGroups) {
							t.Fatalf("%s: %v, want not enough members or groups", describe(less), err)
						}
					}
					// The shares, in any order, give the same secret.
					rev := slices.Clone(set)
					slices.Reverse(rev)
					if got, err := Combine(rev, passphrase); err != nil || !bytes.Equal(got, secret) {
						t.Fatalf("%s reversed: %x, %v", describe(set), got, err)
					}
				}
			})
		}
	}
}

func checkShape(t *testing.T, groups [][]Share, groupThreshold int, specs []GroupSpec, size int) {
	t.Helper()
	if len(groups) != len(specs) {
		t.Fatalf("%d groups, want %d", len(groups), len(specs))
	}
	id := groups[0][0].ID
	for gi, g := range groups {
		if len(g) != specs[gi].Count {
			t.Fatalf("group %d has %d shares, want %d", gi+1, len(g), specs[gi].Count)
		}
		for mi, s := range g {
			want := Share{ID: id, Extendable: true, GroupIndex: uint8(gi), GroupThreshold: uint8(groupThreshold),
				GroupCount: uint8(len(specs)), MemberIndex: uint8(mi), MemberThreshold: uint8(specs[gi].Threshold),
				Value: s.Value}
			if !sharesEqual(s, want) || len(s.Value) != size {
				t.Fatalf("share %d/%d = %+v, want metadata %+v", gi+1, mi+1, s, want)
			}
			back, err := ParseMnemonic(s.Mnemonic())
			if err != nil || !sharesEqual(back, s) {
				t.Fatalf("share %d/%d: mnemonic round trip: %v", gi+1, mi+1, err)
			}
		}
	}
}

func describe(set []Share) string {
	var parts []string
	for _, s := range set {
		parts = append(parts, fmt.Sprintf("g%dm%d", s.GroupIndex+1, s.MemberIndex+1))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// TestTooFewSharesForged lies about the threshold: k-1 shares relabelled as
// a complete set must be caught by the digest, never give a wrong secret.
func TestTooFewSharesForged(t *testing.T) {
	for _, spec := range []GroupSpec{{3, 3}, {3, 5}, {4, 6}, {5, 5}, {16, 16}} {
		t.Run(fmt.Sprintf("%d of %d", spec.Threshold, spec.Count), func(t *testing.T) {
			groups, err := Generate(newDetRand("forge"), testSecret(32), nil, 1, []GroupSpec{spec}, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, idx := range subsets(spec.Count, spec.Threshold-1) {
				var set []Share
				for _, i := range idx {
					s := groups[0][i]
					s.MemberThreshold = uint8(spec.Threshold - 1)
					set = append(set, s)
				}
				if got, err := Combine(set, nil); !errors.Is(err, ErrDigest) {
					t.Fatalf("%v: got %x, %v; want a digest mismatch", idx, got, err)
				}
			}
		})
	}
	// The same at the level of groups: two of three groups relabelled as
	// a threshold of two when three are needed.
	groups, err := Generate(newDetRand("forge groups"), testSecret(16), nil, 3,
		[]GroupSpec{{1, 1}, {1, 1}, {1, 1}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	set := []Share{groups[0][0], groups[2][0]}
	for i := range set {
		set[i].GroupThreshold = 2
	}
	if got, err := Combine(set, nil); !errors.Is(err, ErrDigest) {
		t.Fatalf("got %x, %v; want a digest mismatch", got, err)
	}
}

// TestSplitRecoverSubsets works below the encryption: every threshold-subset
// of every small split recovers the secret, and every smaller subset treated
// as complete fails the digest.
func TestSplitRecoverSubsets(t *testing.T) {
	secret := testSecret(16)
	for n := 1; n <= 7; n++ {
		for k := 1; k <= n; k++ {
			values, err := splitSecret(newDetRand(fmt.Sprint(k, n)), k, n, secret)
			if err != nil {
				t.Fatal(err)
			}
			pointsOf := func(idx []int) []point {
				var ps []point
				for _, i := range idx {
					ps = append(ps, point{byte(i), values[i]})
				}
				return ps
			}
			for _, idx := range subsets(n, k) {
				got, err := recoverSecret(k, pointsOf(idx))
				if err != nil || !bytes.Equal(got, secret) {
					t.Fatalf("%d of %d, shares %v: %x, %v", k, n, idx, got, err)
				}
			}
			if k < 3 {
				continue // a threshold of 1 has no digest to check
			}
			for _, idx := range subsets(n, k-1) {
				if got, err := recoverSecret(k-1, pointsOf(idx)); !errors.Is(err, ErrDigest) {
					t.Fatalf("%d of %d, shares %v as %d of them: %x, %v; want a digest mismatch", k, n, idx, k-1, got, err)
				}
			}
		}
	}
}

// TestTamperedShare flips each bit of one share value in turn.
func TestTamperedShare(t *testing.T) {
	groups, err := Generate(newDetRand("tamper"), testSecret(32), nil, 1, []GroupSpec{{2, 3}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 32 * 8 {
		bad := groups[0][1]
		bad.Value = slices.Clone(bad.Value)
		bad.Value[i/8] ^= 1 << (i % 8)
		if got, err := Combine([]Share{groups[0][0], bad}, nil); !errors.Is(err, ErrDigest) {
			t.Fatalf("bit %d flipped: %x, %v; want a digest mismatch", i, got, err)
		}
	}
}

// TestTamperedMnemonic changes each word of a mnemonic, and swaps each pair
// of neighbouring words: the checksum must catch every one.
func TestTamperedMnemonic(t *testing.T) {
	groups, err := Generate(newDetRand("words"), testSecret(32), nil, 1, []GroupSpec{{2, 3}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	words := strings.Fields(groups[0][2].Mnemonic())
	list, index := wordTables()
	for i := range words {
		for _, delta := range []uint16{1, 512, 1023} {
			bad := slices.Clone(words)
			bad[i] = list[(index[bad[i]]+delta)%1024]
			if _, err := ParseMnemonic(strings.Join(bad, " ")); !errors.Is(err, ErrChecksum) {
				t.Fatalf("word %d changed: %v, want a checksum error", i+1, err)
			}
		}
		if i+1 < len(words) && words[i] != words[i+1] {
			bad := slices.Clone(words)
			bad[i], bad[i+1] = bad[i+1], bad[i]
			if _, err := ParseMnemonic(strings.Join(bad, " ")); !errors.Is(err, ErrChecksum) {
				t.Fatalf("words %d and %d swapped: %v, want a checksum error", i+1, i+2, err)
			}
		}
	}
	// A word dropped or added changes the length.
	for _, bad := range [][]string{words[1:], append(slices.Clone(words), "academic")} {
		if _, err := ParseMnemonic(strings.Join(bad, " ")); err == nil {
			t.Fatalf("%d words accepted", len(bad))
		}
	}
}

func TestParseMnemonicForms(t *testing.T) {
	v := loadVectors(t)[0].mnemonics[0]
	want, err := ParseMnemonic(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, form := range []string{
		strings.ToUpper(v),
		"  " + strings.ReplaceAll(v, " ", "\n\t") + "\n",
	} {
		got, err := ParseMnemonic(form)
		if err != nil || !sharesEqual(got, want) {
			t.Errorf("%q: %+v, %v", form, got, err)
		}
	}
	words := strings.Fields(v)
	for _, c := range []struct {
		name  string
		input string
		want  error
	}{
		{"empty", "", ErrLength},
		{"unknown word", strings.Join(append([]string{"bitcoin"}, words[1:]...), " "), ErrUnknownWord},
		{"prefix only", strings.Join(append([]string{words[0][:4]}, words[1:]...), " "), ErrUnknownWord},
		{"long word", strings.Join(append([]string{"academicacademic"}, words[1:]...), " "), ErrUnknownWord},
		{"too many words", strings.Repeat("academic ", 1001), ErrLength},
	} {
		_, err := ParseMnemonic(c.input)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if err != nil && strings.Contains(c.input, "bitcoin") && strings.Contains(err.Error(), "bitcoin") {
			t.Errorf("%s: error %q repeats a word", c.name, err)
		}
	}
}

func TestUnmarshalBinaryRejects(t *testing.T) {
	groups, err := Generate(newDetRand("bin"), testSecret(32), nil, 1, []GroupSpec{{1, 1}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	good, err := groups[0][0].MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(good) != 42 { // 33 words · 10 bits, rounded up to bytes
		t.Errorf("packed share is %d bytes, want 42", len(good))
	}
	for _, c := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrLength},
		{"one byte short", good[:len(good)-1], ErrLength},
		{"one byte long", append(slices.Clone(good), 0), ErrLength},
		{"trailing bits set", append(slices.Clone(good[:len(good)-1]), good[len(good)-1]|1), ErrPadding},
		{"a bit flipped", append([]byte{good[0] ^ 0x80}, good[1:]...), ErrChecksum},
	} {
		var s Share
		if err := s.UnmarshalBinary(c.data); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
		if s.Value != nil {
			t.Errorf("%s: share changed on error", c.name)
		}
	}
}

func TestGenerateRejects(t *testing.T) {
	for _, c := range []struct {
		name           string
		secret         []byte
		passphrase     string
		groupThreshold int
		groups         []GroupSpec
		exp            uint8
	}{
		{"short secret", testSecret(14), "", 1, []GroupSpec{{1, 1}}, 0},
		{"odd secret", testSecret(17), "", 1, []GroupSpec{{1, 1}}, 0},
		{"huge secret", testSecret(2000), "", 1, []GroupSpec{{1, 1}}, 0},
		{"passphrase not ASCII", testSecret(16), "pässword", 1, []GroupSpec{{1, 1}}, 0},
		{"passphrase with newline", testSecret(16), "a\n", 1, []GroupSpec{{1, 1}}, 0},
		{"exponent", testSecret(16), "", 1, []GroupSpec{{1, 1}}, 16},
		{"no groups", testSecret(16), "", 1, nil, 0},
		{"17 groups", testSecret(16), "", 1, slices.Repeat([]GroupSpec{{1, 1}}, 17), 0},
		{"group threshold 0", testSecret(16), "", 0, []GroupSpec{{1, 1}}, 0},
		{"group threshold above count", testSecret(16), "", 2, []GroupSpec{{1, 1}}, 0},
		{"member threshold above count", testSecret(16), "", 1, []GroupSpec{{3, 2}}, 0},
		{"member threshold 0", testSecret(16), "", 1, []GroupSpec{{0, 2}}, 0},
		{"17 members", testSecret(16), "", 1, []GroupSpec{{2, 17}}, 0},
		{"1 of 2", testSecret(16), "", 1, []GroupSpec{{1, 2}}, 0},
	} {
		_, err := Generate(nil, c.secret, []byte(c.passphrase), c.groupThreshold, c.groups, c.exp)
		if !errors.Is(err, ErrParameters) {
			t.Errorf("%s: %v, want invalid parameters", c.name, err)
		}
	}
	if _, err := Generate(io.LimitReader(newDetRand("x"), 10), testSecret(16), nil, 1, []GroupSpec{{3, 3}}, 0); err == nil {
		t.Error("short randomness: no error")
	}
}

func TestGenerateDeterministic(t *testing.T) {
	gen := func(seed string) string {
		groups, err := Generate(newDetRand(seed), testSecret(32), []byte("x"), 1, []GroupSpec{{2, 3}}, 1)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range groups[0] {
			out = append(out, s.Mnemonic())
		}
		return strings.Join(out, "\n")
	}
	if a, b := gen("a"), gen("a"); a != b {
		t.Error("the same randomness gave different shares")
	}
	if a, b := gen("a"), gen("b"); a == b {
		t.Error("different randomness gave the same shares")
	}
	// crypto/rand gives different identifiers (with overwhelming probability
	// over a few tries).
	ids := map[uint16]bool{}
	for range 8 {
		groups, err := Generate(nil, testSecret(16), nil, 1, []GroupSpec{{1, 1}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		ids[groups[0][0].ID] = true
	}
	if len(ids) < 2 {
		t.Error("crypto/rand gave the same identifier 8 times")
	}
}

func TestPassphrase(t *testing.T) {
	secret := testSecret(16)
	groups, err := Generate(newDetRand("pass"), secret, []byte("TREZOR"), 1, []GroupSpec{{1, 1}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Combine(groups[0], []byte("TREZOR"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("right passphrase: %x, %v", got, err)
	}
	// SLIP-0039 cannot tell a wrong passphrase: it gives another secret.
	got, err = Combine(groups[0], []byte("trezor"))
	if err != nil || bytes.Equal(got, secret) {
		t.Fatalf("wrong passphrase: %x, %v; want a different secret and no error", got, err)
	}
}

func TestCombineRejects(t *testing.T) {
	groups, err := Generate(newDetRand("rejects"), testSecret(16), nil, 2, []GroupSpec{{2, 3}, {1, 1}, {2, 2}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Generate(newDetRand("other"), testSecret(16), nil, 2, []GroupSpec{{2, 3}, {1, 1}, {2, 2}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	g1, g2, g3 := groups[0], groups[1], groups[2]
	modified := func(s Share, f func(*Share)) Share {
		s.Value = slices.Clone(s.Value)
		f(&s)
		return s
	}
	for _, c := range []struct {
		name   string
		shares []Share
		want   error
		share  int // the share a *ShareError names, from 1; 0 for none
	}{
		{"none", nil, ErrNotEnoughGroups, 0},
		{"one group", []Share{g1[0], g1[1]}, ErrNotEnoughGroups, 0},
		{"all groups", []Share{g1[0], g1[1], g2[0], g3[0], g3[1]}, ErrTooManyShares, 0},
		{"extra member", []Share{g1[0], g1[1], g1[2], g2[0]}, ErrTooManyShares, 0},
		{"member missing", []Share{g1[0], g2[0]}, ErrNotEnoughMembers, 0},
		{"same share twice", []Share{g1[0], g2[0], g1[0]}, ErrDuplicate, 3},
		{"same member index", []Share{g1[0], g2[0], modified(g1[1], func(s *Share) { s.MemberIndex = 0 })}, ErrDuplicate, 3},
		{"share from another set", []Share{g1[0], other[0][1], g2[0]}, ErrMismatch, 2},
		{"other identifier", []Share{g1[0], g1[1], modified(g2[0], func(s *Share) { s.ID ^= 1 })}, ErrMismatch, 3},
		{"other length", []Share{g1[0], g1[1], modified(g2[0], func(s *Share) { s.Value = append(s.Value, 0, 0) })}, ErrMismatch, 3},
		{"other exponent", []Share{g1[0], modified(g1[1], func(s *Share) { s.IterationExp = 1 })}, ErrMismatch, 2},
		{"other extendable flag", []Share{g1[0], modified(g1[1], func(s *Share) { s.Extendable = false })}, ErrMismatch, 2},
		{"other member threshold", []Share{g1[0], modified(g1[1], func(s *Share) { s.MemberThreshold = 3 })}, ErrMismatch, 2},
		{"invalid share", []Share{g1[0], modified(g1[1], func(s *Share) { s.Value = s.Value[:15] })}, ErrInvalidShare, 2},
		{"value tampered", []Share{g1[0], modified(g1[1], func(s *Share) { s.Value[3] ^= 4 }), g2[0]}, ErrDigest, 0},
		{"another set's value", []Share{g1[0], modified(g1[1], func(s *Share) { s.Value = other[0][1].Value }), g2[0]}, ErrDigest, 0},
	} {
		got, err := Combine(c.shares, nil)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %x, %v; want %v", c.name, got, err, c.want)
			continue
		}
		var se *ShareError
		if isShare := errors.As(err, &se); isShare != (c.share != 0) || (isShare && se.Index+1 != c.share) {
			t.Errorf("%s: %v; want it to name share %d", c.name, err, c.share)
		}
	}
}

func TestProgress(t *testing.T) {
	// "2 of security (3 of 5) and platform (1 of 1)", with a third group.
	groups, err := Generate(newDetRand("progress"), testSecret(32), nil, 2, []GroupSpec{{3, 5}, {1, 1}, {2, 2}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	sec, plat := groups[0], groups[1]

	st, err := Progress(nil)
	if err != nil || st.Complete() || len(st.Groups) != 0 {
		t.Fatalf("no shares: %+v, %v", st, err)
	}

	var have []Share
	steps := []struct {
		add            Share
		complete       bool
		completeGroups int
		needs          map[int]int // group index → shares still needed
	}{
		{sec[4], false, 0, map[int]int{0: 2}},
		{sec[1], false, 0, map[int]int{0: 1}},
		{plat[0], false, 1, map[int]int{0: 1, 1: 0}},
		{sec[2], true, 2, map[int]int{0: 0, 1: 0}},
		{sec[0], true, 2, map[int]int{0: 0, 1: 0}}, // one more than needed
	}
	for n, step := range steps {
		have = append(have, step.add)
		st, err := Progress(have)
		if err != nil {
			t.Fatalf("step %d: %v", n+1, err)
		}
		if st.GroupThreshold != 2 || st.GroupCount != 3 || st.Complete() != step.complete ||
			st.CompleteGroups != step.completeGroups || st.GroupsNeeded() != 2-step.completeGroups {
			t.Fatalf("step %d: %+v", n+1, st)
		}
		if len(st.Groups) != len(step.needs) {
			t.Fatalf("step %d: %d groups reported, want %d", n+1, len(st.Groups), len(step.needs))
		}
		for _, g := range st.Groups {
			if need, ok := step.needs[g.Index]; !ok || g.Needed() != need || g.Complete() != (need == 0) {
				t.Fatalf("step %d: group %+v, want %d more", n+1, g, need)
			}
		}
		if !st.Complete() {
			continue
		}
		if want := []int{0, 1, 2, 3}; !slices.Equal(st.Use, want) {
			t.Fatalf("step %d: use %v, want %v", n+1, st.Use, want)
		}
		var use []Share
		for _, i := range st.Use {
			use = append(use, have[i])
		}
		got, err := Combine(use, nil)
		if err != nil || !bytes.Equal(got, testSecret(32)) {
			t.Fatalf("step %d: combining the shares in Use: %x, %v", n+1, got, err)
		}
	}

	// A share that does not fit is named.
	_, err = Progress(append(slices.Clone(have), sec[1]))
	var se *ShareError
	if !errors.Is(err, ErrDuplicate) || !errors.As(err, &se) || se.Index != len(have) {
		t.Fatalf("duplicate: %v", err)
	}
}

func BenchmarkGenerate(b *testing.B) {
	secret := testSecret(32)
	for b.Loop() {
		groups, err := Generate(nil, secret, nil, 1, []GroupSpec{{3, 5}}, 0)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range groups[0] {
			s.Wipe()
		}
	}
}

func BenchmarkCombine(b *testing.B) {
	secret := testSecret(32)
	groups, err := Generate(nil, secret, nil, 1, []GroupSpec{{3, 5}}, 0)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		got, err := Combine(groups[0][:3], nil)
		if err != nil {
			b.Fatal(err)
		}
		wipe(got)
	}
}

// BenchmarkInterpolate measures the field arithmetic alone: recovering a
// 32-byte secret and its digest from 3 shares, without PBKDF2.
func BenchmarkInterpolate(b *testing.B) {
	values, err := splitSecret(newDetRand("bench"), 3, 5, testSecret(32))
	if err != nil {
		b.Fatal(err)
	}
	points := []point{{0, values[0]}, {2, values[2]}, {4, values[4]}}
	for b.Loop() {
		if _, err := recoverSecret(3, points); err != nil {
			b.Fatal(err)
		}
	}
}

func TestShareStringHidesValue(t *testing.T) {
	s := Share{ID: 7, GroupThreshold: 1, GroupCount: 1, MemberThreshold: 1, Value: bytes.Repeat([]byte{0xAB}, 16)}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, s)
		if strings.Contains(strings.ToLower(out), "abab") || strings.Contains(out, "171") {
			t.Errorf("%s prints the value: %s", format, out)
		}
	}
	if want := "slip39 share (set 7, group 1 of 1, 1 needed; member 1, 1 needed; 16 bytes)"; s.String() != want {
		t.Errorf("String() = %q, want %q", s.String(), want)
	}
}

func TestParseMnemonicsNamesShare(t *testing.T) {
	v := loadVectors(t)[3].mnemonics // 2-of-3, two valid mnemonics
	words := strings.Fields(v[1])
	words[5] = "academic"
	_, err := ParseMnemonics([]string{v[0], strings.Join(words, " ")})
	var se *ShareError
	if !errors.As(err, &se) || se.Index != 1 || !errors.Is(err, ErrChecksum) {
		t.Fatalf("%v; want a checksum error naming share 2", err)
	}
	if want := "share 2: invalid checksum — a word is wrong or swapped"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
}
