package drills

import (
	"fmt"
	"testing"
	"time"

	"github.com/breakglass/breakglass/logbook"
)

// BenchmarkStatus: drill status over a case with 50 secrets and a
// 100,000-entry logbook (the goal is under 2 s with the logbook's own
// verification, about 1 s of it; see docs/performance.md).
func BenchmarkStatus(b *testing.B) {
	var secrets []Secret
	var hashes [][32]byte
	for i := range 50 {
		h := paperSecret(b, fmt.Sprintf("s%02d", i), 2, "alice", "bob", "carol", "dave", "erin")
		secrets = append(secrets, Secret{File: h.Name + ".glass", Header: h})
		hashes = append(hashes, h.Hash())
	}
	entries := make([]*logbook.Entry, 0, 100000)
	names := []string{"alice", "bob", "carol", "dave", "erin"}
	for i := range 100000 {
		s := i % 50
		e := &logbook.Entry{Index: int64(i), Time: t0.Add(-time.Duration(100000-i) * time.Minute), Secret: secrets[s].Header.Name}
		switch i % 4 {
		case 0:
			e.Kind, e.HeaderHash = logbook.KindDrill, hashes[s][:]
			e.Details = map[string]string{logbook.DetailResult: logbook.DrillPass, logbook.DetailTapped: names[i%5] + "," + names[(i+1)%5]}
		default:
			e.Kind, e.Details = logbook.KindTap, map[string]string{"custodian": names[i%5]}
		}
		entries = append(entries, e)
	}
	b.ResetTimer()
	for b.Loop() {
		st := Status(entries, secrets, Options{Now: t0})
		if len(st) != 50 {
			b.Fatal(len(st))
		}
	}
}
