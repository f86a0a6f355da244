package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws"
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

// awsAuditRelease is one release in the audit.
type awsAuditRelease struct {
	Entry        int64         `json:"entry"`
	Secret       string        `json:"secret"`
	Time         time.Time     `json:"time"`
	Operator     string        `json:"operator"`
	Reason       string        `json:"reason"`
	Ticket       string        `json:"ticket"`
	UseCase      string        `json:"use_case,omitempty"`
	Tapped       string        `json:"tapped,omitempty"`
	KeyID        string        `json:"key_id"`
	SessionKeyID string        `json:"session_key_id,omitempty"`
	Expires      string        `json:"expires,omitempty"`
	RevokeEntry  *int64        `json:"revoke_entry,omitempty"`
	RevokedAt    *time.Time    `json:"revoked_at,omitempty"`
	IAM          *aws.KeyState `json:"iam"`
	Revoked      bool          `json:"revoked"` // logbook revoke entry and IAM agree
	Problem      string        `json:"problem,omitempty"`
}

// awsAuditUse is a use of a break-glass key.
type awsAuditUse struct {
	Secret    string    `json:"secret"`
	KeyID     string    `json:"key_id"`
	LastUsed  time.Time `json:"last_used"`
	Service   string    `json:"service,omitempty"`
	Explained *int64    `json:"explained_by,omitempty"`
}

type awsAuditReport struct {
	Origin      string            `json:"origin"`
	Checkpoint  string            `json:"checkpoint"`
	Witnesses   string            `json:"witnesses,omitempty"`           // how far witnesses have cosigned the logbook
	Cosigned    string            `json:"cosigned_checkpoint,omitempty"` // the newest checkpoint they cosigned, with their cosignatures
	Since       *time.Time        `json:"since,omitempty"`
	Releases    []awsAuditRelease `json:"releases"`
	Uses        []awsAuditUse     `json:"key_uses"`
	Unexplained int               `json:"unexplained_uses"`
	NotRevoked  int               `json:"releases_not_revoked"`
}

// awsSecrets are the secrets with AWS keys in the logbook, each with its
// current sealed key id (from the latest seal, revoke or rotate entry).
func awsSecrets(entries []*logbook.Entry) map[string]string {
	cur := map[string]string{}
	for _, e := range entries {
		if e.Details["role-arn"] == "" {
			continue
		}
		switch e.Kind {
		case logbook.KindSeal, logbook.KindRotate:
			cur[e.Secret] = e.Details[logbook.DetailKeyID]
		case logbook.KindRevoke:
			cur[e.Secret] = e.Details["new-key-id"]
		case logbook.KindRelease:
			if _, ok := cur[e.Secret]; !ok {
				cur[e.Secret] = e.Details[logbook.DetailKeyID]
			}
		}
	}
	return cur
}

func runAWSAudit(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("aws audit takes no arguments, got %q", c.Args().First())
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

	rep := awsAuditReport{Origin: l.Origin(), Releases: []awsAuditRelease{}, Uses: []awsAuditUse{}}
	ck := l.Checkpoint()
	rep.Checkpoint = fmt.Sprintf("size %d, root %x…", ck.N, ck.Hash[:8])
	if wst != nil {
		rep.Witnesses, rep.Cosigned = wst.Summary(), string(wst.Latest)
	}
	if !since.IsZero() {
		rep.Since = &since
	}
	status := map[string]*aws.KeyState{}
	keyState := func(secret, keyID string) (*aws.KeyState, error) {
		if st, ok := status[keyID]; ok {
			return st, nil
		}
		st, err := aws.KeyStatus(ctx, cfg, "breakglass-"+secret, keyID)
		if err != nil {
			return nil, awsErr("reading access key "+keyID, err)
		}
		status[keyID] = st
		return st, nil
	}
	for i, e := range entries {
		if e.Kind != logbook.KindRelease || e.Details["role-arn"] == "" || e.Time.Before(since) {
			continue
		}
		r := awsAuditRelease{Entry: e.Index, Secret: e.Secret, Time: e.Time, Operator: e.Details[logbook.DetailOperator],
			Reason: e.Reason, Ticket: e.Ticket, UseCase: e.UseCase, Tapped: e.Details[logbook.DetailTapped],
			KeyID: e.Details[logbook.DetailKeyID], SessionKeyID: e.Details["session-key-id"], Expires: e.Details["expires"]}
		for _, later := range entries[i+1:] {
			if later.Kind == logbook.KindRevoke && later.Secret == e.Secret &&
				(later.Details[logbook.DetailKeyID] == r.KeyID || later.Details[logbook.DetailKeyID] == "") {
				idx, t := later.Index, later.Time
				r.RevokeEntry, r.RevokedAt = &idx, &t
				break
			}
		}
		st, err := keyState(e.Secret, r.KeyID)
		if err != nil {
			return err
		}
		r.IAM = st
		gone := st.Status == aws.KeyDeleted || st.Status == aws.KeyInactive
		switch {
		case r.RevokeEntry != nil && gone:
			r.Revoked = true
		case r.RevokeEntry == nil && gone:
			r.Problem = "the key is " + st.Status + " in IAM, but the logbook records no revoke"
		case r.RevokeEntry != nil:
			r.Problem = "the logbook records a revoke, but the key is still active in IAM"
		default:
			r.Problem = "not revoked: the key is still active (an open release?)"
		}
		if !r.Revoked {
			rep.NotRevoked++
		}
		rep.Releases = append(rep.Releases, r)
	}
	// Uses of the current keys (deleted keys report none).
	secrets := awsSecrets(entries)
	names := make([]string, 0, len(secrets))
	for n := range secrets {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		keyID := secrets[name]
		if keyID == "" {
			continue
		}
		st, err := keyState(name, keyID)
		if err != nil {
			return err
		}
		if st.LastUsed.IsZero() || st.LastUsed.Before(since) {
			continue
		}
		u := awsAuditUse{Secret: name, KeyID: keyID, LastUsed: st.LastUsed, Service: st.LastUsedService}
		if e := explainUse(entries, name, keyID, st.LastUsed); e != nil {
			idx := e.Index
			u.Explained = &idx
		} else {
			rep.Unexplained++
		}
		rep.Uses = append(rep.Uses, u)
	}

	if format == "json" {
		if err := printJSON(rep); err != nil {
			return err
		}
	} else {
		writeAWSAuditMarkdown(os.Stdout, &rep)
	}
	if rep.NotRevoked > 0 || rep.Unexplained > 0 {
		return &hintError{err: fmt.Errorf("%s not proven revoked, %s unexplained", plural(rep.NotRevoked, "release"), plural(rep.Unexplained, "key use")),
			hints: []string{"revoke with breakglass aws revoke NAME.glass; investigate unexplained uses in CloudTrail"}, code: exitDrift}
	}
	infof("%s, all revoked; no unexplained use", plural(len(rep.Releases), "release"))
	return nil
}

func writeAWSAuditMarkdown(w io.Writer, rep *awsAuditReport) {
	fmt.Fprintf(w, "# Break-glass AWS audit\n\n")
	fmt.Fprintf(w, "Logbook `%s`, checkpoint %s (verify with `breakglass log verify`).", rep.Origin, rep.Checkpoint)
	if rep.Since != nil {
		fmt.Fprintf(w, " Releases since %s.", rep.Since.Format("2006-01-02"))
	}
	if rep.Witnesses != "" {
		fmt.Fprintf(w, "\n\nWitnesses: %s.", rep.Witnesses)
	}
	if rep.Cosigned != "" {
		fmt.Fprintf(w, " The newest cosigned checkpoint:\n\n```\n%s```", rep.Cosigned)
	}
	fmt.Fprintf(w, "\n\n## Releases\n\n")
	if len(rep.Releases) == 0 {
		fmt.Fprintf(w, "No release.\n")
	} else {
		fmt.Fprintf(w, "| entry | secret | time (UTC) | operator | ticket | reason | key released | session key | revoked | IAM |\n")
		fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rep.Releases {
			rev := "**no**"
			if r.RevokeEntry != nil {
				rev = fmt.Sprintf("entry %d, %s", *r.RevokeEntry, r.RevokedAt.UTC().Format("2006-01-02 15:04"))
			}
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Entry, mdCell(r.Secret),
				r.Time.UTC().Format("2006-01-02 15:04"), mdCell(r.Operator), mdCell(r.Ticket), mdCell(r.Reason),
				r.KeyID, r.SessionKeyID, rev, r.IAM.Status)
		}
		for _, r := range rep.Releases {
			if r.Problem != "" {
				fmt.Fprintf(w, "\n- **entry %d (%s)**: %s", r.Entry, mdCell(r.Secret), r.Problem)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n## Use of the current keys\n\n")
	if len(rep.Uses) == 0 {
		fmt.Fprintf(w, "No use recorded by IAM.\n")
	}
	for _, u := range rep.Uses {
		exp := "**explained by no release**"
		if u.Explained != nil {
			exp = fmt.Sprintf("explained by entry %d", *u.Explained)
		}
		fmt.Fprintf(w, "- %s: key %s last used %s (%s), %s\n", mdCell(u.Secret), u.KeyID, u.LastUsed.UTC().Format(time.RFC3339), u.Service, exp)
	}
	fmt.Fprintf(w, "\n%s not proven revoked, %s unexplained.\n", plural(rep.NotRevoked, "release"), plural(rep.Unexplained, "key use"))
}

// mdCell keeps a value inside its table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
