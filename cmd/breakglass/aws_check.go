package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/aws/audit"
	"github.com/breakglass/breakglass/logbook"
)

// exitDrift is aws check's exit status when it found drift: the check ran,
// and break-glass access is at risk.
const exitDrift = 3

const awsCheckHelp = `check compares the AWS account with what provision set up and what is
sealed, and changes nothing:

   - the user and the role exist, were made by breakglass, with their tags,
     policies (by SHA-256 of the canonical JSON) and maximum session;
   - nothing gives them more power: no group membership of the user, no
     managed policy on the user, none but the provisioned one on the role,
     no inline policy breakglass did not write;
   - after a revoke, the user and the role deny sessions issued before the
     revoke (AWSRevokeOlderSessions, exactly as revoke wrote it, the same
     on both), no earlier than the logbook's last revoke entry says;
   - the user has exactly one access key, the sealed one, active, and not
     older than --max-key-age;
   - the key's last use (GetAccessKeyLastUsed) is explained by a release or
     a recorded attempt in the logbook;
   - the provisioning record agrees with the logbook's seal entry;
   - with alerts (provision --alert): the rule is enabled for all CloudTrail
     management events, its pattern unchanged (by hash), its targets in
     place, the topic there with its policy (only the rule may publish) and
     tags, and every email and https recipient has confirmed.

--fire-test also publishes a test alert to the topic (and to sns: alert
topics) and, against the rehearsal server, reports whom it reached: a
confirmed recipient it missed is drift. Real SNS does not report delivery:
ask the recipients.

Each finding comes with its fix. The exit status is 0 when nothing drifted
(warnings allowed), 3 on drift, 1 when the check itself could not run.

Run it with administrator (or read-only IAM) credentials, on a schedule and
after every revoke.

EXAMPLES
   breakglass aws check prod.glass
   breakglass aws check prod.glass --json | jq '.findings[]'
   breakglass aws check prod.glass --fire-test`

func awsCheckCommand() *cli.Command {
	return &cli.Command{
		Name:        "check",
		Usage:       "find drift between the account, the provisioning and the sealed key",
		ArgsUsage:   "NAME.glass",
		Description: awsCheckHelp,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON on stdout"},
			&cli.DurationFlag{Name: "max-key-age", Value: 90 * 24 * time.Hour, Usage: "warn about a sealed key older than this"},
			&cli.BoolFlag{Name: "fire-test", Usage: "also publish a test alert (and, on the rehearsal server, report whom it reached)"},
		}, slices.Concat(awsConnFlags(), attestTrustFlags(), caseFlags())...),
		Action: runAWSCheck,
	}
}

// awsCheckJSON is check's --json output.
type awsCheckJSON struct {
	Secret    string       `json:"secret"`
	File      string       `json:"file"`
	Account   string       `json:"account"`
	UserARN   string       `json:"user_arn"`
	RoleARN   string       `json:"role_arn"`
	SealedKey aws.KeyState `json:"sealed_key"`
	// SessionsRevokedBefore: IAM denies sessions issued before this time
	// on the user and the role (after a revoke).
	SessionsRevokedBefore time.Time      `json:"sessions_revoked_before,omitzero"`
	Findings              []aws.Finding  `json:"findings"`
	Drift                 bool           `json:"drift"`
	Releases              []awsUseReport `json:"explained_by,omitempty"`
	// Alert is the alert path (provision --alert), AlertTest the
	// --fire-test.
	Alert     *aws.AlertReport  `json:"alert,omitempty"`
	AlertTest *awsAlertTestJSON `json:"alert_test,omitempty"`
}

// awsUseReport names the logbook entry that explains a key's last use.
type awsUseReport struct {
	Index    int64     `json:"index"`
	Kind     string    `json:"kind"`
	Time     time.Time `json:"time"`
	Operator string    `json:"operator"`
	Ticket   string    `json:"ticket,omitempty"`
}

func runAWSCheck(c *cli.Context) error {
	if err := oneArg(c, "sealed key, NAME.glass"); err != nil {
		return err
	}
	path := c.Args().First()
	f, rec, spec, err := readAWSGlass(path)
	if err != nil {
		return err
	}
	if c.Bool("fire-test") && len(spec.Alerts) == 0 {
		return withHints(fmt.Errorf("--fire-test: %s has no alert", spec.Name),
			"add one with breakglass aws provision … --alert email:ADDRESS (the same flags as before, plus --alert)")
	}
	h := f.Header
	ac, err := openAWSCase(c)
	if err != nil {
		return err
	}
	cfg, err := awsAdminConfig(c)
	if err != nil {
		return err
	}
	ctx, cancel := awsContext(c)
	defer cancel()
	trust, err := attestTrustOf(c)
	if err != nil {
		return err
	}
	// The report is about the key the header names: the header must be
	// anchored (a key id IAM does not list is reported below as drift).
	if err := ac.cd.anchorHeader(ac.log, f, path, trust); err != nil {
		return err
	}
	rep, err := aws.Check(ctx, cfg, spec, h.KeyID, aws.CheckOptions{MaxKeyAge: c.Duration("max-key-age")})
	if err != nil {
		return awsErr("checking "+h.Name, err)
	}
	out := awsCheckJSON{Secret: h.Name, File: path, Account: rep.Account, UserARN: rep.UserARN, RoleARN: rep.RoleARN,
		SealedKey: rep.SealedKey, SessionsRevokedBefore: rep.SessionsRevokedBefore, Findings: rep.Findings, Alert: rep.Alert}
	if c.Bool("fire-test") {
		if out.AlertTest, err = awsFireTest(ctx, cfg, spec, rep, awsEndpoint(c)); err != nil {
			return awsErr("alert test of "+h.Name, err)
		}
		out.Findings = append(out.Findings, out.AlertTest.Findings...)
	}

	lc := audit.CheckLogbook(ac.entries(), ac.log != nil, h.Name, h.KeyID, path, rec.PolicyHashes, rep, time.Now())
	out.Findings = append(out.Findings, lc.Findings...)
	if e := lc.Explained; e != nil {
		out.Releases = append(out.Releases, awsUseReport{Index: e.Index, Kind: string(e.Kind), Time: e.Time,
			Operator: e.Details[logbook.DetailOperator], Ticket: e.Ticket})
	}
	for _, fd := range out.Findings {
		out.Drift = out.Drift || fd.Severity == aws.Drift
	}

	if c.Bool("json") {
		if err := printJSON(out); err != nil {
			return err
		}
	} else {
		w := c.App.Writer
		fmt.Fprintf(w, "%s: user %s, role %s\n", h.Name, rep.UserARN, rep.RoleARN)
		fmt.Fprintf(w, "sealed key %s: %s", h.KeyID, rep.SealedKey.Status)
		if !rep.SealedKey.LastUsed.IsZero() {
			fmt.Fprintf(w, ", last used %s (%s)", rep.SealedKey.LastUsed.UTC().Format(time.RFC3339), rep.SealedKey.LastUsedService)
		} else if rep.SealedKey.Status != aws.KeyDeleted {
			fmt.Fprintf(w, ", never used")
		}
		fmt.Fprintln(w)
		if !rep.SessionsRevokedBefore.IsZero() {
			fmt.Fprintf(w, "sessions issued before %s are revoked (user and role)\n", rep.SessionsRevokedBefore.UTC().Format(time.RFC3339))
		}
		for _, r := range out.Releases {
			fmt.Fprintf(w, "last use explained by logbook entry %d (%s by %s, ticket %s)\n", r.Index, r.Kind, r.Operator, r.Ticket)
		}
		printAlert(w, out.Alert, out.AlertTest)
		for _, fd := range out.Findings {
			fmt.Fprintf(w, "%s: %s: %s\n  fix: %s\n", fd.Severity, fd.Subject, fd.Problem, fd.Fix)
		}
	}
	if out.Drift {
		n := 0
		for _, fd := range out.Findings {
			if fd.Severity == aws.Drift {
				n++
			}
		}
		return &hintError{err: fmt.Errorf("%s: %s: break-glass access is at risk", h.Name, plural(n, "drift finding")),
			hints: []string{"each finding above names its fix"}, code: exitDrift}
	}
	if len(out.Findings) > 0 {
		infof("%s: no drift, %s", h.Name, plural(len(out.Findings), "warning"))
	} else {
		infof("%s: no drift", h.Name)
	}
	return nil
}
