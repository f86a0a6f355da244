package audit

// What aws check compares with the logbook: the provisioning record's
// policy hashes with the latest provision's seal entry, the deny the latest
// revoke wrote, and the sealed key's last use with the releases.

import (
	"fmt"
	"strings"
	"time"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/logbook"
)

// A LogbookCheck is what the logbook says about an aws.Check report.
type LogbookCheck struct {
	// Findings are the report's disagreements with the logbook: drift,
	// or warnings.
	Findings []aws.Finding
	// Explained is the entry that explains the sealed key's last use, or
	// nil (never used, or nothing explains it: then a finding says so).
	Explained *logbook.Entry
}

// CheckLogbook compares rep, aws.Check's report on the secret name whose
// sealed key is keyID, with entries, the case's verified logbook (hasLog
// false: the case has none), and with policyHashes, the provisioning
// record's (aws.Record.PolicyHashes) at path's record. path is the sealed
// file, named in the fixes.
func CheckLogbook(entries []*logbook.Entry, hasLog bool, name, keyID, path string, policyHashes map[string]string, rep *aws.CheckReport, now time.Time) LogbookCheck {
	var out LogbookCheck
	if hasLog {
		if seal := lastProvision(entries, name); seal != nil {
			for k, v := range policyHashes {
				if got := seal.Details["policy-"+k+"-sha256"]; got != "" && got != v {
					out.Findings = append(out.Findings, aws.Finding{Severity: aws.Drift, Subject: aws.RecordPath(path),
						Problem: fmt.Sprintf("the %s policy hash differs from the logbook's seal entry %d", k, seal.Index),
						Fix:     "restore " + aws.RecordPath(path) + " from git; if the change was intended, run breakglass aws provision to record it"})
				}
			}
		}
		if f := revokeKept(lastRevoke(entries, name), rep, path, now); f != nil {
			out.Findings = append(out.Findings, *f)
		}
	}
	lu := rep.SealedKey.LastUsed
	if lu.IsZero() {
		return out
	}
	switch e := ExplainUse(entries, name, keyID, lu); {
	case e != nil:
		out.Explained = e
	case !hasLog:
		out.Findings = append(out.Findings, aws.Finding{Severity: aws.Warning, Subject: keyID,
			Problem: fmt.Sprintf("the sealed key was last used %s (%s), and there is no logbook to explain it", lu.UTC().Format(time.RFC3339), rep.SealedKey.LastUsedService),
			Fix:     "keep a logbook in the case (breakglass log init) so that every use is explained"})
	default:
		out.Findings = append(out.Findings, aws.Finding{Severity: aws.Drift, Subject: keyID,
			Problem: fmt.Sprintf("the sealed key was used %s (%s) and no release in the logbook explains it", lu.UTC().Format(time.RFC3339), rep.SealedKey.LastUsedService),
			Fix:     "treat it as an incident: find the call in CloudTrail, then run breakglass aws revoke " + path})
	}
	return out
}

// lastProvision is the latest seal entry of a secret written by aws
// provision (it carries the policy hashes).
func lastProvision(entries []*logbook.Entry, name string) *logbook.Entry {
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Secret == name && e.Kind == logbook.KindSeal && strings.HasPrefix(e.Reason, "aws provision") {
			return e
		}
	}
	return nil
}

// lastRevoke is the latest aws revoke entry of a secret that records its
// cutoff.
func lastRevoke(entries []*logbook.Entry, name string) *logbook.Entry {
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Secret == name && e.Kind == logbook.KindRevoke && e.Details["sessions-before"] != "" {
			return e
		}
	}
	return nil
}

// longestSession is how long a session issued before a revoke can last: a
// session token (sts:GetSessionToken) lasts up to 36 hours, a role session
// up to 12.
const longestSession = 36 * time.Hour

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
	if now.Sub(cutoff) > longestSession {
		f.Severity = aws.Warning
		f.Problem = fmt.Sprintf("the logbook's revoke entry %d denied sessions issued before %s, but IAM no longer denies them on both the user and the role (harmless now: every session issued before then has expired)",
			rev.Index, cutoff.UTC().Format(time.RFC3339))
		f.Fix = "find out who removed " + aws.RevokePolicyName + " (CloudTrail: DeleteUserPolicy, DeleteRolePolicy)"
	}
	return f
}
