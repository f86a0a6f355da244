package main

import (
	"context"
	"errors"
	"fmt"
	"os"
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
     recorded attempt explains.

The exit status is 0 when every release is revoked and every use
explained, 3 otherwise, 1 when the audit could not run. Run it with
read-only IAM credentials (iam:ListAccessKeys, iam:GetAccessKeyLastUsed).

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
		return &hintError{err: fmt.Errorf("%s not proven revoked, %s unexplained", plural(rep.NotRevoked, "release"), plural(rep.Unexplained, "key use")),
			hints: []string{"revoke with breakglass aws revoke NAME.glass; investigate unexplained uses in CloudTrail"}, code: exitDrift}
	}
	infof("%s, all revoked; no unexplained use", plural(len(rep.Releases), "release"))
	return nil
}
