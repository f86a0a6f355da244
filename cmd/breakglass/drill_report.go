package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook/drills"
)

const drillReportHelp = `report writes the evidence of the drills for auditors, from the case alone:
every drill (since --since) with its result, who tapped, the lead and the
ticket; each custodian's part; the findings of drill status and their fixes;
and the logbook checkpoint that proves it all (verify it with breakglass log
verify --checkpoint). --format html writes one self-contained page (no
scripts, nothing fetched) that prints well.

EXAMPLES
   breakglass drill report --since 2026-01-01 > drills-2026.md
   breakglass drill report --format html --out drills-2026Q4.html`

func drillReportCommand() *cli.Command {
	return &cli.Command{
		Name:        "report",
		Usage:       "the drills' evidence for auditors (Markdown or one HTML page)",
		ArgsUsage:   " ",
		Description: drillReportHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "since", Usage: "only drills at or after `DATE` (2006-01-02 or RFC 3339)"},
			&cli.StringFlag{Name: "format", Value: "md", Usage: "`md` (Markdown) or html"},
			&cli.StringFlag{Name: "max-age", Value: "90d", Usage: "the drill period for the findings: `DURATION` such as 90d"},
			&cli.StringFlag{Name: "out", Usage: "write the report to `FILE` (default: standard output)"},
		}, caseFlags()...),
		Action: runDrillReport,
	}
}

func runDrillReport(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	format := c.String("format")
	if format != "md" && format != "html" {
		return usageError("--format %q: want md or html", format)
	}
	maxAge, err := parseAge(c.String("max-age"))
	if err != nil {
		return usageError("--max-age %v", err)
	}
	var since time.Time
	if s := c.String("since"); s != "" {
		if since, err = parseSince(s); err != nil {
			return err
		}
	}
	cd, l, err := openRequiredLog(c)
	if err != nil {
		return err
	}
	secrets, err := caseSecrets(cd)
	if err != nil {
		return err
	}
	rep := drills.NewReport(l.Entries(), secrets, since, drills.Options{MaxAge: maxAge})
	ck := l.Checkpoint()
	rep.Origin, rep.Size, rep.Checkpoint = l.Origin(), ck.N, string(ck.Signed)
	var b bytes.Buffer
	if format == "html" {
		if err := rep.WriteHTML(&b); err != nil {
			return err
		}
	} else {
		rep.WriteMarkdown(&b)
	}
	if out := c.String("out"); out != "" {
		if err := writeNewFile(out, 0o644, true, func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err }); err != nil {
			return err
		}
		infof("wrote %s: %s (%d passed, %d failed, %d aborted), %s", out, plural(len(rep.Drills), "drill"), rep.Passed, rep.Failed, rep.Aborted, plural(rep.Findings(), "finding"))
		return nil
	}
	_, err = os.Stdout.Write(b.Bytes())
	if err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	return nil
}
