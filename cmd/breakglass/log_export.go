package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/logbook"
)

const logExportHelp = `log export verifies the logbook and writes it as printable journal pages,
in Markdown or HTML: one block per entry with every field and its signature
lines, and at the foot of each page the tree head after its last entry and
the latest signed checkpoint, to copy into the paper journal. Auditors can
check any page against log verify --checkpoint. When the case has witnesses,
the foot also says how far they have cosigned the logbook and shows the
newest cosigned checkpoint, with their cosignature lines (verified first, as
log verify does).

The pages go to standard output, or to --out FILE, which must not exist yet.
--secret, --since and --kind select entries as in log show.

EXAMPLES
   breakglass log export --format md > journal.md
   breakglass log export --format html --out journal-2026Q4.html --since 2026-10-01
   breakglass log export --format md --secret prod-aws --per-page 5 | pandoc -o journal.pdf`

func logExportCommand() *cli.Command {
	return &cli.Command{
		Name:        "export",
		Usage:       "write the logbook as printable journal pages (Markdown or HTML)",
		ArgsUsage:   " ",
		Description: logExportHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "format", Usage: "`md` or html"},
			&cli.StringFlag{Name: "out", Usage: "write `FILE` (created; never overwritten) instead of standard output"},
			&cli.IntFlag{Name: "per-page", Value: logbook.DefaultPageSize, Usage: "entries per journal page"},
			&cli.StringFlag{Name: "secret", Usage: "only entries about the secret `NAME`"},
			&cli.StringFlag{Name: "since", Usage: "only entries at or after `DATE`"},
			&cli.GenericFlag{Name: "kind", Value: &listFlag{}, Usage: "only entries of `KIND` (repeatable)"},
		}, caseFlags()...),
		Action: runLogExport,
	}
}

func runLogExport(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c)
	}
	type writeFunc func(*bytes.Buffer, *logbook.Log, []*logbook.Entry, int, ...logbook.JournalOption) error
	md := func(b *bytes.Buffer, l *logbook.Log, e []*logbook.Entry, n int, o ...logbook.JournalOption) error {
		return logbook.WriteMarkdown(b, l, e, n, o...)
	}
	write := map[string]writeFunc{
		"md":       md,
		"markdown": md,
		"html": func(b *bytes.Buffer, l *logbook.Log, e []*logbook.Entry, n int, o ...logbook.JournalOption) error {
			return logbook.WriteHTML(b, l, e, n, o...)
		},
	}[c.String("format")]
	if write == nil {
		return usageError("log export needs --format md or --format html")
	}
	if c.Int("per-page") < 1 {
		return usageError("--per-page %d: want at least 1", c.Int("per-page"))
	}
	f, err := entryFilter(c)
	if err != nil {
		return err
	}
	out := c.String("out")
	if out != "" {
		if _, err := os.Lstat(out); err == nil {
			return withHints(fmt.Errorf("%s already exists; nothing was written", out), "choose another --out, or remove the file first")
		} else if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--out %s: %v", out, atomicfile.UnwrapPath(err))
		}
	}
	cd, l, err := openRequiredLog(c)
	if err != nil {
		return err
	}
	var opts []logbook.JournalOption
	if st, err := cd.witnessStatus(l); err != nil {
		return err
	} else if st != nil {
		opts = append(opts, logbook.WithWitnessed(st.Latest, st.Summary()))
	}
	sel := logbook.Select(l.Entries(), f)
	var buf bytes.Buffer
	if err := write(&buf, l, sel, c.Int("per-page"), opts...); err != nil {
		return err
	}
	if out == "" {
		_, err := stdout(c).Write(buf.Bytes())
		return err
	}
	fh, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", out, atomicfile.UnwrapPath(err))
	}
	_, err = fh.Write(buf.Bytes())
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
		return fmt.Errorf("cannot write %s: %v", out, err)
	}
	infof("wrote %s journal pages of %s to %s", c.String("format"), logPlural(int64(len(sel)), "entry", "entries"), out)
	return nil
}
