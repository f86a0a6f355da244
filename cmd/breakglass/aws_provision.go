package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal"
)

const awsProvisionHelp = `provision creates, in one AWS account, the break-glass identity and seals its
access key straight to the custodians' cards. Run it once, as an administrator
with your normal credentials (the SDK's default chain, --profile, --region).

Under the IAM path /breakglass/ it creates, idempotently:
   - the user breakglass-NAME, which can do nothing but sts:AssumeRole on the
     emergency role, and only with a SourceIdentity;
   - the role breakglass-NAME, trusted by that user only, requiring a
     SourceIdentity, with a bounded maximum session (--max-session) and the
     scoped permissions (--role-policy: a managed policy ARN or a JSON file);
   - tags on both: break-glass, the owner team, exempt from expiry and cleanup
     automation, the provisioning time;
   - one access key, sealed at once to the roster (--to, --threshold) into
     NAME.glass, with the key id in the sealed header and the role ARN as its
     scope. The secret access key is never printed, logged or written in
     plaintext.

With --alert (repeatable) every use of the identity is loud: an EventBridge rule
breakglass-NAME-alert on the CloudTrail events of every call by the user and
every AssumeRole of the role (read-only calls included), targeting an SNS topic
breakglass-NAME-alerts that only the rule may publish to, tagged like the rest.
The alert names the call, the key, the operator (the source identity) and links
to the session's CloudTrail events. Destinations:
   email:ADDRESS      subscribed to the topic (the recipient confirms by mail)
   https:URL          an https:// endpoint subscribed to the topic (it confirms)
   sns:TOPIC-ARN      an existing topic, as a second target of the rule (its
                      policy must let events.amazonaws.com publish)
The rule and topic live in --alert-region (default us-east-1, where CloudTrail
delivers IAM's events and those of the us-east-1 STS endpoint); CloudTrail must
be logging management events (a trail) for EventBridge to see them. aws check
verifies the path; aws check --fire-test sends a test message.

The plan is printed first; --dry-run prints only the plan. Running provision
again changes only what drifted and never creates a second key. A user or
role of the same name that breakglass did not create stops the run.

Next to NAME.glass it writes NAME.aws.json, the provisioning record (no
secret) that check, revoke and rotate read. Commit both.

EXAMPLES
   # see what would happen
   breakglass aws provision --name prod --account 123456789012 --owner sre \
     --role-policy arn:aws:iam::aws:policy/AdministratorAccess \
     --to alice.card.json,bob.card.json,carol.card.json --threshold 2 \
     --use-case "SSO is down" --use-case "MFA device lost" --dry-run

   # do it, with scoped inline permissions and 2-hour sessions
   breakglass aws provision --name prod --account 123456789012 --owner sre \
     --role-policy prod-breakglass-policy.json --max-session 2h \
     --to alice.card.json,bob.card.json,carol.card.json --threshold 2

   # with alerts to the on-call mail and the security team's topic
   breakglass aws provision --name prod --account 123456789012 --owner sre \
     --role-policy arn:aws:iam::aws:policy/AdministratorAccess \
     --to alice.card.json,bob.card.json,carol.card.json --threshold 2 \
     --alert email:oncall@example.com \
     --alert sns:arn:aws:sns:us-east-1:123456789012:security-alerts

   # rehearsal against the loopback server (virtual cards)
   breakglass aws provision --name demo --account 123456789012 --owner sre \
     --role-policy arn:aws:iam::aws:policy/ReadOnlyAccess --allow-virtual \
     --to a.card.json,b.card.json --threshold 2 --endpoint-url http://127.0.0.1:4599`

func awsProvisionCommand() *cli.Command {
	return &cli.Command{
		Name:        "provision",
		Usage:       "create the emergency IAM user and role, and seal its access key to the roster",
		ArgsUsage:   " ",
		Description: awsProvisionHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "the secret's `NAME`: IAM user and role breakglass-NAME, file NAME.glass", Required: true},
			&cli.StringFlag{Name: "account", Usage: "the 12-digit AWS account `ID`; nothing else is touched", Required: true},
			&cli.StringFlag{Name: "role-policy", Usage: "the role's permissions: a managed policy `ARN`, or a JSON policy FILE", Required: true},
			&cli.DurationFlag{Name: "max-session", Value: time.Hour, Usage: "the role's maximum session, 1h to 12h"},
			&cli.StringFlag{Name: "owner", Usage: "the `TEAM` that owns the break-glass procedure (tagged)", Required: true},
			&cli.IntFlag{Name: "threshold", Aliases: []string{"k"}, Usage: "custodians needed to unseal (with --to)"},
			&cli.GenericFlag{Name: "to", Value: &listFlag{}, Usage: "enrollment records `a.card.json,b.card.json,…` (repeatable)"},
			&cli.GenericFlag{Name: "group", Value: &listFlag{}, Usage: "a group `NAME:K:a.card.json,…` (repeatable)"},
			&cli.IntFlag{Name: "group-threshold", Usage: "groups needed (with --group; default all)"},
			&cli.GenericFlag{Name: "use-case", Value: &listFlag{}, Usage: "a permitted use `CASE` (repeatable)"},
			&cli.GenericFlag{Name: "tag", Value: &listFlag{}, Usage: "an extra `KEY=VALUE` tag, e.g. one your cleanup automation honours (repeatable)"},
			&cli.GenericFlag{Name: "alert", Value: &listFlag{}, Usage: "alert on every use: `email:ADDR`, https:URL or sns:TOPIC-ARN (repeatable)"},
			&cli.StringFlag{Name: "alert-region", Value: aws.DefaultAlertRegion, Usage: "`REGION` of the alert's rule and topic"},
			&cli.StringFlag{Name: "out", Usage: "write the sealed key to `FILE` (default NAME.glass)"},
			&cli.StringFlag{Name: "paper-out", Usage: "write paper custodians' mnemonics into `DIR` (a 0600 .paper.txt and its QR code .paper.png each) instead of the terminal"},
			&cli.BoolFlag{Name: "dry-run", Usage: "print the plan and change nothing"},
			&cli.BoolFlag{Name: "allow-virtual", Usage: "accept virtual cards (test CA); for tests and rehearsals only"},
			&cli.StringFlag{Name: "roots", Usage: "extra attestation roots, PEM `FILE`"},
		}, append(awsConnFlags(), awsActorFlags()...)...),
		Action: runAWSProvision,
	}
}

// awsSpecFromFlags builds the Spec.
func awsSpecFromFlags(c *cli.Context) (aws.Spec, error) {
	spec := aws.Spec{
		Name: c.String("name"), AccountID: c.String("account"),
		MaxSession: c.Duration("max-session"), Owner: c.String("owner"),
	}
	if rp := c.String("role-policy"); strings.HasPrefix(rp, "arn:") {
		spec.RolePolicyARN = rp
	} else {
		b, err := os.ReadFile(rp)
		if err != nil {
			return spec, withHints(fmt.Errorf("--role-policy: %v", atomicfile.UnwrapPath(err)),
				"give a managed policy ARN (arn:aws:iam::aws:policy/…) or a JSON policy file")
		}
		spec.RolePolicy = b
	}
	for _, t := range listValues(c, "tag", false) {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			return spec, usageError("--tag %q: want KEY=VALUE", t)
		}
		if spec.ExtraTags == nil {
			spec.ExtraTags = map[string]string{}
		}
		spec.ExtraTags[k] = v
	}
	for _, a := range listValues(c, "alert", false) {
		al, err := aws.ParseAlert(a)
		if err != nil {
			return spec, usageError("--%v", err)
		}
		spec.Alerts = append(spec.Alerts, al)
	}
	if len(spec.Alerts) > 0 {
		spec.AlertRegion = c.String("alert-region")
	} else if c.IsSet("alert-region") {
		return spec, usageError("--alert-region goes with --alert")
	}
	if err := spec.Validate(); err != nil {
		var se *aws.SpecError
		if errors.As(err, &se) {
			err = se.Err
		}
		return spec, usageError("%v", err)
	}
	return spec, nil
}

// printPlan writes the plan for the administrator to read.
func printPlan(w io.Writer, spec aws.Spec, p *aws.Plan, out string, glassExists bool) {
	fmt.Fprintf(w, "plan for break-glass %s in account %s\n", spec.Name, p.Account)
	fmt.Fprintf(w, "  user  %s\n  role  %s\n", p.UserARN, p.RoleARN)
	if spec.RolePolicyARN != "" {
		fmt.Fprintf(w, "  permissions  %s (attached)\n", spec.RolePolicyARN)
	} else {
		fmt.Fprintf(w, "  permissions  inline %s, sha256 %s\n", aws.RolePolicyName, p.PolicyHashes["role"])
	}
	fmt.Fprintf(w, "  max session  %s\n", spec.MaxSession)
	if p.AlertRuleARN != "" {
		var to []string
		for _, a := range spec.Alerts {
			to = append(to, a.String())
		}
		fmt.Fprintf(w, "  alert  %s -> %s (%s)\n", p.AlertRuleARN, p.AlertTopicARN, strings.Join(to, ", "))
	}
	steps := 0
	for _, s := range p.Steps {
		steps++
		fmt.Fprintf(w, "  %d. %s\n", steps, s.Do)
	}
	if len(p.ExistingKeyIDs) == 0 {
		fmt.Fprintf(w, "  the new access key goes straight into %s, sealed to the roster\n", out)
	}
	if steps == 0 {
		fmt.Fprintf(w, "  nothing to change: the account is as specified\n")
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	if glassExists && len(p.ExistingKeyIDs) == 0 {
		fmt.Fprintf(w, "  note: %s exists but the user has no access key\n", out)
	}
}

func runAWSProvision(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	spec, err := awsSpecFromFlags(c)
	if err != nil {
		return err
	}
	ac, err := openAWSCase(c)
	if err != nil {
		return err
	}
	actor, err := ac.awsActor()
	if err != nil {
		return err
	}
	sp := seal.Params{Name: spec.Name, UseCases: listValues(c, "use-case", false), SealedBy: currentUser()}
	if actor != nil {
		sp.SealedBy = actor.Custodian.Name
	}
	// The roster is checked before anything in AWS changes.
	if err := rosterFromFlags(c, &sp); err != nil {
		return err
	}
	out := c.String("out")
	if out == "" {
		out = spec.Name + ".glass"
	}
	if !strings.HasSuffix(out, ".glass") {
		return usageError("--out %q: the sealed key's file name must end in .glass", out)
	}
	var existing *seal.Header
	if f, file, err := readGlass(out); err == nil {
		file.Close()
		existing = f.Header
		// A provision that was done but not recorded is recorded now;
		// otherwise, with a logbook, the file must be the logged one.
		done, err := ac.cd.finishPending(ac.log, f, func(e logbook.Entry) error {
			_, err := ac.cd.logSigned(c, e, actor, -1)
			return err
		})
		if done || err != nil {
			return err
		}
		if err := checkLoggedHeaderThen(ac.log, f, out, false, "nothing was changed"); err != nil {
			return err
		}
	} else if _, serr := os.Lstat(out); serr == nil {
		return err
	}
	if existing == nil {
		if err := checkNewFile(out); err != nil {
			return err
		}
		if err := checkPaperOut(sp, c.String("paper-out")); err != nil {
			return err
		}
	}

	cfg, err := awsAdminConfig(c)
	if err != nil {
		return err
	}
	ctx, cancel := awsContext(c)
	defer cancel()
	plan, err := aws.PlanProvision(ctx, cfg, spec)
	if err != nil {
		return awsErr("planning "+spec.Name, err)
	}
	sp.Scope = plan.RoleARN
	printPlan(c.App.Writer, spec, plan, out, existing != nil)

	// A key in IAM must be the one sealed here; a sealed file must hold
	// a key that exists. Anything else is for a human to sort out.
	switch {
	case existing != nil && (existing.Name != spec.Name || existing.Scope != plan.RoleARN):
		return withHints(fmt.Errorf("%s seals %s (%s), not %s", out, existing.Name, existing.Scope, plan.RoleARN),
			"choose another --out, or move the old file away")
	case existing != nil && len(plan.ExistingKeyIDs) > 0 && !slices.Contains(plan.ExistingKeyIDs, existing.KeyID):
		return withHints(fmt.Errorf("%s seals access key %s, but the user's keys are %s", out, existing.KeyID, strings.Join(plan.ExistingKeyIDs, ", ")),
			"the key was rotated outside breakglass: run breakglass aws check "+out+", then breakglass aws revoke "+out)
	case existing == nil && len(plan.ExistingKeyIDs) > 0:
		return withHints(fmt.Errorf("user %s already has access key %s, which no %s holds", spec.UserName(), strings.Join(plan.ExistingKeyIDs, ", "), out),
			"restore the .glass file from git; if it is truly lost, delete that key (aws iam delete-access-key) and run provision again")
	case existing != nil && len(plan.ExistingKeyIDs) == 0:
		return withHints(fmt.Errorf("%s seals access key %s, which no longer exists in IAM", out, existing.KeyID),
			"run breakglass aws revoke "+out+": it creates a new key and seals it to the same roster")
	}
	if c.Bool("dry-run") {
		infof("dry run: nothing was changed")
		return nil
	}
	if err := holdSecrets(); err != nil { // before IAM hands over the new secret key
		return err
	}
	// No entry, no change: the signer's PIN is checked before AWS is
	// touched; only the touch is left for the end.
	var signer *heldSigner
	if ac.log != nil {
		if signer, err = ac.cd.holdSigner(c, actor, "provisioning of "+spec.Name); err != nil {
			return err
		}
		defer signer.Close()
	}
	res, err := plan.Apply(ctx)
	if err != nil {
		return awsErr("provisioning "+spec.Name, withHints(err, "run provision again: it resumes where it stopped"))
	}
	rec := aws.NewRecord(spec, plan, time.Now())
	if existing != nil {
		// Keep the first provisioning time; refresh the rest.
		if old, err := os.ReadFile(aws.RecordPath(out)); err == nil {
			if r, err := aws.ParseRecord(old); err == nil {
				rec.Provisioned = r.Provisioned
			}
		}
	}
	awsAlertNext(plan, out)
	if res.AccessKey == nil {
		if err := writeAWSRecord(out, rec); err != nil {
			return err
		}
		infof("%s was already provisioned; %s still holds access key %s", spec.Name, out, existing.KeyID)
		if len(plan.ExistingKeyIDs) > 1 {
			infof("warning: the user has %d access keys; run breakglass aws check %s", len(plan.ExistingKeyIDs), out)
		}
		return nil
	}
	key := res.AccessKey
	defer key.Wipe()
	sealed, err := sealAWSKey(out, false, key, sp)
	if err != nil {
		return retireUnsealed(c, cfg, spec, key.AccessKeyID, err)
	}
	if err := handOverPaper(sealed.Paper, spec.Name, c.String("paper-out")); err != nil {
		os.Remove(out)
		return retireUnsealed(c, cfg, spec, key.AccessKeyID, err)
	}
	key.Wipe()
	if err := writeAWSRecord(out, rec); err != nil {
		return err
	}
	details := map[string]string{
		"account": plan.Account, "user-arn": plan.UserARN, "role-arn": plan.RoleARN,
		logbook.DetailKeyID: key.AccessKeyID, "max-session": spec.MaxSession.String(),
	}
	if spec.RolePolicyARN != "" {
		details["role-policy-arn"] = spec.RolePolicyARN
	}
	for k, v := range plan.PolicyHashes {
		details["policy-"+k+"-sha256"] = v
	}
	err = ac.logChange(signer, "aws provision", out, "the same breakglass aws provision command", logbook.Entry{Kind: logbook.KindSeal, Secret: spec.Name,
		HeaderHash: sealed.HeaderHash[:], Reason: "aws provision", Details: details})
	if err != nil {
		return err
	}
	infof("provisioned %s: access key %s sealed to %s (%s)", spec.Name, key.AccessKeyID, out, sealed.Header.Policy())
	infof("commit %s and %s", out, aws.RecordPath(out))
	return nil
}

// awsAlertNext says what the new alert recipients must do.
func awsAlertNext(plan *aws.Plan, out string) {
	for _, s := range plan.Steps {
		if what, ok := strings.CutPrefix(s.Do, "subscribe "); ok {
			what, _, _ = strings.Cut(what, " ")
			infof("alert: %s must confirm its subscription (SNS sent it a link); breakglass aws check %s reports it until then", what, out)
		}
	}
}

// retireUnsealed deletes a key that could not be sealed, so that no key
// exists that nobody holds.
func retireUnsealed(c *cli.Context, cfg awssdk.Config, spec aws.Spec, keyID string, cause error) error {
	ctx, cancel := awsContext(c)
	defer cancel()
	if _, err := aws.RetireKey(ctx, cfg, spec, keyID); err != nil {
		return withHints(cause, fmt.Sprintf("the new access key %s could not be sealed and could not be deleted either (%v): delete it with aws iam delete-access-key", keyID, err))
	}
	return withHints(cause, fmt.Sprintf("the new access key %s was not sealed, so it was deleted again; fix the problem and run the command again", keyID))
}

// writeAWSRecord writes the provisioning record next to the .glass,
// replacing an older one atomically.
func writeAWSRecord(glass string, r *aws.Record) error {
	path := aws.RecordPath(glass)
	err := writeNewFile(path, 0o644, true, func(w io.Writer) error {
		_, err := w.Write(r.Marshal())
		return err
	})
	if err != nil {
		return withHints(fmt.Errorf("the key is sealed, but the provisioning record %s could not be written: %w", path, err),
			"run provision again with the same flags to write it")
	}
	return nil
}
