package main

import (
	"fmt"
	"slices"
	"strings"
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

	entries := ac.entries()
	if ac.log != nil {
		if seal := awsLastSeal(entries, h.Name); seal != nil {
			for k, v := range rec.PolicyHashes {
				if got := seal.Details["policy-"+k+"-sha256"]; got != "" && got != v {
					out.Findings = append(out.Findings, aws.Finding{Severity: aws.Drift, Subject: aws.RecordPath(path),
						Problem: fmt.Sprintf("the %s policy hash differs from the logbook's seal entry %d", k, seal.Index),
						Fix:     "restore " + aws.RecordPath(path) + " from git; if the change was intended, run breakglass aws provision to record it"})
				}
			}
		}
		if f := revokeKept(awsLastRevoke(entries, h.Name), rep, path, time.Now()); f != nil {
			out.Findings = append(out.Findings, *f)
		}
	}
	if lu := rep.SealedKey.LastUsed; !lu.IsZero() {
		switch e := audit.ExplainUse(entries, h.Name, h.KeyID, lu); {
		case e != nil:
			out.Releases = append(out.Releases, awsUseReport{Index: e.Index, Kind: string(e.Kind), Time: e.Time,
				Operator: e.Details[logbook.DetailOperator], Ticket: e.Ticket})
		case ac.log == nil:
			out.Findings = append(out.Findings, aws.Finding{Severity: aws.Warning, Subject: h.KeyID,
				Problem: fmt.Sprintf("the sealed key was last used %s (%s), and there is no logbook to explain it", lu.UTC().Format(time.RFC3339), rep.SealedKey.LastUsedService),
				Fix:     "keep a logbook in the case (breakglass log init) so that every use is explained"})
		default:
			out.Findings = append(out.Findings, aws.Finding{Severity: aws.Drift, Subject: h.KeyID,
				Problem: fmt.Sprintf("the sealed key was used %s (%s) and no release in the logbook explains it", lu.UTC().Format(time.RFC3339), rep.SealedKey.LastUsedService),
				Fix:     "treat it as an incident: find the call in CloudTrail, then run breakglass aws revoke " + path})
		}
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

// awsLastSeal is the latest seal, reseal, revoke or rotate entry of a
// secret that carries policy hashes (written by provision).
func awsLastSeal(entries []*logbook.Entry, name string) *logbook.Entry {
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Secret == name && e.Kind == logbook.KindSeal && strings.HasPrefix(e.Reason, "aws provision") {
			return e
		}
	}
	return nil
}

// awsLastRevoke is the latest aws revoke entry of a secret that records
// its cutoff.
func awsLastRevoke(entries []*logbook.Entry, name string) *logbook.Entry {
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Secret == name && e.Kind == logbook.KindRevoke && e.Details["sessions-before"] != "" {
			return e
		}
	}
	return nil
}

// awsLongestSession is how long a session issued before a revoke can
// last: a session token (sts:GetSessionToken) lasts up to 36 hours, a role
// session up to 12.
const awsLongestSession = 36 * time.Hour

// revokeKept checks that IAM still denies the sessions the logbook's last
// revoke denied, on the user and the role. A deny removed while sessions
// from before the revoke can still be alive is drift; later it is only
// worth a warning.
func revokeKept(rev *logbook.Entry, rep *aws.CheckReport, path string, now time.Time) *aws.Finding {
	if rev == nil {
		return nil
	}
	cutoff, err := time.Parse(time.RFC3339, rev.Details["sessions-before"])
	if err != nil || !rep.SessionsRevokedBefore.Before(cutoff) {
		return nil
	}
	f := &aws.Finding{Severity: aws.Drift, Subject: rep.UserARN,
		Problem: fmt.Sprintf("the logbook's revoke entry %d denied sessions issued before %s, but IAM no longer denies them on both the user and the role: session tokens made from the released key before then can assume the role again",
			rev.Index, cutoff.UTC().Format(time.RFC3339)),
		Fix: "if a finding above says one side still has the deny, breakglass aws provision puts it back on both; otherwise run breakglass aws revoke " + path + " again (it also replaces the sealed key)"}
	if now.Sub(cutoff) > awsLongestSession {
		f.Severity = aws.Warning
		f.Problem = fmt.Sprintf("the logbook's revoke entry %d denied sessions issued before %s, but IAM no longer denies them on both the user and the role (harmless now: every session issued before then has expired)",
			rev.Index, cutoff.UTC().Format(time.RFC3339))
		f.Fix = "find out who removed " + aws.RevokePolicyName + " (CloudTrail: DeleteUserPolicy, DeleteRolePolicy)"
	}
	return f
}
