package drills

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A drill run (breakglass drill run) asks every custodian, not only k, to
// prove their token or paper share. Its drill entry carries, besides the
// result and who tapped, one result per custodian in details numbered
// after the custodian's place in the header (1-based):
//
//	detail mode run
//	detail custodian.2 bob
//	detail custodian.2.result failed
//	detail custodian.2.problem wrong-pin
//	detail custodian.2.pin-tries 2
//	detail custodian.2.token piv 15102349
//	detail custodian.2.firmware 5.7.1
//	detail custodian.2.enrolled 2026-03-01
//	detail custodian.2.error the PIN was wrong (2 tries left)
//	detail aws pass
//
// Only custodian.N and custodian.N.result are required; the others are
// there when known. A drill verify entry has no mode detail and no
// custodian results.

// Detail names of a drill run.
const (
	DetailMode = "mode" // "run" for a drill run
	DetailAWS  = "aws"  // a drill run with --aws: AWSPass or AWSFail
	ModeRun    = "run"
	AWSPass    = "pass"
	AWSFail    = "fail"
)

// Custodian results.
const (
	// Proved: the custodian's token unwrapped their share, it matched its
	// commitment in the header, and they signed an approval of the drill.
	Proved = "proved"
	// Absent: the custodian did not take part.
	Absent = "absent"
	// Failed: the custodian tried and could not prove their share; the
	// problem says why.
	Failed = "failed"
)

// Problems: why a custodian failed.
const (
	ProblemWrongPIN     = "wrong-pin"     // the PIN was refused
	ProblemLocked       = "locked"        // the PIN is blocked, or one try is left and breakglass would not spend it
	ProblemCardRemoved  = "card-removed"  // the token went away mid-tap
	ProblemCardReplaced = "card-replaced" // the token presented is not the one the secret was sealed to
	ProblemMnemonic     = "mnemonic"      // a paper share that is not valid or not theirs (a typo)
	ProblemShare        = "share"         // the share did not match its commitment
	ProblemToken        = "token"         // any other token error
)

var problems = []string{ProblemWrongPIN, ProblemLocked, ProblemCardRemoved, ProblemCardReplaced, ProblemMnemonic, ProblemShare, ProblemToken}

// A CustodianResult is one custodian's part in a drill run.
type CustodianResult struct {
	Place    int    `json:"place"` // 1-based position in the header's custodians
	Name     string `json:"name"`
	Result   string `json:"result"`            // Proved, Absent or Failed
	Problem  string `json:"problem,omitempty"` // for Failed: one of the Problem values
	Error    string `json:"error,omitempty"`   // the error as the custodian saw it
	Token    string `json:"token,omitempty"`   // e.g. "piv 15102349", "pkcs11 SoftHSM ops", "paper"
	Firmware string `json:"firmware,omitempty"`
	// PINTries is the PIN retries the token had left when the custodian
	// came (after a failed try: after it); -1 when not known or not
	// applicable (paper). A PIN that works resets the count.
	PINTries int       `json:"pin_tries"`
	Enrolled time.Time `json:"enrolled,omitzero"` // when the token's key was enrolled (its age)
}

func custodianKey(place int, field string) string {
	k := "custodian." + strconv.Itoa(place)
	if field != "" {
		k += "." + field
	}
	return k
}

// SetDetails writes the results into the details of a drill entry.
func SetDetails(d map[string]string, results []CustodianResult) {
	d[DetailMode] = ModeRun
	for _, r := range results {
		set := func(field, v string) {
			if v != "" {
				d[custodianKey(r.Place, field)] = v
			}
		}
		set("", r.Name)
		set("result", r.Result)
		set("problem", r.Problem)
		set("error", r.Error)
		set("token", r.Token)
		set("firmware", r.Firmware)
		if r.PINTries >= 0 {
			set("pin-tries", strconv.Itoa(r.PINTries))
		}
		if !r.Enrolled.IsZero() {
			set("enrolled", r.Enrolled.UTC().Format(time.DateOnly))
		}
	}
}

// ErrNotRun: the details are not those of a drill run.
var ErrNotRun = errors.New("not a drill run")

// Results reads the custodian results from the details of a drill entry,
// sorted by place. It rejects anything it does not know: a detail of a
// custodian it cannot parse, a result or problem outside the lists, a
// custodian without a name or result, a gap in the places.
func Results(d map[string]string) ([]CustodianResult, error) {
	if d[DetailMode] != ModeRun {
		return nil, ErrNotRun
	}
	byPlace := map[int]*CustodianResult{}
	for k, v := range d {
		rest, ok := strings.CutPrefix(k, "custodian.")
		if !ok {
			continue
		}
		num, field, dotted := strings.Cut(rest, ".")
		place, err := strconv.Atoi(num)
		if err != nil || place < 1 || place > 1000 || strconv.Itoa(place) != num || dotted && field == "" {
			return nil, fmt.Errorf("drill detail %q: want custodian.N with N from 1", k)
		}
		r := byPlace[place]
		if r == nil {
			r = &CustodianResult{Place: place, PINTries: -1}
			byPlace[place] = r
		}
		switch field {
		case "":
			r.Name = v
		case "result":
			if v != Proved && v != Absent && v != Failed {
				return nil, fmt.Errorf("drill detail %s: result %q: want %s, %s or %s", k, v, Proved, Absent, Failed)
			}
			r.Result = v
		case "problem":
			if !containsString(problems, v) {
				return nil, fmt.Errorf("drill detail %s: unknown problem %q", k, v)
			}
			r.Problem = v
		case "error":
			r.Error = v
		case "token":
			r.Token = v
		case "firmware":
			r.Firmware = v
		case "pin-tries":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 255 || strconv.Itoa(n) != v {
				return nil, fmt.Errorf("drill detail %s: %q is not a count of tries", k, v)
			}
			r.PINTries = n
		case "enrolled":
			t, err := time.Parse(time.DateOnly, v)
			if err != nil {
				return nil, fmt.Errorf("drill detail %s: %q is not a date (YYYY-MM-DD)", k, v)
			}
			r.Enrolled = t
		default:
			return nil, fmt.Errorf("drill detail %q: unknown field %q", k, field)
		}
	}
	out := make([]CustodianResult, 0, len(byPlace))
	for place := 1; place <= len(byPlace); place++ {
		r := byPlace[place]
		switch {
		case r == nil:
			return nil, fmt.Errorf("drill details: no custodian.%d, but %d custodians", place, len(byPlace))
		case r.Name == "" || r.Result == "":
			return nil, fmt.Errorf("drill details: custodian.%d needs a name and a result", place)
		case (r.Result == Failed) != (r.Problem != ""):
			return nil, fmt.Errorf("drill details: custodian.%d: a problem goes with a failed result, and only there", place)
		}
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Place < out[j].Place })
	return out, nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Fix says what to do about a failed or absent custodian.
func (r CustodianResult) Fix(file string) string {
	switch r.Problem {
	case ProblemWrongPIN:
		return fmt.Sprintf("%s checks their PIN (breakglass card test); %d tries left", r.Name, r.PINTries)
	case ProblemLocked:
		return r.Name + " unblocks the PIN with the PUK (breakglass card pin unblock) or re-enrolls a new card and the secret is resealed: breakglass reseal " + file
	case ProblemCardRemoved:
		return r.Name + " taps again, leaving the card in until the tap is done"
	case ProblemCardReplaced:
		return "reseal to " + r.Name + "'s new card: breakglass reseal " + file
	case ProblemMnemonic:
		return r.Name + " checks the paper share word by word; if it is lost or unreadable, reseal: breakglass reseal " + file
	case ProblemShare:
		return "the share does not match the header: reseal: breakglass reseal " + file
	}
	if r.Result == Absent {
		return r.Name + " takes part in the next drill, or the secret is resealed without them if they left"
	}
	return "find out what went wrong (breakglass card test) and drill again"
}
