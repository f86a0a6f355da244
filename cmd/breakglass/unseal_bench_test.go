package main

// The tap-time goal of issue #5: unseal a secret sealed 3 of 5 to virtual
// cards with auto-touch, in a case with a logbook, in under a second of
// tool time, and under 50 ms per tap beyond the card's own ECDH.
//
// BenchmarkUnseal3of5 times whole unseal runs, in process, as the CLI runs
// them (run with the same arguments): parse the .glass, verify the
// logbook, the operator's card signs the unseal-start entry, three
// custodians tap (each card signs its approval, does the ECDH of its share
// and signs its tap entry), the operator's card signs the release, the
// secret goes to a new file. Five custodians' readers are watched; two of
// them are empty.
//
// It reports:
//
//	s/unseal         the tool time of one unseal
//	ECDH-ms          one GENERAL AUTHENTICATE ECDH round trip through
//	                 pcscd + vpcd to one of the cards, measured in the same
//	                 benchmark (median of a few, PIN already verified)
//	ms/tap-beyond-ECDH  what one tap costs beyond the card's ECDH:
//	                 the same unseal of a second secret, sealed 1 of 5 to
//	                 the same cards, runs beside each 3-of-5 one (untimed
//	                 by the benchmark, timed on its own), and
//	                 (s/unseal − s/unseal-1-tap) / 2 − ECDH-ms is the time
//	                 of a tap with the fixed costs (the operator's two
//	                 entries, reading the file and the logbook, writing
//	                 the output) taken out. A tap is: find the card, open
//	                 it, sign the approval, ECDH, sign the tap entry.
//	ms/tap-upper-bound  (s/unseal − 3 × ECDH-ms) / 3: everything but the
//	                 cards' ECDH charged to the taps, fixed costs included.
//
// TestUnseal3of5Once runs the same body once, so that `make test` keeps it
// working.

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

// unsealBenchTaps is the threshold; unsealBenchCustodians the roster size.
const (
	unsealBenchTaps       = 3
	unsealBenchCustodians = 5
)

// unsealBench is a case with a logbook and a secret sealed 3 of 5 to
// virtual cards, of which three are in their readers.
type unsealBench struct {
	dir     string   // the case directory (the working directory)
	secret  []byte   // what was sealed
	readers []string // the five custodians' readers (two empty)
	present *vcardtest.Card
	log     *os.File // the commands' stdout and stderr
	runs    int
}

func newUnsealBench(tb testing.TB) *unsealBench {
	tb.Helper()
	return newCaseBench(tb, unsealBenchCustodians-unsealBenchTaps)
}

// newCaseBench is the benchmarks' case: five custodians' cards, of which
// away are left out of their readers.
func newCaseBench(tb testing.TB, away int) *unsealBench {
	tb.Helper()
	names := []string{"alice", "bob", "carol", "dave", "erin"}
	cards := vcardtest.Start(tb, unsealBenchCustodians+1)
	ub := &unsealBench{dir: tb.TempDir(), secret: []byte("correct horse battery staple\n")}
	tb.Chdir(ub.dir)
	tb.Setenv("BREAKGLASS_PIN", sealTestPIN)
	tb.Setenv("BREAKGLASS_VIRTUAL_CA", vcardtest.CADir())
	tb.Setenv("BREAKGLASS_CASE", "")
	var err error
	if ub.log, err = os.Create(filepath.Join(tb.TempDir(), "output.txt")); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ub.log.Close() })
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = ub.log, ub.log
	tb.Cleanup(func() { os.Stdout, os.Stderr = stdout, stderr })

	for i, c := range cards[:unsealBenchCustodians] {
		enrollVirtual(tb, c, names[i], "custodians", sealTestPIN)
		ub.readers = append(ub.readers, c.Reader)
	}
	enrollVirtual(tb, cards[unsealBenchCustodians], "oscar", "custodians", sealTestPIN)
	if err := os.WriteFile("secret.txt", ub.secret, 0o600); err != nil {
		tb.Fatal(err)
	}
	var to []string
	for _, n := range names {
		to = append(to, "custodians/"+n+".card.json")
	}
	ub.cmd(tb, "log", "init", "--origin", "breakglass.example/bench/unseal")
	for name, k := range map[string]int{"bench": unsealBenchTaps, "bench1": 1} {
		ub.cmd(tb, "seal", "--name", name, "--threshold", fmt.Sprint(k), "--allow-virtual",
			"--to", strings.Join(to, ","), "--use-case", "drill", "--in", "secret.txt", "--as", "oscar")
	}
	// Custodians who are away: their readers stay empty.
	if away > 0 {
		for _, c := range cards[unsealBenchCustodians-away : unsealBenchCustodians] {
			c.Remove()
		}
		vcardtest.WaitGone()
	}
	ub.present = cards[0]
	return ub
}

// cmd runs breakglass args in process and fails with its output if it
// does not exit 0.
func (ub *unsealBench) cmd(tb testing.TB, args ...string) {
	tb.Helper()
	off, _ := ub.log.Seek(0, 2)
	if code := run(append([]string{"breakglass"}, args...)); code != 0 {
		b, _ := os.ReadFile(ub.log.Name())
		tb.Fatalf("breakglass %s: exit %d\n%s", strings.Join(args, " "), code, b[min(off, int64(len(b))):])
	}
}

// unseal runs one unseal of name (bench: 3 of 5, bench1: 1 of 5) into a
// new file and returns the file's name.
func (ub *unsealBench) unseal(tb testing.TB, name string) string {
	tb.Helper()
	ub.runs++
	out := fmt.Sprintf("unsealed-%d.txt", ub.runs)
	args := []string{"unseal", name + ".glass", "--operator", "oscar", "--reason", "benchmark", "--ticket", "BENCH-1",
		"--use-case", "drill", "--concurrent-release", "benchmark", "--out", out}
	for _, r := range ub.readers {
		args = append(args, "--reader", r)
	}
	ub.cmd(tb, args...)
	return out
}

// ecdhRoundTrip measures one ECDH on a present card: the median of a few,
// after one that verifies the PIN.
func (ub *unsealBench) ecdhRoundTrip(tb testing.TB) time.Duration {
	tb.Helper()
	tok, err := piv.Open(piv.Options{Selector: piv.Selector{Reader: ub.present.Reader},
		PIN: func() ([]byte, error) { return []byte(sealTestPIN), nil }})
	if err != nil {
		tb.Fatal(err)
	}
	defer tok.Close()
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	kx := tok.KeyAgreementKey()
	var times []time.Duration
	for i := 0; i < 8; i++ {
		t0 := time.Now()
		z, err := kx.ECDH(peer.PublicKey())
		d := time.Since(t0)
		if err != nil {
			tb.Fatal(err)
		}
		secret.Wipe(z)
		if i > 0 {
			times = append(times, d)
		}
	}
	slices.Sort(times)
	return times[len(times)/2]
}

// check makes sure out holds the secret and the logbook recorded the
// ceremonies: per unseal an unseal-start and a release, and taps tap
// entries in all.
func (ub *unsealBench) check(tb testing.TB, out string, taps int) {
	tb.Helper()
	got, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	if !bytes.Equal(got, ub.secret) {
		tb.Fatalf("unsealed %q, want %q", got, ub.secret)
	}
	entries, err := os.ReadFile(filepath.Join(casedir.LogbookDir, "entries"))
	if err != nil {
		tb.Fatal(err)
	}
	for kind, want := range map[string]int{"unseal-start": ub.runs, "tap": taps, "release": ub.runs} {
		if n := len(regexp.MustCompile(`(?m)^kind `+kind+`$`).FindAll(entries, -1)); n != want {
			tb.Errorf("logbook has %d %s entries after %d unseals, want %d", n, kind, ub.runs, want)
		}
	}
}

// perTap is the time of one tap beyond the card's ECDH: the difference
// between unseals with three taps and with one, per extra tap.
func perTap(three, one, ecdhRT time.Duration) time.Duration {
	return (three-one)/(unsealBenchTaps-1) - ecdhRT
}

// upperBound charges everything but the cards' ECDH to the taps.
func upperBound(three, ecdhRT time.Duration) time.Duration {
	return (three - unsealBenchTaps*ecdhRT) / unsealBenchTaps
}

func BenchmarkUnseal3of5(b *testing.B) {
	ub := newUnsealBench(b)
	ecdhRT := ub.ecdhRoundTrip(b)
	// Warm up: the first runs also open the logbook's files.
	ub.check(b, ub.unseal(b, "bench"), unsealBenchTaps)
	ub.check(b, ub.unseal(b, "bench1"), unsealBenchTaps+1)
	var one time.Duration
	b.ResetTimer()
	for b.Loop() {
		ub.unseal(b, "bench")
		b.StopTimer()
		t0 := time.Now()
		ub.unseal(b, "bench1")
		one += time.Since(t0)
		b.StartTimer()
	}
	b.StopTimer()
	per, one := b.Elapsed()/time.Duration(b.N), one/time.Duration(b.N)
	tap := perTap(per, one, ecdhRT)
	b.ReportMetric(per.Seconds(), "s/unseal")
	b.ReportMetric(one.Seconds(), "s/unseal-1-tap")
	b.ReportMetric(float64(ecdhRT.Microseconds())/1000, "ECDH-ms")
	b.ReportMetric(float64(tap.Microseconds())/1000, "ms/tap-beyond-ECDH")
	b.ReportMetric(float64(upperBound(per, ecdhRT).Microseconds())/1000, "ms/tap-upper-bound")
	b.ReportMetric(0, "ns/op")
	if per > time.Second {
		b.Errorf("an unseal 3 of 5 takes %v of tool time, more than 1s", per)
	}
	if tap > 50*time.Millisecond {
		b.Errorf("a tap takes %v beyond the card's ECDH (%v), more than 50ms", tap, ecdhRT)
	}
}

// TestUnseal3of5Once runs the benchmark's unseals once: it keeps the
// benchmark working under make test, and fails if one unseal takes more
// than ten times the goal (a regression far beyond noise).
func TestUnseal3of5Once(t *testing.T) {
	ub := newUnsealBench(t)
	ecdhRT := ub.ecdhRoundTrip(t)
	t0 := time.Now()
	out := ub.unseal(t, "bench")
	three := time.Since(t0)
	ub.check(t, out, unsealBenchTaps)
	t0 = time.Now()
	out = ub.unseal(t, "bench1")
	one := time.Since(t0)
	ub.check(t, out, unsealBenchTaps+1)
	t.Logf("unseal 3 of 5: %v, 1 of 5: %v; ECDH round trip %v; per tap beyond ECDH %v (upper bound %v)",
		three, one, ecdhRT, perTap(three, one, ecdhRT), upperBound(three, ecdhRT))
	if three > 10*time.Second {
		t.Errorf("one unseal 3 of 5 took %v", three)
	}
}
