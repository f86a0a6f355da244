package bech32

import (
	"bytes"
	"testing"

	"filippo.io/age"
	"filippo.io/age/plugin"
)

func TestBIP173(t *testing.T) {
	for _, tc := range []struct {
		hrp  string
		data []byte
		want string
	}{
		{"a", nil, "a12uel5l"},
		{"A", nil, "A12UEL5L"},
		{"abcdef", []byte{0x00, 0x44, 0x32, 0x14, 0xc7, 0x42, 0x54, 0xb6, 0x35, 0xcf, 0x84, 0x65, 0x3a, 0x56, 0xd7, 0xc6, 0x75, 0xbe, 0x77, 0xdf},
			"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw"},
	} {
		got, err := Encode(tc.hrp, tc.data)
		if err != nil || got != tc.want {
			t.Errorf("Encode(%q, %x) = %q, %v; want %q", tc.hrp, tc.data, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "Ab", "a b"} {
		if _, err := Encode(bad, nil); err == nil {
			t.Errorf("Encode(%q) succeeded", bad)
		}
	}
}

// TestAgeAgrees: age parses what Encode writes, and age's own encoder
// (through the plugin package) writes the same string.
func TestAgeAgrees(t *testing.T) {
	for i := range 32 {
		scalar := bytes.Repeat([]byte{byte(i*7 + 1)}, 32)
		s, err := Encode("AGE-SECRET-KEY-", scalar)
		if err != nil {
			t.Fatal(err)
		}
		id, err := age.ParseX25519Identity(s)
		if err != nil {
			t.Fatal(err)
		}
		if id.String() != s {
			t.Fatalf("age re-encodes %q as %q", s, id.String())
		}
		data := bytes.Repeat([]byte{byte(i)}, i+1)
		ours, _ := Encode("age1x", data)
		if theirs := plugin.EncodeRecipient("x", data); ours != theirs {
			t.Fatalf("got %q, age gives %q", ours, theirs)
		}
	}
}
