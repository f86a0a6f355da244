package witness

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	_, v1, _ := GenerateKey("w1.example")
	_, v2, _ := GenerateKey("w2.example")
	c, err := ParseConfig([]byte("# witnesses\n\nquorum 2\nwitness " + v1 + " https://w1.example/witness/\nwitness " + v2 + "\ntimeout 3s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Quorum != 2 || c.Timeout != 3*time.Second || len(c.Witnesses) != 2 {
		t.Fatalf("config %+v", c)
	}
	if w := c.Witness("w1.example"); w == nil || w.URL != "https://w1.example/witness" || w.Verifier.String() != v1 {
		t.Fatalf("w1: %+v", w)
	}
	if w := c.Witness("w2.example"); w == nil || w.URL != "" {
		t.Fatalf("w2: %+v", w)
	}
	c, err = ParseConfig([]byte("quorum 1\nwitness " + v1 + " http://127.0.0.1:7380\n"))
	if err != nil || c.Timeout != DefaultTimeout {
		t.Fatalf("default timeout: %+v, %v", c, err)
	}

	for _, tc := range []struct{ in, want string }{
		{"", "witnesses: names no witness"},
		{"witness " + v1 + "\n", "witnesses: has no quorum line (want: quorum K, e.g. quorum 1)"},
		{"quorum 2\nwitness " + v1 + "\n", "witnesses:1: quorum 2, but only 1 witnesses are named"},
		{"quorum 0\nwitness " + v1 + "\n", `witnesses:1: quorum "0": want a number of witnesses, at least 1`},
		{"quorum 01\nwitness " + v1 + "\n", `witnesses:1: quorum "01"`},
		{"quorum 1\nquorum 1\n", "witnesses:2: a second quorum line (the first is line 1)"},
		{"quorum 1\nwitness " + v1 + "\nwitness " + v1 + "\n", "witnesses:3: witness w1.example is already named on line 2"},
		{"quorum 1\nwitness " + v1 + " ftp://x\n", `witnesses:2: witness w1.example: URL "ftp://x": want http(s)://HOST[/PREFIX]`},
		{"quorum 1\nwitness " + v1 + " https://x/?a=b\n", `URL "https://x/?a=b"`},
		{"quorum 1\nwitness " + v1 + " https://x a\n", "witnesses:2: want: witness VKEY [URL]"},
		{"quorum 1\nwitness nope\n", "witnesses:2: malformed witness key"},
		{"quorum 1\nquorom 1\n", `witnesses:2: unknown line "quorom": want quorum, timeout or witness`},
		{"quorum 1\ntimeout forever\nwitness " + v1 + "\n", `witnesses:2: timeout "forever"`},
		{"quorum 1\ntimeout 1h\nwitness " + v1 + "\n", `witnesses:2: timeout "1h"`},
	} {
		_, err := ParseConfig([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%q) = %v; want an error containing %q", tc.in, err, tc.want)
		}
	}
}

func TestReadConfigMissing(t *testing.T) {
	if _, err := ReadConfig(t.TempDir()); err != ErrNoConfig {
		t.Fatalf("ReadConfig of a logbook without witnesses: %v; want ErrNoConfig", err)
	}
}

// FuzzParseConfig: what parses has a quorum within the witnesses and
// distinct names.
func FuzzParseConfig(f *testing.F) {
	_, v1, _ := GenerateKey("w1.example")
	_, v2, _ := GenerateKey("w2.example")
	f.Add("quorum 2\nwitness " + v1 + " https://w1.example\nwitness " + v2 + "\n")
	f.Add("quorum 1\ntimeout 2s\nwitness " + v1 + " http://127.0.0.1:1\n# c\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConfig([]byte(s))
		if err != nil {
			return
		}
		if c.Quorum < 1 || c.Quorum > len(c.Witnesses) || c.Timeout <= 0 {
			t.Fatalf("accepted %q: %+v", s, c)
		}
		seen := map[string]bool{}
		for _, w := range c.Witnesses {
			if seen[w.Name] {
				t.Fatalf("accepted %q with %s twice", s, w.Name)
			}
			seen[w.Name] = true
		}
	})
}

// TestSpecExample: the witnesses file in docs/format-logbook.md parses.
func TestSpecExample(t *testing.T) {
	b, err := os.ReadFile("../../docs/format-logbook.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "```\n# Witnesses of breakglass.example/acme/prod.\n"
	_, ex, ok := strings.Cut(string(b), start)
	ex, _, ok2 := strings.Cut(ex, "```")
	if !ok || !ok2 {
		t.Fatal("no witnesses file example in docs/format-logbook.md")
	}
	c, err := ParseConfig([]byte(ex))
	if err != nil {
		t.Fatalf("the spec's example: %v", err)
	}
	if c.Quorum != 2 || len(c.Witnesses) != 3 || c.Witnesses[2].URL != "" {
		t.Fatalf("the spec's example: %+v", c)
	}
}
