package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook/drills"
)

const drillStatusHelp = `status answers the drill coordinator's questions for every sealed secret of
the case, from the case alone (offline): the last successful drill and who
took part, custodians not seen for longer than the period, secrets whose
threshold the custodians seen recently can no longer reach, the age of a
sealed AWS key, and drills that are overdue. A custodian is seen when the
logbook shows them tapping (an unseal, a drill, a reseal) or enrolling.

The exit status is 0 when nothing needs attention and 3 when something does,
so cron or CI can run it; 1 when the status could not be read.

EXAMPLES
   breakglass drill status
   breakglass drill status --max-age 30d --json | jq '.[] | select(.findings != [])'`

func drillStatusCommand() *cli.Command {
	return &cli.Command{
		Name:        "status",
		Usage:       "per secret: last drill, custodians not seen lately, overdue drills (offline)",
		ArgsUsage:   " ",
		Description: drillStatusHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "max-age", Value: "90d", Usage: "the drill period: `DURATION` such as 90d, 12w or 2160h"},
			&cli.BoolFlag{Name: "json", Usage: "print the status as JSON on stdout"},
		}, caseFlags()...),
		Action: runDrillStatus,
	}
}

// parseAge reads a period: Nd, Nw or a Go duration.
func parseAge(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			var v int
			if _, err := fmt.Sscanf(n, "%d", &v); err == nil && v > 0 && fmt.Sprint(v) == n {
				return time.Duration(v) * unit, nil
			}
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: want a period such as 90d, 12w or 2160h", s)
	}
	return d, nil
}

// caseSecrets reads the sealed secrets of the case (drills.CaseSecrets),
// with readGlass's hints for a file that cannot be read.
func caseSecrets(cd *caseDir) ([]drills.Secret, error) {
	secrets, err := drills.CaseSecrets(cd.Dir)
	var se *drills.SecretError
	if errors.As(err, &se) {
		return nil, glassError(se.Path, se.Err)
	}
	return secrets, err
}

func runDrillStatus(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	maxAge, err := parseAge(c.String("max-age"))
	if err != nil {
		return usageError("--max-age %v", err)
	}
	cd, l, err := openRequiredLog(c)
	if err != nil {
		return err
	}
	secrets, err := caseSecrets(cd)
	if err != nil {
		return err
	}
	if len(secrets) == 0 {
		return withHints(fmt.Errorf("no sealed secrets (*.glass) in %s", cd.Dir), "run it in the case directory, or give --case DIR")
	}
	st := drills.Status(l.Entries(), secrets, drills.Options{MaxAge: maxAge})
	// A file the logbook does not vouch for says nothing about its drills.
	drills.AddHeaderFindings(l, secrets, st)
	attention := 0
	for _, s := range st {
		if s.NeedsAttention() {
			attention++
		}
	}
	if c.Bool("json") {
		if err := printJSON(st); err != nil {
			return err
		}
	} else {
		w := c.App.Writer
		for _, s := range st {
			owner := ""
			if s.Owner != "" {
				owner = ", owner " + s.Owner
			}
			fmt.Fprintf(w, "%s (%s, %s%s)\n", s.Secret, s.File, s.Threshold, owner)
			switch d := s.LastPassed; {
			case d == nil:
				fmt.Fprintf(w, "  last successful drill: never\n")
			default:
				fmt.Fprintf(w, "  last successful drill: %s (entry %d), tapped by %s\n", d.Time.UTC().Format("2006-01-02"), d.Entry, strings.Join(d.Tapped, ", "))
			}
			var cs []string
			for _, c := range s.Custodians {
				seen := "never seen"
				if c.LastSeen != nil {
					seen = "seen " + c.LastSeen.UTC().Format("2006-01-02")
				}
				if c.Retired {
					seen += ", retired"
				}
				cs = append(cs, fmt.Sprintf("%s (%s)", c.Name, seen))
			}
			fmt.Fprintf(w, "  custodians: %s\n", strings.Join(cs, ", "))
			if s.KeyID != "" {
				fmt.Fprintf(w, "  sealed key %s, %s old\n", s.KeyID, s.KeyAge)
			}
			for _, f := range s.Findings {
				fmt.Fprintf(w, "  %s: %s\n    fix: %s\n", f.Severity, f.Problem, f.Fix)
			}
		}
	}
	if attention > 0 {
		verb := "need"
		if attention == 1 {
			verb = "needs"
		}
		return &hintError{err: fmt.Errorf("%s of %d %s attention", plural(attention, "secret"), len(st), verb),
			hints: []string{"each finding above names its fix"}, code: exitDrift}
	}
	infof("%s: nothing needs attention", plural(len(st), "secret"))
	return nil
}
