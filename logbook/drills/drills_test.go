package drills

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// paperSecret seals a secret to paper custodians, k of them needed.
func paperSecret(t testing.TB, name string, k int, names ...string) *seal.Header {
	t.Helper()
	p := seal.Params{Name: name, SealedBy: "t", Threshold: k, KeyID: "AKIA" + strings.ToUpper(name) + "000000000000"[:12]}
	for _, n := range names {
		p.Custodians = append(p.Custodians, seal.Custodian{Name: n, Kind: seal.KindPaper, Fingerprint: strings.ReplaceAll(n, " ", "-")})
	}
	var b bytes.Buffer
	if _, err := seal.Seal(&b, strings.NewReader("s"), p, nil); err != nil {
		t.Fatal(err)
	}
	f, err := seal.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return f.Header
}

func TestStatus(t *testing.T) {
	prod := paperSecret(t, "prod", 2, "alice", "bob", "carol")
	stage := paperSecret(t, "stage", 2, "alice", "dave", "erin")
	never := paperSecret(t, "never", 1, "alice")
	ph, sh := prod.Hash(), stage.Hash()
	day := 24 * time.Hour
	entries := []*logbook.Entry{
		{Index: 0, Kind: logbook.KindSeal, Secret: "prod", HeaderHash: ph[:], Time: t0.Add(-200 * day), Details: map[string]string{logbook.DetailKeyID: prod.KeyID}},
		{Index: 1, Kind: logbook.KindEnroll, Time: t0.Add(-300 * day), Details: map[string]string{"custodian": "dave"}},
		// prod: drilled 10 days ago by alice and bob: fine.
		{Index: 2, Kind: logbook.KindTap, Secret: "prod", Time: t0.Add(-10 * day), Details: map[string]string{"custodian": "alice"}},
		{Index: 3, Kind: logbook.KindTap, Secret: "prod", Time: t0.Add(-10 * day), Details: map[string]string{"custodian": "bob"}},
		{Index: 4, Kind: logbook.KindDrill, Secret: "prod", HeaderHash: ph[:], Time: t0.Add(-10 * day),
			Details: map[string]string{logbook.DetailResult: logbook.DrillPass, logbook.DetailTapped: "alice,bob"}},
		// stage: passed 100 days ago with dave and erin, then a failed drill.
		{Index: 5, Kind: logbook.KindDrill, Secret: "stage", HeaderHash: sh[:], Time: t0.Add(-100 * day),
			Details: map[string]string{logbook.DetailResult: logbook.DrillPass, logbook.DetailTapped: "dave,erin"}},
		{Index: 6, Kind: logbook.KindDrill, Secret: "stage", HeaderHash: sh[:], Time: t0.Add(-5 * day),
			Details: map[string]string{logbook.DetailResult: logbook.DrillFail}},
	}
	got := Status(entries, []Secret{{File: "stage.glass", Header: stage}, {File: "prod.glass", Header: prod, Owner: "sre"}, {File: "never.glass", Header: never}},
		Options{Now: t0})
	if len(got) != 3 || got[0].Secret != "never" || got[1].Secret != "prod" || got[2].Secret != "stage" {
		t.Fatalf("order: %+v", got)
	}
	n, p, s := got[0], got[1], got[2]
	if p.NeedsAttention() || !p.Reachable || p.LastPassed == nil || p.LastPassed.Entry != 4 || p.KeyAge != "200d" {
		t.Errorf("prod: %+v", p)
	}
	if !hasFinding(p, Notice, "carol") || !hasFinding(p, Notice, "200d old") {
		t.Errorf("prod findings: %+v", p.Findings)
	}
	if !s.NeedsAttention() || s.Reachable || !hasFinding(s, Attention, "did not pass: fail") ||
		!hasFinding(s, Attention, "100d ago") || !hasFinding(s, Attention, "cannot reach the threshold") {
		t.Errorf("stage: %+v", s)
	}
	if !n.NeedsAttention() || !hasFinding(n, Attention, "never drilled") {
		t.Errorf("never: %+v", n)
	}
}

func hasFinding(s SecretStatus, sev Severity, text string) bool {
	for _, f := range s.Findings {
		if f.Severity == sev && strings.Contains(f.Problem, text) {
			return true
		}
	}
	return false
}

func TestParseEvery(t *testing.T) {
	for in, want := range map[string]Every{"3mo": {3, "MONTHLY"}, "90d": {90, "DAILY"}, "2w": {2, "WEEKLY"}, "1y": {1, "YEARLY"}} {
		if got, err := ParseEvery(in); err != nil || got != want {
			t.Errorf("%s: %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "mo", "0mo", "03mo", "3", "3m", "-1d", "1.5w"} {
		if _, err := ParseEvery(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestScheduleIcalendar checks the calendar with an independent parser,
// Python's icalendar (Debian's python3-icalendar, installed by
// scripts/deps.sh): the event, its recurrence, its attendees and the
// folded, escaped description read back as written.
func TestScheduleIcalendar(t *testing.T) {
	desc := "For each secret, with K custodians:\nbreakglass drill verify prod.glass --ticket DRILL-Q; then log checkpoint, commit — ünïcødé " + strings.Repeat("long line ", 12)
	p := &Plan{Case: "breakglass.example/acme/prod", Owner: "sre", From: time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC),
		Every: Every{3, "MONTHLY"}, Description: desc,
		Attendees: []Attendee{{"Alice Smith", "alice@example.com"}, {"bob, jr; ops", "bob@example.com"}, {"erin", ""}}}
	ics, err := Schedule(p, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSuffix(string(ics), "\r\n"), "\r\n") {
		if len(l) > 75 {
			t.Fatalf("line of %d octets: %q", len(l), l)
		}
	}
	again, _ := Schedule(p, t0.Add(time.Hour))
	if !bytes.Contains(again, []byte("UID:"+p.UID())) {
		t.Fatal("the UID changed between runs")
	}
	py := `
import sys
from icalendar import Calendar
cal = Calendar.from_ical(sys.stdin.buffer.read())
ev = [c for c in cal.walk() if c.name == "VEVENT"]
assert len(ev) == 1, ev
ev = ev[0]
print(ev["UID"])
print(ev["SUMMARY"])
print(ev.decoded("DTSTART"))
r = ev["RRULE"]
print(r["FREQ"][0], r["INTERVAL"][0])
att = ev.get("ATTENDEE")
att = att if isinstance(att, list) else [att]
for a in att:
    print(a, a.params["CN"])
sys.stdout.write("DESC:" + ev["DESCRIPTION"])
`
	// Debian's python3, which python3-icalendar is installed for (a
	// python3 earlier on $PATH, such as pyenv's, would not have it).
	cmd := exec.Command("/usr/bin/python3", "-c", py)
	cmd.Stdin = bytes.NewReader(ics)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python3 icalendar (apt-get install python3-icalendar; scripts/deps.sh does): %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{p.UID() + "\n", "Break-glass drill: breakglass.example/acme/prod (sre)\n", "2027-01-15\n", "MONTHLY 3\n",
		"mailto:alice@example.com Alice Smith\n", "mailto:bob@example.com bob, jr; ops\n", "DESC:" + desc} {
		if !strings.Contains(got, want) {
			t.Errorf("icalendar read lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "erin") {
		t.Error("an attendee without e-mail was invited")
	}
}
