package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/aws/audit"
	"github.com/breakglass/breakglass/logbook"
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
   - with --trail-bucket, the same from a trail's log files in S3
     (BUCKET/[--trail-prefix/]AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/,
     for each --cloudtrail-region; an organization's trail, with
     --trail-org-id, keeps them under AWSLogs/ORG-ID/ACCOUNT/): the days of
     each release's session are listed and read, for releases older than
     LookupEvents' 90 days or an auditor with read access to the trail's
     bucket only (--no-lookup-events). Events both sources have count once. A log file
     that is not gzip or not CloudTrail's format stops the audit, naming
     it; objects and records of other accounts are left out (listed in the
     report). Unexplained calls outside the releases' days are found only
     by LookupEvents.

The exit status is 0 when every release is revoked and everything
explained, 3 otherwise, 1 when the audit could not run. Run it with
read-only credentials (iam:ListAccessKeys, iam:GetAccessKeyLastUsed,
cloudtrail:LookupEvents, and with --trail-bucket s3:ListBucket and
s3:GetObject on the bucket); --no-cloudtrail skips CloudTrail.

EXAMPLES
   breakglass aws audit --since 2026-01-01 > audit-2026Q1.md
   breakglass aws audit --format json | jq '.releases[] | select(.revoked | not)'
   breakglass aws audit --since 2025-01-01 --trail-bucket acme-cloudtrail --trail-prefix prod \
       --cloudtrail-region us-east-1 --cloudtrail-region eu-west-1`

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
			&cli.StringFlag{Name: "trail-bucket", Usage: "also read the trail's log files in the S3 `BUCKET` (the days of the releases' sessions)"},
			&cli.StringFlag{Name: "trail-prefix", Usage: "the trail's S3 key `PREFIX` in --trail-bucket (before AWSLogs/)"},
			&cli.StringFlag{Name: "trail-org-id", Usage: "the trail is the organization `ID`'s (o-…): its files are under AWSLogs/ID/ACCOUNT/"},
			&cli.StringFlag{Name: "trail-bucket-region", Usage: "the `REGION` --trail-bucket is in (default: the configured region)"},
			&cli.BoolFlag{Name: "no-lookup-events", Usage: "with --trail-bucket: read only the trail's log files, not LookupEvents"},
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
	bucket := c.String("trail-bucket")
	switch {
	case c.Bool("no-cloudtrail") && (len(listValues(c, "cloudtrail-region", false)) > 0 || bucket != ""):
		return usageError("--no-cloudtrail does not go with --cloudtrail-region or --trail-bucket")
	case bucket == "" && (c.IsSet("trail-prefix") || c.IsSet("trail-org-id") || c.Bool("no-lookup-events") || c.IsSet("trail-bucket-region")):
		return usageError("--trail-prefix, --trail-org-id, --trail-bucket-region and --no-lookup-events need --trail-bucket")
	}
	if !c.Bool("no-cloudtrail") {
		regions := listValues(c, "cloudtrail-region", false)
		ct := aws.NewCloudTrail(cfg, regions, since)
		var trail audit.Trail = ct
		if bucket != "" {
			s3cfg := cfg.Copy()
			if r := c.String("trail-bucket-region"); r != "" {
				s3cfg.Region = r
			}
			tb := aws.TrailBucket{Name: bucket, Prefix: c.String("trail-prefix"), Organization: c.String("trail-org-id")}
			tr, read, err := readTrailLogs(ctx, s3cfg, entries, rep, tb, ct.Regions())
			if err != nil {
				return err
			}
			read.LookupEvents = !c.Bool("no-lookup-events")
			rep.TrailLogs = read
			trail = tr
			if read.LookupEvents {
				trail = audit.Trails(ct, tr)
			}
		}
		if err := audit.AddTrail(ctx, rep, entries, since, time.Now(), trail, ct.Regions()); err != nil {
			return withHints(awsErr("reading CloudTrail", err), "the audit needs cloudtrail:LookupEvents; --no-cloudtrail audits without it")
		}
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

// readTrailLogs reads the log files of the trail in bucket for the days
// of rep's releases, for every account whose role the logbook names.
func readTrailLogs(ctx context.Context, cfg awssdk.Config, entries []*logbook.Entry, rep *audit.Report, tb aws.TrailBucket, regions []string) (audit.Trail, *audit.TrailLogsRead, error) {
	var accounts []string
	for _, e := range entries {
		// arn:aws:iam::ACCOUNT:role/…
		if f := strings.Split(e.Details["role-arn"], ":"); len(f) >= 6 && !slices.Contains(accounts, f[4]) {
			accounts = append(accounts, f[4])
		}
	}
	read := &audit.TrailLogsRead{}
	var trails []audit.Trail
	var where []string
	for _, acct := range accounts {
		tl, err := aws.NewTrailLogs(cfg, tb, acct, regions)
		if err != nil {
			return nil, nil, usageError("--trail-bucket: %v", strings.TrimPrefix(err.Error(), "aws: "))
		}
		if err := tl.Read(ctx, audit.Windows(rep)); err != nil {
			return nil, nil, withHints(awsErr("reading the trail's log files", err),
				"the audit needs s3:ListBucket and s3:GetObject on "+tb.Name+" (in another region than the configured one: --trail-bucket-region)",
				"a damaged log file is evidence: keep it, and ask who can write to the bucket")
		}
		where = append(where, tl.Location())
		read.Days = tl.Days()
		read.Objects += len(tl.Objects())
		read.Ignored = append(read.Ignored, tl.Ignored()...)
		trails = append(trails, tl)
	}
	if len(where) == 0 {
		where = append(where, "s3://"+tb.Name+"/"+strings.Trim(tb.Prefix+"/", "/"))
	}
	read.Location = strings.Join(where, ", ")
	return audit.Trails(trails...), read, nil
}
