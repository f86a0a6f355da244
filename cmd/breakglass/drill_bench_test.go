package main

// The drill goal of issue #15: a drill run of all five custodians on
// virtual cards (auto touch), in a case with a logbook, spends under a
// second of tool time. BenchmarkDrillRun5 times whole drill runs in
// process, as the CLI runs them: parse the .glass, verify the logbook,
// five custodians tap (each card signs its approval, unwraps its share for
// the commitment check and signs its tap entry), three shares rebuild the
// key, the lead's card signs the drill entry.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/breakglass/breakglass/logbook/casedir"
)

func (ub *unsealBench) drill(tb testing.TB) {
	tb.Helper()
	ub.runs++
	args := []string{"drill", "run", "bench.glass", "--operator", "oscar", "--ticket", fmt.Sprintf("BENCH-%d", ub.runs)}
	for _, r := range ub.readers {
		args = append(args, "--reader", r)
	}
	ub.cmd(tb, args...)
}

// checkDrills makes sure the logbook holds a passing drill entry per run,
// with all five custodians proved, and five tap entries per run.
func (ub *unsealBench) checkDrills(tb testing.TB) {
	tb.Helper()
	entries, err := os.ReadFile(filepath.Join(casedir.LogbookDir, "entries"))
	if err != nil {
		tb.Fatal(err)
	}
	count := func(re string) int { return len(regexp.MustCompile(re).FindAll(entries, -1)) }
	if n := count(`(?m)^detail tapped alice,bob,carol,dave,erin$`); n != ub.runs {
		tb.Errorf("%d drill entries with all five proved after %d runs", n, ub.runs)
	}
	if n := count(`(?m)^kind tap$`); n != unsealBenchCustodians*ub.runs {
		tb.Errorf("%d tap entries after %d runs, want %d", n, ub.runs, unsealBenchCustodians*ub.runs)
	}
}

func BenchmarkDrillRun5(b *testing.B) {
	ub := newCaseBench(b, 0)
	ub.drill(b) // warm up
	b.ResetTimer()
	for b.Loop() {
		ub.drill(b)
	}
	b.StopTimer()
	ub.checkDrills(b)
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(per.Seconds(), "s/drill")
	b.ReportMetric(0, "ns/op")
	if per > time.Second {
		b.Errorf("a drill run of 5 custodians takes %v of tool time, more than 1s", per)
	}
}

// TestDrillRun5Once runs the benchmark's drill once, so that make test
// keeps it working.
func TestDrillRun5Once(t *testing.T) {
	ub := newCaseBench(t, 0)
	t0 := time.Now()
	ub.drill(t)
	t.Logf("drill run of 5 custodians: %v", time.Since(t0))
	ub.checkDrills(t)
}
