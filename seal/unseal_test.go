package seal

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
)

// groupSpec describes a roster for table tests: per group, its threshold
// and its custodians' kinds.
type groupSpec struct {
	threshold int
	kinds     []string
}

func groupParams(t testing.TB, gt int, gs []groupSpec) Params {
	p := Params{Name: "table", SealedBy: "test", CreatedAt: testTime, GroupThreshold: gt}
	key := 0
	for gi, g := range gs {
		grp := Group{Name: fmt.Sprintf("group-%d", gi), Threshold: g.threshold}
		for _, kind := range g.kinds {
			c := custodian(t, fmt.Sprintf("c%d", key), key)
			if kind == KindPaper {
				c.Recipient = ""
			}
			c.Kind = kind
			grp.Custodians = append(grp.Custodians, c)
			key++
		}
		p.Groups = append(p.Groups, grp)
	}
	return p
}

// give hands custodian idx's share to u: a tap for tokens, the mnemonic
// for paper.
func give(t testing.TB, u *Unseal, h *Header, s *Sealed, idx int) error {
	t.Helper()
	c, _ := h.custodian(idx)
	if !c.Paper() {
		got, err := u.Tap(testKey(t, idx))
		if err == nil && got != idx {
			t.Fatalf("tap %d: got custodian %d", idx, got)
		}
		return err
	}
	for _, p := range s.Paper {
		if p.Index == idx {
			_, err := u.AddMnemonic(p.Mnemonic)
			return err
		}
	}
	t.Fatalf("no paper share for %d", idx)
	return nil
}

func TestGroups(t *testing.T) {
	piv, p11, paper := KindPIV, KindPKCS11, KindPaper
	for _, tc := range []struct {
		name string
		gt   int
		gs   []groupSpec
	}{
		{"1 of 1", 1, []groupSpec{{1, []string{piv}}}},
		{"2 of 2", 1, []groupSpec{{2, []string{piv, p11}}}},
		{"2 of 3", 1, []groupSpec{{2, []string{piv, piv, piv}}}},
		{"1 of 3", 1, []groupSpec{{1, []string{piv, paper, piv}}}},
		{"3 of 5 with paper", 1, []groupSpec{{3, []string{piv, paper, piv, p11, paper}}}},
		{"2 of security and 1 of platform", 2, []groupSpec{{2, []string{piv, piv, piv}}, {1, []string{p11, paper}}}},
		{"1 of two groups", 1, []groupSpec{{2, []string{piv, piv}}, {1, []string{paper}}}},
		{"2 of three groups", 2, []groupSpec{{1, []string{piv}}, {2, []string{piv, paper}}, {1, []string{piv, piv}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := groupParams(t, tc.gt, tc.gs)
			file, sealed := sealString(t, "secret for "+tc.name, p, 3)
			h := sealed.Header
			n := len(h.Custodians())
			// Every subset, in index order: it opens exactly when enough
			// groups have enough members.
			for mask := 0; mask < 1<<n; mask++ {
				f, err := Parse(bytes.NewReader(file))
				if err != nil {
					t.Fatal(err)
				}
				u := f.NewUnseal()
				have := make([]int, len(h.Groups))
				for idx := range n {
					if mask&(1<<idx) == 0 {
						continue
					}
					gi, _, _ := h.position(idx)
					err := give(t, u, h, sealed, idx)
					full := have[gi] >= h.Groups[gi].Threshold || completeGroups(h, have) >= h.GroupThreshold
					switch {
					case full && !errors.Is(err, ErrGroupComplete):
						t.Fatalf("mask %b: custodian %d: got %v, want ErrGroupComplete", mask, idx, err)
					case !full && err != nil:
						t.Fatalf("mask %b: custodian %d: %v", mask, idx, err)
					case !full:
						have[gi]++
					}
				}
				want := completeGroups(h, have) >= h.GroupThreshold
				if pr := u.Progress(); pr.Complete != want {
					t.Fatalf("mask %b: progress says complete=%v, want %v", mask, pr.Complete, want)
				}
				r, err := u.Open()
				if !want {
					if !errors.Is(err, ErrNotEnoughShares) {
						t.Fatalf("mask %b: got %v, want ErrNotEnoughShares", mask, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("mask %b: %v", mask, err)
				}
				got, err := io.ReadAll(r)
				if err != nil || string(got) != "secret for "+tc.name {
					t.Fatalf("mask %b: got %q, %v", mask, got, err)
				}
			}
		})
	}
}

func completeGroups(h *Header, have []int) int {
	n := 0
	for i, g := range h.Groups {
		if have[i] >= g.Threshold {
			n++
		}
	}
	return n
}

func TestProgress(t *testing.T) {
	p := groupParams(t, 2, []groupSpec{{2, []string{KindPIV, KindPIV, KindPIV}}, {1, []string{KindPIV, KindPaper}}})
	file, _ := sealString(t, "x", p, 4)
	f, _ := Parse(bytes.NewReader(file))
	u := f.NewUnseal()
	if _, err := u.Tap(testKey(t, 1)); err != nil {
		t.Fatal(err)
	}
	pr := u.Progress()
	want := Progress{GroupThreshold: 2, Groups: []GroupProgress{
		{Name: "group-0", Threshold: 2, Have: 1, Tapped: []string{"c1"}, Waiting: []string{"c0", "c2"}},
		{Name: "group-1", Threshold: 1, Waiting: []string{"c3", "c4"}},
	}}
	if fmt.Sprint(pr) != fmt.Sprint(want) {
		t.Fatalf("got %+v\nwant %+v", pr, want)
	}
	if pr.Groups[0].Needed() != 1 || pr.Groups[1].Needed() != 1 {
		t.Fatal("Needed is wrong")
	}
	if err := u.CanTap(1); !errors.Is(err, ErrAlreadyTapped) {
		t.Fatalf("CanTap(1): %v", err)
	}
	if err := u.CanTap(5); !errors.Is(err, ErrNotInRoster) {
		t.Fatalf("CanTap(5): %v", err)
	}
	if err := u.CanTap(0); err != nil {
		t.Fatalf("CanTap(0): %v", err)
	}
	u.Tap(testKey(t, 3))
	if err := u.CanTap(4); !errors.Is(err, ErrGroupComplete) {
		t.Fatalf("CanTap(4) after its 1-of-2 group is complete: %v", err)
	}
	u.Tap(testKey(t, 0))
	if pr := u.Progress(); !pr.Complete || pr.GroupsComplete != 2 {
		t.Fatalf("got %+v", pr)
	}
}

// rebuild re-encodes a parsed file with changes, recomputing the digest
// (what a forger, or a careless editor, can do without any key).
func rebuild(t testing.TB, file []byte, change func(f *File)) []byte {
	t.Helper()
	f, err := Parse(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	change(f)
	block, err := f.marshalBlock()
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(file, []byte(blockEnd+"\n")) + len(blockEnd) + 1
	return append(block, file[i:]...)
}

// wrapShare encrypts a share plaintext to custodian key i, as Seal does.
func wrapShare(t testing.TB, i int, pt []byte) []byte {
	r, err := TagRecipient(testKey(t, i).PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, _ := age.Encrypt(&b, r)
	w.Write(pt)
	w.Close()
	return b.Bytes()
}

func TestUnsealErrors(t *testing.T) {
	p := basicParams(t, 2, 3)
	p.Custodians[2].Kind, p.Custodians[2].Recipient = KindPaper, ""
	fileA, sealedA := sealString(t, "secret A", p, 10)
	fileB, sealedB := sealString(t, "secret B", p, 11)
	parse := func(b []byte) *Unseal {
		t.Helper()
		f, err := Parse(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return f.NewUnseal()
	}
	// mnemonicOf opens custodian i's share of file with its key.
	mnemonicOf := func(file []byte, i int) []byte {
		f, _ := Parse(bytes.NewReader(file))
		id, _ := NewTagIdentity(testKey(t, i))
		r, err := age.Decrypt(bytes.NewReader(f.shares[i]), id)
		if err != nil {
			t.Fatal(err)
		}
		pt, _ := io.ReadAll(r)
		s, err := parseSharePlaintext(pt)
		if err != nil {
			t.Fatal(err)
		}
		return s.mnemonic
	}

	t.Run("not in roster, no ECDH", func(t *testing.T) {
		u := parse(fileA)
		n := 0
		_, err := u.Tap(countingKX{testKey(t, 7), &n})
		if !errors.Is(err, ErrNotInRoster) || n != 0 {
			t.Fatalf("got %v after %d ECDH", err, n)
		}
	})
	t.Run("duplicate tap", func(t *testing.T) {
		u := parse(fileA)
		n := 0
		kx := countingKX{testKey(t, 0), &n}
		if _, err := u.Tap(kx); err != nil {
			t.Fatal(err)
		}
		_, err := u.Tap(kx)
		var se *ShareError
		if !errors.Is(err, ErrAlreadyTapped) || !errors.As(err, &se) || se.Custodian != "custodian-0" || n != 1 {
			t.Fatalf("got %v after %d ECDH", err, n)
		}
	})
	t.Run("duplicate mnemonic", func(t *testing.T) {
		u := parse(fileA)
		if _, err := u.AddMnemonic(sealedA.Paper[0].Mnemonic); err != nil {
			t.Fatal(err)
		}
		if _, err := u.AddMnemonic(strings.ToUpper(sealedA.Paper[0].Mnemonic)); !errors.Is(err, ErrAlreadyTapped) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("fewer than k", func(t *testing.T) {
		u := parse(fileA)
		u.Tap(testKey(t, 1))
		if _, err := u.Open(); !errors.Is(err, ErrNotEnoughShares) {
			t.Fatalf("got %v", err)
		}
		u = parse(fileA)
		if err := u.Drill(); !errors.Is(err, ErrNotEnoughShares) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("share from another file", func(t *testing.T) {
		fb, _ := Parse(bytes.NewReader(fileB))
		mixed := rebuild(t, fileA, func(f *File) { f.shares[0] = fb.shares[0] })
		u := parse(mixed)
		if _, err := u.Tap(testKey(t, 0)); !errors.Is(err, ErrOtherFile) {
			t.Fatalf("got %v", err)
		}
		// A paper share of another file matches no commitment.
		u = parse(fileA)
		if _, err := u.AddMnemonic(sealedB.Paper[0].Mnemonic); !errors.Is(err, ErrUnknownMnemonic) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("share from before a reseal", func(t *testing.T) {
		u := parse(fileA)
		u.Tap(testKey(t, 0))
		u.Tap(testKey(t, 1))
		var b bytes.Buffer
		resealed, err := Reseal(&b, u, p, detRand(12))
		if err != nil {
			t.Fatal(err)
		}
		fileC := b.Bytes()
		if hA := sealedA.HeaderHash; !bytes.Equal(resealed.Header.Previous, hA[:]) {
			t.Fatal("reseal did not record the previous header hash")
		}
		fa, _ := Parse(bytes.NewReader(fileA))
		old := rebuild(t, fileC, func(f *File) { f.shares[0] = fa.shares[0] })
		u = parse(old)
		if _, err := u.Tap(testKey(t, 0)); !errors.Is(err, ErrBeforeReseal) {
			t.Fatalf("got %v", err)
		}
		u = parse(fileC)
		if _, err := u.AddMnemonic(sealedA.Paper[0].Mnemonic); !errors.Is(err, ErrUnknownMnemonic) {
			t.Fatalf("old paper share: got %v", err)
		}
		// The new shares open the new file.
		u.Tap(testKey(t, 1))
		u.AddMnemonic(resealed.Paper[0].Mnemonic)
		if got := open(t, u); got != "secret A" {
			t.Fatalf("got %q", got)
		}
		// Old mnemonics (k of them) recover the old identity, not the new.
		if resealed.Header.Recipient == sealedA.Header.Recipient {
			t.Fatal("reseal kept the identity")
		}
	})
	t.Run("wrong share in a valid wrapping", func(t *testing.T) {
		fa, _ := Parse(bytes.NewReader(fileA))
		H := fa.HeaderHash()
		m1 := mnemonicOf(fileA, 1)
		// Custodian 0's wrapping holds custodian 1's mnemonic.
		bad := rebuild(t, fileA, func(f *File) {
			f.shares[0] = wrapShare(t, 0, (&sharePlaintext{headerHash: H, index: 0, mnemonic: m1}).marshal())
		})
		if _, err := parse(bad).Tap(testKey(t, 0)); !errors.Is(err, ErrBadShare) {
			t.Fatalf("got %v", err)
		}
		// Marked for another custodian.
		bad = rebuild(t, fileA, func(f *File) {
			f.shares[0] = wrapShare(t, 0, (&sharePlaintext{headerHash: H, index: 1, mnemonic: m1}).marshal())
		})
		if _, err := parse(bad).Tap(testKey(t, 0)); !errors.Is(err, ErrBadShare) {
			t.Fatalf("got %v", err)
		}
		// Not a share at all.
		bad = rebuild(t, fileA, func(f *File) { f.shares[0] = wrapShare(t, 0, []byte("hello")) })
		if _, err := parse(bad).Tap(testKey(t, 0)); !errors.Is(err, ErrBadShare) {
			t.Fatalf("got %v", err)
		}
		// Wrapped to another key: the token is the custodian's, the share is not.
		n := 0
		bad = rebuild(t, fileA, func(f *File) { f.shares[0] = fa.shares[1] })
		if _, err := parse(bad).Tap(countingKX{testKey(t, 0), &n}); !errors.Is(err, ErrWrongToken) || n != 0 {
			t.Fatalf("got %v after %d ECDH", err, n)
		}
	})
	t.Run("mnemonic with a typo", func(t *testing.T) {
		w := strings.Fields(sealedA.Paper[0].Mnemonic)
		w[5], w[6] = w[6], w[5]
		if _, err := parse(fileA).AddMnemonic(strings.Join(w, " ")); !errors.Is(err, ErrUnknownMnemonic) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wiped", func(t *testing.T) {
		u := parse(fileA)
		u.Tap(testKey(t, 0))
		u.Wipe()
		if _, err := u.Tap(testKey(t, 1)); !errors.Is(err, ErrWiped) {
			t.Fatalf("got %v", err)
		}
		if _, err := u.Open(); !errors.Is(err, ErrWiped) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("drill", func(t *testing.T) {
		u := parse(fileA)
		u.Tap(testKey(t, 0))
		u.AddMnemonic(sealedA.Paper[0].Mnemonic)
		if err := u.Drill(); err != nil {
			t.Fatal(err)
		}
		if len(u.shares) != 0 {
			t.Fatal("drill did not wipe the shares")
		}
	})
}

// TestForgedHeader: a forger who rewrites the header (and its digest) but
// cannot re-split the identity is caught by the recipient check or the
// header MAC, before a byte of payload is decrypted.
func TestForgedHeader(t *testing.T) {
	p := basicParams(t, 2, 2)
	for i := range p.Custodians {
		p.Custodians[i].Kind, p.Custodians[i].Recipient = KindPaper, ""
	}
	file, sealed := sealString(t, "secret", p, 20)
	other, _ := sealString(t, "other", p, 21)
	fo, _ := Parse(bytes.NewReader(other))
	for _, tc := range []struct {
		name   string
		change func(f *File)
		want   error
	}{
		{"renamed", func(f *File) { f.Header.Name = "prod-aws-2" }, ErrHeaderMAC},
		{"use case added", func(f *File) { f.Header.UseCases = append(f.Header.UseCases, "anything") }, ErrHeaderMAC},
		{"recipient swapped", func(f *File) { f.Header.Recipient = fo.Header.Recipient }, ErrWrongIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forged := rebuild(t, file, tc.change)
			f, err := Parse(bytes.NewReader(forged))
			if err != nil {
				t.Fatal(err)
			}
			if f.HeaderHash() == sealed.HeaderHash {
				t.Fatal("the header hash did not change")
			}
			u := f.NewUnseal()
			for _, ps := range sealed.Paper {
				if _, err := u.AddMnemonic(ps.Mnemonic); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := u.Open(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSealErrors(t *testing.T) {
	var b bytes.Buffer
	if _, err := Seal(&b, strings.NewReader(""), basicParams(t, 2, 3), nil); !errors.Is(err, ErrEmptySecret) || b.Len() != 0 {
		t.Fatalf("empty secret: got %v, wrote %d bytes", err, b.Len())
	}
	bad := func(f func(p *Params)) Params {
		p := basicParams(t, 2, 3)
		f(&p)
		return p
	}
	for _, tc := range []struct {
		name string
		p    Params
	}{
		{"threshold 0", bad(func(p *Params) { p.Threshold = 0 })},
		{"threshold above n", bad(func(p *Params) { p.Threshold = 4 })},
		{"no name", bad(func(p *Params) { p.Name = "" })},
		{"newline in scope", bad(func(p *Params) { p.Scope = "a\nb" })},
		{"duplicate use case", bad(func(p *Params) { p.UseCases = []string{"a", "a"} })},
		{"duplicate custodian", bad(func(p *Params) { p.Custodians[1].Name = p.Custodians[0].Name })},
		{"duplicate key", bad(func(p *Params) { p.Custodians[1].Recipient = p.Custodians[0].Recipient })},
		{"token without key", bad(func(p *Params) { p.Custodians[1].Recipient = "" })},
		{"paper with key", bad(func(p *Params) { p.Custodians[1].Kind = KindPaper })},
		{"x25519 recipient", bad(func(p *Params) {
			p.Custodians[1].Recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
		})},
		{"hybrid tag recipient", bad(func(p *Params) { p.Custodians[1].Recipient = "age1tagpq1" })},
		{"no sealed-by", bad(func(p *Params) { p.SealedBy = "" })},
		{"17 custodians", bad(func(p *Params) {
			for i := 3; i < 17; i++ {
				p.Custodians = append(p.Custodians, custodian(t, fmt.Sprint(i), i))
			}
		})},
		{"both groups and custodians", bad(func(p *Params) { p.Groups = []Group{{Name: "g", Threshold: 1, Custodians: p.Custodians}} })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if _, err := Seal(&b, strings.NewReader("x"), tc.p, nil); err == nil || b.Len() != 0 {
				t.Fatalf("got %v, wrote %d bytes", err, b.Len())
			}
		})
	}
}

var errCardPulled = errors.New("card pulled out")

// pulledKX is a token that is in the roster but was pulled out.
type pulledKX struct{ countingKX }

func (p pulledKX) ECDH(*ecdh.PublicKey) ([]byte, error) { return nil, errCardPulled }

// TestCardPulled: a token failure during a tap keeps the taps already made,
// names the custodian, and keeps the token's own error for errors.Is.
func TestCardPulled(t *testing.T) {
	file, _ := sealString(t, "secret", basicParams(t, 3, 3), 40)
	f, _ := Parse(bytes.NewReader(file))
	u := f.NewUnseal()
	for i := range 2 {
		if _, err := u.Tap(testKey(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	_, err := u.Tap(pulledKX{countingKX{testKey(t, 2), new(int)}})
	var se *ShareError
	if !errors.Is(err, errCardPulled) || !errors.As(err, &se) || se.Custodian != "custodian-2" {
		t.Fatalf("got %v", err)
	}
	if err := u.CanTap(2); err != nil {
		t.Fatalf("custodian 2 cannot tap again: %v", err)
	}
	if _, err := u.Tap(testKey(t, 2)); err != nil {
		t.Fatal(err)
	}
	if got := open(t, u); got != "secret" {
		t.Fatalf("got %q", got)
	}
}
