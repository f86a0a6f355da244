package qrtext

import (
	"bytes"
	"strings"
	"testing"
)

func TestScanned(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"breakglass remote request v1\nid: 1\n", "breakglass remote request v1\nid: 1\n"}, // canonical
		{"breakglass remote request v1\nid: 1", "breakglass remote request v1\nid: 1\n"},   // the final newline dropped
		{"breakglass remote request v1\nid: 1\n\n", "breakglass remote request v1\nid: 1\n"},
		{"id: 1\r\n", "id: 1\n"},
		{"id: 1\n\r\n\n", "id: 1\n"},
		{"a\r\nb\n", "a\r\nb\n"},   // inside the text nothing changes
		{"a\n\nb\n", "a\n\nb\n"},   // nor a blank line
		{" id: 1 \n", " id: 1 \n"}, // nor spaces
		{"id: 1 \n\n", "id: 1 \n"}, // a space before the end stays
		{"id: 1\t", "id: 1\t\n"},   // only CR and LF are line ends
		{"", ""},                   // nothing
		{"\n", "\n"},               // only line ends
		{"\r\n\n", "\r\n\n"},
	} {
		if got := Scanned([]byte(c.in)); string(got) != c.want {
			t.Errorf("Scanned(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestScannedDoesNotShareMemory(t *testing.T) {
	for _, in := range []string{"id: 1\n", "id: 1", "id: 1\n\n", "\n"} {
		b := make([]byte, len(in), len(in)+8) // room to append in place
		copy(b, in)
		got := Scanned(b)
		for i := range got {
			got[i] = 'x'
		}
		if string(b) != in {
			t.Errorf("changing Scanned(%q) changed its input to %q", in, b)
		}
	}
}

// FuzzScanned: Scanned is idempotent, leaves canonical text (ending in
// exactly one LF after something else) unchanged, and changes nothing but
// the run of line ends at the end.
func FuzzScanned(f *testing.F) {
	for _, s := range []string{"", "\n", "\r\n", "id: 1\n", "id: 1", "id: 1\r\n\n", "a\r\nb\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in := bytes.Clone(b)
		got := Scanned(b)
		if !bytes.Equal(b, in) {
			t.Fatalf("Scanned changed its input %q to %q", in, b)
		}
		if again := Scanned(got); !bytes.Equal(again, got) {
			t.Fatalf("not idempotent: %q → %q → %q", in, got, again)
		}
		body := strings.TrimRight(string(in), "\r\n")
		if body == "" {
			if !bytes.Equal(got, in) {
				t.Fatalf("Scanned(%q) = %q: text of line ends only must stay as it is", in, got)
			}
			return
		}
		if string(got) != body+"\n" {
			t.Fatalf("Scanned(%q) = %q, want %q", in, got, body+"\n")
		}
		if canonical := body+"\n" == string(in); canonical != bytes.Equal(got, in) {
			t.Fatalf("Scanned(%q) = %q: canonical text must stay, anything else must change", in, got)
		}
	})
}
