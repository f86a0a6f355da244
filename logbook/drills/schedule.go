package drills

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// An Every is how often drills recur: N days, weeks, months or years.
type Every struct {
	N    int
	Unit string // "DAILY", "WEEKLY", "MONTHLY" or "YEARLY" (RFC 5545 FREQ)
}

// ParseEvery reads "90d", "2w", "3mo" or "1y".
func ParseEvery(s string) (Every, error) {
	units := []struct{ suffix, freq string }{{"mo", "MONTHLY"}, {"d", "DAILY"}, {"w", "WEEKLY"}, {"y", "YEARLY"}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			n, err := strconv.Atoi(num)
			if err != nil || n < 1 || n > 1000 || strconv.Itoa(n) != num {
				break
			}
			return Every{N: n, Unit: u.freq}, nil
		}
	}
	return Every{}, fmt.Errorf("%q: want a period such as 3mo, 90d, 2w or 1y", s)
}

// An Attendee is a custodian invited to the drill.
type Attendee struct {
	Name  string
	Email string
}

// A Plan is a recurring drill for a calendar.
type Plan struct {
	Case        string // names the case: its logbook origin or directory
	Owner       string // the owning team, "" for all
	From        time.Time
	Every       Every
	Secrets     []string // the sealed files to drill
	Attendees   []Attendee
	Description string // what to do: the runbook's commands
}

// UID is the event's identity: the same case, owner and start give the same
// UID on every run, so that a calendar updates the event instead of adding
// a second one.
func (p *Plan) UID() string {
	h := sha256.Sum256([]byte("breakglass drill\x00" + p.Case + "\x00" + p.Owner + "\x00" + p.From.Format("20060102")))
	return "breakglass-drill-" + hex.EncodeToString(h[:12]) + "@breakglass"
}

// Schedule writes p as an RFC 5545 calendar with one recurring event.
// stamp is the DTSTAMP (when the calendar was made). Lines end in CRLF and
// are folded at 75 octets; text is escaped.
func Schedule(p *Plan, stamp time.Time) ([]byte, error) {
	if p.Every.N < 1 || p.Every.Unit == "" {
		return nil, errors.New("no drill period")
	}
	if p.From.IsZero() {
		return nil, errors.New("no start date")
	}
	var b strings.Builder
	line := func(s string) { b.WriteString(fold(s)) }
	line("BEGIN:VCALENDAR")
	line("VERSION:2.0")
	line("PRODID:-//breakglass//drill schedule//EN")
	line("CALSCALE:GREGORIAN")
	line("BEGIN:VEVENT")
	line("UID:" + p.UID())
	line("DTSTAMP:" + stamp.UTC().Format("20060102T150405Z"))
	line("DTSTART;VALUE=DATE:" + p.From.Format("20060102"))
	line("DTEND;VALUE=DATE:" + p.From.AddDate(0, 0, 1).Format("20060102"))
	line(fmt.Sprintf("RRULE:FREQ=%s;INTERVAL=%d", p.Every.Unit, p.Every.N))
	summary := "Break-glass drill: " + p.Case
	if p.Owner != "" {
		summary += " (" + p.Owner + ")"
	}
	line("SUMMARY:" + escapeText(summary))
	line("DESCRIPTION:" + escapeText(p.Description))
	line("CATEGORIES:" + escapeText("break-glass drill"))
	for _, a := range p.Attendees {
		if a.Email == "" {
			continue
		}
		line("ATTENDEE;CN=" + paramValue(a.Name) + ";ROLE=REQ-PARTICIPANT:mailto:" + a.Email)
	}
	line("END:VEVENT")
	line("END:VCALENDAR")
	return []byte(b.String()), nil
}

// escapeText escapes a TEXT value (RFC 5545 §3.3.11).
func escapeText(s string) string {
	r := strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)
	return r.Replace(s)
}

// paramValue quotes a parameter value when it needs it (§3.2); a DQUOTE
// cannot appear in one and is dropped.
func paramValue(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r < 0x20 && r != '\t' || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if strings.ContainsAny(s, ";:,") {
		return `"` + s + `"`
	}
	return s
}

// fold ends the content line s with CRLF, folded into lines of at most 75
// octets, never inside a UTF-8 character (§3.1).
func fold(s string) string {
	var b strings.Builder
	limit := 75
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		b.WriteString(s[:cut] + "\r\n ")
		s = s[cut:]
		limit = 74 // the leading space counts
	}
	b.WriteString(s + "\r\n")
	return b.String()
}
