package casedir

import (
	"encoding/hex"
	"testing"

	"github.com/breakglass/breakglass/logbook"
)

// TestPending: a change whose entry could not be appended is found again
// and fits only while the file holds its header and nothing of the secret
// was appended since; once appended, it is recognised as such.
func TestPending(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	c, recs, keys := newCase(t)
	l, _ := c.Log()
	old := sealFor(t, recs["alice"])
	oh := old.HeaderHash()
	if _, err := c.Append(-1, logbook.Entry{Kind: logbook.KindSeal, Secret: "demo", HeaderHash: oh[:], Reason: "seal"}, recs["alice"], keys["alice"]); err != nil {
		t.Fatal(err)
	}
	cur := sealFor(t, recs["alice"], recs["bob"])
	ch := cur.HeaderHash()
	e := logbook.Entry{Kind: logbook.KindRotate, Secret: "demo", HeaderHash: ch[:], Reason: "rotate",
		Details: map[string]string{"previous-header-hash": hex.EncodeToString(oh[:])}}
	if p, _ := c.LoadPending("demo"); p != nil {
		t.Fatal("a pending entry out of nowhere")
	}
	if err := c.SavePending(l, "aws rotate", "demo.glass", e); err != nil {
		t.Fatal(err)
	}
	p, err := c.LoadPending("demo")
	if err != nil || p == nil || p.Command != "aws rotate" {
		t.Fatalf("load: %+v, %v", p, err)
	}
	if got := p.Check(l, cur); got != PendingFits {
		t.Fatalf("fits: %v", got)
	}
	if got := p.Check(l, old); got != PendingStale {
		t.Fatalf("another file: %v", got)
	}
	if _, err := c.Append(-1, p.Entry, recs["bob"], keys["bob"]); err != nil {
		t.Fatal(err)
	}
	if got := p.Check(l, cur); got != PendingAppended {
		t.Fatalf("appended: %v", got)
	}
	c.DropPending("demo")
	if p, _ := c.LoadPending("demo"); p != nil {
		t.Fatal("dropped entry still there")
	}
}
