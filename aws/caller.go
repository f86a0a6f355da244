package aws

import (
	"context"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// A Caller is who a set of credentials is, as STS says
// (sts:GetCallerIdentity).
type Caller struct {
	Account string
	ARN     string
	UserID  string
	// SessionName is the last part of an assumed role's ARN: the session
	// name, which Session sets to the operator. It is "" for a caller
	// that is not an assumed role.
	SessionName string
}

// CallerIdentity asks STS who cfg's credentials are. It needs no
// permission, so it fails only for credentials STS does not accept: the
// error then wraps ErrExpired, ErrKeyInvalid, ErrUnreachable or another of
// the package's sentinels.
func CallerIdentity(ctx context.Context, cfg awssdk.Config) (*Caller, error) {
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, classify("get caller identity", err)
	}
	c := &Caller{Account: awssdk.ToString(out.Account), ARN: awssdk.ToString(out.Arn), UserID: awssdk.ToString(out.UserId)}
	if strings.Contains(c.ARN, ":assumed-role/") {
		c.SessionName = c.ARN[strings.LastIndex(c.ARN, "/")+1:]
	}
	return c, nil
}

// ProbeIAM calls iam:ListRoles with cfg's credentials: nil means they may
// act in IAM. A session that aws revoke has ended gets ErrAccessDenied.
func ProbeIAM(ctx context.Context, cfg awssdk.Config) error {
	_, err := iam.NewFromConfig(cfg).ListRoles(ctx, &iam.ListRolesInput{})
	return classify("iam:ListRoles", err)
}
