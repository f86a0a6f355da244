// Package drills answers the drill coordinator's questions from a case,
// offline: when was each sealed secret last drilled and with whom, which
// custodians have not been seen for too long, which secrets can no longer
// reach their threshold with the custodians seen recently, how old the
// sealed AWS keys are, and which drills are overdue. It also writes the
// drill schedule as an RFC 5545 calendar ([Schedule]).
//
// The secrets are the case's *.glass files ([CaseSecrets]). A file whose
// header the logbook does not vouch for is itself a finding
// ([AddHeaderFindings]): what the logbook says of its drills is about
// another file.
//
// A custodian is "seen" when the logbook shows them using their token or
// share: a tap (in an unseal, a drill, a reseal), a drill entry that names
// them among those who tapped, or their own enroll entry. The logbook is
// the only source: a drill that was not recorded did not happen.
package drills

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal"
)

// DefaultMaxAge is the drill period: a quarter.
const DefaultMaxAge = 90 * 24 * time.Hour

// A Secret is a sealed secret of the case.
type Secret struct {
	File   string
	Owner  string // the owning team, when known (an AWS provisioning record)
	Header *seal.Header
	// Sealed is the parsed file (CaseSecrets), whose header hash
	// AddHeaderFindings checks against the logbook; nil when not at hand.
	Sealed *seal.File
}

// Options tune Status. The zero value is fine.
type Options struct {
	Now    time.Time     // default time.Now
	MaxAge time.Duration // the drill period; default DefaultMaxAge
}

// Severity ranks a Finding.
type Severity string

const (
	// Attention: something is wrong now (an overdue drill, a threshold
	// that cannot be reached); drill status exits non-zero.
	Attention Severity = "attention"
	// Notice: worth a look, not yet wrong.
	Notice Severity = "notice"
)

// A Finding is one thing that needs doing, with what to do.
type Finding struct {
	Severity Severity `json:"severity"`
	Problem  string   `json:"problem"`
	Fix      string   `json:"fix"`
}

// A Drill is a drill entry of the logbook.
type Drill struct {
	Entry  int64     `json:"entry"`
	Time   time.Time `json:"time"`
	Result string    `json:"result"`
	Tapped []string  `json:"tapped,omitempty"`
	Ticket string    `json:"ticket,omitempty"`
	Lead   string    `json:"lead,omitempty"`
	// A drill run: every custodian's result and the AWS check (AWSPass,
	// AWSFail, or empty without --aws).
	Run     bool              `json:"run,omitempty"`
	Results []CustodianResult `json:"custodians,omitempty"`
	AWS     string            `json:"aws,omitempty"`
	// Current: the drill was of this version of the file (its header).
	Current bool `json:"current"`
	// BadDetails: the entry's custodian results could not be read.
	BadDetails string `json:"bad_details,omitempty"`
}

// drillOf reads a drill entry.
func drillOf(e *logbook.Entry, hh []byte) *Drill {
	d := &Drill{Entry: e.Index, Time: e.Time, Result: e.Details[logbook.DetailResult],
		Tapped: splitList(e.Details[logbook.DetailTapped]), Ticket: e.Ticket, Lead: e.Details[logbook.DetailOperator],
		AWS: e.Details[DetailAWS], Current: string(e.HeaderHash) == string(hh)}
	if e.Details[DetailMode] == ModeRun {
		d.Run = true
		rs, err := Results(e.Details)
		if err != nil {
			d.BadDetails = err.Error()
		}
		d.Results = rs
	}
	return d
}

// A Custodian is one custodian of a secret and when they were last seen.
type Custodian struct {
	Name     string     `json:"name"`
	Kind     string     `json:"kind"`
	LastSeen *time.Time `json:"last_seen,omitempty"`
	Stale    bool       `json:"stale"` // not seen within the period
	// Retired: the logbook retired the token the secret is sealed to
	// (a lost card, a person who left): they can no longer sign, and
	// count as out of reach.
	Retired bool `json:"retired,omitempty"`
}

// SecretStatus is the status of one secret.
type SecretStatus struct {
	Secret     string      `json:"secret"`
	File       string      `json:"file"`
	Owner      string      `json:"owner,omitempty"`
	Threshold  string      `json:"threshold"`
	LastDrill  *Drill      `json:"last_drill,omitempty"`
	LastPassed *Drill      `json:"last_passed,omitempty"`
	LastRun    *Drill      `json:"last_run,omitempty"` // the last drill run of this version of the file
	Custodians []Custodian `json:"custodians"`
	// Reachable: the custodians seen within the period meet the
	// threshold (every group's, and enough groups).
	Reachable bool `json:"reachable"`
	// KeyID and KeyAge: a sealed key (an AWS access key) and the time
	// since the entry that sealed it.
	KeyID    string    `json:"key_id,omitempty"`
	KeyAge   string    `json:"key_age,omitempty"`
	Findings []Finding `json:"findings"`
}

// NeedsAttention reports whether any finding of s is Attention.
func (s *SecretStatus) NeedsAttention() bool {
	for _, f := range s.Findings {
		if f.Severity == Attention {
			return true
		}
	}
	return false
}

// Status is the status of every secret, sorted by secret name, from the
// logbook's entries.
func Status(entries []*logbook.Entry, secrets []Secret, o Options) []SecretStatus {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	seen := lastSeen(entries)
	retired := retiredKeys(entries)
	var out []SecretStatus
	for _, s := range secrets {
		out = append(out, status(entries, seen, retired, s, o))
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Secret < out[j].Secret || out[i].Secret == out[j].Secret && out[i].File < out[j].File
	})
	return out
}

// lastSeen maps each custodian name to the last time the logbook shows
// them with their token or share.
func lastSeen(entries []*logbook.Entry) map[string]time.Time {
	seen := map[string]time.Time{}
	see := func(name string, t time.Time) {
		if name != "" && t.After(seen[name]) {
			seen[name] = t
		}
	}
	for _, e := range entries {
		switch e.Kind {
		case logbook.KindTap:
			see(e.Details["custodian"], e.Time)
		case logbook.KindDrill:
			for _, n := range splitList(e.Details[logbook.DetailTapped]) {
				see(n, e.Time)
			}
		case logbook.KindEnroll:
			see(e.Details["custodian"], e.Time)
		}
	}
	return seen
}

// retiredKeys are the signing keys (compact fingerprints, as a header
// names them) the logbook retired: by a retire entry, or replaced by an
// admit entry.
func retiredKeys(entries []*logbook.Entry) map[string]bool {
	out := map[string]bool{}
	for _, e := range entries {
		switch e.Kind {
		case logbook.KindRetire:
			if m, err := e.Retired(); err == nil {
				out[strings.ReplaceAll(m.Fingerprint, " ", "")] = true
			}
		case logbook.KindAdmit:
			if a, err := e.Admit(); err == nil && a.Replaces != "" {
				out[strings.ReplaceAll(a.Replaces, " ", "")] = true
			}
		}
	}
	return out
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func status(entries []*logbook.Entry, seen map[string]time.Time, retired map[string]bool, s Secret, o Options) SecretStatus {
	h := s.Header
	st := SecretStatus{Secret: h.Name, File: s.File, Owner: s.Owner, Threshold: thresholdString(h), Findings: []Finding{}}
	hh := h.Hash()
	for _, e := range entries {
		if e.Secret != h.Name {
			continue
		}
		switch e.Kind {
		case logbook.KindDrill:
			d := drillOf(e, hh[:])
			st.LastDrill = d
			// A drill of an older version of the file proves the
			// cards of that roster, not of this one.
			if d.Result == logbook.DrillPass && d.Current {
				st.LastPassed = d
			}
			if d.Run && d.Current {
				st.LastRun = d
			}
		case logbook.KindSeal, logbook.KindReseal, logbook.KindRotate, logbook.KindRevoke:
			id := e.Details[logbook.DetailKeyID]
			if e.Kind == logbook.KindRevoke {
				id = e.Details["new-key-id"]
			}
			if id != "" && id == h.KeyID {
				st.KeyID = id
				st.KeyAge = age(o.Now.Sub(e.Time))
				if o.Now.Sub(e.Time) > o.MaxAge {
					st.Findings = append(st.Findings, Finding{Notice,
						fmt.Sprintf("the sealed key %s is %s old", id, st.KeyAge),
						"rotate it: breakglass aws rotate " + s.File})
				}
			}
		}
	}

	fresh := map[string]bool{}
	for _, c := range h.Custodians() {
		cs := Custodian{Name: c.Name, Kind: c.Kind}
		if t, ok := seen[c.Name]; ok {
			t := t
			cs.LastSeen = &t
			fresh[c.Name] = o.Now.Sub(t) <= o.MaxAge
		}
		if !c.Paper() && retired[c.Fingerprint] {
			cs.Retired, fresh[c.Name] = true, false
			st.Findings = append(st.Findings, Finding{Attention,
				fmt.Sprintf("%s's token was retired since the seal: their share cannot be used", c.Name),
				"reseal to the custodians who can tap (with " + c.Name + "'s new card, if admitted): breakglass reseal " + s.File})
		}
		cs.Stale = !fresh[c.Name]
		st.Custodians = append(st.Custodians, cs)
	}
	st.Reachable = reachable(h, fresh)

	switch {
	case st.LastPassed == nil:
		st.Findings = append(st.Findings, Finding{Attention, "never drilled successfully (this version of the file)",
			"run a drill: breakglass drill run " + s.File})
	case o.Now.Sub(st.LastPassed.Time) > o.MaxAge:
		st.Findings = append(st.Findings, Finding{Attention,
			fmt.Sprintf("the last successful drill was %s ago (entry %d), longer than the period of %s", age(o.Now.Sub(st.LastPassed.Time)), st.LastPassed.Entry, age(o.MaxAge)),
			"run a drill: breakglass drill run " + s.File})
	}
	if d := st.LastDrill; d != nil && d.Result != logbook.DrillPass && (st.LastPassed == nil || d.Entry > st.LastPassed.Entry) {
		st.Findings = append(st.Findings, Finding{Attention,
			fmt.Sprintf("the last drill (entry %d) did not pass: %s", d.Entry, d.Result),
			"find out why (breakglass log show --secret " + h.Name + "), fix it, and drill again"})
	}
	st.Findings = append(st.Findings, RunFindings(st.LastRun, s.File)...)
	var stale []string
	for _, c := range st.Custodians {
		if c.Stale {
			stale = append(stale, c.Name)
		}
	}
	if len(stale) > 0 {
		st.Findings = append(st.Findings, Finding{Notice,
			fmt.Sprintf("not seen for longer than %s: %s", age(o.MaxAge), strings.Join(stale, ", ")),
			"have them tap in the next drill, or reseal without them if they left"})
	}
	if !st.Reachable {
		st.Findings = append(st.Findings, Finding{Attention,
			fmt.Sprintf("the custodians seen within %s cannot reach the threshold (%s)", age(o.MaxAge), st.Threshold),
			"drill with the others now; if they are gone, reseal to custodians who can tap: breakglass reseal " + s.File})
	}
	return st
}

// RunFindings are the findings of a drill run: each custodian who failed
// or was absent, tokens near PIN lockout, a failed AWS check.
func RunFindings(d *Drill, file string) []Finding {
	if d == nil {
		return nil
	}
	var out []Finding
	at := fmt.Sprintf("in the drill of %s (entry %d)", d.Time.Format("2006-01-02"), d.Entry)
	if d.BadDetails != "" {
		out = append(out, Finding{Attention, "the drill entry's custodian results cannot be read: " + d.BadDetails,
			"drill again: breakglass drill run " + file})
	}
	for _, r := range d.Results {
		switch r.Result {
		case Failed:
			problem := fmt.Sprintf("%s could not prove their share %s: %s", r.Name, at, r.Problem)
			if r.Error != "" {
				problem += " (" + r.Error + ")"
			}
			out = append(out, Finding{Attention, problem, r.Fix(file)})
		case Absent:
			out = append(out, Finding{Notice, fmt.Sprintf("%s was absent %s", r.Name, at), r.Fix(file)})
		}
		// A PIN that works resets the count: only a token that did not
		// prove itself can be left near lockout.
		if r.Result != Proved && r.Problem != ProblemLocked && r.PINTries >= 0 && r.PINTries <= 1 {
			out = append(out, Finding{Attention, fmt.Sprintf("%s's token has %s left %s: breakglass will not spend the last one", r.Name, plural(r.PINTries, "PIN try"), at),
				r.Name + " unblocks the PIN with the PUK (breakglass card pin unblock) before the next drill"})
		}
	}
	if d.AWS == AWSFail {
		out = append(out, Finding{Attention, "the AWS check failed " + at + ": the sealed key, its user or the role does not work",
			"breakglass aws check " + file + ", then fix the account (breakglass aws provision) and drill again"})
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	if strings.HasSuffix(word, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(word, "y"))
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// reachable reports whether the custodians in ok meet h's policy.
func reachable(h *seal.Header, ok map[string]bool) bool {
	groups := 0
	for _, g := range h.Groups {
		n := 0
		for _, c := range g.Custodians {
			if ok[c.Name] {
				n++
			}
		}
		if n >= g.Threshold {
			groups++
		}
	}
	return groups >= h.GroupThreshold
}

func thresholdString(h *seal.Header) string {
	if len(h.Groups) == 1 {
		return fmt.Sprintf("%d of %d", h.Groups[0].Threshold, len(h.Groups[0].Custodians))
	}
	parts := make([]string, len(h.Groups))
	for i, g := range h.Groups {
		parts[i] = fmt.Sprintf("%s %d of %d", g.Name, g.Threshold, len(g.Custodians))
	}
	return fmt.Sprintf("%d of %d groups (%s)", h.GroupThreshold, len(h.Groups), strings.Join(parts, ", "))
}

// age writes d in days (or hours, under a day).
func age(d time.Duration) string {
	if d < 24*time.Hour {
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
