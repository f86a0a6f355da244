package aws

import (
	"context"
	"fmt"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// Severity ranks a Finding.
type Severity string

const (
	// Drift: the account no longer matches what was provisioned, or the
	// sealed key would not work. Break-glass access is at risk.
	Drift Severity = "drift"
	// Warning: works today, needs attention (for example an old key).
	Warning Severity = "warning"
)

// Finding is one problem Check found, with the fix.
type Finding struct {
	Severity Severity `json:"severity"`
	Subject  string   `json:"subject"` // ARN or key id
	Problem  string   `json:"problem"`
	Fix      string   `json:"fix"`
}

func (f Finding) String() string {
	return fmt.Sprintf("%s: %s: %s (fix: %s)", f.Severity, f.Subject, f.Problem, f.Fix)
}

// CheckOptions tune Check. The zero value is fine.
type CheckOptions struct {
	// MaxKeyAge warns about keys older than this; default 90 days.
	MaxKeyAge time.Duration
	// Now is the reference time for key age; default time.Now.
	Now time.Time
}

// CheckReport is Check's answer.
type CheckReport struct {
	Account  string
	UserARN  string
	RoleARN  string
	Findings []Finding
	// SealedKey is the sealed key's state in IAM, with its last use, for
	// the caller to explain against the logbook's releases.
	SealedKey KeyState
	// SessionsRevokedBefore: sessions issued before this time are denied
	// on both the user and the role (RevokePolicyName, written by
	// Revoke), for the caller to compare with the logbook's last revoke.
	// Zero when not both carry such a deny.
	SessionsRevokedBefore time.Time
	// Alert is the alert path, when the spec has alerts.
	Alert *AlertReport
}

// Drifted reports whether any finding is Drift.
func (r *CheckReport) Drifted() bool {
	for _, f := range r.Findings {
		if f.Severity == Drift {
			return true
		}
	}
	return false
}

// Check compares the account with spec and the sealed key id: user, role,
// policies (by hash), tags, exactly one access key and it the sealed one,
// active, and not too old. Anything that could give the user or the role
// more power is drift: a group membership of the user, a managed policy
// attached to the user or an extra one to the role, an inline policy
// breakglass did not write. The only extra policy expected is a revoke's
// deny of older sessions (RevokePolicyName), exactly as Revoke writes it
// and the same on the user and the role. It changes nothing.
func Check(ctx context.Context, cfg awssdk.Config, spec Spec, sealedKeyID string, opts CheckOptions) (*CheckReport, error) {
	if opts.MaxKeyAge == 0 {
		opts.MaxKeyAge = 90 * 24 * time.Hour
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	_, snap, err := readAccount(ctx, cfg, spec)
	if err != nil {
		return nil, err
	}
	account := snap.account
	r := &CheckReport{Account: account, UserARN: spec.UserARN(account), RoleARN: spec.RoleARN(account)}
	add := func(sev Severity, subject, problem, fix string) {
		r.Findings = append(r.Findings, Finding{sev, subject, problem, fix})
	}
	const reprovision = "run `breakglass aws provision` with the same settings (it shows its plan first)"

	if snap.user == nil {
		add(Drift, r.UserARN, "the break-glass user does not exist", reprovision+", then seal its new key")
	} else {
		if err := ownedBy(snap.user, "user", spec.UserName(), spec); err != nil {
			add(Drift, snap.user.arn, err.Error(), "investigate who replaced the user")
		}
		checkTags(add, snap.user.arn, spec, snap.user.tags, reprovision)
		if !samePolicy(snap.user.inline[UserPolicyName], spec.UserPolicy(account)) {
			add(Drift, snap.user.arn, "inline policy "+UserPolicyName+" is missing or differs from the provisioned one (hash mismatch)", reprovision)
		}
		for _, name := range sortedKeys(docNames(snap.user.inline)) {
			if name != UserPolicyName && name != RevokePolicyName {
				add(Drift, snap.user.arn, "unexpected inline policy "+name+": the user must be able to do nothing but assume the role", reprovision+" (it deletes the policy)")
			}
		}
		for _, arn := range snap.user.attached {
			add(Drift, snap.user.arn, "unexpected attached policy "+arn+": the user must be able to do nothing but assume the role", reprovision+" (it detaches the policy)")
		}
		for _, g := range snap.user.groups {
			add(Drift, snap.user.arn, "the user is a member of group "+g+", whose policies apply to it: the user must be able to do nothing but assume the role",
				reprovision+" (it removes the user from the group), or aws iam remove-user-from-group --group-name "+g+" --user-name "+spec.UserName())
		}
	}

	if snap.role == nil {
		add(Drift, r.RoleARN, "the emergency role does not exist", reprovision)
	} else {
		role := snap.role
		if err := ownedBy(role, "role", spec.RoleName(), spec); err != nil {
			add(Drift, role.arn, err.Error(), "investigate who replaced the role")
		}
		checkTags(add, role.arn, spec, role.tags, reprovision)
		if !samePolicy(role.trust, spec.TrustPolicy(account)) {
			add(Drift, role.arn, "the trust policy differs from the provisioned one (hash mismatch)", reprovision)
		}
		if want := int32(spec.maxSession() / time.Second); role.maxSession != want {
			add(Drift, role.arn, fmt.Sprintf("maximum session is %s, provisioned %s", time.Duration(role.maxSession)*time.Second, spec.maxSession()), reprovision)
		}
		if spec.RolePolicyARN != "" && !contains(role.attached, spec.RolePolicyARN) {
			add(Drift, role.arn, "permissions policy "+spec.RolePolicyARN+" is not attached", reprovision)
		}
		for _, arn := range role.attached {
			if arn != spec.RolePolicyARN {
				add(Drift, role.arn, "unexpected attached policy "+arn+": the role must have only the provisioned permissions", reprovision+" (it detaches the policy)")
			}
		}
		if len(spec.RolePolicy) > 0 && !samePolicy(role.inline[RolePolicyName], spec.RolePolicy) {
			add(Drift, role.arn, "inline permissions "+RolePolicyName+" are missing or differ from the provisioned ones (hash mismatch)", reprovision)
		}
		for _, name := range sortedKeys(docNames(role.inline)) {
			if name != RevokePolicyName && (name != RolePolicyName || len(spec.RolePolicy) == 0) {
				add(Drift, role.arn, "unexpected inline policy "+name+": the role must have only the provisioned permissions", reprovision+" (it deletes the policy)")
			}
		}
	}
	r.SessionsRevokedBefore = checkRevoked(add, snap, r, reprovision)
	if len(spec.Alerts) > 0 {
		if r.Alert, err = checkAlert(ctx, cfg, spec, account, add); err != nil {
			return nil, err
		}
	}

	// Keys: exactly one, the sealed one, active, young enough.
	sealedFound := false
	for _, k := range snap.keys {
		id := awssdk.ToString(k.AccessKeyId)
		if id != sealedKeyID {
			add(Drift, id, "an access key that is not the sealed one exists for the break-glass user",
				"if nobody can explain it, treat it as compromised: deactivate and delete it (aws iam delete-access-key)")
			continue
		}
		sealedFound = true
		if k.Status != types.StatusTypeActive {
			add(Drift, id, "the sealed key is "+string(k.Status)+"; a release would fail",
				"run `breakglass aws revoke` to replace it with a new sealed key")
		}
		if age := opts.Now.Sub(awssdk.ToTime(k.CreateDate)); age > opts.MaxKeyAge {
			add(Warning, id, fmt.Sprintf("the sealed key is %d days old", int(age.Hours()/24)), "run `breakglass aws rotate`")
		}
	}
	if !sealedFound {
		add(Drift, sealedKeyID, "the sealed key no longer exists in IAM (rotated or deleted outside breakglass); a release would fail",
			"run `breakglass aws revoke` to create and seal a new key, or `breakglass aws provision` if the user is gone")
	}
	if snap.user != nil {
		st, err := KeyStatus(ctx, cfg, spec.UserName(), sealedKeyID)
		if err != nil {
			return nil, err
		}
		r.SealedKey = *st
	} else {
		r.SealedKey = KeyState{KeyID: sealedKeyID, User: spec.UserName(), Status: KeyDeleted}
	}
	return r, nil
}

// checkRevoked checks a revoke's deny of older sessions: on the user and
// the role alike, or on neither. It returns the cutoff both enforce.
func checkRevoked(add func(Severity, string, string, string), snap *snapshot, r *CheckReport, reprovision string) time.Time {
	st := readRevokeState(snap.user, snap.role)
	if st.userBad {
		add(Drift, r.UserARN, "inline policy "+RevokePolicyName+" is not the deny of older sessions that `breakglass aws revoke` writes (it may grant powers)",
			reprovision+" (it deletes the policy, and puts back the role's deny if the role has one)")
	}
	if st.roleBad {
		add(Drift, r.RoleARN, "inline policy "+RevokePolicyName+" is not the deny of older sessions that `breakglass aws revoke` writes (it may grant powers)",
			reprovision+" (it deletes the policy, and puts back the user's deny if the user has one)")
	}
	when := func(t time.Time) string { return t.Format(time.RFC3339) }
	switch {
	case st.user.IsZero() && st.role.IsZero():
		return time.Time{}
	case st.user.IsZero():
		add(Drift, r.UserARN, "the role denies sessions issued before "+when(st.role)+" but the user does not: session tokens (sts:GetSessionToken) made from a released key before then can still assume the role",
			reprovision+" (it puts the same deny on the user)")
		return time.Time{}
	case st.role.IsZero():
		add(Drift, r.RoleARN, "the user denies session tokens issued before "+when(st.user)+" but the role does not deny its sessions issued before then: they stay alive",
			reprovision+" (it puts the same deny on the role)")
		return time.Time{}
	case !st.user.Equal(st.role):
		add(Drift, r.UserARN, "the user denies sessions issued before "+when(st.user)+", the role before "+when(st.role)+"; a revoke puts the same cutoff on both",
			reprovision+" (it puts the later cutoff on both)")
		if st.user.Before(st.role) {
			return st.user
		}
		return st.role
	}
	return st.user
}

func checkTags(add func(Severity, string, string, string), subject string, spec Spec, have map[string]string, fix string) {
	for _, k := range sortedKeys(spec.Tags()) {
		if have[k] != spec.Tags()[k] {
			add(Drift, subject, fmt.Sprintf("tag %s is %q, provisioned %q", k, have[k], spec.Tags()[k]), fix)
		}
	}
	if have[TagProvisioned] == "" {
		add(Warning, subject, "tag "+TagProvisioned+" is missing", "tag it with the provisioning date from the logbook")
	}
}

// Key statuses.
const (
	KeyActive   = "active"
	KeyInactive = "inactive"
	KeyDeleted  = "deleted"
)

// KeyState is an access key as IAM reports it.
type KeyState struct {
	KeyID   string    `json:"keyId"`
	User    string    `json:"user"`
	Status  string    `json:"status"` // KeyActive, KeyInactive or KeyDeleted
	Created time.Time `json:"created,omitzero"`
	// LastUsed is zero if the key was never used (or is deleted).
	LastUsed        time.Time `json:"lastUsed,omitzero"`
	LastUsedService string    `json:"lastUsedService,omitempty"`
	LastUsedRegion  string    `json:"lastUsedRegion,omitempty"`
}

// KeyStatus reports whether keyID still exists for user and when it was
// last used: the auditor's proof that a released key was revoked. A user
// that no longer exists has no keys: KeyDeleted.
func KeyStatus(ctx context.Context, cfg awssdk.Config, user, keyID string) (*KeyState, error) {
	c := iamClient(cfg)
	st := &KeyState{KeyID: keyID, User: user, Status: KeyDeleted}
	keys := iam.NewListAccessKeysPaginator(c, &iam.ListAccessKeysInput{UserName: &user})
	for keys.HasMorePages() {
		page, err := keys.NextPage(ctx)
		if errorCode(err) == "NoSuchEntity" {
			return st, nil
		}
		if err != nil {
			return nil, classify("list access keys of "+user, err)
		}
		for _, k := range page.AccessKeyMetadata {
			if awssdk.ToString(k.AccessKeyId) != keyID {
				continue
			}
			st.Created = awssdk.ToTime(k.CreateDate)
			st.Status = KeyInactive
			if k.Status == types.StatusTypeActive {
				st.Status = KeyActive
			}
		}
	}
	if st.Status == KeyDeleted {
		return st, nil
	}
	lu, err := c.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: &keyID})
	if err != nil {
		return nil, classify("get last use of "+keyID, err)
	}
	if u := lu.AccessKeyLastUsed; u != nil && u.LastUsedDate != nil {
		st.LastUsed = *u.LastUsedDate
		st.LastUsedService = awssdk.ToString(u.ServiceName)
		st.LastUsedRegion = awssdk.ToString(u.Region)
	}
	return st, nil
}
