package aws

import (
	"context"
	"fmt"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// DenyAllPolicy is the session policy of a drill's session: whatever the
// role allows, the session may do nothing (GetCallerIdentity needs no
// permission, so it still answers).
const DenyAllPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"BreakglassDrill","Effect":"Deny","Action":"*","Resource":"*"}]}`

// DrillSessionDuration is how long a drill's deny-all session lasts: the
// shortest STS allows. A session cannot be ended early; this one can do
// nothing while it lasts.
const DrillSessionDuration = 15 * time.Minute

// A DrillProof is what a drill learned from AWS without gaining any power:
// the sealed key is live and belongs to the user, and the role still
// trusts that user.
type DrillProof struct {
	AccessKeyID    string    `json:"access_key_id"`
	UserARN        string    `json:"user_arn"`         // GetCallerIdentity with the sealed key
	AssumedRoleARN string    `json:"assumed_role_arn"` // GetCallerIdentity with the deny-all session
	SessionExpiry  time.Time `json:"session_expiry"`
}

// ProveKey checks, for a drill, that the sealed key, its user and the
// role still work, without releasing any power: GetCallerIdentity with
// the key (the key is active and is wantUserARN's, when given), AssumeRole
// with SourceIdentity = req.Operator and the session policy DenyAllPolicy
// for DrillSessionDuration, and GetCallerIdentity with that session (the
// role's trust policy still admits the user). The session's credentials
// are wiped before ProveKey returns and never leave it. req.Duration and
// req.SessionName are ignored: the session is named "drill-OPERATOR".
// Errors wrap the same values as Session.
func ProveKey(ctx context.Context, key Credentials, req Request, wantUserARN string) (*DrillProof, error) {
	name := "drill-" + req.Operator
	if len(name) > 64 {
		name = name[:64]
	}
	req.SessionName, req.Duration = name, DrillSessionDuration
	q, err := assumeRoleParams(req)
	if err != nil {
		return nil, err
	}
	cfg := SessionConfig(Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, "", req)
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, classify("check the sealed key "+key.AccessKeyID, err)
	}
	proof := &DrillProof{AccessKeyID: key.AccessKeyID, UserARN: awssdk.ToString(id.Arn)}
	if wantUserARN != "" && proof.UserARN != wantUserARN {
		return proof, fmt.Errorf("aws: the sealed key %s belongs to %s, not to %s", key.AccessKeyID, proof.UserARN, wantUserARN)
	}
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         awssdk.String(req.RoleARN),
		RoleSessionName: awssdk.String(q.Get("RoleSessionName")),
		SourceIdentity:  awssdk.String(req.Operator),
		DurationSeconds: awssdk.Int32(int32(DrillSessionDuration / time.Second)),
		Policy:          awssdk.String(DenyAllPolicy),
	})
	if err != nil {
		return proof, classify("assume role "+req.RoleARN+" (deny-all drill session) as "+req.Operator, err)
	}
	c := out.Credentials
	sess := &STSCredentials{
		AccessKeyID:     awssdk.ToString(c.AccessKeyId),
		SecretAccessKey: []byte(awssdk.ToString(c.SecretAccessKey)),
		SessionToken:    []byte(awssdk.ToString(c.SessionToken)),
	}
	defer sess.Wipe()
	proof.SessionExpiry = awssdk.ToTime(c.Expiration)
	sid, err := sts.NewFromConfig(sess.Config(req)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return proof, classify("check the drill session of "+req.RoleARN, err)
	}
	proof.AssumedRoleARN = awssdk.ToString(sid.Arn)
	if !strings.HasSuffix(proof.AssumedRoleARN, "/"+name) || !strings.Contains(proof.AssumedRoleARN, ":assumed-role/") {
		return proof, fmt.Errorf("aws: the drill session answers as %s, not as a session %s of %s", proof.AssumedRoleARN, name, req.RoleARN)
	}
	return proof, nil
}
