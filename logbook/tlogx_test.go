package logbook

import (
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// TestProveConsistency: the proofs a witness gets verify with tlog.CheckTree
// between every pair of sizes, and TreeHash agrees with the checkpoints.
func TestProveConsistency(t *testing.T) {
	dir, ckpts := buildLog(t, "breakglass.example/acme/prod", 8)
	l, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	for old := int64(0); old <= l.Size(); old++ {
		oldHash, err := l.TreeHash(old)
		if err != nil {
			t.Fatal(err)
		}
		if old > 0 {
			c, err := OpenCheckpoint(ckpts[old-1], testRoster(t))
			if err != nil || c.N != old || c.Hash != oldHash {
				t.Fatalf("TreeHash(%d) = %v; checkpoint %+v, %v", old, oldHash, c, err)
			}
		}
		p, err := l.ProveConsistency(old)
		if err != nil {
			t.Fatal(err)
		}
		if (old == 0 || old == l.Size()) && len(p) != 0 {
			t.Fatalf("proof from %d to %d has %d hashes, want none", old, l.Size(), len(p))
		}
		if old > 0 {
			if err := tlog.CheckTree(p, l.Size(), l.Checkpoint().Hash, old, oldHash); err != nil {
				t.Fatalf("proof from %d: %v", old, err)
			}
		}
	}
	if _, err := l.ProveConsistency(l.Size() + 1); err == nil {
		t.Fatal("a proof from beyond the logbook")
	}
	if _, err := l.TreeHash(-1); err == nil {
		t.Fatal("TreeHash(-1)")
	}
}
