package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook/drills"
)

const drillScheduleHelp = `schedule writes the case's drill plan as a calendar (RFC 5545): one
recurring event, invited to the custodians of the case's sealed secrets who
have an e-mail address in their enrollment record, whose description is the
drill runbook's commands for each secret. Its UID stays the same on every run
for the same case, owner and start date, so importing it again updates the
event instead of adding a second one.

EXAMPLES
   breakglass drill schedule --every 3mo --from 2027-01-15 --out drills.ics
   breakglass drill schedule --every 3mo --owner sre --out sre-drills.ics`

func drillScheduleCommand() *cli.Command {
	return &cli.Command{
		Name:        "schedule",
		Usage:       "write the recurring drill as a calendar (.ics) for the custodians",
		ArgsUsage:   " ",
		Description: drillScheduleHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "every", Value: "3mo", Usage: "how often: `PERIOD` such as 3mo, 90d, 2w or 1y"},
			&cli.StringFlag{Name: "from", Usage: "the first drill's `DATE` (2006-01-02; default: today)"},
			&cli.StringFlag{Name: "owner", Usage: "only the secrets of the owning `TEAM` (AWS provisioning records)"},
			&cli.StringFlag{Name: "out", Usage: "write the calendar to `FILE` (.ics)"},
		}, caseFlags()...),
		Action: runDrillSchedule,
	}
}

func runDrillSchedule(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	if err := requireFlags(c, "out"); err != nil {
		return err
	}
	every, err := drills.ParseEvery(c.String("every"))
	if err != nil {
		return usageError("--every %v", err)
	}
	from := time.Now().UTC().Truncate(24 * time.Hour)
	if s := c.String("from"); s != "" {
		if from, err = time.Parse("2006-01-02", s); err != nil {
			return usageError("--from %q: want a date, 2006-01-02", s)
		}
	}
	cd, err := openCase(c)
	if err != nil {
		return err
	}
	secrets, err := caseSecrets(cd)
	if err != nil {
		return err
	}
	owner := c.String("owner")
	recs, err := cd.Records()
	if err != nil {
		return err
	}
	email := map[string]string{}
	for _, r := range recs {
		if r.Custodian.Email != "" {
			email[r.Custodian.Name] = r.Custodian.Email
		}
	}
	caseName := cd.Dir
	if l, err := cd.Log(); err == nil && l != nil {
		caseName = l.Origin()
	}
	p := &drills.Plan{Case: caseName, Owner: owner, From: from, Every: every}
	invited := map[string]bool{}
	var desc strings.Builder
	desc.WriteString("The quarterly break-glass drill (docs/runbook-drill.md). The drill lead runs, in the case:\n")
	for _, s := range secrets {
		if owner != "" && s.Owner != owner {
			continue
		}
		p.Secrets = append(p.Secrets, s.File)
		awsFlag := ""
		if s.Header.KeyID != "" && strings.Contains(s.Header.Scope, ":role/") {
			awsFlag = " --aws"
		}
		fmt.Fprintf(&desc, "  breakglass drill run %s%s --operator LEAD --ticket DRILL-ID   (%s, %s; every custodian)\n", s.File, awsFlag, s.Header.Name, s.Header.Policy())
		for _, cu := range s.Header.Custodians() {
			if !invited[cu.Name] {
				invited[cu.Name] = true
				p.Attendees = append(p.Attendees, drills.Attendee{Name: cu.Name, Email: email[cu.Name]})
			}
		}
	}
	if len(p.Secrets) == 0 {
		return withHints(fmt.Errorf("no sealed secrets to drill in %s", cd.Dir), "check --owner and --case")
	}
	desc.WriteString("then: breakglass drill status; breakglass log checkpoint (into the drill ticket); commit the logbook.")
	p.Description = desc.String()
	sort.Slice(p.Attendees, func(i, j int) bool { return p.Attendees[i].Name < p.Attendees[j].Name })
	ics, err := drills.Schedule(p, time.Now())
	if err != nil {
		return err
	}
	out := c.String("out")
	if err := writeNewFile(out, 0o644, true, func(w io.Writer) error { _, err := w.Write(ics); return err }); err != nil {
		return err
	}
	n := 0
	for _, a := range p.Attendees {
		if a.Email != "" {
			n++
		}
	}
	infof("wrote %s: a drill every %s from %s for %s, %s invited (UID %s)", out, c.String("every"), from.Format("2006-01-02"),
		plural(len(p.Secrets), "secret"), plural(n, "custodian"), p.UID())
	if n < len(p.Attendees) {
		infof("warning: %d custodians have no e-mail address in their enrollment record and are not invited", len(p.Attendees)-n)
	}
	return nil
}
