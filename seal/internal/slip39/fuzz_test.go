package slip39

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func addVectorSeeds(f *testing.F, add func(m string)) {
	for _, v := range loadVectors(f) {
		for _, m := range v.mnemonics {
			add(m)
		}
	}
}

// FuzzParseMnemonic: an accepted mnemonic is the canonical encoding of the
// share it gives, up to white space and letter case.
func FuzzParseMnemonic(f *testing.F) {
	addVectorSeeds(f, func(m string) { f.Add(m) })
	f.Add("ACADEMIC acid\tacoustic")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseMnemonic(in)
		if err != nil {
			if s.Value != nil {
				t.Fatal("a failed parse returned a share value")
			}
			return
		}
		want := strings.Join(strings.Fields(strings.ToLower(in)), " ")
		if got := s.Mnemonic(); got != want {
			t.Fatalf("accepted a second encoding of a share:\n%q\nre-encodes to\n%q", in, got)
		}
		var back Share
		if err := back.UnmarshalText([]byte(in)); err != nil || !sharesEqual(back, s) {
			t.Fatalf("UnmarshalText disagrees with ParseMnemonic: %v", err)
		}
	})
}

// FuzzUnmarshalBinary: an accepted packed share marshals back to exactly
// the input.
func FuzzUnmarshalBinary(f *testing.F) {
	addVectorSeeds(f, func(m string) {
		if s, err := ParseMnemonic(m); err == nil {
			b, _ := s.MarshalBinary()
			f.Add(b)
		}
	})
	f.Fuzz(func(t *testing.T, in []byte) {
		var s Share
		if err := s.UnmarshalBinary(in); err != nil {
			return
		}
		out, err := s.MarshalBinary()
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("accepted a second encoding of a share: %x re-encodes to %x (%v)", in, out, err)
		}
		if back, err := ParseMnemonic(s.Mnemonic()); err != nil || !sharesEqual(back, s) {
			t.Fatalf("the mnemonic of a packed share does not parse back: %v", err)
		}
	})
}

// combineErrors are the classes Combine may fail with.
var combineErrors = []error{ErrInvalidShare, ErrMismatch, ErrDuplicate, ErrNotEnoughGroups,
	ErrNotEnoughMembers, ErrTooManyShares, ErrDigest}

// FuzzCombine builds shares straight from bytes (so the fuzzer need not
// find checksums) and combines them: Combine must not panic, must fail only
// with one of its error classes, and must agree with Progress.
func FuzzCombine(f *testing.F) {
	for _, v := range loadVectors(f) {
		var buf []byte
		for _, m := range v.mnemonics {
			s, err := ParseMnemonic(m)
			if err != nil {
				continue
			}
			buf = append(buf, byte(s.ID), byte(s.ID>>8), s.GroupIndex<<4|(s.GroupThreshold-1),
				(s.GroupCount-1)<<4|s.MemberIndex, s.MemberThreshold-1, byte(len(s.Value)))
			buf = append(buf, s.Value...)
		}
		f.Add(buf)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var shares []Share
		for len(in) >= 6 && len(shares) < 40 {
			n := min(int(in[5]), len(in)-6)
			shares = append(shares, Share{
				ID:              uint16(in[0]) | uint16(in[1]&0x7F)<<8,
				Extendable:      in[1]&0x80 != 0,
				IterationExp:    0, // keep PBKDF2 cheap
				GroupIndex:      in[2] >> 4,
				GroupThreshold:  in[2]&0xF + 1,
				GroupCount:      in[3]>>4 + 1,
				MemberIndex:     in[3] & 0xF,
				MemberThreshold: in[4]&0xF + 1,
				Value:           in[6 : 6+n],
			})
			in = in[6+n:]
		}
		st, perr := Progress(shares)
		secret, err := Combine(shares, []byte("TREZOR"))
		if err == nil {
			if perr != nil || !st.Complete() || len(st.Use) != len(shares) {
				t.Fatalf("Combine succeeded but Progress says %+v, %v", st, perr)
			}
			if len(secret) != len(shares[0].Value) {
				t.Fatalf("a %d-byte secret from %d-byte shares", len(secret), len(shares[0].Value))
			}
			return
		}
		for _, want := range combineErrors {
			if errors.Is(err, want) {
				return
			}
		}
		t.Fatalf("Combine failed outside its error classes: %v", err)
	})
}
