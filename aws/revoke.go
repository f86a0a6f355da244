package aws

import (
	"context"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/iam/types"
)

// RevokeResult is what Revoke did, for the logbook.
type RevokeResult struct {
	UserARN string
	RoleARN string
	// RetiredKeyID is the released key; RetiredKeyFound is false when it
	// was already gone from IAM.
	RetiredKeyID    string
	RetiredKeyFound bool
	// SessionsBefore: every session of the role, and every session token
	// of the user, issued before this time is denied everything (the
	// RevokePolicyName policy, on both).
	SessionsBefore   time.Time
	RevokePolicyHash string
	// NewKey is the replacement key. Seal it at once, then Wipe it.
	NewKey *Credentials
}

// Revoke ends a release after an incident: it deactivates and deletes the
// released key, denies everything to sessions issued before at (as the
// console's "Revoke active sessions" does, with the aws:TokenIssueTime
// condition), and creates a new key for the caller to seal.
//
// The deny goes on the user as well as on the role. Deleting a key does
// not end the session tokens made from it: whoever saw the released key
// could have called sts:GetSessionToken (valid up to 36 hours) and, with
// the deny on the role only, assume the role again after the revoke. The
// user's deny stops that; it does not touch calls signed with the new
// long-term key, which carry no token issue time.
//
// Sessions issued up to and including the second of at are revoked
// (token issue times have one-second resolution); pass time.Now() (tests
// pass the test server's clock). A session for the new key issued in the
// same second would be refused too: wait a second before using it.
//
// The order matters: the released key dies before anything else, then
// the user's old session tokens, then the role's old sessions, so a
// failure half-way leaves the account safer, never with the released key
// alive. Running Revoke again after a failure is safe.
func Revoke(ctx context.Context, cfg awssdk.Config, spec Spec, releasedKeyID string, at time.Time) (*RevokeResult, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	account, err := callerAccount(ctx, cfg, spec.AccountID)
	if err != nil {
		return nil, err
	}
	c := iamClient(cfg)
	res := &RevokeResult{UserARN: spec.UserARN(account), RoleARN: spec.RoleARN(account), RetiredKeyID: releasedKeyID}
	if res.RetiredKeyFound, err = RetireKey(ctx, cfg, spec, releasedKeyID); err != nil {
		return nil, err
	}
	cutoff := at.UTC().Truncate(time.Second).Add(time.Second)
	doc := RevokePolicy(cutoff)
	if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: awssdk.String(spec.UserName()), PolicyName: awssdk.String(RevokePolicyName), PolicyDocument: awssdk.String(string(doc)),
	}); err != nil {
		return nil, classify("revoke older session tokens of user "+spec.UserName(), err)
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: awssdk.String(spec.RoleName()), PolicyName: awssdk.String(RevokePolicyName), PolicyDocument: awssdk.String(string(doc)),
	}); err != nil {
		return nil, classify("revoke older sessions of role "+spec.RoleName(), err)
	}
	res.SessionsBefore = cutoff
	res.RevokePolicyHash, _ = PolicyHash(doc)
	if res.NewKey, err = createKey(ctx, c, spec.UserName()); err != nil {
		return nil, err
	}
	return res, nil
}

// Rotate creates a new access key for the user and leaves the old one
// active, so that there is never a moment without a sealed, working key:
// seal the new key, record it, then call RetireKey with the old key id.
// Rotation without an incident does not revoke sessions (none should
// exist); use Revoke after a release.
func Rotate(ctx context.Context, cfg awssdk.Config, spec Spec) (*Credentials, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if _, err := callerAccount(ctx, cfg, spec.AccountID); err != nil {
		return nil, err
	}
	return createKey(ctx, iamClient(cfg), spec.UserName())
}

// RetireKey deactivates and then deletes one of the user's access keys.
// It reports whether the key existed; a key already gone is not an error.
func RetireKey(ctx context.Context, cfg awssdk.Config, spec Spec, keyID string) (found bool, err error) {
	c := iamClient(cfg)
	user := spec.UserName()
	_, err = c.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: &user, AccessKeyId: &keyID, Status: types.StatusTypeInactive})
	if errorCode(err) == "NoSuchEntity" {
		return false, nil
	}
	if err != nil {
		return false, classify("deactivate access key "+keyID, err)
	}
	_, err = c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &user, AccessKeyId: &keyID})
	if err != nil && errorCode(err) != "NoSuchEntity" {
		return true, classify("delete access key "+keyID+" (it is inactive already)", err)
	}
	return true, nil
}
