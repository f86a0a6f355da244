package enrolled

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/breakglass/breakglass/token"
)

func record(name, fp string) *token.Record {
	r := &token.Record{Keys: &token.RecordKeys{}}
	r.Custodian.Name = name
	r.Keys.Signing.Fingerprint = fp
	return r
}

// TestPINMemory: a PIN is replayed only once a signature proved it; a
// wrong one is asked for again; Forget wipes them; people do not share
// PINs.
func TestPINMemory(t *testing.T) {
	var o Opener
	alice, bob := record("alice", "aa"), record("bob", "bb")
	asked := 0
	typed := []string{"111111", "123456"}
	src := func() ([]byte, error) { p := typed[asked]; asked++; return []byte(p), nil }

	p, _ := o.PIN(alice, src)()
	if string(p) != "111111" || asked != 1 {
		t.Fatalf("first PIN %q, asked %d", p, asked)
	}
	// Not proven (a wrong PIN): asked again.
	p, _ = o.PIN(alice, src)()
	if string(p) != "123456" || asked != 2 {
		t.Fatalf("second PIN %q, asked %d", p, asked)
	}
	o.Proven(alice)
	p, _ = o.PIN(alice, src)()
	if string(p) != "123456" || asked != 2 {
		t.Fatalf("a proven PIN was asked for again (%q, asked %d)", p, asked)
	}
	// bob's PIN is his own.
	bobAsked := false
	if _, err := o.PIN(bob, func() ([]byte, error) { bobAsked = true; return nil, token.ErrCancelled })(); !errors.Is(err, token.ErrCancelled) || !bobAsked {
		t.Fatalf("bob got alice's PIN (err %v)", err)
	}
	known := o.known["aa"]
	o.Forget()
	for _, b := range known {
		if b != 0 {
			t.Fatal("Forget did not wipe the PIN")
		}
	}
	if _, err := o.PIN(alice, nil)(); !errors.Is(err, token.ErrCancelled) {
		t.Fatalf("after Forget the PIN is still known: %v", err)
	}
}

func TestOpenPaper(t *testing.T) {
	var o Opener
	r := record("pat", "pp")
	r.Token.Kind = token.KindPaper
	_, err := o.Open(r, Options{})
	var nt *NoTokenError
	if !errors.As(err, &nt) || nt.Custodian != "pat" {
		t.Fatalf("Open(paper) = %v", err)
	}
}

func TestOwner(t *testing.T) {
	if Owner("", func(*token.Record) bool { return true }) != "" {
		t.Error("Owner of no directory named someone")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.card.json"), []byte("not a record"), 0o600); err != nil {
		t.Fatal(err)
	}
	if Owner(dir, func(*token.Record) bool { return true }) != "" {
		t.Error("Owner named the owner of an unparsable record")
	}
}
