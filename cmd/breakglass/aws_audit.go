package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/aws/audit"
)

const awsAuditHelp = `audit answers an auditor's questions from the case's verified logbook and
IAM, and changes nothing:

   - every release of a break-glass AWS key (since --since): who, when, why,
     which ticket and use case, who tapped, the long-term key released and
     the session key it became;
   - proof that each released key was revoked: the logbook's revoke entry,
     and IAM's word that the key no longer exists or is inactive;
   - any use of a break-glass key (GetAccessKeyLastUsed) that no release or
     recorded attempt explains;
   - CloudTrail's evidence (LookupEvents in each --cloudtrail-region, the
     last 90 days): every AssumeRole of a break-glass role must be the
     session of a release (its session key, or for a presigned release the
     operator as source identity while the request was valid, once), and the
     long-term keys must have made no other call (a refused AssumeRole that a
     recorded attempt explains aside). Anything else is a finding. Per
     release it lists its session's events: how many, the first and the last,
     the calls that changed something, the errors. Sessions chained from it
     (AssumeRole with the session) and console sign-ins are not followed.

The exit status is 0 when every release is revoked and everything
explained, 3 otherwise, 1 when the audit could not run. Run it with
read-only credentials (iam:ListAccessKeys, iam:GetAccessKeyLastUsed,
cloudtrail:LookupEvents); --no-cloudtrail skips CloudTrail.

EXAMPLES
   breakglass aws audit --since 2026-01-01 > audit-2026Q1.md
   breakglass aws audit --format json | jq '.releases[] | select(.revoked | not)'`

func awsAuditCommand() *cli.Command {
	return &cli.Command{
		Name:        "audit",
		Usage:       "every release from the logbook, proof of its revocation, and unexplained key use",
		ArgsUsage:   " ",
		Description: awsAuditHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "since", Usage: "only releases at or after `DATE` (2006-01-02 or RFC 3339)"},
			&cli.StringFlag{Name: "format", Value: "md", Usage: "`md` (Markdown) or json"},
			&cli.GenericFlag{Name: "cloudtrail-region", Value: &listFlag{}, Usage: "read CloudTrail in `REGION` (repeatable; default us-east-1, where IAM's and the us-east-1 STS endpoint's events are)"},
			&cli.BoolFlag{Name: "no-cloudtrail", Usage: "do not read CloudTrail (the logbook and IAM only)"},
		}, append(awsConnFlags(), caseFlags()...)...),
		Action: runAWSAudit,
	}
}

func runAWSAudit(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	format := c.String("format")
	if format != "md" && format != "json" {
		return usageError("--format %q: want md or json", format)
	}
	var since time.Time
	if s := c.String("since"); s != "" {
		t, err := parseSince(s) // log_show.go's
		if err != nil {
			return err
		}
		since = t
	}
	cd, l, err := openRequiredLog(c)
	if err != nil {
		return err
	}
	wst, err := cd.witnessStatus(l)
	if err != nil {
		return err
	}
	entries := l.Entries()
	cfg, err := awsAdminConfig(c)
	if err != nil {
		return err
	}
	ctx, cancel := awsContext(c)
	defer cancel()

	rep, err := audit.Build(ctx, entries, since, func(ctx context.Context, secret, keyID string) (*aws.KeyState, error) {
		return aws.KeyStatus(ctx, cfg, "breakglass-"+secret, keyID)
	})
	var ke *audit.KeyError
	if errors.As(err, &ke) {
		return awsErr("reading access key "+ke.KeyID, ke.Err)
	} else if err != nil {
		return err
	}
	if !c.Bool("no-cloudtrail") {
		ct := aws.NewCloudTrail(cfg, listValues(c, "cloudtrail-region", false), since)
		if err := audit.AddTrail(ctx, rep, entries, since, time.Now(), ct, ct.Regions()); err != nil {
			return withHints(awsErr("reading CloudTrail", err), "the audit needs cloudtrail:LookupEvents; --no-cloudtrail audits without it")
		}
	} else if len(listValues(c, "cloudtrail-region", false)) > 0 {
		return usageError("--cloudtrail-region and --no-cloudtrail do not go together")
	}
	rep.Origin = l.Origin()
	ck := l.Checkpoint()
	rep.Checkpoint = fmt.Sprintf("size %d, root %x…", ck.N, ck.Hash[:8])
	if wst != nil {
		rep.Witnesses, rep.Cosigned = wst.Summary(), string(wst.Latest)
	}
	if format == "json" {
		if err := printJSON(rep); err != nil {
			return err
		}
	} else {
		rep.WriteMarkdown(os.Stdout)
	}
	if !rep.Proven() {
		msg := fmt.Sprintf("%s not proven revoked, %s unexplained", plural(rep.NotRevoked, "release"), plural(rep.Unexplained, "key use"))
		if rep.TrailRegions != nil {
			msg += fmt.Sprintf(", %s unexplained", plural(rep.UnexplainedCalls, "CloudTrail event"))
		}
		return &hintError{err: errors.New(msg),
			hints: []string{"revoke with breakglass aws revoke NAME.glass; investigate unexplained uses in CloudTrail (the report names each event)"}, code: exitDrift}
	}
	if rep.TrailRegions != nil {
		infof("%s, all revoked; no unexplained use; CloudTrail (%s) explained", plural(len(rep.Releases), "release"), strings.Join(rep.TrailRegions, ", "))
	} else {
		infof("%s, all revoked; no unexplained use", plural(len(rep.Releases), "release"))
	}
	return nil
}
