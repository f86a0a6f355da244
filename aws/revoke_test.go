package aws_test

import (
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	bgaws "github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/aws/awstest"
)

// tokenCreds are session-token credentials.
type tokenCreds struct {
	bgaws.Credentials
	Token string
}

// sessionToken plays whoever saw a released key: sts:GetSessionToken
// (12 hours by default), whose token outlives the key.
func sessionToken(t *testing.T, srv *awstest.Server, s bgaws.Spec, key bgaws.Credentials) tokenCreds {
	t.Helper()
	out, err := sts.NewFromConfig(bgaws.SessionConfig(key, "", request(srv, s, "x"))).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	return tokenCreds{bgaws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: []byte(*out.Credentials.SecretAccessKey)}, *out.Credentials.SessionToken}
}

// assumeWith calls AssumeRole as the break-glass user would, with any
// credentials.
func assumeWith(srv *awstest.Server, s bgaws.Spec, c tokenCreds, operator string) error {
	_, err := sts.NewFromConfig(bgaws.SessionConfig(c.Credentials, c.Token, request(srv, s, operator))).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: awssdk.String(s.RoleARN(srv.AccountID())), RoleSessionName: awssdk.String(operator), SourceIdentity: awssdk.String(operator),
	})
	return err
}

func TestRevokeEndsSessionTokensOfTheReleasedKey(t *testing.T) {
	srv := newServer(t)
	admin := adminConfig(srv)
	s := spec(srv)
	key := provision(t, srv, s)

	// Before the revoke, a session token made from the key may assume the
	// role: it acts as the user.
	stolen := sessionToken(t, srv, s, *key)
	if err := assumeWith(srv, s, stolen, "mallory"); err != nil {
		t.Fatalf("session token before revoke: %v", err)
	}

	rev, err := bgaws.Revoke(ctx, admin, s, key.AccessKeyID, srv.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The key is gone, and its session token, though still valid in AWS,
	// may no longer assume the role: the user's explicit deny.
	if err := assumeWith(srv, s, tokenCreds{Credentials: *key}, "mallory"); err == nil || !strings.Contains(err.Error(), "InvalidClientTokenId") {
		t.Errorf("released key after revoke: %v", err)
	}
	err = assumeWith(srv, s, stolen, "mallory")
	if err == nil || !strings.Contains(err.Error(), "AccessDenied") || !strings.Contains(err.Error(), "explicit deny") {
		t.Errorf("session token made before the revoke: %v, want an explicit deny", err)
	}

	// check: the same deny on both, no drift; provision keeps it.
	report, err := bgaws.Check(ctx, admin, s, rev.NewKey.AccessKeyID, bgaws.CheckOptions{})
	if err != nil || len(report.Findings) != 0 {
		t.Fatalf("check after revoke: %v %v", report.Findings, err)
	}
	if !report.SessionsRevokedBefore.Equal(rev.SessionsBefore) {
		t.Errorf("SessionsRevokedBefore = %s, revoke said %s", report.SessionsRevokedBefore, rev.SessionsBefore)
	}
	plan, err := bgaws.PlanProvision(ctx, admin, s)
	if err != nil || len(plan.Steps) != 0 || !strings.Contains(strings.Join(plan.Notes, "\n"), "deny sessions issued before") {
		t.Errorf("provision after revoke: %v %v %v", plan.Steps, plan.Notes, err)
	}

	// The new key is not affected: long-term calls carry no token issue
	// time, and its session tokens issued after the cutoff work.
	if err := assumeWith(srv, s, tokenCreds{Credentials: *rev.NewKey}, "alice"); err != nil {
		t.Errorf("new key right after revoke: %v", err)
	}
	srv.Advance(2 * time.Second)
	if err := assumeWith(srv, s, sessionToken(t, srv, s, *rev.NewKey), "alice"); err != nil {
		t.Errorf("new session token after revoke: %v", err)
	}
	if _, err := bgaws.Session(ctx, *rev.NewKey, request(srv, s, "alice")); err != nil {
		t.Errorf("Session with the new key: %v", err)
	}
	// The stolen token stays refused, until it expires.
	if err := assumeWith(srv, s, stolen, "mallory"); err == nil {
		t.Error("the stolen session token works again")
	}
}

// TestCheckDrift makes each kind of drift that grants powers, or undoes a
// revoke, and expects a finding with its fix, and provision to repair it.
func TestCheckDrift(t *testing.T) {
	const admin = "arn:aws:iam::aws:policy/AdministratorAccess"
	allowAll := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	tests := []struct {
		name    string
		revoke  bool // revoke first
		drift   func(c *iam.Client, s bgaws.Spec, cutoff time.Time) error
		problem string
		fix     string
	}{
		{name: "user in a group", drift: func(c *iam.Client, s bgaws.Spec, _ time.Time) error {
			if _, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: awssdk.String("admins")}); err != nil {
				return err
			}
			if _, err := c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: awssdk.String("admins"), PolicyArn: awssdk.String(admin)}); err != nil {
				return err
			}
			_, err := c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: awssdk.String("admins"), UserName: awssdk.String(s.UserName())})
			return err
		}, problem: "member of group admins", fix: "removes the user from the group"},
		{name: "managed policy on the user", drift: func(c *iam.Client, s bgaws.Spec, _ time.Time) error {
			_, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: awssdk.String(s.UserName()), PolicyArn: awssdk.String(admin)})
			return err
		}, problem: "unexpected attached policy " + admin + ": the user", fix: "detaches the policy"},
		{name: "inline policy on the user", drift: func(c *iam.Client, s bgaws.Spec, _ time.Time) error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: awssdk.String(s.UserName()), PolicyName: awssdk.String("extra"), PolicyDocument: awssdk.String(allowAll)})
			return err
		}, problem: "unexpected inline policy extra: the user", fix: "deletes the policy"},
		{name: "extra managed policy on the role", drift: func(c *iam.Client, s bgaws.Spec, _ time.Time) error {
			_, err := c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String(s.RoleName()), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/PowerUserAccess")})
			return err
		}, problem: "unexpected attached policy arn:aws:iam::aws:policy/PowerUserAccess: the role", fix: "detaches the policy"},
		{name: "inline policy on the role", drift: func(c *iam.Client, s bgaws.Spec, _ time.Time) error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String(s.RoleName()), PolicyName: awssdk.String("extra"), PolicyDocument: awssdk.String(allowAll)})
			return err
		}, problem: "unexpected inline policy extra: the role", fix: "deletes the policy"},
		{name: "a grant named like the revoke deny, on the user", drift: func(c *iam.Client, s bgaws.Spec, _ time.Time) error {
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: awssdk.String(s.UserName()), PolicyName: awssdk.String(bgaws.RevokePolicyName), PolicyDocument: awssdk.String(allowAll)})
			return err
		}, problem: "inline policy AWSRevokeOlderSessions is not the deny of older sessions", fix: "deletes the policy"},
		{name: "a grant named like the revoke deny, on the role", drift: func(c *iam.Client, s bgaws.Spec, _ time.Time) error {
			_, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String(s.RoleName()), PolicyName: awssdk.String(bgaws.RevokePolicyName), PolicyDocument: awssdk.String(allowAll)})
			return err
		}, problem: "inline policy AWSRevokeOlderSessions is not the deny of older sessions", fix: "deletes the policy"},
		{name: "revoke deny deleted from the user", revoke: true, drift: func(c *iam.Client, s bgaws.Spec, _ time.Time) error {
			_, err := c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: awssdk.String(s.UserName()), PolicyName: awssdk.String(bgaws.RevokePolicyName)})
			return err
		}, problem: "but the user does not: session tokens (sts:GetSessionToken)", fix: "puts the same deny on the user"},
		{name: "revoke deny deleted from the role", revoke: true, drift: func(c *iam.Client, s bgaws.Spec, _ time.Time) error {
			_, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: awssdk.String(s.RoleName()), PolicyName: awssdk.String(bgaws.RevokePolicyName)})
			return err
		}, problem: "but the role does not deny its sessions", fix: "puts the same deny on the role"},
		{name: "revoke denies with different cutoffs", revoke: true, drift: func(c *iam.Client, s bgaws.Spec, cutoff time.Time) error {
			doc := string(bgaws.RevokePolicy(cutoff.Add(-time.Hour)))
			_, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: awssdk.String(s.UserName()), PolicyName: awssdk.String(bgaws.RevokePolicyName), PolicyDocument: &doc})
			return err
		}, problem: "a revoke puts the same cutoff on both", fix: "puts the later cutoff on both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t)
			cfg := adminConfig(srv)
			s := spec(srv)
			keyID := provision(t, srv, s).AccessKeyID
			var cutoff time.Time
			if tt.revoke {
				rev, err := bgaws.Revoke(ctx, cfg, s, keyID, srv.Now())
				if err != nil {
					t.Fatal(err)
				}
				keyID, cutoff = rev.NewKey.AccessKeyID, rev.SessionsBefore
			}
			if err := tt.drift(iam.NewFromConfig(cfg), s, cutoff); err != nil {
				t.Fatal(err)
			}
			report, err := bgaws.Check(ctx, cfg, s, keyID, bgaws.CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range report.Findings {
				found = found || (f.Severity == bgaws.Drift && strings.Contains(f.Problem, tt.problem) && strings.Contains(f.Fix, tt.fix))
			}
			if !found {
				t.Fatalf("no drift finding %q (fix %q) in %v", tt.problem, tt.fix, report.Findings)
			}
			if report.SessionsRevokedBefore.After(cutoff) {
				t.Errorf("SessionsRevokedBefore = %s, want at most the revoke's %s", report.SessionsRevokedBefore, cutoff)
			}

			// provision repairs it, keeping (or restoring) the revoke's deny.
			if _, err := bgaws.Provision(ctx, cfg, s); err != nil {
				t.Fatal(err)
			}
			report, err = bgaws.Check(ctx, cfg, s, keyID, bgaws.CheckOptions{})
			if err != nil || len(report.Findings) != 0 {
				t.Fatalf("after provision: %v %v", report.Findings, err)
			}
			if !report.SessionsRevokedBefore.Equal(cutoff) {
				t.Errorf("after provision, sessions revoked before %s, want %s", report.SessionsRevokedBefore, cutoff)
			}
		})
	}
}

func TestRevokeCutoff(t *testing.T) {
	cutoff := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	if got, ok := bgaws.RevokeCutoff(bgaws.RevokePolicy(cutoff)); !ok || !got.Equal(cutoff) {
		t.Errorf("RevokeCutoff(RevokePolicy) = %s %v", got, ok)
	}
	// Reordered keys and spaces are the same document.
	same := `{ "Statement": [{"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-03-04T05:06:07Z"}},"Action":["*"],"Effect":"Deny"}], "Version":"2012-10-17"}`
	if got, ok := bgaws.RevokeCutoff([]byte(same)); !ok || !got.Equal(cutoff) {
		t.Errorf("RevokeCutoff(reordered) = %s %v", got, ok)
	}
	for _, bad := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-03-04T05:06:07Z"}}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["s3:*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-03-04T05:06:07Z"}}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-03-04T05:06:07Z"}}},{"Effect":"Allow","Action":"*","Resource":"*"}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:CurrentTime":"2026-03-04T05:06:07Z"}}}]}`,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":["2026-03-04T05:06:07Z"]}}}]}`,
		`not json`,
	} {
		if got, ok := bgaws.RevokeCutoff([]byte(bad)); ok {
			t.Errorf("RevokeCutoff(%s) = %s, want false", bad, got)
		}
	}
}
