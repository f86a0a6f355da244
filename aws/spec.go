package aws

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Spec describes one break-glass identity: an IAM user that can only
// assume one emergency role, and that role.
type Spec struct {
	// Name identifies the secret, e.g. "prod". The user and the role are
	// both called "breakglass-NAME", under the IAM path /breakglass/.
	Name string
	// AccountID, if set, is the only account Provision, Revoke and Check
	// will touch: they stop if the credentials belong to another one.
	AccountID string
	// RolePolicyARN is a managed policy attached to the role, such as
	// arn:aws:iam::aws:policy/AdministratorAccess. Exactly one of
	// RolePolicyARN and RolePolicy must be set.
	RolePolicyARN string
	// RolePolicy is an inline permissions policy (JSON) for the role.
	RolePolicy []byte
	// MaxSession bounds the role's sessions: 1h to 12h, default 1h.
	MaxSession time.Duration
	// Owner is the team that owns the break-glass procedure (a tag).
	Owner string
	// ExtraTags are added to the user and the role, for example the tags
	// an organisation's cleanup or expiry automation honours as exemptions.
	ExtraTags map[string]string
	// Alerts, if any, make every use loud: an EventBridge rule on the
	// CloudTrail events of the user and of AssumeRole on the role, an SNS
	// topic breakglass-NAME-alerts with these subscriptions (and sns:
	// alerts as further targets), in AlertRegion (default
	// DefaultAlertRegion).
	Alerts      []Alert
	AlertRegion string
}

// Path is the IAM path of the user and the role.
const Path = "/breakglass/"

// Policy and tag names breakglass owns.
const (
	UserPolicyName   = "breakglass-assume-role"
	RolePolicyName   = "breakglass-permissions"
	RevokePolicyName = "AWSRevokeOlderSessions" // the name the console's "Revoke active sessions" uses

	TagName        = "breakglass:name"
	TagOwner       = "breakglass:owner"
	TagPurpose     = "breakglass:purpose"
	TagProvisioned = "breakglass:provisioned"
	TagNoExpiry    = "breakglass:exempt-from-expiry"
	TagNoCleanup   = "breakglass:exempt-from-cleanup"
)

var specNameRE = regexp.MustCompile(`^[A-Za-z0-9+=,.@_-]{1,48}$`)

// UserName is the IAM user name, "breakglass-NAME".
func (s Spec) UserName() string { return "breakglass-" + s.Name }

// RoleName is the IAM role name, "breakglass-NAME".
func (s Spec) RoleName() string { return "breakglass-" + s.Name }

// UserARN is the user's ARN in account.
func (s Spec) UserARN(account string) string {
	return "arn:aws:iam::" + account + ":user" + Path + s.UserName()
}

// RoleARN is the role's ARN in account.
func (s Spec) RoleARN(account string) string {
	return "arn:aws:iam::" + account + ":role" + Path + s.RoleName()
}

func (s Spec) maxSession() time.Duration {
	if s.MaxSession == 0 {
		return time.Hour
	}
	return s.MaxSession
}

// Validate reports the first problem with s, as a *SpecError.
func (s Spec) Validate() error {
	if !specNameRE.MatchString(s.Name) {
		return specErr("name %q must be 1 to 48 letters, digits or +=,.@_-", s.Name)
	}
	if s.AccountID != "" && !regexp.MustCompile(`^\d{12}$`).MatchString(s.AccountID) {
		return specErr("account id %q is not 12 digits", s.AccountID)
	}
	if (s.RolePolicyARN == "") == (len(s.RolePolicy) == 0) {
		return specErr("give the role exactly one of a policy ARN or a policy document")
	}
	if s.RolePolicyARN != "" && !strings.HasPrefix(s.RolePolicyARN, "arn:aws") {
		return specErr("role policy %q is not an ARN", s.RolePolicyARN)
	}
	if len(s.RolePolicy) > 0 {
		if _, err := CanonicalPolicy(s.RolePolicy); err != nil {
			return specErr("role policy: %w", err)
		}
	}
	if m := s.maxSession(); m < time.Hour || m > 12*time.Hour || m%time.Second != 0 {
		return specErr("maximum session %s must be between 1h and 12h", m)
	}
	if s.Owner == "" {
		return specErr("an owner team is required (it is tagged on the user and the role)")
	}
	if len(s.Alerts) > 0 {
		if !alertNameRE.MatchString(s.AlertRuleName()) || len(s.AlertRuleName()) > 64 {
			return specErr("name %q is too long or has characters an EventBridge rule name cannot take, for alerts (letters, digits, ._- and at most 47 characters)", s.Name)
		}
		if s.AlertRegion != "" && !regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`).MatchString(s.AlertRegion) {
			return specErr("alert region %q is not an AWS region", s.AlertRegion)
		}
		seen := map[Alert]bool{}
		for _, a := range s.Alerts {
			if b, err := ParseAlert(a.String()); err != nil || b != a {
				return specErr("alert %q is not valid", a.String())
			}
			if seen[a] {
				return specErr("alert %s is given twice", a)
			}
			seen[a] = true
		}
	}
	return nil
}

// A SpecError is a problem Validate found with a Spec. Err says what,
// without the "aws: " of Error.
type SpecError struct{ Err error }

func (e *SpecError) Error() string { return "aws: " + e.Err.Error() }
func (e *SpecError) Unwrap() error { return e.Err }

func specErr(format string, args ...any) error { return &SpecError{Err: fmt.Errorf(format, args...)} }

// alertNameRE: what both an SNS topic name and an EventBridge rule name
// can take.
var alertNameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// CanonicalPolicy re-encodes a JSON policy document compactly with sorted
// keys, so that equal policies hash equally however they were written.
func CanonicalPolicy(doc []byte) ([]byte, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, fmt.Errorf("policy is not valid JSON: %w", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("policy is not a JSON object")
	}
	return json.Marshal(v)
}

// PolicyHash is the hex SHA-256 of the canonical form of doc, as recorded
// in the logbook and compared by Check.
func PolicyHash(doc []byte) (string, error) {
	c, err := CanonicalPolicy(doc)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

type policyStatement struct {
	Sid       string         `json:"Sid,omitempty"`
	Effect    string         `json:"Effect"`
	Principal map[string]any `json:"Principal,omitempty"`
	Action    []string       `json:"Action"`
	Resource  any            `json:"Resource,omitempty"`
	Condition map[string]any `json:"Condition,omitempty"`
}

type policyDocument struct {
	Version   string            `json:"Version"`
	Statement []policyStatement `json:"Statement"`
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only fixed shapes are marshalled
	}
	return b
}

// UserPolicy is the user's only permission: assume the emergency role,
// and only with a source identity.
func (s Spec) UserPolicy(account string) []byte {
	return mustJSON(policyDocument{Version: "2012-10-17", Statement: []policyStatement{
		{
			Sid: "AssumeEmergencyRoleAsANamedOperator", Effect: "Allow",
			Action:    []string{"sts:AssumeRole", "sts:SetSourceIdentity"},
			Resource:  s.RoleARN(account),
			Condition: map[string]any{"StringLike": map[string]any{"sts:SourceIdentity": "?*"}},
		},
		{
			Sid: "NeverWithoutSourceIdentity", Effect: "Deny",
			Action:    []string{"sts:AssumeRole"},
			Resource:  "*",
			Condition: map[string]any{"Null": map[string]any{"sts:SourceIdentity": "true"}},
		},
	}})
}

// TrustPolicy lets only the break-glass user assume the role, and only
// with a source identity.
func (s Spec) TrustPolicy(account string) []byte {
	return mustJSON(policyDocument{Version: "2012-10-17", Statement: []policyStatement{{
		Sid: "OnlyTheBreakGlassUserAsANamedOperator", Effect: "Allow",
		Principal: map[string]any{"AWS": s.UserARN(account)},
		Action:    []string{"sts:AssumeRole", "sts:SetSourceIdentity"},
		Condition: map[string]any{"StringLike": map[string]any{"sts:SourceIdentity": "?*"}},
	}}})
}

// RevokePolicy denies everything to sessions issued before cutoff, like
// the console's "Revoke active sessions". Revoke puts it on the role (its
// sessions) and on the user (session tokens made with sts:GetSessionToken
// from a released key, which outlive the key). Calls signed with a
// long-term key carry no aws:TokenIssueTime, so the condition does not
// match them and the new sealed key is not affected.
func RevokePolicy(cutoff time.Time) []byte {
	return mustJSON(policyDocument{Version: "2012-10-17", Statement: []policyStatement{{
		Effect:    "Deny",
		Action:    []string{"*"},
		Resource:  []string{"*"},
		Condition: map[string]any{"DateLessThan": map[string]any{"aws:TokenIssueTime": cutoff.UTC().Format(time.RFC3339)}},
	}}})
}

// RevokeCutoff returns the cutoff of a document RevokePolicy wrote. Any
// other document, such as one edited to allow something, gives false.
func RevokeCutoff(doc []byte) (time.Time, bool) {
	var d struct {
		Statement []struct {
			Condition map[string]map[string]string
		}
	}
	if json.Unmarshal(doc, &d) != nil || len(d.Statement) != 1 {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, d.Statement[0].Condition["DateLessThan"]["aws:TokenIssueTime"])
	if err != nil || !samePolicy(doc, RevokePolicy(t)) {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// Tags are the tags breakglass puts on the user and the role, except
// TagProvisioned, which records the first provisioning and is never
// rewritten.
func (s Spec) Tags() map[string]string {
	t := map[string]string{
		TagName:      s.Name,
		TagOwner:     s.Owner,
		TagPurpose:   "emergency-access",
		TagNoExpiry:  "true",
		TagNoCleanup: "true",
	}
	for k, v := range s.ExtraTags {
		t[k] = v
	}
	return t
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
