// Package audit proves, from a verified logbook and IAM, that every release
// of a break-glass AWS key was revoked and that every use of a current key
// is explained by a release. It changes nothing.
//
// A release is proven revoked when the logbook has a later revoke entry of
// its key and IAM says the key no longer exists or is inactive; anything
// else is a Problem. A use is IAM's last-used time of a current key; it is
// explained by a release (or a recorded failed attempt) within UseSlack.
//
// With CloudTrail ([AddTrail]) the audit also matches every AssumeRole of
// a break-glass role and every call made with a break-glass long-term key
// to a release: the ones no release explains are findings. Per release it
// gives the CloudTrail events of its session: how many, the first and the
// last, the calls that changed something.
package audit

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/logbook"
)

// A Release is one release of a break-glass key, and what proves it was
// revoked.
type Release struct {
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
	// Output is where the release went: exec, console, json, export, or
	// presign (an air-gapped release, redeemed elsewhere).
	Output string `json:"output,omitempty"`
	// Trail is what CloudTrail says about the release's session (AddTrail).
	Trail *SessionTrail `json:"cloudtrail,omitempty"`
}

// A Use is the last use IAM records of a current break-glass key, and the
// entry that explains it.
type Use struct {
	Secret    string    `json:"secret"`
	KeyID     string    `json:"key_id"`
	LastUsed  time.Time `json:"last_used"`
	Service   string    `json:"service,omitempty"`
	Explained *int64    `json:"explained_by,omitempty"`
}

// A Report is the audit of one logbook.
type Report struct {
	Origin      string     `json:"origin"`
	Checkpoint  string     `json:"checkpoint"`
	Witnesses   string     `json:"witnesses,omitempty"`           // how far witnesses have cosigned the logbook
	Cosigned    string     `json:"cosigned_checkpoint,omitempty"` // the newest checkpoint they cosigned, with their cosignatures
	Since       *time.Time `json:"since,omitempty"`
	Releases    []Release  `json:"releases"`
	Uses        []Use      `json:"key_uses"`
	Unexplained int        `json:"unexplained_uses"`
	NotRevoked  int        `json:"releases_not_revoked"`
	// CloudTrail (AddTrail): the regions read, and the AssumeRoles and
	// long-term key calls that no release explains.
	TrailRegions     []string       `json:"cloudtrail_regions,omitempty"`
	TrailLogs        *TrailLogsRead `json:"cloudtrail_logs,omitempty"` // the trail's log files read, if any
	TrailFindings    []TrailFinding `json:"cloudtrail_findings,omitempty"`
	UnexplainedCalls int            `json:"unexplained_calls"`
}

// Secrets are the secrets with AWS keys in the logbook, each with its
// current sealed key id (from the latest seal, revoke or rotate entry).
func Secrets(entries []*logbook.Entry) map[string]string {
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

// A KeyError is an IAM key whose state could not be read.
type KeyError struct {
	KeyID string
	Err   error
}

func (e *KeyError) Error() string { return fmt.Sprintf("reading access key %s: %v", e.KeyID, e.Err) }
func (e *KeyError) Unwrap() error { return e.Err }

// KeyStatus reads a key of the break-glass user of secret, as
// aws.KeyStatus does.
type KeyStatus func(ctx context.Context, secret, keyID string) (*aws.KeyState, error)

// Build audits entries (a verified logbook's), from since on (zero: all),
// reading each key's state once with keyStatus. The caller fills in the
// report's Origin and Checkpoint.
func Build(ctx context.Context, entries []*logbook.Entry, since time.Time, keyStatus KeyStatus) (*Report, error) {
	rep := &Report{Releases: []Release{}, Uses: []Use{}}
	if !since.IsZero() {
		rep.Since = &since
	}
	status := map[string]*aws.KeyState{}
	keyState := func(secret, keyID string) (*aws.KeyState, error) {
		if st, ok := status[keyID]; ok {
			return st, nil
		}
		st, err := keyStatus(ctx, secret, keyID)
		if err != nil {
			return nil, &KeyError{KeyID: keyID, Err: err}
		}
		status[keyID] = st
		return st, nil
	}
	for i, e := range entries {
		if e.Kind != logbook.KindRelease || e.Details["role-arn"] == "" || e.Time.Before(since) {
			continue
		}
		r := Release{Entry: e.Index, Secret: e.Secret, Time: e.Time, Operator: e.Details[logbook.DetailOperator],
			Reason: e.Reason, Ticket: e.Ticket, UseCase: e.UseCase, Tapped: e.Details[logbook.DetailTapped],
			KeyID: e.Details[logbook.DetailKeyID], SessionKeyID: e.Details["session-key-id"], Expires: e.Details["expires"],
			Output: e.Details["output"]}
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
			return nil, err
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
	secrets := Secrets(entries)
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
			return nil, err
		}
		if st.LastUsed.IsZero() || st.LastUsed.Before(since) {
			continue
		}
		u := Use{Secret: name, KeyID: keyID, LastUsed: st.LastUsed, Service: st.LastUsedService}
		if e := ExplainUse(entries, name, keyID, st.LastUsed); e != nil {
			idx := e.Index
			u.Explained = &idx
		} else {
			rep.Unexplained++
		}
		rep.Uses = append(rep.Uses, u)
	}

	return rep, nil
}

// Proven reports whether every release is proven revoked and every use
// (and, with CloudTrail, every session and long-term key call) explained.
func (rep *Report) Proven() bool {
	return rep.NotRevoked == 0 && rep.Unexplained == 0 && rep.UnexplainedCalls == 0
}

// UseSlack is how far a key's last use may be from the logbook entry
// that explains it: the entry is written right after the exchange, and
// IAM's last-used time is not exact.
const UseSlack = 15 * time.Minute

// ExplainUse finds the logbook entry (a release, or a recorded failed
// attempt) that explains a use of keyID at t.
func ExplainUse(entries []*logbook.Entry, secretName, keyID string, t time.Time) *logbook.Entry {
	for _, e := range entries {
		if e.Secret != secretName || e.Details[logbook.DetailKeyID] != keyID {
			continue
		}
		if e.Kind != logbook.KindRelease && !(e.Kind == logbook.KindNote && e.Details[logbook.DetailAction] == logbook.ActionAWSSession) {
			continue
		}
		if d := t.Sub(e.Time); d > -UseSlack && d < UseSlack {
			return e
		}
	}
	return nil
}

// WriteMarkdown writes the report for people: the releases as a table,
// each problem under it, then the uses of the current keys.
func (rep *Report) WriteMarkdown(w io.Writer) {
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
	if rep.TrailRegions != nil {
		rep.writeTrail(w)
	}
	fmt.Fprintf(w, "\n%s not proven revoked, %s unexplained", plural(rep.NotRevoked, "release"), plural(rep.Unexplained, "key use"))
	if rep.TrailRegions != nil {
		fmt.Fprintf(w, ", %s unexplained", plural(rep.UnexplainedCalls, "CloudTrail event"))
	}
	fmt.Fprintf(w, ".\n")
}

// writeTrail writes the CloudTrail part: per release its session's
// events, then the findings.
func (rep *Report) writeTrail(w io.Writer) {
	fmt.Fprintf(w, "\n## CloudTrail (%s)\n\n", strings.Join(rep.TrailRegions, ", "))
	if l := rep.TrailLogs; l != nil {
		src := "the trail's log files"
		if l.LookupEvents {
			src = "LookupEvents (the last 90 days) and the trail's log files"
		}
		fmt.Fprintf(w, "From %s: %s read from %s, the days of the releases' sessions (%s per region).\n\n", src, plural(l.Objects, "log file"), l.Location, plural(l.Days, "day"))
		for _, ig := range l.Ignored {
			fmt.Fprintf(w, "- left out: %s\n", mdCell(ig))
		}
		if len(l.Ignored) > 0 {
			fmt.Fprintln(w)
		}
	}
	if len(rep.Releases) > 0 {
		fmt.Fprintf(w, "| entry | operator | AssumeRole (UTC) | session keys | events | first | last | calls that changed something | errors |\n")
		fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rep.Releases {
			st := r.Trail
			if st == nil {
				continue
			}
			var ar []string
			for _, ev := range st.AssumeRoles {
				ar = append(ar, ev.Time.UTC().Format("2006-01-02 15:04:05"))
			}
			var writes []string
			for _, c := range st.Writes {
				writes = append(writes, fmt.Sprintf("%s ×%d", c.Name, c.Count))
			}
			when := func(t *time.Time) string {
				if t == nil {
					return "–"
				}
				return t.UTC().Format("15:04:05")
			}
			fmt.Fprintf(w, "| %d | %s | %s | %s | %d | %s | %s | %s | %d |\n", r.Entry, mdCell(r.Operator), strings.Join(ar, ", "),
				strings.Join(st.SessionKeys, ", "), st.Events, when(st.First), when(st.Last), mdCell(strings.Join(writes, ", ")), st.Errors)
		}
		for _, r := range rep.Releases {
			if r.Trail != nil && r.Trail.Note != "" {
				fmt.Fprintf(w, "\n- entry %d: %s", r.Entry, r.Trail.Note)
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\n### Not explained by a release\n\n")
	if len(rep.TrailFindings) == 0 {
		fmt.Fprintf(w, "Every AssumeRole of the break-glass roles and every call with a break-glass key is explained.\n")
	}
	for _, f := range rep.TrailFindings {
		fmt.Fprintf(w, "- **%s %s** %s (%s, event %s): %s\n", f.Event.Time.UTC().Format(time.RFC3339), f.Event.Name,
			mdCell(f.Secret), f.Event.Region, f.Event.ID, mdCell(f.Problem))
	}
}

// mdCell keeps a value inside its table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// plural returns "1 release" or "2 releases".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
