package drills

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal"
)

var sampleResults = []CustodianResult{
	{Place: 1, Name: "alice", Result: Proved, Token: "piv 15102349", Firmware: "5.7.1", PINTries: 3, Enrolled: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
	{Place: 2, Name: "bob smith", Result: Failed, Problem: ProblemWrongPIN, Error: "the PIN was wrong (2 tries left)", Token: "piv 1", PINTries: 2},
	{Place: 3, Name: "carol", Result: Absent, PINTries: -1},
	{Place: 4, Name: "dave", Result: Proved, Token: "paper", PINTries: -1},
}

func TestResultsRoundTrip(t *testing.T) {
	d := map[string]string{logbook.DetailResult: logbook.DrillPass}
	SetDetails(d, sampleResults)
	got, err := Results(d)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleResults) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, sampleResults)
	}
	if d["custodian.2"] != "bob smith" || d["custodian.2.problem"] != "wrong-pin" || d["custodian.3.pin-tries"] != "" || d["custodian.1.enrolled"] != "2026-03-01" {
		t.Errorf("details %v", d)
	}
	// The details go into a logbook entry: every name and value is one
	// the entry format accepts.
	e := logbook.Entry{Origin: "o", Kind: logbook.KindDrill, Actor: "alice", Key: "7259 2171 d408 e64e", Time: t0, Details: d}
	if _, err := e.MarshalText(); err != nil {
		t.Errorf("entry: %v", err)
	}
}

func TestResultsRejects(t *testing.T) {
	good := func() map[string]string {
		d := map[string]string{}
		SetDetails(d, sampleResults)
		return d
	}
	for _, tt := range []struct {
		name string
		mod  func(map[string]string)
		want string
	}{
		{"not a run", func(d map[string]string) { delete(d, DetailMode) }, "not a drill run"},
		{"unknown result", func(d map[string]string) { d["custodian.1.result"] = "ok" }, `result "ok"`},
		{"unknown problem", func(d map[string]string) { d["custodian.2.problem"] = "sad" }, `unknown problem "sad"`},
		{"problem without failure", func(d map[string]string) { d["custodian.1.problem"] = ProblemToken }, "only there"},
		{"failure without problem", func(d map[string]string) { delete(d, "custodian.2.problem") }, "only there"},
		{"gap", func(d map[string]string) { d["custodian.6"] = "x"; d["custodian.6.result"] = Proved }, "no custodian.5"},
		{"no name", func(d map[string]string) { delete(d, "custodian.4") }, "needs a name"},
		{"leading zero", func(d map[string]string) { d["custodian.01"] = "x" }, "want custodian.N"},
		{"place 0", func(d map[string]string) { d["custodian.0"] = "x" }, "want custodian.N"},
		{"unknown field", func(d map[string]string) { d["custodian.1.mood"] = "fine" }, `unknown field "mood"`},
		{"bad tries", func(d map[string]string) { d["custodian.1.pin-tries"] = "+3" }, "not a count"},
		{"bad date", func(d map[string]string) { d["custodian.1.enrolled"] = "2026-3-1" }, "not a date"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := good()
			tt.mod(d)
			if _, err := Results(d); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Results: %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzResults: whatever Results accepts, SetDetails writes back exactly
// (one canonical encoding), and Results never panics.
func FuzzResults(f *testing.F) {
	d := map[string]string{}
	SetDetails(d, sampleResults)
	var seed []string
	for _, k := range slices.Sorted(maps.Keys(d)) {
		seed = append(seed, k+"="+d[k])
	}
	f.Add(strings.Join(seed, "\n"))
	f.Add("mode=run\ncustodian.1=a\ncustodian.1.result=absent")
	f.Fuzz(func(t *testing.T, s string) {
		in := map[string]string{}
		for _, line := range strings.Split(s, "\n") {
			k, v, _ := strings.Cut(line, "=")
			in[k] = v
		}
		rs, err := Results(in)
		if err != nil {
			return
		}
		out := map[string]string{}
		SetDetails(out, rs)
		// Results ignores details that are not the run's: compare the
		// run's own.
		mine := map[string]string{}
		for k, v := range in {
			if k == DetailMode || strings.HasPrefix(k, "custodian.") {
				mine[k] = v
			}
		}
		for k, v := range mine {
			if v == "" {
				delete(mine, k)
			}
		}
		if !maps.Equal(mine, out) {
			t.Errorf("not canonical:\n in %v\nout %v", mine, out)
		}
	})
}

func TestStatusDrillRun(t *testing.T) {
	prod := paperSecret(t, "prod", 2, "alice", "bob smith", "carol", "dave")
	ph := prod.Hash()
	d := map[string]string{logbook.DetailResult: logbook.DrillPass, logbook.DetailTapped: "alice,dave", DetailAWS: AWSFail}
	results := append([]CustodianResult(nil), sampleResults...)
	results[1].PINTries = 1
	SetDetails(d, results)
	entries := []*logbook.Entry{
		{Index: 0, Kind: logbook.KindSeal, Secret: "prod", HeaderHash: ph[:], Time: t0.Add(-20 * 24 * time.Hour)},
		{Index: 1, Kind: logbook.KindDrill, Secret: "prod", HeaderHash: ph[:], Time: t0.Add(-24 * time.Hour), Details: d},
	}
	st := Status(entries, []Secret{{File: "prod.glass", Header: prod}}, Options{Now: t0})[0]
	if st.LastRun == nil || st.LastRun.Entry != 1 || len(st.LastRun.Results) != 4 || st.LastPassed == nil {
		t.Fatalf("last run %+v", st.LastRun)
	}
	for _, want := range []struct {
		sev  Severity
		text string
	}{
		{Attention, "bob smith could not prove their share in the drill of 2026-11-30 (entry 1): wrong-pin (the PIN was wrong (2 tries left))"},
		{Attention, "bob smith's token has 1 PIN try left"},
		{Notice, "carol was absent"},
		{Attention, "the AWS check failed"},
	} {
		if !hasFinding(st, want.sev, want.text) {
			t.Errorf("no %s finding %q in %+v", want.sev, want.text, st.Findings)
		}
	}
	// A run whose details cannot be read is itself a finding.
	d["custodian.1.result"] = "maybe"
	st = Status(entries, []Secret{{File: "prod.glass", Header: prod}}, Options{Now: t0})[0]
	if !hasFinding(st, Attention, "cannot be read") {
		t.Errorf("bad details: %+v", st.Findings)
	}
}

func TestReportDrillRun(t *testing.T) {
	prod := paperSecret(t, "prod", 2, "alice", "bob smith", "carol", "dave")
	ph := prod.Hash()
	d := map[string]string{logbook.DetailResult: logbook.DrillPass, logbook.DetailTapped: "alice,dave"}
	SetDetails(d, sampleResults)
	entries := []*logbook.Entry{{Index: 0, Kind: logbook.KindDrill, Secret: "prod", HeaderHash: ph[:], Time: t0, Details: d}}
	r := NewReport(entries, []Secret{{File: "prod.glass", Header: prod}}, time.Time{}, Options{Now: t0})
	var md, html strings.Builder
	r.WriteMarkdown(&md)
	if err := r.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 0 | prod | bob smith | failed | wrong-pin | piv 1 | 2 |", "| 0 | prod | carol | absent |  |  | - |"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}
	if !strings.Contains(html.String(), `<td>bob smith</td><td class="failed">failed</td><td>wrong-pin</td>`) {
		t.Errorf("html lacks bob's result:\n%s", html.String())
	}
}

// TestStatusRetired: custodians whose tokens the logbook retired cannot
// tap; with two of three retired a 2-of-3 secret is out of reach, named,
// with the fix to reseal.
func TestStatusRetired(t *testing.T) {
	var roster []seal.Custodian
	fps := []string{"1111222233334444", "5555666677778888", "9999aaaabbbbcccc"}
	for i, n := range []string{"alice", "bob", "carol"} {
		k, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		r, err := seal.TagRecipient(k.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		roster = append(roster, seal.Custodian{Name: n, Kind: seal.KindPIV, Recipient: r.String(), Fingerprint: fps[i]})
	}
	var b bytes.Buffer
	if _, err := seal.Seal(&b, strings.NewReader("s"), seal.Params{Name: "prod", SealedBy: "t", Threshold: 2, Custodians: roster}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := seal.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	h := f.Header
	hh := h.Hash()
	day := 24 * time.Hour
	pass := map[string]string{logbook.DetailResult: logbook.DrillPass, logbook.DetailTapped: "alice,bob,carol"}
	entries := []*logbook.Entry{
		{Index: 0, Kind: logbook.KindSeal, Secret: "prod", HeaderHash: hh[:], Time: t0.Add(-10 * day)},
		{Index: 1, Kind: logbook.KindDrill, Secret: "prod", HeaderHash: hh[:], Time: t0.Add(-5 * day), Details: pass},
	}
	st := Status(entries, []Secret{{File: "prod.glass", Header: h}}, Options{Now: t0})[0]
	if st.NeedsAttention() || !st.Reachable {
		t.Fatalf("before the retires: %+v", st)
	}
	entries = append(entries,
		&logbook.Entry{Index: 2, Kind: logbook.KindRetire, Time: t0.Add(-2 * day), Details: map[string]string{"custodian": "alice", "fingerprint": "1111 2222 3333 4444"}},
		&logbook.Entry{Index: 3, Kind: logbook.KindAdmit, Time: t0.Add(-day), Details: map[string]string{"custodian": "bob", "fingerprint": "0000 0000 0000 0001", "enroll": "2", "replaces": "5555 6666 7777 8888"}})
	st = Status(entries, []Secret{{File: "prod.glass", Header: h}}, Options{Now: t0})[0]
	if st.Reachable || !st.Custodians[0].Retired || !st.Custodians[1].Retired || st.Custodians[2].Retired {
		t.Errorf("after the retires: %+v", st)
	}
	for _, want := range []string{"alice's token was retired", "bob's token was retired", "cannot reach the threshold"} {
		if !hasFinding(st, Attention, want) {
			t.Errorf("no finding %q in %+v", want, st.Findings)
		}
	}
}
