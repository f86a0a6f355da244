package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/session"
)

const logShowHelp = `log show verifies the logbook and prints who did what, when and why: one
line per entry with its number, time (UTC), kind, actor, secret, and the
reason and [ticket]. A tap the operator recorded for someone else (a paper
share, a remote tap) names the custodian: "erin (paper, recorded by alice)".
An entry with a result (a drill: pass, fail or aborted) shows it after the
reason, with who tapped and what went wrong. An unseal that ended without a
release (Ctrl-C, its window ran out, it failed, or its process was killed)
is closed by an abort, a note with detail action=abort: it is shown as kind
abort, with why, the session and unseal-start entry it closes, and who had
tapped. With --json it prints the entries as a JSON array instead, every
field included (details, header hash, previous tree hash).

Nothing is shown unless the whole logbook verifies. To look at a logbook that
does not (forensics), --unverified prints what the files say without checking
anything; that output is not evidence.

EXAMPLES
   breakglass log show
   breakglass log show --secret prod-aws --since 2026-10-01
   breakglass log show --json | jq '.[] | select(.kind == "release")'
   breakglass log show --kind release --kind revoke --case ~/cases/prod-aws`

func logShowCommand() *cli.Command {
	return &cli.Command{
		Name:        "show",
		Usage:       "print the logbook as a table (or JSON)",
		ArgsUsage:   " ",
		Description: logShowHelp,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the entries as a JSON array"},
			&cli.StringFlag{Name: "secret", Usage: "only entries about the secret `NAME`"},
			&cli.StringFlag{Name: "since", Usage: "only entries at or after `DATE` (2026-11-24 or 2026-11-24T05:00:00Z)"},
			&cli.GenericFlag{Name: "kind", Value: &listFlag{}, Usage: "only entries of `KIND` (repeatable: enroll, seal, unseal-start, tap, release, …)"},
			&cli.BoolFlag{Name: "unverified", Usage: "read a logbook that does not verify, checking nothing (not evidence)"},
		}, caseFlags()...),
		Action: runLogShow,
	}
}

// entryFilter reads --secret, --since and --kind.
func entryFilter(c *cli.Context) (logbook.Filter, error) {
	f := logbook.Filter{Secret: c.String("secret")}
	if s := c.String("since"); s != "" {
		t, err := parseSince(s)
		if err != nil {
			return f, err
		}
		f.Since = t
	}
	for _, k := range listValues(c, "kind", true) {
		if !logbook.Kind(k).Known() {
			var names []string
			for _, k := range logbook.Kinds {
				names = append(names, string(k))
			}
			return f, usageError("--kind %q: want one of %s", k, strings.Join(names, ", "))
		}
		f.Kinds = append(f.Kinds, logbook.Kind(k))
	}
	return f, nil
}

// parseSince accepts a date (midnight UTC) or an RFC 3339 time.
func parseSince(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, usageError("--since %q: want a date such as 2026-11-24 or a time such as 2026-11-24T05:00:00Z", s)
}

func runLogShow(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c)
	}
	f, err := entryFilter(c)
	if err != nil {
		return err
	}
	cd, err := openCase(c)
	if err != nil {
		return err
	}
	var entries []*logbook.Entry
	var readErr error
	if c.Bool("unverified") {
		if !cd.HasLog() {
			return cd.noLogbook()
		}
		infof("WARNING: reading %s without verifying anything; what follows is not evidence", cd.LogDir())
		entries, readErr = logbook.InsecureReadUnverified(cd.LogDir())
	} else {
		l, err := cd.requireLog()
		if err != nil {
			return err
		}
		entries = l.Entries()
	}
	entries = logbook.Select(entries, f)
	if c.Bool("json") {
		err = writeEntriesJSON(stdout(c), entries)
	} else {
		err = writeEntriesTable(stdout(c), entries)
	}
	if err != nil {
		return err
	}
	if readErr != nil {
		return fmt.Errorf("reading stopped: %w", readErr)
	}
	return nil
}

// entryJSON is an entry in log show --json: the format's fields, with the
// header hash in hex and the previous tree hash in base64, as in the entry
// text (docs/format-logbook.md).
type entryJSON struct {
	Origin     string            `json:"origin"`
	Index      int64             `json:"index"`
	Time       string            `json:"time"`
	Kind       string            `json:"kind"`
	Actor      string            `json:"actor"`
	Key        string            `json:"key"`
	Secret     string            `json:"secret,omitempty"`
	HeaderHash string            `json:"header-hash,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Ticket     string            `json:"ticket,omitempty"`
	UseCase    string            `json:"use-case,omitempty"`
	Details    map[string]string `json:"details,omitempty"`
	Prev       string            `json:"prev,omitempty"`
}

// writeEntriesJSON writes entries as an indented JSON array ([] when empty).
func writeEntriesJSON(w io.Writer, entries []*logbook.Entry) error {
	out := make([]entryJSON, 0, len(entries))
	for _, e := range entries {
		j := entryJSON{Origin: e.Origin, Index: e.Index, Time: e.Time.UTC().Format(time.RFC3339), Kind: string(e.Kind),
			Actor: e.Actor, Key: e.Key, Secret: e.Secret, Reason: e.Reason, Ticket: e.Ticket, UseCase: e.UseCase, Details: e.Details}
		if e.HeaderHash != nil {
			j.HeaderHash = hex.EncodeToString(e.HeaderHash)
		}
		if e.Index > 0 {
			j.Prev = base64.StdEncoding.EncodeToString(e.Prev[:])
		}
		out = append(out, j)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeEntriesTable writes one line per entry under a header.
func writeEntriesTable(w io.Writer, entries []*logbook.Entry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTIME (UTC)\tKIND\tACTOR\tSECRET\tREASON [TICKET]")
	for _, e := range entries {
		why := e.Reason
		if e.Ticket != "" {
			why = strings.TrimSpace(why + " [" + e.Ticket + "]")
		}
		if r := session.Result(e); r != "" {
			why = strings.TrimPrefix(why+": "+r, ": ")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", e.Index, e.Time.UTC().Format("2006-01-02 15:04:05"),
			session.ShownKind(e), session.ShownActor(e), dash(e.Secret), dash(why))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
