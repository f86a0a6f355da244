package drills

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/breakglass/breakglass/logbook"
)

// A Report is the evidence of the drills for auditors: every drill since a
// date, each custodian's results, the findings of Status, and the logbook
// checkpoint that proves it.
type Report struct {
	Origin     string         `json:"origin"`
	Checkpoint string         `json:"checkpoint"` // the signed checkpoint text
	Size       int64          `json:"size"`
	Since      *time.Time     `json:"since,omitempty"`
	Drills     []ReportDrill  `json:"drills"`
	Custodians []CustodianSum `json:"custodians"`
	Status     []SecretStatus `json:"status"`
	Passed     int            `json:"passed"`
	Failed     int            `json:"failed"`
	Aborted    int            `json:"aborted"`
}

// A ReportDrill is one drill entry.
type ReportDrill struct {
	Drill
	Secret string `json:"secret"`
	Error  string `json:"error,omitempty"`
}

// A CustodianSum is one custodian's part in the drills of the report.
type CustodianSum struct {
	Name     string     `json:"name"`
	Drills   int        `json:"drills"` // drills they tapped in
	LastSeen *time.Time `json:"last_seen,omitempty"`
}

// NewReport collects the drill entries at or after since (zero: all) and
// the status of secrets.
func NewReport(entries []*logbook.Entry, secrets []Secret, since time.Time, o Options) *Report {
	r := &Report{Drills: []ReportDrill{}, Custodians: []CustodianSum{}}
	if !since.IsZero() {
		r.Since = &since
	}
	count := map[string]int{}
	for _, e := range entries {
		if e.Kind != logbook.KindDrill || e.Time.Before(since) {
			continue
		}
		d := ReportDrill{Secret: e.Secret, Error: e.Details["error"], Drill: *drillOf(e, nil)}
		switch d.Result {
		case logbook.DrillPass:
			r.Passed++
		case logbook.DrillFail:
			r.Failed++
		default:
			r.Aborted++
		}
		for _, n := range d.Tapped {
			count[n]++
		}
		r.Drills = append(r.Drills, d)
	}
	seen := lastSeen(entries)
	names := map[string]bool{}
	for n := range count {
		names[n] = true
	}
	for _, s := range secrets {
		for _, c := range s.Header.Custodians() {
			names[c.Name] = true
		}
	}
	for n := range names {
		cs := CustodianSum{Name: n, Drills: count[n]}
		if t, ok := seen[n]; ok {
			t := t
			cs.LastSeen = &t
		}
		r.Custodians = append(r.Custodians, cs)
	}
	sort.Slice(r.Custodians, func(i, j int) bool { return r.Custodians[i].Name < r.Custodians[j].Name })
	r.Status = Status(entries, secrets, o)
	return r
}

// Findings counts the Attention findings of the report's status.
func (r *Report) Findings() int {
	n := 0
	for _, s := range r.Status {
		for _, f := range s.Findings {
			if f.Severity == Attention {
				n++
			}
		}
	}
	return n
}

// WriteMarkdown writes the report as Markdown.
func (r *Report) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "# Break-glass drill report\n\n")
	fmt.Fprintf(w, "Logbook `%s`, %d entries.", r.Origin, r.Size)
	if r.Since != nil {
		fmt.Fprintf(w, " Drills since %s.", r.Since.Format("2006-01-02"))
	}
	fmt.Fprintf(w, " %d drills: %d passed, %d failed, %d aborted; %d findings need attention.\n\n", len(r.Drills), r.Passed, r.Failed, r.Aborted, r.Findings())
	fmt.Fprintf(w, "## Drills\n\n")
	if len(r.Drills) == 0 {
		fmt.Fprintf(w, "No drill.\n")
	} else {
		fmt.Fprintf(w, "| entry | secret | date (UTC) | result | tapped | lead | ticket |\n|---|---|---|---|---|---|---|\n")
		for _, d := range r.Drills {
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s |\n", d.Entry, mdCell(d.Secret), d.Time.UTC().Format("2006-01-02 15:04"),
				d.Result, mdCell(strings.Join(d.Tapped, ", ")), mdCell(d.Lead), mdCell(d.Ticket))
		}
	}
	if r.Runs() > 0 {
		fmt.Fprintf(w, "\n## Results per custodian (drill runs)\n\n| entry | secret | custodian | result | problem | token | PIN tries left |\n|---|---|---|---|---|---|---|\n")
		for _, d := range r.Drills {
			for _, c := range d.Results {
				fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s |\n", d.Entry, mdCell(d.Secret), mdCell(c.Name), c.Result,
					mdCell(c.Problem), mdCell(c.Token), tries(c.PINTries))
			}
		}
	}
	fmt.Fprintf(w, "\n## Custodians\n\n| custodian | drills tapped | last seen |\n|---|---|---|\n")
	for _, c := range r.Custodians {
		seen := "never"
		if c.LastSeen != nil {
			seen = c.LastSeen.UTC().Format("2006-01-02")
		}
		fmt.Fprintf(w, "| %s | %d | %s |\n", mdCell(c.Name), c.Drills, seen)
	}
	fmt.Fprintf(w, "\n## Findings and their fixes\n\n")
	none := true
	for _, s := range r.Status {
		for _, f := range s.Findings {
			none = false
			fmt.Fprintf(w, "- **%s** (%s): %s. Fix: %s\n", mdCell(s.Secret), f.Severity, mdCell(f.Problem), mdCell(f.Fix))
		}
	}
	if none {
		fmt.Fprintf(w, "None.\n")
	}
	fmt.Fprintf(w, "\n## Checkpoint\n\nVerify with `breakglass log verify --checkpoint FILE`:\n\n```\n%s```\n", r.Checkpoint)
}

// Runs counts the drill runs of the report (drills with per-custodian
// results).
func (r *Report) Runs() int {
	n := 0
	for _, d := range r.Drills {
		if d.Run {
			n++
		}
	}
	return n
}

func tries(n int) string {
	if n < 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

func mdCell(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }

// WriteHTML writes the report as one self-contained page (no scripts, no
// external resources) that prints well.
func (r *Report) WriteHTML(w io.Writer) error {
	return reportHTML.Execute(w, r)
}

var reportHTML = template.Must(template.New("report").Funcs(template.FuncMap{
	"date":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
	"day":   func(t *time.Time) string { return t.UTC().Format("2006-01-02") },
	"join":  func(s []string) string { return strings.Join(s, ", ") },
	"total": func(r *Report) int { return len(r.Drills) },
	"tries": tries,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Break-glass drill report — {{.Origin}}</title>
<style>
body { font-family: sans-serif; margin: 2em; color: #111; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #999; padding: 0.3em 0.6em; text-align: left; }
th { background: #eee; }
.pass, .proved { color: #060; } .fail, .failed { color: #a00; font-weight: bold; } .aborted, .absent { color: #a60; }
pre { background: #f6f6f6; padding: 0.8em; white-space: pre-wrap; }
@media print { body { margin: 0; } tr { page-break-inside: avoid; } }
</style>
</head>
<body>
<h1>Break-glass drill report</h1>
<p>Logbook <code>{{.Origin}}</code>, <span id="size">{{.Size}}</span> entries.{{if .Since}} Drills since {{day .Since}}.{{end}}
<span id="total">{{total .}}</span> drills: <span id="passed">{{.Passed}}</span> passed,
<span id="failed">{{.Failed}}</span> failed, <span id="aborted">{{.Aborted}}</span> aborted;
<span id="findings">{{.Findings}}</span> findings need attention.</p>
<h2>Drills</h2>
{{if .Drills}}<table id="drills">
<tr><th>entry</th><th>secret</th><th>date (UTC)</th><th>result</th><th>tapped</th><th>lead</th><th>ticket</th></tr>
{{range .Drills}}<tr><td>{{.Entry}}</td><td>{{.Secret}}</td><td>{{date .Time}}</td><td class="{{.Result}}">{{.Result}}</td><td>{{join .Tapped}}</td><td>{{.Lead}}</td><td>{{.Ticket}}</td></tr>
{{end}}</table>{{else}}<p>No drill.</p>{{end}}
{{if .Runs}}<h2>Results per custodian (drill runs)</h2>
<table id="results">
<tr><th>entry</th><th>secret</th><th>custodian</th><th>result</th><th>problem</th><th>token</th><th>PIN tries left</th></tr>
{{range .Drills}}{{$d := .}}{{range .Results}}<tr><td>{{$d.Entry}}</td><td>{{$d.Secret}}</td><td>{{.Name}}</td><td class="{{.Result}}">{{.Result}}</td><td>{{.Problem}}</td><td>{{.Token}}</td><td>{{tries .PINTries}}</td></tr>
{{end}}{{end}}</table>{{end}}
<h2>Custodians</h2>
<table id="custodians">
<tr><th>custodian</th><th>drills tapped</th><th>last seen</th></tr>
{{range .Custodians}}<tr><td>{{.Name}}</td><td>{{.Drills}}</td><td>{{if .LastSeen}}{{day .LastSeen}}{{else}}never{{end}}</td></tr>
{{end}}</table>
<h2>Findings and their fixes</h2>
<ul>
{{range .Status}}{{$s := .Secret}}{{range .Findings}}<li><strong>{{$s}}</strong> ({{.Severity}}): {{.Problem}}. Fix: <code>{{.Fix}}</code></li>
{{end}}{{end}}</ul>
<h2>Checkpoint</h2>
<p>Verify with <code>breakglass log verify --checkpoint FILE</code>:</p>
<pre id="checkpoint">{{.Checkpoint}}</pre>
</body>
</html>
`))
