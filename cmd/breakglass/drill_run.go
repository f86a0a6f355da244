package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/aws/awstest"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/drills"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/seal/ceremony"
)

const drillRunHelp = `drill run is the quarterly drill: EVERY custodian of a sealed secret proves
their token or paper share, K of them rebuild the key, and nothing is released.

Each custodian taps as in an unseal (PIN, touch; their approval says
action "drill"): breakglass unwraps their share, checks it against its
commitment in the header, and wipes it. Paper custodians give their share
with --mnemonic-file (or --paper, typed hidden); it is checked the same way.
K of the shares rebuild the secret's key, which must derive the header's
recipient and verify its MAC; then everything is wiped. No plaintext is
produced.

With --aws (a key sealed by breakglass aws provision) the sealed key is
decrypted in memory and proves itself to AWS without gaining any power:
GetCallerIdentity with the key, AssumeRole with a deny-all session policy
for 15 minutes, GetCallerIdentity with that session; then it is wiped.
This is a drill, not a release: nothing needs revoking afterwards.

The drill waits for every custodian. Name those who cannot come with
--absent NAME; once K have tapped, the end of the window (--window) also
ends the drill, and who has not tapped by then is recorded as absent — or
as failed, with the reason, when they tried: a wrong PIN, a card pulled out,
a card that is not the one the secret was sealed to, a mistyped share.

In a case with a logbook each custodian's tap is signed into it by their
own token, and the drill lead's (--operator) token signs the drill entry:
the result, and for every custodian proved / absent / failed with the
problem, their token, its firmware, its PIN tries left and when it was
enrolled. breakglass drill status and drill report read it.

Exit status: 0 when the drill passed and every custodian proved their
share; 3 when it passed but a custodian failed or was absent (each is
named with its fix); 1 when it failed; 130 when stopped with Ctrl-C
(recorded as aborted). See docs/runbook-drill.md.

EXAMPLES
   # every custodian at the table, YubiKeys
   breakglass drill run prod-aws.glass --aws --operator alice --ticket DRILL-2026Q4

   # carol is on leave; erin's share is on paper
   breakglass drill run prod-aws.glass --operator alice --ticket DRILL-2026Q4 \
     --absent carol --mnemonic-file paper/prod-aws-erin.paper.txt

   # virtual cards, PINs from a file, the result as JSON
   breakglass drill run demo.glass --operator alice --ticket DRILL-1 \
     --pin-file pins.txt --window 30s --json`

func drillRunCommand() *cli.Command {
	return &cli.Command{
		Name:        "run",
		Usage:       "the whole drill: every custodian proves their share, k rebuild the key, nothing is released",
		ArgsUsage:   "NAME.glass",
		Description: drillRunHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "reason", Value: "drill", Usage: "recorded in every approval"},
			&cli.StringFlag{Name: "ticket", Usage: "drill ticket `ID`"},
			&cli.GenericFlag{Name: "absent", Value: &listFlag{}, Usage: "custodian `NAME` who cannot come (repeatable or comma-separated)"},
			&cli.BoolFlag{Name: "aws", Usage: "also prove the sealed AWS key with a deny-all STS session"},
			&cli.StringFlag{Name: "region", Usage: "AWS `REGION` for STS (default us-east-1)"},
			&cli.StringFlag{Name: "endpoint-url", Usage: "send the STS requests to `URL` (the rehearsal server; AWS_ENDPOINT_URL works too)"},
			&cli.BoolFlag{Name: "json", Usage: "print the result as JSON on stdout"},
		}, append(tapFlags(), caseFlags()...)...),
		Action: runDrillRun,
	}
}

// drillRunResult is what drill run prints with --json.
type drillRunResult struct {
	File       string                   `json:"file"`
	Name       string                   `json:"name"`
	Result     string                   `json:"result"`
	Error      string                   `json:"error,omitempty"`
	Custodians []drills.CustodianResult `json:"custodians"`
	AWS        *aws.DrillProof          `json:"aws,omitempty"`
	Alert      *awstest.AlertTrace      `json:"alert,omitempty"`
	Findings   []drills.Finding         `json:"findings"`
	Entry      *int64                   `json:"entry,omitempty"`
}

func runDrillRun(c *cli.Context) error {
	var absent []string
	userARN, alerts := "", []string(nil)
	ds, err := startDrill(c, "run", func(path string, h *seal.Header) error {
		absent = listValues(c, "absent", true)
		names := custodianNames(h)
		for _, a := range absent {
			if !slices.Contains(names, a) {
				return usageError("--absent %s: not a custodian of %s (%s)", a, h.Name, strings.Join(names, ", "))
			}
		}
		if !c.Bool("aws") {
			if c.IsSet("region") || c.IsSet("endpoint-url") {
				return usageError("--region and --endpoint-url go with --aws")
			}
			return nil
		}
		if err := awsGlassHeader(path, h); err != nil {
			return err
		}
		if _, err := os.Stat(aws.RecordPath(path)); err == nil {
			rec, _, err := loadAWSRecord(path, h)
			if err != nil {
				return err
			}
			userARN, alerts = rec.UserARN, rec.Alerts
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer ds.file.Close()
	path, f, cl, cm := ds.path, ds.f, ds.cl, ds.cm
	h := f.Header
	cm.collectAll, cm.absent = true, absent
	cm.onTap = cl.onTap
	infof("drill run of %s: every custodian proves their share%s", h.Name, map[bool]string{true: " (absent: " + strings.Join(absent, ", ") + ")", false: ""}[len(absent) > 0])

	result := logbook.DrillAborted
	err = cm.run(context.Background())
	var se *ceremony.StopError
	if errors.As(err, &se) && se.Exhausted {
		result = logbook.DrillFail // the custodians who came cannot reach the policy
	}
	var proof *aws.DrillProof
	var alerted *awstest.AlertTrace
	awsResult := ""
	if err == nil {
		if c.Bool("aws") {
			asked := time.Now().Add(-time.Second)
			proof, err = drillAWS(c, cm.u, h, cl.Operator, userARN)
			if err == nil && len(alerts) > 0 {
				alerted = drillAlerted(c, cl.Operator, asked)
			}
			awsResult = map[bool]string{true: drills.AWSPass, false: drills.AWSFail}[err == nil]
			var oe *drillOpenError
			if errors.As(err, &oe) {
				awsResult = "" // the taps did not rebuild the key: AWS was not asked
			}
		} else {
			err = openErr(cm.u.Drill())
		}
		result = map[bool]string{true: logbook.DrillPass, false: logbook.DrillFail}[err == nil]
	}
	cm.u.Wipe()
	results := custodianResults(c, h, cm.results, absent)
	// Paper and remote shares: their tap entries, signed by the lead
	// (the tokens' own were signed as they tapped).
	var all []*approval.Approval
	for _, r := range cm.results {
		if r.Approval != nil {
			all = append(all, r.Approval)
		}
	}
	if rerr := cl.logTaps(all); rerr != nil && err == nil {
		err = fmt.Errorf("a tap could not be recorded: %w", rerr)
		result = logbook.DrillFail
	}

	var proved []string
	for _, r := range results {
		if r.Result == drills.Proved {
			proved = append(proved, r.Name)
		}
	}
	d := map[string]string{logbook.DetailResult: result, logbook.DetailTapped: strings.Join(proved, ","), drills.DetailAWS: awsResult}
	if err != nil {
		d["error"] = logbook.OneLine(err.Error())
	}
	d["approvals"] = approvalsDetail(all)
	if proof != nil {
		d["aws-user-arn"], d["aws-assumed-role-arn"] = proof.UserARN, proof.AssumedRoleARN
	}
	if alerted != nil && alerted.Observed {
		d["aws-alert"] = strings.Join(alerted.Reached, ",")
		if len(alerted.Reached) == 0 {
			d["aws-alert"] = "none"
		}
	}
	drills.SetDetails(d, results)
	if result == logbook.DrillAborted && cl.log != nil {
		infof("the drill was stopped; recording it as aborted, not as failed")
	}
	entry := cl.Entry(logbook.KindDrill, d)
	var at *int64
	if rerr := cl.logOperator(entry, -1); rerr != nil {
		rerr = fmt.Errorf("the drill result (%s) could not be recorded: %w", result, rerr)
		if err != nil {
			reportError(os.Stderr, rerr)
			return err
		}
		return rerr
	} else if cl.log != nil {
		n := cl.log.Size() - 1
		at = &n
	}

	// What the drill found, as drill status will say it.
	findings := []drills.Finding{}
	if result != logbook.DrillAborted {
		run := &drills.Drill{Time: time.Now().UTC(), Results: results, AWS: awsResult, Run: true}
		if at != nil {
			run.Entry = *at
		}
		findings = drills.RunFindings(run, path)
	}
	if alerted != nil && alerted.Observed && len(alerted.Reached) == 0 {
		findings = append(findings, drills.Finding{Severity: drills.Attention, Problem: "the drill's AssumeRole fired no alert (rehearsal server)",
			Fix: "breakglass aws check " + path + " --fire-test finds what is broken in the alert path"})
	}
	if err != nil {
		printDrillRun(results)
		for _, fd := range findings {
			infof("%s: %s\n  fix: %s", fd.Severity, fd.Problem, fd.Fix)
		}
		return err
	}
	if c.Bool("json") {
		if err := printJSON(drillRunResult{File: path, Name: h.Name, Result: result, Custodians: results, AWS: proof, Alert: alerted, Findings: findings, Entry: at}); err != nil {
			return err
		}
	} else {
		printDrillRun(results)
		if proof != nil {
			infof("AWS: the sealed key %s is %s's; the role answered as %s (deny-all session, expires %s)", proof.AccessKeyID,
				proof.UserARN, proof.AssumedRoleARN, proof.SessionExpiry.Local().Format("15:04 MST"))
		}
		switch {
		case alerted == nil:
		case !alerted.Observed:
			infof("AWS: the drill's AssumeRole should have fired the alert (%s); AWS does not report delivery: ask the recipients", strings.Join(alerts, ", "))
		case len(alerted.Reached) == 0: // a finding, below
		default:
			infof("AWS: the drill's AssumeRole fired the alert: delivered to %s (rehearsal server)", strings.Join(alerted.Reached, ", "))
		}
	}
	what := "nothing was decrypted"
	if proof != nil {
		what = "the key was used only for a deny-all session, then wiped"
	}
	infof("drill passed: %s of %d proved their share, %s rebuilt the key of %s; %s",
		plural(len(proved), "custodian"), len(results), plural(len(cm.approvals), "tap"), h.Name, what)
	if len(findings) > 0 {
		return &hintError{err: fmt.Errorf("the drill passed with %s", plural(len(findings), "finding")),
			hints: findingHints(findings), code: exitDrift}
	}
	return nil
}

// drillOpenError: the taps did not rebuild the key (the drill failed
// before AWS was asked).
type drillOpenError struct{ err error }

func (e *drillOpenError) Error() string { return e.err.Error() }
func (e *drillOpenError) Unwrap() error { return e.err }

// drillAWS decrypts the sealed key in memory and proves it to AWS with a
// deny-all session; the key is wiped.
func drillAWS(c *cli.Context, u *seal.Unseal, h *seal.Header, operator, userARN string) (*aws.DrillProof, error) {
	key, err := awsOpenSealedKey(u, h)
	if err != nil {
		return nil, &drillOpenError{err}
	}
	defer key.Wipe()
	ctx, cancel := awsContext(c)
	defer cancel()
	infof("AWS: proving the sealed key %s with a deny-all session of %s", h.KeyID, h.Scope)
	proof, err := aws.ProveKey(ctx, *key, aws.Request{RoleARN: h.Scope, Operator: operator,
		Region: c.String("region"), Endpoint: awsEndpoint(c)}, userARN)
	if err != nil {
		return proof, awsErr("the AWS check of "+h.Name, err)
	}
	return proof, nil
}

// drillAlerted asks the rehearsal server where the alert of the drill's
// AssumeRole (made by operator after since) was delivered. Real AWS does
// not say: Observed is false.
func drillAlerted(c *cli.Context, operator string, since time.Time) *awstest.AlertTrace {
	ctx, cancel := awsContext(c)
	defer cancel()
	return awstest.TraceAssumeRoleAlert(ctx, awsEndpoint(c), operator, since)
}

// custodianResults turns the ceremony's results into the drill entry's.
func custodianResults(c *cli.Context, h *seal.Header, rs []ceremony.Result, absent []string) []drills.CustodianResult {
	enrolled := map[string]time.Time{}
	if cd, err := openCase(c); err == nil {
		if recs, err := cd.Records(); err == nil {
			for _, r := range recs {
				if t, err := time.Parse(time.RFC3339, r.EnrolledAt); err == nil {
					enrolled[r.Custodian.Name] = t
				}
			}
		}
	}
	return drills.ResultsOf(rs, absent, enrolled)
}

// printDrillRun says on standard error what became of each custodian.
func printDrillRun(results []drills.CustodianResult) {
	w := os.Stderr
	fmt.Fprintf(w, "\n%-16s %-8s %s\n", "CUSTODIAN", "RESULT", "DETAILS")
	for _, r := range results {
		var det []string
		if r.Problem != "" {
			det = append(det, r.Problem+": "+r.Error)
		}
		if r.Token != "" {
			det = append(det, r.Token)
		}
		if r.Firmware != "" {
			det = append(det, "firmware "+r.Firmware)
		}
		if r.PINTries >= 0 {
			det = append(det, pinTriesLeft(r.PINTries))
		}
		if !r.Enrolled.IsZero() {
			det = append(det, "enrolled "+r.Enrolled.Format(time.DateOnly))
		}
		fmt.Fprintf(w, "%-16s %-8s %s\n", r.Name, r.Result, strings.Join(det, ", "))
	}
	fmt.Fprintln(w)
}

func pinTriesLeft(n int) string {
	if n == 1 {
		return "1 PIN try left"
	}
	return fmt.Sprintf("%d PIN tries left", n)
}

func findingHints(fs []drills.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Problem+": "+f.Fix)
	}
	return out
}
