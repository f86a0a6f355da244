package logbook

import (
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
)

// DefaultPageSize is the number of entries per journal page.
const DefaultPageSize = 10

// A page is one printed journal page.
type page struct {
	Number, Pages int
	Entries       []entryView
	Last          int64  // the page's last entry
	TreeSize      int64  // entries up to and including this page
	TreeRoot      string // the hash of that tree, base64
	Checkpoint    string // the latest signed checkpoint
	Witnessed     string // the newest cosigned checkpoint, or ""
	WitnessNote   string // how far the witnesses have cosigned
}

// A JournalOption changes what [WriteMarkdown] and [WriteHTML] show.
type JournalOption func(*journalOptions)

type journalOptions struct {
	witnessed, summary string
}

// WithWitnessed shows at the foot of each page, after the latest checkpoint,
// the newest checkpoint witnesses cosigned (a signed note carrying their
// cosignature lines, as package logbook/witness keeps it) and summary, a
// line saying how far they have witnessed the logbook. The caller has
// verified both.
func WithWitnessed(cosigned []byte, summary string) JournalOption {
	return func(o *journalOptions) { o.witnessed, o.summary = string(cosigned), summary }
}

type entryView struct {
	Index                           int64
	Time, Kind, Actor, Key, Secret  string
	Header, Reason, Ticket, UseCase string
	Details                         [][2]string
	Signature                       string
}

func journalPages(l *Log, entries []*Entry, perPage int, opts []JournalOption) ([]page, error) {
	var o journalOptions
	for _, f := range opts {
		f(&o)
	}
	if perPage <= 0 {
		perPage = DefaultPageSize
	}
	ckpt := string(l.Checkpoint().Signed)
	if ckpt == "" {
		ckpt = "(empty logbook: no checkpoint yet)\n"
	}
	var pages []page
	for lo := 0; lo < len(entries) || lo == 0; lo += perPage {
		hi := min(lo+perPage, len(entries))
		p := page{Number: len(pages) + 1, Checkpoint: ckpt, Witnessed: o.witnessed, WitnessNote: o.summary}
		for _, e := range entries[lo:hi] {
			v := entryView{
				Index: e.Index, Time: e.Time.UTC().Format(timeFormat), Kind: string(e.Kind),
				Actor: e.Actor, Key: e.Key, Secret: e.Secret, Reason: e.Reason, Ticket: e.Ticket, UseCase: e.UseCase,
			}
			if e.HeaderHash != nil {
				v.Header = fmt.Sprintf("%x", e.HeaderHash)
			}
			for _, k := range slices.Sorted(maps.Keys(e.Details)) {
				v.Details = append(v.Details, [2]string{k, e.Details[k]})
			}
			if _, sigs, ok := strings.Cut(string(e.Signed), "\n\n"); ok {
				v.Signature = strings.TrimSpace(sigs)
			}
			p.Entries = append(p.Entries, v)
		}
		if hi > 0 {
			last := entries[hi-1].Index + 1
			root, err := l.hashes.root(last)
			if err != nil {
				return nil, err
			}
			p.Last, p.TreeSize, p.TreeRoot = last-1, last, base64.StdEncoding.EncodeToString(root[:])
		}
		pages = append(pages, p)
		if hi == len(entries) {
			break
		}
	}
	for i := range pages {
		pages[i].Pages = len(pages)
	}
	return pages, nil
}

// WriteMarkdown writes entries (all from l, in order; see [Select]) as
// printable journal pages in Markdown: one block per entry, and at the foot
// of each page the tree head after its last entry and l's latest signed
// checkpoint, to copy into a paper journal.
func WriteMarkdown(w io.Writer, l *Log, entries []*Entry, perPage int, opts ...JournalOption) error {
	pages, err := journalPages(l, entries, perPage, opts)
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, p := range pages {
		fmt.Fprintf(&b, "# Logbook %s — page %d of %d\n\n", l.Origin(), p.Number, p.Pages)
		if len(p.Entries) == 0 {
			b.WriteString("No entries.\n\n")
		}
		for _, e := range p.Entries {
			fmt.Fprintf(&b, "## Entry %d — %s — %s\n\n", e.Index, e.Kind, e.Time)
			row := func(k, v string) {
				if v != "" {
					fmt.Fprintf(&b, "- **%s:** %s\n", k, mdEscape(v))
				}
			}
			row("actor", e.Actor+" (key "+e.Key+")")
			row("secret", e.Secret)
			row("header hash", e.Header)
			row("reason", e.Reason)
			row("ticket", e.Ticket)
			row("use case", e.UseCase)
			for _, d := range e.Details {
				row(d[0], d[1])
			}
			fmt.Fprintf(&b, "\n```\n%s\n```\n\n", e.Signature)
		}
		if p.TreeSize > 0 {
			fmt.Fprintf(&b, "Tree head after entry %d: size %d, root `%s`\n\n", p.Last, p.TreeSize, p.TreeRoot)
		}
		fmt.Fprintf(&b, "Latest checkpoint:\n\n```\n%s```\n\n", p.Checkpoint)
		if p.WitnessNote != "" {
			fmt.Fprintf(&b, "Witnesses: %s\n\n", mdEscape(p.WitnessNote))
		}
		if p.Witnessed != "" {
			fmt.Fprintf(&b, "Latest cosigned checkpoint:\n\n```\n%s```\n\n", p.Witnessed)
		}
		b.WriteString("---\n\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", "[", `\[`)
	return r.Replace(s)
}

var htmlJournal = template.Must(template.New("journal").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Logbook {{.Origin}}</title>
<style>
body { font-family: serif; margin: 2em; }
.page { page-break-after: always; }
.entry { border: 1px solid #444; padding: 0.5em 1em; margin: 0.8em 0; page-break-inside: avoid; }
pre { white-space: pre-wrap; word-break: break-all; font-size: 80%; }
th { text-align: left; padding-right: 1em; vertical-align: top; }
</style></head><body>
{{range .Pages}}<section class="page">
<h1>Logbook {{$.Origin}} — page {{.Number}} of {{.Pages}}</h1>
{{if not .Entries}}<p>No entries.</p>{{end}}
{{range .Entries}}<div class="entry">
<h2>Entry {{.Index}} — {{.Kind}} — {{.Time}}</h2>
<table>
<tr><th>actor</th><td>{{.Actor}} (key {{.Key}})</td></tr>
{{if .Secret}}<tr><th>secret</th><td>{{.Secret}}</td></tr>{{end}}
{{if .Header}}<tr><th>header hash</th><td>{{.Header}}</td></tr>{{end}}
{{if .Reason}}<tr><th>reason</th><td>{{.Reason}}</td></tr>{{end}}
{{if .Ticket}}<tr><th>ticket</th><td>{{.Ticket}}</td></tr>{{end}}
{{if .UseCase}}<tr><th>use case</th><td>{{.UseCase}}</td></tr>{{end}}
{{range .Details}}<tr><th>{{index . 0}}</th><td>{{index . 1}}</td></tr>{{end}}
</table>
<pre>{{.Signature}}</pre>
</div>{{end}}
<footer>
{{if .TreeSize}}<p>Tree head after entry {{.Last}}: size {{.TreeSize}}, root <code>{{.TreeRoot}}</code></p>{{end}}
<p>Latest checkpoint:</p>
<pre>{{.Checkpoint}}</pre>
{{if .WitnessNote}}<p>Witnesses: {{.WitnessNote}}</p>{{end}}
{{if .Witnessed}}<p>Latest cosigned checkpoint:</p>
<pre>{{.Witnessed}}</pre>{{end}}
</footer>
</section>
{{end}}</body></html>
`))

// WriteHTML is [WriteMarkdown] as one HTML document, one printed page per
// journal page.
func WriteHTML(w io.Writer, l *Log, entries []*Entry, perPage int, opts ...JournalOption) error {
	pages, err := journalPages(l, entries, perPage, opts)
	if err != nil {
		return err
	}
	return htmlJournal.Execute(w, struct {
		Origin string
		Pages  []page
	}{l.Origin(), pages})
}
