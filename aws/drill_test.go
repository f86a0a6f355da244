package aws_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	bgaws "github.com/breakglass/breakglass/aws"
)

func TestProveKey(t *testing.T) {
	srv := newServer(t)
	s := spec(srv)
	key := provision(t, srv, s)
	userARN := "arn:aws:iam::123456789012:user/breakglass/breakglass-prod"

	proof, err := bgaws.ProveKey(ctx, *key, request(srv, s, "alice"), userARN)
	if err != nil {
		t.Fatal(err)
	}
	if proof.UserARN != userARN || proof.AccessKeyID != key.AccessKeyID ||
		proof.AssumedRoleARN != "arn:aws:sts::123456789012:assumed-role/breakglass-prod/drill-alice" ||
		proof.SessionExpiry.Sub(srv.Now()) > bgaws.DrillSessionDuration {
		t.Errorf("proof %+v", proof)
	}

	for _, tt := range []struct {
		name string
		key  bgaws.Credentials
		mod  func(*bgaws.Request)
		user string
		want error
		msg  string
	}{
		{name: "dead key", key: bgaws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: bytes.Repeat([]byte("x"), 40)}, user: userARN, want: bgaws.ErrKeyInvalid},
		{name: "someone else's key", key: *key, user: "arn:aws:iam::123456789012:user/other", msg: "belongs to " + userARN},
		{name: "role gone", key: *key, mod: func(r *bgaws.Request) { r.RoleARN = "arn:aws:iam::123456789012:role/other" }, want: bgaws.ErrAccessDenied},
		{name: "bad operator", key: *key, mod: func(r *bgaws.Request) { r.Operator = "a b" }, msg: "cannot be a source identity"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := request(srv, s, "alice")
			if tt.mod != nil {
				tt.mod(&req)
			}
			_, err := bgaws.ProveKey(ctx, tt.key, req, tt.user)
			if err == nil || tt.want != nil && !errors.Is(err, tt.want) || tt.msg != "" && !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ProveKey: %v, want %v %q", err, tt.want, tt.msg)
			}
		})
	}
}

// TestDenyAllPolicy: a session made with the drill's session policy can do
// nothing the role allows (AdministratorAccess), only answer who it is.
func TestDenyAllPolicy(t *testing.T) {
	srv := newServer(t)
	s := spec(srv)
	key := provision(t, srv, s)
	req := request(srv, s, "alice")
	cfg := bgaws.SessionConfig(*key, "", req)
	for _, policy := range []string{"", bgaws.DenyAllPolicy} {
		in := &sts.AssumeRoleInput{RoleArn: awssdk.String(req.RoleARN), RoleSessionName: awssdk.String("alice"), SourceIdentity: awssdk.String("alice")}
		if policy != "" {
			in.Policy = awssdk.String(policy)
		}
		out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		sess := &bgaws.STSCredentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: []byte(*out.Credentials.SecretAccessKey), SessionToken: []byte(*out.Credentials.SessionToken)}
		scfg := sess.Config(req)
		if _, err := sts.NewFromConfig(scfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Errorf("policy %q: GetCallerIdentity: %v", policy, err)
		}
		_, err = iam.NewFromConfig(scfg).ListUsers(ctx, &iam.ListUsersInput{})
		switch {
		case policy == "" && err != nil:
			t.Errorf("the role's session cannot list users: %v", err)
		case policy != "" && (err == nil || !strings.Contains(err.Error(), "explicit deny in a session policy")):
			t.Errorf("the deny-all session lists users: %v", err)
		}
	}
	// A malformed session policy is refused.
	_, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: awssdk.String(req.RoleARN), RoleSessionName: awssdk.String("alice"),
		SourceIdentity: awssdk.String("alice"), Policy: awssdk.String(`{"Statement":"nope"}`)})
	if err == nil || !strings.Contains(err.Error(), "MalformedPolicyDocument") {
		t.Errorf("malformed session policy: %v", err)
	}
}
