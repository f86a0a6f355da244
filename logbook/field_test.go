package logbook

import (
	"strings"
	"testing"
)

func TestOneLine(t *testing.T) {
	long := strings.Repeat("x", 299)
	for _, tt := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a\nb\x7fc\td", "a b c d"},
		{"  padded \r\n", "padded"},
		{"nel\u0085csi\u009bend", "nel csi end"}, // C1 controls: the format refuses them too
		{"bad \xff utf-8", "bad \ufffd utf-8"},
		{strings.Repeat("x", 400), strings.Repeat("x", 300)},
		{long + "é and more", long},                          // not cut inside é (2 bytes at 299)
		{long + " tail", long},                               // no trailing space after the cut
		{strings.Repeat("€", 101), strings.Repeat("€", 100)}, // 3-byte characters: 300 bytes
		{"\n\t ", ""},
	} {
		got := OneLine(tt.in)
		if got != tt.want {
			t.Errorf("OneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestCleanDetailsKeepsLongValues: machine values go into an entry whole,
// however long; a tap's approval (base64 of a ~250-byte message) was cut at
// 300 bytes.
func TestCleanDetailsKeepsLongValues(t *testing.T) {
	approval := strings.Repeat("QUJD", 120) // 480 bytes of base64
	d := CleanDetails(map[string]string{"approval": approval, "empty": " \n", "list": " alice,bob\n"})
	if d["approval"] != approval || d["list"] != "alice,bob" {
		t.Errorf("CleanDetails = %q", d)
	}
	if _, ok := d["empty"]; ok {
		t.Error("an empty value was kept")
	}
	if got := Value(strings.Repeat("é", 400)); got != strings.Repeat("é", 400) {
		t.Errorf("Value cut %d bytes to %d", 800, len(got))
	}
}

// FuzzOneLine: whatever goes in, what comes out is empty or a value the
// entry format accepts, at most 300 bytes, and OneLine leaves it as it is;
// a value that is already valid and short enough is unchanged.
func FuzzOneLine(f *testing.F) {
	for _, s := range []string{"", "a\nb", "x\u0085y", "\xff", strings.Repeat("é", 200), " a "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := OneLine(s)
		if out != "" && checkValue("value", out) != nil {
			t.Fatalf("OneLine(%q) = %q: %v", s, out, checkValue("value", out))
		}
		if len(out) > 300 {
			t.Fatalf("OneLine(%q) has %d bytes", s, len(out))
		}
		if again := OneLine(out); again != out {
			t.Fatalf("OneLine not idempotent: %q then %q", out, again)
		}
		if len(s) <= 300 && checkValue("value", s) == nil && out != s {
			t.Fatalf("OneLine changed the valid value %q to %q", s, out)
		}
		v := Value(s)
		if v != "" && checkValue("value", v) != nil || Value(v) != v || checkValue("value", s) == nil && v != s {
			t.Fatalf("Value(%q) = %q", s, v)
		}
	})
}
