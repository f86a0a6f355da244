package awstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

func newServer(t *testing.T) *Server {
	t.Helper()
	srv, err := NewServer(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Error(err)
		}
	})
	return srv
}

// sdkConfig is a real SDK configuration pointed at srv, with fast retries.
func sdkConfig(srv *Server, c Credentials) awssdk.Config {
	return awssdk.Config{
		Region:       "us-east-1",
		BaseEndpoint: awssdk.String(srv.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		Retryer: func() awssdk.Retryer {
			return retry.AddWithMaxBackoffDelay(retry.NewStandard(), 5*time.Millisecond)
		},
	}
}

func iamAs(srv *Server, c Credentials) *iam.Client { return iam.NewFromConfig(sdkConfig(srv, c)) }
func stsAs(srv *Server, c Credentials) *sts.Client { return sts.NewFromConfig(sdkConfig(srv, c)) }

// code is the AWS error code of err, or "" for nil.
func code(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("not an API error: %v", err)
	}
	return ae.ErrorCode()
}

func wantCode(t *testing.T, err error, want string) {
	t.Helper()
	if got := code(t, err); got != want {
		t.Fatalf("got error %v, want code %q", err, want)
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

var ctx = context.Background()

func TestUsersAndTags(t *testing.T) {
	srv := newServer(t)
	admin := iamAs(srv, srv.AdminCredentials())

	out := must[*iam.CreateUserOutput](t)(admin.CreateUser(ctx, &iam.CreateUserInput{
		UserName: awssdk.String("bg-prod"), Path: awssdk.String("/breakglass/"),
		Tags: []iamtypes.Tag{{Key: awssdk.String("breakglass"), Value: awssdk.String("true")}},
	}))
	if got, want := *out.User.Arn, "arn:aws:iam::123456789012:user/breakglass/bg-prod"; got != want {
		t.Errorf("arn %s, want %s", got, want)
	}
	if !strings.HasPrefix(*out.User.UserId, "AIDA") || out.User.CreateDate == nil || len(out.User.Tags) != 1 {
		t.Errorf("unexpected user %+v", out.User)
	}
	must[*iam.CreateUserOutput](t)(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("alice")}))

	_, err := admin.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("bg-prod")})
	var exists *iamtypes.EntityAlreadyExistsException
	if !errors.As(err, &exists) {
		t.Fatalf("second CreateUser: %v, want EntityAlreadyExists", err)
	}
	_, err = admin.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("bad/name")})
	wantCode(t, err, "ValidationError")
	_, err = admin.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("x"), Path: awssdk.String("no-slash")})
	wantCode(t, err, "ValidationError")

	got := must[*iam.GetUserOutput](t)(admin.GetUser(ctx, &iam.GetUserInput{UserName: awssdk.String("bg-prod")}))
	if *got.User.Path != "/breakglass/" || *got.User.UserId != *out.User.UserId {
		t.Errorf("GetUser = %+v", got.User)
	}
	_, err = admin.GetUser(ctx, &iam.GetUserInput{UserName: awssdk.String("nobody")})
	var nse *iamtypes.NoSuchEntityException
	if !errors.As(err, &nse) {
		t.Fatalf("GetUser(nobody): %v, want NoSuchEntity", err)
	}

	for prefix, want := range map[string]int{"/": 2, "/breakglass/": 1, "/other/": 0} {
		l := must[*iam.ListUsersOutput](t)(admin.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: awssdk.String(prefix)}))
		if len(l.Users) != want {
			t.Errorf("ListUsers(%s) = %d users, want %d", prefix, len(l.Users), want)
		}
	}

	must[*iam.TagUserOutput](t)(admin.TagUser(ctx, &iam.TagUserInput{UserName: awssdk.String("bg-prod"), Tags: []iamtypes.Tag{
		{Key: awssdk.String("owner"), Value: awssdk.String("sre")},
		{Key: awssdk.String("breakglass"), Value: awssdk.String("yes")},
	}}))
	tags := must[*iam.ListUserTagsOutput](t)(admin.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: awssdk.String("bg-prod")}))
	if m := tagMap(tags.Tags); len(m) != 2 || m["owner"] != "sre" || m["breakglass"] != "yes" {
		t.Errorf("tags = %v", m)
	}
	must[*iam.UntagUserOutput](t)(admin.UntagUser(ctx, &iam.UntagUserInput{UserName: awssdk.String("bg-prod"), TagKeys: []string{"owner"}}))
	tags = must[*iam.ListUserTagsOutput](t)(admin.ListUserTags(ctx, &iam.ListUserTagsInput{UserName: awssdk.String("bg-prod")}))
	if m := tagMap(tags.Tags); len(m) != 1 {
		t.Errorf("tags after untag = %v", m)
	}
	_, err = admin.TagUser(ctx, &iam.TagUserInput{UserName: awssdk.String("nobody"), Tags: []iamtypes.Tag{{Key: awssdk.String("a"), Value: awssdk.String("b")}}})
	wantCode(t, err, "NoSuchEntity")

	// A user with a key or policy cannot be deleted.
	must[*iam.CreateAccessKeyOutput](t)(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("alice")}))
	_, err = admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: awssdk.String("alice")})
	wantCode(t, err, "DeleteConflict")
	must[*iam.DeleteUserOutput](t)(admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: awssdk.String("bg-prod")}))
	_, err = admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: awssdk.String("bg-prod")})
	wantCode(t, err, "NoSuchEntity")
}

func tagMap(tags []iamtypes.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[*t.Key] = *t.Value
	}
	return m
}

const allowListUsers = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:List*","Resource":"*"}]}`

func TestUserPolicies(t *testing.T) {
	srv := newServer(t)
	admin := iamAs(srv, srv.AdminCredentials())
	must[*iam.CreateUserOutput](t)(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("u")}))

	put := func(name, doc string) error {
		_, err := admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: awssdk.String("u"), PolicyName: awssdk.String(name), PolicyDocument: awssdk.String(doc)})
		return err
	}
	if err := put("list", allowListUsers); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{not json`,
		`{"Version":"2012-10-17"}`,
		`{"Statement":[{"Effect":"Maybe","Action":"*","Resource":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Action":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}]}`,
		`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"a:b":"1"}}}]}`,
	} {
		var mpd *iamtypes.MalformedPolicyDocumentException
		if err := put("bad", bad); !errors.As(err, &mpd) {
			t.Errorf("PutUserPolicy(%s): %v, want MalformedPolicyDocument", bad, err)
		}
	}
	got := must[*iam.GetUserPolicyOutput](t)(admin.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: awssdk.String("u"), PolicyName: awssdk.String("list")}))
	// IAM returns policy documents URL-encoded, as the API reference says.
	if dec, err := url.QueryUnescape(*got.PolicyDocument); err != nil || dec != allowListUsers {
		t.Errorf("GetUserPolicy document = %q", *got.PolicyDocument)
	}
	names := must[*iam.ListUserPoliciesOutput](t)(admin.ListUserPolicies(ctx, &iam.ListUserPoliciesInput{UserName: awssdk.String("u")}))
	if len(names.PolicyNames) != 1 || names.PolicyNames[0] != "list" {
		t.Errorf("ListUserPolicies = %v", names.PolicyNames)
	}
	_, err := admin.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: awssdk.String("u"), PolicyName: awssdk.String("nope")})
	wantCode(t, err, "NoSuchEntity")

	must[*iam.AttachUserPolicyOutput](t)(admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: awssdk.String("u"), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}))
	att := must[*iam.ListAttachedUserPoliciesOutput](t)(admin.ListAttachedUserPolicies(ctx, &iam.ListAttachedUserPoliciesInput{UserName: awssdk.String("u")}))
	if len(att.AttachedPolicies) != 1 || *att.AttachedPolicies[0].PolicyName != "ReadOnlyAccess" {
		t.Errorf("ListAttachedUserPolicies = %+v", att.AttachedPolicies)
	}
	_, err = admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: awssdk.String("u")})
	wantCode(t, err, "DeleteConflict")
	must[*iam.DetachUserPolicyOutput](t)(admin.DetachUserPolicy(ctx, &iam.DetachUserPolicyInput{UserName: awssdk.String("u"), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}))
	must[*iam.DeleteUserPolicyOutput](t)(admin.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: awssdk.String("u"), PolicyName: awssdk.String("list")}))
	_, err = admin.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: awssdk.String("u"), PolicyName: awssdk.String("list")})
	wantCode(t, err, "NoSuchEntity")
	must[*iam.DeleteUserOutput](t)(admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: awssdk.String("u")}))
}

func trustDoc(principal string, requireSourceIdentity bool) string {
	cond := ""
	if requireSourceIdentity {
		cond = `,"Condition":{"StringLike":{"sts:SourceIdentity":"*"}}`
	}
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + principal +
		`"},"Action":["sts:AssumeRole","sts:SetSourceIdentity"]` + cond + `}]}`
}

func TestRoles(t *testing.T) {
	srv := newServer(t)
	admin := iamAs(srv, srv.AdminCredentials())
	u := must[*iam.CreateUserOutput](t)(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("bg")}))
	trust := trustDoc(*u.User.Arn, true)

	_, err := admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("r"), AssumeRolePolicyDocument: awssdk.String(trustDoc("arn:aws:iam::123456789012:user/ghost", false))})
	wantCode(t, err, "MalformedPolicyDocument")
	_, err = admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("r"), AssumeRolePolicyDocument: awssdk.String(trust), MaxSessionDuration: awssdk.Int32(60)})
	wantCode(t, err, "ValidationError")
	_, err = admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("r"), AssumeRolePolicyDocument: awssdk.String(allowListUsers)})
	wantCode(t, err, "MalformedPolicyDocument")

	r := must[*iam.CreateRoleOutput](t)(admin.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: awssdk.String("emergency"), Path: awssdk.String("/breakglass/"), AssumeRolePolicyDocument: awssdk.String(trust),
		Description: awssdk.String("break glass"), MaxSessionDuration: awssdk.Int32(7200),
		Tags: []iamtypes.Tag{{Key: awssdk.String("breakglass"), Value: awssdk.String("true")}},
	}))
	if *r.Role.Arn != "arn:aws:iam::123456789012:role/breakglass/emergency" || !strings.HasPrefix(*r.Role.RoleId, "AROA") || *r.Role.MaxSessionDuration != 7200 {
		t.Errorf("CreateRole = %+v", r.Role)
	}
	_, err = admin.CreateRole(ctx, &iam.CreateRoleInput{RoleName: awssdk.String("emergency"), AssumeRolePolicyDocument: awssdk.String(trust)})
	wantCode(t, err, "EntityAlreadyExists")

	g := must[*iam.GetRoleOutput](t)(admin.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("emergency")}))
	if doc, _ := url.QueryUnescape(*g.Role.AssumeRolePolicyDocument); doc != trust {
		t.Errorf("trust policy = %s", doc)
	}
	if len(g.Role.Tags) != 1 || *g.Role.Description != "break glass" {
		t.Errorf("GetRole = %+v", g.Role)
	}
	_, err = admin.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("nope")})
	wantCode(t, err, "NoSuchEntity")

	must[*iam.UpdateRoleOutput](t)(admin.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: awssdk.String("emergency"), MaxSessionDuration: awssdk.Int32(3600)}))
	_, err = admin.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: awssdk.String("emergency"), MaxSessionDuration: awssdk.Int32(50000)})
	wantCode(t, err, "ValidationError")
	g = must[*iam.GetRoleOutput](t)(admin.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("emergency")}))
	if *g.Role.MaxSessionDuration != 3600 {
		t.Errorf("MaxSessionDuration = %d", *g.Role.MaxSessionDuration)
	}

	must[*iam.TagRoleOutput](t)(admin.TagRole(ctx, &iam.TagRoleInput{RoleName: awssdk.String("emergency"), Tags: []iamtypes.Tag{{Key: awssdk.String("owner"), Value: awssdk.String("sre")}}}))
	rt := must[*iam.ListRoleTagsOutput](t)(admin.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: awssdk.String("emergency")}))
	if m := tagMap(rt.Tags); m["owner"] != "sre" || m["breakglass"] != "true" {
		t.Errorf("role tags = %v", m)
	}
	must[*iam.UntagRoleOutput](t)(admin.UntagRole(ctx, &iam.UntagRoleInput{RoleName: awssdk.String("emergency"), TagKeys: []string{"owner"}}))

	must[*iam.PutRolePolicyOutput](t)(admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String("emergency"), PolicyName: awssdk.String("scope"), PolicyDocument: awssdk.String(allowListUsers)}))
	_, err = admin.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: awssdk.String("emergency"), PolicyName: awssdk.String("bad"), PolicyDocument: awssdk.String("[]")})
	wantCode(t, err, "MalformedPolicyDocument")
	rp := must[*iam.GetRolePolicyOutput](t)(admin.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: awssdk.String("emergency"), PolicyName: awssdk.String("scope")}))
	if doc, _ := url.QueryUnescape(*rp.PolicyDocument); doc != allowListUsers || *rp.RoleName != "emergency" {
		t.Errorf("GetRolePolicy = %+v", rp)
	}
	rl := must[*iam.ListRolePoliciesOutput](t)(admin.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: awssdk.String("emergency")}))
	if len(rl.PolicyNames) != 1 {
		t.Errorf("ListRolePolicies = %v", rl.PolicyNames)
	}

	_, err = admin.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String("emergency"), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/NoSuchPolicy")})
	wantCode(t, err, "NoSuchEntity")
	must[*iam.AttachRolePolicyOutput](t)(admin.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String("emergency"), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	al := must[*iam.ListAttachedRolePoliciesOutput](t)(admin.ListAttachedRolePolicies(ctx, &iam.ListAttachedRolePoliciesInput{RoleName: awssdk.String("emergency")}))
	if len(al.AttachedPolicies) != 1 || *al.AttachedPolicies[0].PolicyArn != "arn:aws:iam::aws:policy/AdministratorAccess" {
		t.Errorf("ListAttachedRolePolicies = %+v", al.AttachedPolicies)
	}

	newTrust := trustDoc(*u.User.Arn, false)
	must[*iam.UpdateAssumeRolePolicyOutput](t)(admin.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String("emergency"), PolicyDocument: awssdk.String(newTrust)}))
	_, err = admin.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String("emergency"), PolicyDocument: awssdk.String("{")})
	wantCode(t, err, "MalformedPolicyDocument")

	roles := must[*iam.ListRolesOutput](t)(admin.ListRoles(ctx, &iam.ListRolesInput{PathPrefix: awssdk.String("/breakglass/")}))
	if len(roles.Roles) != 1 {
		t.Errorf("ListRoles = %d roles", len(roles.Roles))
	}

	_, err = admin.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: awssdk.String("emergency")})
	wantCode(t, err, "DeleteConflict")
	must[*iam.DetachRolePolicyOutput](t)(admin.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: awssdk.String("emergency"), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	_, err = admin.DetachRolePolicy(ctx, &iam.DetachRolePolicyInput{RoleName: awssdk.String("emergency"), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	wantCode(t, err, "NoSuchEntity")
	must[*iam.DeleteRolePolicyOutput](t)(admin.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: awssdk.String("emergency"), PolicyName: awssdk.String("scope")}))
	must[*iam.DeleteRoleOutput](t)(admin.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: awssdk.String("emergency")}))
	_, err = admin.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("emergency")})
	wantCode(t, err, "NoSuchEntity")
}

func TestAccessKeysAndLastUsed(t *testing.T) {
	srv := newServer(t)
	admin := iamAs(srv, srv.AdminCredentials())
	must[*iam.CreateUserOutput](t)(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("u")}))

	k1 := must[*iam.CreateAccessKeyOutput](t)(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("u")})).AccessKey
	if !strings.HasPrefix(*k1.AccessKeyId, "AKIA") || len(*k1.AccessKeyId) != 20 || len(*k1.SecretAccessKey) != 40 || k1.Status != iamtypes.StatusTypeActive {
		t.Fatalf("CreateAccessKey = %+v", k1)
	}
	must[*iam.CreateAccessKeyOutput](t)(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("u")}))
	_, err := admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("u")})
	var lim *iamtypes.LimitExceededException
	if !errors.As(err, &lim) {
		t.Fatalf("third key: %v, want LimitExceeded", err)
	}
	keys := must[*iam.ListAccessKeysOutput](t)(admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: awssdk.String("u")}))
	if len(keys.AccessKeyMetadata) != 2 || *keys.AccessKeyMetadata[0].AccessKeyId != *k1.AccessKeyId {
		t.Fatalf("ListAccessKeys = %+v", keys.AccessKeyMetadata)
	}

	lu := must[*iam.GetAccessKeyLastUsedOutput](t)(admin.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k1.AccessKeyId}))
	if *lu.UserName != "u" || *lu.AccessKeyLastUsed.ServiceName != "N/A" || *lu.AccessKeyLastUsed.Region != "N/A" || lu.AccessKeyLastUsed.LastUsedDate != nil {
		t.Errorf("unused key last used = %+v", lu.AccessKeyLastUsed)
	}

	creds := Credentials{AccessKeyID: *k1.AccessKeyId, SecretAccessKey: *k1.SecretAccessKey}
	id := must[*sts.GetCallerIdentityOutput](t)(stsAs(srv, creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Arn != "arn:aws:iam::123456789012:user/u" || *id.Account != "123456789012" || !strings.HasPrefix(*id.UserId, "AIDA") {
		t.Errorf("GetCallerIdentity = %s %s %s", *id.Arn, *id.Account, *id.UserId)
	}
	lu = must[*iam.GetAccessKeyLastUsedOutput](t)(admin.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k1.AccessKeyId}))
	if *lu.AccessKeyLastUsed.ServiceName != "sts" || *lu.AccessKeyLastUsed.Region != "us-east-1" || lu.AccessKeyLastUsed.LastUsedDate == nil {
		t.Errorf("used key last used = %+v", lu.AccessKeyLastUsed)
	}

	// Inactive keys stop working; reactivated keys work again.
	must[*iam.UpdateAccessKeyOutput](t)(admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: awssdk.String("u"), AccessKeyId: k1.AccessKeyId, Status: iamtypes.StatusTypeInactive}))
	_, err = stsAs(srv, creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	must[*iam.UpdateAccessKeyOutput](t)(admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: awssdk.String("u"), AccessKeyId: k1.AccessKeyId, Status: iamtypes.StatusTypeActive}))
	must[*sts.GetCallerIdentityOutput](t)(stsAs(srv, creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	_, err = admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: awssdk.String("u"), AccessKeyId: k1.AccessKeyId, Status: "Sleeping"})
	wantCode(t, err, "ValidationError")

	// Deleted keys stop working.
	must[*iam.DeleteAccessKeyOutput](t)(admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: awssdk.String("u"), AccessKeyId: k1.AccessKeyId}))
	_, err = stsAs(srv, creds).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	_, err = admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: awssdk.String("u"), AccessKeyId: k1.AccessKeyId})
	wantCode(t, err, "NoSuchEntity")
	_, err = admin.GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: k1.AccessKeyId})
	wantCode(t, err, "NoSuchEntity")
	keys = must[*iam.ListAccessKeysOutput](t)(admin.ListAccessKeys(ctx, &iam.ListAccessKeysInput{UserName: awssdk.String("u")}))
	if len(keys.AccessKeyMetadata) != 1 {
		t.Errorf("keys after delete = %d", len(keys.AccessKeyMetadata))
	}
}

// tamperBody is an http.RoundTripper that rewrites the request body after
// the SDK signed it.
type tamperBody struct{ from, to string }

func (tb tamperBody) RoundTrip(r *http.Request) (*http.Response, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	b = bytes.Replace(b, []byte(tb.from), []byte(tb.to), 1)
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	return http.DefaultTransport.RoundTrip(r)
}

func TestSignatureChecks(t *testing.T) {
	srv := newServer(t)
	admin := srv.AdminCredentials()

	wrongSecret := admin
	wrongSecret.SecretAccessKey = strings.Repeat("x", 40)
	_, err := stsAs(srv, wrongSecret).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "SignatureDoesNotMatch")

	unknown := Credentials{AccessKeyID: "AKIAAAAAAAAAAAAAAAAA", SecretAccessKey: admin.SecretAccessKey}
	_, err = stsAs(srv, unknown).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")

	withToken := admin
	withToken.SessionToken = "bogus"
	_, err = stsAs(srv, withToken).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")

	// A body changed after signing is caught.
	cfg := sdkConfig(srv, admin)
	cfg.HTTPClient = &http.Client{Transport: tamperBody{from: "UserName=alice", to: "UserName=mallory"}}
	_, err = iam.NewFromConfig(cfg).CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("alice")})
	wantCode(t, err, "SignatureDoesNotMatch")
	_, err = iamAs(srv, admin).GetUser(ctx, &iam.GetUserInput{UserName: awssdk.String("mallory")})
	wantCode(t, err, "NoSuchEntity")

	// Unsigned requests.
	resp, err := http.Post(srv.URL(), "application/x-www-form-urlencoded", strings.NewReader("Action=GetCallerIdentity&Version=2011-06-15"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte("<Code>MissingAuthenticationToken</Code>")) {
		t.Errorf("unsigned request: %d %s", resp.StatusCode, body)
	}
}

// signedPost sends a raw query-protocol request signed with the SDK's own
// SigV4 signer, to look at the XML as it is on the wire.
func signedPost(t *testing.T, srv *Server, c Credentials, service, form string, signAt time.Time) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte(form))
	err = v4.NewSigner().SignHTTP(ctx, awssdk.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), service, "us-east-1", signAt)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestWireShapes(t *testing.T) {
	srv := newServer(t)
	admin := srv.AdminCredentials()

	status, body := signedPost(t, srv, admin, "iam", "Action=GetUser&Version=2010-05-08&UserName=ghost", time.Now())
	var er struct {
		XMLName xml.Name
		Error   struct{ Type, Code, Message string }
		ReqID   string `xml:"RequestId"`
	}
	if err := xml.Unmarshal(body, &er); err != nil {
		t.Fatal(err)
	}
	if status != 404 || er.XMLName.Local != "ErrorResponse" || er.XMLName.Space != iamNamespace ||
		er.Error.Type != "Sender" || er.Error.Code != "NoSuchEntity" || er.ReqID == "" {
		t.Errorf("error response %d %s", status, body)
	}

	status, body = signedPost(t, srv, admin, "sts", "Action=GetCallerIdentity&Version=2011-06-15", time.Now())
	var ok struct {
		XMLName xml.Name
		Result  struct{ Arn, Account string } `xml:"GetCallerIdentityResult"`
		Meta    struct{ RequestId string }    `xml:"ResponseMetadata"`
	}
	if err := xml.Unmarshal(body, &ok); err != nil {
		t.Fatal(err)
	}
	if status != 200 || ok.XMLName.Local != "GetCallerIdentityResponse" || ok.XMLName.Space != stsNamespace ||
		ok.Result.Arn != "arn:aws:iam::123456789012:root" || ok.Meta.RequestId == "" {
		t.Errorf("success response %d %s", status, body)
	}

	// Stale signatures are refused, as AWS does after 15 minutes.
	status, body = signedPost(t, srv, admin, "sts", "Action=GetCallerIdentity&Version=2011-06-15", time.Now().Add(-time.Hour))
	if status != 403 || !bytes.Contains(body, []byte("Signature expired")) {
		t.Errorf("stale signature: %d %s", status, body)
	}
	status, body = signedPost(t, srv, admin, "iam", "Action=Frobnicate&Version=2010-05-08", time.Now())
	if status != 400 || !bytes.Contains(body, []byte("InvalidAction")) {
		t.Errorf("unknown action: %d %s", status, body)
	}
}

func TestQueryStringSigning(t *testing.T) {
	srv := newServer(t)
	admin := srv.AdminCredentials()
	// Parameters in the query string, with characters SigV4 must encode.
	q := url.Values{"Action": {"ListUsers"}, "Version": {"2010-05-08"}, "PathPrefix": {"/break glass+x/"}}
	req, err := http.NewRequest(http.MethodGet, srv.URL()+"/?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, awssdk.Credentials{AccessKeyID: admin.AccessKeyID, SecretAccessKey: admin.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// The signature verifies; the path prefix itself is then invalid.
	if resp.StatusCode != 400 || !bytes.Contains(body, []byte("ValidationError")) {
		t.Errorf("query-signed request: %d %s", resp.StatusCode, body)
	}

	for _, h := range []string{"Basic Zm9vOmJhcg==", "AWS4-HMAC-SHA256 Credential=AKIA/2026/us-east-1/iam/aws4_request"} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL()+"/", strings.NewReader("Action=ListUsers&Version=2010-05-08"))
		req.Header.Set("Authorization", h)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !bytes.Contains(body, []byte("IncompleteSignature")) {
			t.Errorf("Authorization %q: %d %s", h, resp.StatusCode, body)
		}
	}
}

// account sets up a break-glass style user and role, returning the user's
// key and the role ARN.
func account(t *testing.T, srv *Server, maxSession int32) (Credentials, string) {
	t.Helper()
	admin := iamAs(srv, srv.AdminCredentials())
	u := must[*iam.CreateUserOutput](t)(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("bg"), Path: awssdk.String("/breakglass/")}))
	r := must[*iam.CreateRoleOutput](t)(admin.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: awssdk.String("emergency"), AssumeRolePolicyDocument: awssdk.String(trustDoc(*u.User.Arn, true)),
		MaxSessionDuration: awssdk.Int32(maxSession),
	}))
	must[*iam.AttachRolePolicyOutput](t)(admin.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: awssdk.String("emergency"), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	userPolicy := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Resource":"` + *r.Role.Arn + `"},
		{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*","Condition":{"Null":{"sts:SourceIdentity":"true"}}}]}`
	must[*iam.PutUserPolicyOutput](t)(admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: awssdk.String("bg"), PolicyName: awssdk.String("assume"), PolicyDocument: awssdk.String(userPolicy)}))
	k := must[*iam.CreateAccessKeyOutput](t)(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("bg")}))
	return Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}, *r.Role.Arn
}

func TestAssumeRole(t *testing.T) {
	srv := newServer(t)
	key, roleARN := account(t, srv, 7200)
	client := stsAs(srv, key)

	// The user may do nothing but assume the role.
	_, err := iamAs(srv, key).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "AccessDenied")

	tests := []struct {
		name     string
		in       sts.AssumeRoleInput
		as       *Credentials
		wantCode string
	}{
		{"ok", sts.AssumeRoleInput{RoleSessionName: awssdk.String("alice"), SourceIdentity: awssdk.String("alice")}, nil, ""},
		{"max duration", sts.AssumeRoleInput{RoleSessionName: awssdk.String("alice"), SourceIdentity: awssdk.String("alice"), DurationSeconds: awssdk.Int32(7200)}, nil, ""},
		{"over role limit", sts.AssumeRoleInput{RoleSessionName: awssdk.String("alice"), SourceIdentity: awssdk.String("alice"), DurationSeconds: awssdk.Int32(7201)}, nil, "ValidationError"},
		{"under 900", sts.AssumeRoleInput{RoleSessionName: awssdk.String("alice"), SourceIdentity: awssdk.String("alice"), DurationSeconds: awssdk.Int32(899)}, nil, "ValidationError"},
		{"no source identity", sts.AssumeRoleInput{RoleSessionName: awssdk.String("alice")}, nil, "AccessDenied"},
		{"bad session name", sts.AssumeRoleInput{RoleSessionName: awssdk.String("a b"), SourceIdentity: awssdk.String("alice")}, nil, "ValidationError"},
		{"short session name", sts.AssumeRoleInput{RoleSessionName: awssdk.String("a"), SourceIdentity: awssdk.String("alice")}, nil, "ValidationError"},
		{"aws: source identity", sts.AssumeRoleInput{RoleSessionName: awssdk.String("alice"), SourceIdentity: awssdk.String("aws:alice")}, nil, "ValidationError"},
		{"root", sts.AssumeRoleInput{RoleSessionName: awssdk.String("alice"), SourceIdentity: awssdk.String("alice")}, ptr(srv.AdminCredentials()), "AccessDenied"},
		{"no such role", sts.AssumeRoleInput{RoleArn: awssdk.String("arn:aws:iam::123456789012:role/ghost"), RoleSessionName: awssdk.String("alice"), SourceIdentity: awssdk.String("alice")}, nil, "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			if in.RoleArn == nil {
				in.RoleArn = awssdk.String(roleARN)
			}
			c := client
			if tt.as != nil {
				c = stsAs(srv, *tt.as)
			}
			out, err := c.AssumeRole(ctx, &in)
			wantCode(t, err, tt.wantCode)
			if err != nil {
				return
			}
			cr := out.Credentials
			if !strings.HasPrefix(*cr.AccessKeyId, "ASIA") || *cr.SessionToken == "" || cr.Expiration == nil {
				t.Fatalf("credentials = %+v", cr)
			}
			want := 3600 * time.Second
			if in.DurationSeconds != nil {
				want = time.Duration(*in.DurationSeconds) * time.Second
			}
			if d := cr.Expiration.Sub(srv.Now()); d < want-5*time.Second || d > want+5*time.Second {
				t.Errorf("session lasts %s, want %s", d, want)
			}
			if *out.SourceIdentity != "alice" || *out.AssumedRoleUser.Arn != "arn:aws:sts::123456789012:assumed-role/emergency/alice" {
				t.Errorf("AssumeRole = %s %s", *out.SourceIdentity, *out.AssumedRoleUser.Arn)
			}
			sess := Credentials{AccessKeyID: *cr.AccessKeyId, SecretAccessKey: *cr.SecretAccessKey, SessionToken: *cr.SessionToken}
			id := must[*sts.GetCallerIdentityOutput](t)(stsAs(srv, sess).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
			if *id.Arn != *out.AssumedRoleUser.Arn || *id.UserId != *out.AssumedRoleUser.AssumedRoleId {
				t.Errorf("GetCallerIdentity = %s %s", *id.Arn, *id.UserId)
			}
			// The role's permissions apply to the session.
			must[*iam.ListUsersOutput](t)(iamAs(srv, sess).ListUsers(ctx, &iam.ListUsersInput{}))
		})
	}

	// A user the trust policy does not name is refused even with an
	// identity policy that allows everything.
	admin := iamAs(srv, srv.AdminCredentials())
	must[*iam.CreateUserOutput](t)(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("mallory")}))
	must[*iam.AttachUserPolicyOutput](t)(admin.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: awssdk.String("mallory"), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/AdministratorAccess")}))
	mk := must[*iam.CreateAccessKeyOutput](t)(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("mallory")}))
	_, err = stsAs(srv, Credentials{AccessKeyID: *mk.AccessKey.AccessKeyId, SecretAccessKey: *mk.AccessKey.SecretAccessKey}).AssumeRole(ctx,
		&sts.AssumeRoleInput{RoleArn: awssdk.String(roleARN), RoleSessionName: awssdk.String("mallory"), SourceIdentity: awssdk.String("mallory")})
	wantCode(t, err, "AccessDenied")

	// A trust policy without sts:SetSourceIdentity refuses a source identity.
	must[*iam.UpdateAssumeRolePolicyOutput](t)(admin.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String("emergency"),
		PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/breakglass/bg"},"Action":"sts:AssumeRole"}]}`)}))
	_, err = client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: awssdk.String(roleARN), RoleSessionName: awssdk.String("alice"), SourceIdentity: awssdk.String("alice")})
	wantCode(t, err, "AccessDenied")
}

func ptr[T any](v T) *T { return &v }

func assume(t *testing.T, srv *Server, key Credentials, roleARN string, seconds int32) Credentials {
	t.Helper()
	out := must[*sts.AssumeRoleOutput](t)(stsAs(srv, key).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: awssdk.String(roleARN), RoleSessionName: awssdk.String("alice"), SourceIdentity: awssdk.String("alice"),
		DurationSeconds: awssdk.Int32(seconds),
	}))
	return Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
}

func TestSessionsExpireAndRevoke(t *testing.T) {
	srv := newServer(t)
	key, roleARN := account(t, srv, 3600)
	sess := assume(t, srv, key, roleARN, 900)

	tampered := sess
	tampered.SessionToken = sess.SessionToken[:len(sess.SessionToken)-1] + "x"
	_, err := stsAs(srv, tampered).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	noToken := sess
	noToken.SessionToken = ""
	_, err = stsAs(srv, noToken).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")

	// Role chaining (here: the role trusting itself) is limited to one hour.
	chainTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/breakglass/bg",` +
		`"` + roleARN + `"]},"Action":["sts:AssumeRole","sts:SetSourceIdentity"],"Condition":{"StringLike":{"sts:SourceIdentity":"*"}}}]}`
	must[*iam.UpdateAssumeRolePolicyOutput](t)(iamAs(srv, srv.AdminCredentials()).UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{
		RoleName: awssdk.String("emergency"), PolicyDocument: awssdk.String(chainTrust)}))
	chained := must[*sts.AssumeRoleOutput](t)(stsAs(srv, sess).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: awssdk.String(roleARN), RoleSessionName: awssdk.String("x1")}))
	if *chained.SourceIdentity != "alice" {
		t.Errorf("chained session source identity = %q, want it carried over", *chained.SourceIdentity)
	}
	_, err = stsAs(srv, sess).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: awssdk.String(roleARN), RoleSessionName: awssdk.String("x1"), SourceIdentity: awssdk.String("bob")})
	wantCode(t, err, "AccessDenied")
	_, err = stsAs(srv, sess).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: awssdk.String(roleARN), RoleSessionName: awssdk.String("x1"), DurationSeconds: awssdk.Int32(3601)})
	wantCode(t, err, "ValidationError")

	// "Revoke active sessions": deny everything to sessions issued before now.
	must[*iam.ListUsersOutput](t)(iamAs(srv, sess).ListUsers(ctx, &iam.ListUsersInput{}))
	cutoff := srv.Now().Add(time.Second).Format(time.RFC3339)
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + cutoff + `"}}}]}`
	must[*iam.PutRolePolicyOutput](t)(iamAs(srv, srv.AdminCredentials()).PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: awssdk.String("emergency"), PolicyName: awssdk.String("AWSRevokeOlderSessions"), PolicyDocument: awssdk.String(deny)}))
	_, err = iamAs(srv, sess).ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "AccessDenied")
	if !strings.Contains(err.Error(), "explicit deny") {
		t.Errorf("revoked session error %v does not mention the explicit deny", err)
	}
	srv.Advance(2 * time.Second)
	fresh := assume(t, srv, key, roleARN, 900)
	must[*iam.ListUsersOutput](t)(iamAs(srv, fresh).ListUsers(ctx, &iam.ListUsersInput{}))

	// Expiry.
	srv.Advance(15 * time.Minute)
	_, err = stsAs(srv, fresh).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "ExpiredToken")
}

func TestFailNext(t *testing.T) {
	srv := newServer(t)
	client := stsAs(srv, srv.AdminCredentials())

	srv.FailNext("GetCallerIdentity", "Throttling", 2)
	must[*sts.GetCallerIdentityOutput](t)(client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if n := srv.Calls("GetCallerIdentity"); n != 3 {
		t.Errorf("calls = %d, want 3 (two throttled, retried by the SDK)", n)
	}
	srv.FailNext("GetCallerIdentity", "Throttling", 5)
	_, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "Throttling")
	srv.FailNext("GetCallerIdentity", "", 0)
	must[*sts.GetCallerIdentityOutput](t)(client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))

	srv.FailNext("ListUsers", "ServiceUnavailable", 1)
	must[*iam.ListUsersOutput](t)(iamAs(srv, srv.AdminCredentials()).ListUsers(ctx, &iam.ListUsersInput{}))
}

func TestFederation(t *testing.T) {
	srv := newServer(t)
	key, roleARN := account(t, srv, 3600)
	sess := assume(t, srv, key, roleARN, 900)

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(q url.Values) (*http.Response, []byte) {
		resp, err := noRedirect.Get(srv.FederationURL() + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	sessionJSON := func(c Credentials) string {
		b, _ := json.Marshal(map[string]string{"sessionId": c.AccessKeyID, "sessionKey": c.SecretAccessKey, "sessionToken": c.SessionToken})
		return string(b)
	}

	resp, body := get(url.Values{"Action": {"getSigninToken"}, "Session": {sessionJSON(sess)}})
	var tok struct{ SigninToken string }
	if resp.StatusCode != 200 || json.Unmarshal(body, &tok) != nil || tok.SigninToken == "" {
		t.Fatalf("getSigninToken: %d %s", resp.StatusCode, body)
	}
	bad := sess
	bad.SecretAccessKey = "wrong"
	if resp, _ := get(url.Values{"Action": {"getSigninToken"}, "Session": {sessionJSON(bad)}}); resp.StatusCode != 400 {
		t.Errorf("getSigninToken with a wrong key: %d", resp.StatusCode)
	}
	if resp, _ := get(url.Values{"Action": {"getSigninToken"}, "Session": {sessionJSON(key)}}); resp.StatusCode != 400 {
		t.Errorf("getSigninToken with a long-term key: %d", resp.StatusCode)
	}

	resp, _ = get(url.Values{"Action": {"login"}, "Issuer": {"breakglass"}, "Destination": {"https://console.aws.amazon.com/"}, "SigninToken": {tok.SigninToken}})
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "assumed-role%2Femergency%2Falice") {
		t.Errorf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Sign-in tokens are single use.
	if resp, _ := get(url.Values{"Action": {"login"}, "SigninToken": {tok.SigninToken}}); resp.StatusCode != 400 {
		t.Errorf("second login: %d", resp.StatusCode)
	}
	srv.Advance(time.Hour)
	if resp, _ := get(url.Values{"Action": {"getSigninToken"}, "Session": {sessionJSON(sess)}}); resp.StatusCode != 400 {
		t.Errorf("getSigninToken with an expired session: %d", resp.StatusCode)
	}
}

func TestStateFileAndCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	statePath := filepath.Join(dir, "state.json")
	srv, err := NewServer(Options{StatePath: statePath, AccountID: "210987654321"})
	if err != nil {
		t.Fatal(err)
	}
	credPath := filepath.Join(dir, "credentials")
	if err := srv.WriteCredentialsFile(credPath); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{statePath, credPath} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", p, fi.Mode(), err)
		}
	}
	// The credentials file works with the SDK's shared-config loader.
	cfg, err := config.LoadDefaultConfig(ctx, config.WithSharedCredentialsFiles([]string{credPath}),
		config.WithSharedConfigFiles([]string{filepath.Join(dir, "none")}), config.WithRegion("us-east-1"),
		config.WithBaseEndpoint(srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	id := must[*sts.GetCallerIdentityOutput](t)(sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Account != "210987654321" {
		t.Errorf("account = %s", *id.Account)
	}
	must[*iam.CreateUserOutput](t)(iam.NewFromConfig(cfg).CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("kept")}))
	admin := srv.AdminCredentials()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	srv2, err := NewServer(Options{StatePath: statePath})
	if err != nil {
		t.Fatal(err)
	}
	defer srv2.Close()
	if srv2.AdminCredentials() != admin || srv2.AccountID() != "210987654321" {
		t.Error("restarted server has a different account or admin key")
	}
	must[*iam.GetUserOutput](t)(iamAs(srv2, admin).GetUser(ctx, &iam.GetUserInput{UserName: awssdk.String("kept")}))
	// CloudTrail's record survives too.
	ev := must[*cloudtrail.LookupEventsOutput](t)(trailAs(srv2, admin).LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: awssdk.String("CreateUser")}}}))
	if len(ev.Events) != 1 {
		t.Errorf("after a restart, %d CreateUser events", len(ev.Events))
	}

	for _, bad := range []string{"{", "{}", `{"account":"210987654321"}`, "[]"} {
		if err := os.WriteFile(statePath, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := NewServer(Options{StatePath: statePath}); err == nil {
			t.Errorf("NewServer accepted the state file %s", bad)
		}
	}
	if _, err := NewServer(Options{AccountID: "12"}); err == nil {
		t.Error("NewServer accepted a short account id")
	}
}

func TestUserAuthorization(t *testing.T) {
	srv := newServer(t)
	admin := iamAs(srv, srv.AdminCredentials())
	must[*iam.CreateUserOutput](t)(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("ops")}))
	k := must[*iam.CreateAccessKeyOutput](t)(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("ops")}))
	ops := iamAs(srv, Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey})

	_, err := ops.ListUsers(ctx, &iam.ListUsersInput{})
	wantCode(t, err, "AccessDenied")
	// Without UserName, key calls act on the caller; GetUser too.
	_, err = ops.ListAccessKeys(ctx, &iam.ListAccessKeysInput{})
	wantCode(t, err, "AccessDenied")

	policy := `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":["iam:List*","iam:Get*"],"Resource":"arn:aws:iam::123456789012:user/*"},
		{"Effect":"Deny","Action":"iam:GetUser","Resource":"arn:aws:iam::123456789012:user/ops"}]}`
	must[*iam.PutUserPolicyOutput](t)(admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: awssdk.String("ops"), PolicyName: awssdk.String("p"), PolicyDocument: awssdk.String(policy)}))
	must[*iam.ListUsersOutput](t)(ops.ListUsers(ctx, &iam.ListUsersInput{}))
	must[*iam.ListAccessKeysOutput](t)(ops.ListAccessKeys(ctx, &iam.ListAccessKeysInput{}))
	_, err = ops.GetUser(ctx, &iam.GetUserInput{})
	wantCode(t, err, "AccessDenied")
	_, err = ops.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("x")})
	wantCode(t, err, "AccessDenied")
	// Root's GetUser without a name describes the root.
	root := must[*iam.GetUserOutput](t)(admin.GetUser(ctx, &iam.GetUserInput{}))
	if *root.User.Arn != "arn:aws:iam::123456789012:root" {
		t.Errorf("root GetUser = %s", *root.User.Arn)
	}
}

// sessionToken calls GetSessionToken with key; seconds 0 leaves the
// duration to the server.
func sessionToken(t *testing.T, srv *Server, key Credentials, seconds int32) (Credentials, time.Time) {
	t.Helper()
	in := &sts.GetSessionTokenInput{}
	if seconds != 0 {
		in.DurationSeconds = awssdk.Int32(seconds)
	}
	out := must[*sts.GetSessionTokenOutput](t)(stsAs(srv, key).GetSessionToken(ctx, in))
	cr := out.Credentials
	return Credentials{AccessKeyID: *cr.AccessKeyId, SecretAccessKey: *cr.SecretAccessKey, SessionToken: *cr.SessionToken}, *cr.Expiration
}

func TestGetSessionToken(t *testing.T) {
	srv := newServer(t)
	key, roleARN := account(t, srv, 7200)

	// Twelve hours by default; 900 s to 36 h for an IAM user.
	tok, exp := sessionToken(t, srv, key, 0)
	if !strings.HasPrefix(tok.AccessKeyID, "ASIA") || tok.SessionToken == "" {
		t.Fatalf("GetSessionToken = %+v", tok)
	}
	if d := exp.Sub(srv.Now()); d != 12*time.Hour {
		t.Errorf("default session token lasts %s, want 12h", d)
	}
	if _, exp := sessionToken(t, srv, key, 129600); exp.Sub(srv.Now()) != 36*time.Hour {
		t.Errorf("longest session token lasts %s, want 36h", exp.Sub(srv.Now()))
	}
	for _, bad := range []int32{899, 129601} {
		_, err := stsAs(srv, key).GetSessionToken(ctx, &sts.GetSessionTokenInput{DurationSeconds: awssdk.Int32(bad)})
		wantCode(t, err, "ValidationError")
	}
	// The root's session tokens last at most an hour: longer asks are cut.
	_, exp = sessionToken(t, srv, srv.AdminCredentials(), 7200)
	if d := exp.Sub(srv.Now()); d != time.Hour {
		t.Errorf("root session token lasts %s, want 1h", d)
	}
	// No MFA devices here; no session tokens from session credentials.
	_, err := stsAs(srv, key).GetSessionToken(ctx, &sts.GetSessionTokenInput{SerialNumber: awssdk.String("arn:aws:iam::123456789012:mfa/bg"), TokenCode: awssdk.String("123456")})
	wantCode(t, err, "AccessDenied")
	_, err = stsAs(srv, tok).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantCode(t, err, "AccessDenied")
	_, err = stsAs(srv, assume(t, srv, key, roleARN, 900)).GetSessionToken(ctx, &sts.GetSessionTokenInput{})
	wantCode(t, err, "AccessDenied")

	// The token acts as the user: the user's identity, no IAM without MFA
	// (InvalidClientTokenId, as AWS answers), and AssumeRole with the
	// user's policies. That is not role chaining: the role's full
	// maximum applies.
	id := must[*sts.GetCallerIdentityOutput](t)(stsAs(srv, tok).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if *id.Arn != "arn:aws:iam::123456789012:user/breakglass/bg" || !strings.HasPrefix(*id.UserId, "AIDA") {
		t.Errorf("GetCallerIdentity with a session token = %s %s", *id.Arn, *id.UserId)
	}
	_, err = iamAs(srv, tok).GetUser(ctx, &iam.GetUserInput{})
	wantCode(t, err, "InvalidClientTokenId")
	_, err = stsAs(srv, tok).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: awssdk.String(roleARN), RoleSessionName: awssdk.String("x1")})
	wantCode(t, err, "AccessDenied") // the user's policy wants a source identity
	sess := assume(t, srv, tok, roleARN, 7200)
	must[*iam.ListUsersOutput](t)(iamAs(srv, sess).ListUsers(ctx, &iam.ListUsersInput{}))

	// Deleting the key does not end the token: that is AWS's behaviour,
	// and why a revoke must deny old tokens on the user too.
	admin := iamAs(srv, srv.AdminCredentials())
	must[*iam.UpdateAccessKeyOutput](t)(admin.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: awssdk.String("bg"), AccessKeyId: &key.AccessKeyID, Status: iamtypes.StatusTypeInactive}))
	must[*iam.DeleteAccessKeyOutput](t)(admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: awssdk.String("bg"), AccessKeyId: &key.AccessKeyID}))
	_, err = stsAs(srv, key).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
	assume(t, srv, tok, roleARN, 900)

	// Session tokens cannot sign in to the console.
	b, _ := json.Marshal(map[string]string{"sessionId": tok.AccessKeyID, "sessionKey": tok.SecretAccessKey, "sessionToken": tok.SessionToken})
	resp, err := http.Get(srv.FederationURL() + "?" + url.Values{"Action": {"getSigninToken"}, "Session": {string(b)}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("getSigninToken with a session token: %d, want 400", resp.StatusCode)
	}

	// A deny on the user for tokens issued before a cutoff ends the old
	// token's AssumeRole (and the role's deny its sessions), while a new
	// long-term key, which has no token issue time, and tokens issued
	// after the cutoff work.
	cutoff := srv.Now().Add(time.Second).Format(time.RFC3339)
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"` + cutoff + `"}}}]}`
	must[*iam.PutUserPolicyOutput](t)(admin.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: awssdk.String("bg"), PolicyName: awssdk.String("AWSRevokeOlderSessions"), PolicyDocument: awssdk.String(deny)}))
	_, err = stsAs(srv, tok).AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: awssdk.String(roleARN), RoleSessionName: awssdk.String("alice"), SourceIdentity: awssdk.String("alice")})
	wantCode(t, err, "AccessDenied")
	if !strings.Contains(err.Error(), "explicit deny") {
		t.Errorf("revoked session token: %v, want an explicit deny", err)
	}
	k := must[*iam.CreateAccessKeyOutput](t)(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("bg")}))
	newKey := Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey}
	assume(t, srv, newKey, roleARN, 900)
	srv.Advance(2 * time.Second)
	fresh, _ := sessionToken(t, srv, newKey, 900)
	assume(t, srv, fresh, roleARN, 900)

	// A token expires, and dies with its user.
	srv.Advance(15 * time.Minute)
	_, err = stsAs(srv, fresh).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "ExpiredToken")
	other, _ := sessionToken(t, srv, newKey, 0)
	must[*iam.DeleteAccessKeyOutput](t)(admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: awssdk.String("bg"), AccessKeyId: &newKey.AccessKeyID}))
	must[*iam.DeleteUserPolicyOutput](t)(admin.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: awssdk.String("bg"), PolicyName: awssdk.String("assume")}))
	must[*iam.DeleteUserPolicyOutput](t)(admin.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: awssdk.String("bg"), PolicyName: awssdk.String("AWSRevokeOlderSessions")}))
	must[*iam.DeleteUserOutput](t)(admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: awssdk.String("bg")}))
	_, err = stsAs(srv, other).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantCode(t, err, "InvalidClientTokenId")
}

func TestGroups(t *testing.T) {
	srv := newServer(t)
	admin := iamAs(srv, srv.AdminCredentials())
	must[*iam.CreateUserOutput](t)(admin.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("u")}))
	k := must[*iam.CreateAccessKeyOutput](t)(admin.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: awssdk.String("u")}))
	u := iamAs(srv, Credentials{AccessKeyID: *k.AccessKey.AccessKeyId, SecretAccessKey: *k.AccessKey.SecretAccessKey})
	_, err := u.ListRoles(ctx, &iam.ListRolesInput{})
	wantCode(t, err, "AccessDenied")

	g := must[*iam.CreateGroupOutput](t)(admin.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: awssdk.String("ops"), Path: awssdk.String("/teams/")}))
	if *g.Group.Arn != "arn:aws:iam::123456789012:group/teams/ops" || !strings.HasPrefix(*g.Group.GroupId, "AGPA") {
		t.Errorf("CreateGroup = %s %s", *g.Group.Arn, *g.Group.GroupId)
	}
	_, err = admin.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: awssdk.String("ops")})
	wantCode(t, err, "EntityAlreadyExists")
	_, err = admin.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: awssdk.String("ops"), UserName: awssdk.String("ghost")})
	wantCode(t, err, "NoSuchEntity")
	_, err = admin.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: awssdk.String("ghosts"), UserName: awssdk.String("u")})
	wantCode(t, err, "NoSuchEntity")
	must[*iam.AddUserToGroupOutput](t)(admin.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: awssdk.String("ops"), UserName: awssdk.String("u")}))
	must[*iam.AddUserToGroupOutput](t)(admin.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: awssdk.String("ops"), UserName: awssdk.String("u")}))

	in := must[*iam.ListGroupsForUserOutput](t)(admin.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: awssdk.String("u")}))
	if len(in.Groups) != 1 || *in.Groups[0].GroupName != "ops" || *in.Groups[0].Path != "/teams/" {
		t.Errorf("ListGroupsForUser = %+v", in.Groups)
	}
	got := must[*iam.GetGroupOutput](t)(admin.GetGroup(ctx, &iam.GetGroupInput{GroupName: awssdk.String("ops")}))
	if len(got.Users) != 1 || *got.Users[0].UserName != "u" || *got.Group.GroupName != "ops" {
		t.Errorf("GetGroup = %+v", got)
	}

	// The group's policies, attached and inline, apply to its members.
	must[*iam.AttachGroupPolicyOutput](t)(admin.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: awssdk.String("ops"), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/IAMReadOnlyAccess")}))
	must[*iam.ListRolesOutput](t)(u.ListRoles(ctx, &iam.ListRolesInput{}))
	deny := `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"iam:ListRoles","Resource":"*"}]}`
	must[*iam.PutGroupPolicyOutput](t)(admin.PutGroupPolicy(ctx, &iam.PutGroupPolicyInput{GroupName: awssdk.String("ops"), PolicyName: awssdk.String("no-roles"), PolicyDocument: awssdk.String(deny)}))
	_, err = u.ListRoles(ctx, &iam.ListRolesInput{})
	wantCode(t, err, "AccessDenied")
	gp := must[*iam.GetGroupPolicyOutput](t)(admin.GetGroupPolicy(ctx, &iam.GetGroupPolicyInput{GroupName: awssdk.String("ops"), PolicyName: awssdk.String("no-roles")}))
	if *gp.GroupName != "ops" || *gp.PolicyName != "no-roles" {
		t.Errorf("GetGroupPolicy = %+v", gp)
	}
	names := must[*iam.ListGroupPoliciesOutput](t)(admin.ListGroupPolicies(ctx, &iam.ListGroupPoliciesInput{GroupName: awssdk.String("ops")}))
	att := must[*iam.ListAttachedGroupPoliciesOutput](t)(admin.ListAttachedGroupPolicies(ctx, &iam.ListAttachedGroupPoliciesInput{GroupName: awssdk.String("ops")}))
	if len(names.PolicyNames) != 1 || len(att.AttachedPolicies) != 1 {
		t.Errorf("group policies %v %+v", names.PolicyNames, att.AttachedPolicies)
	}

	// Members and policies block deletions, as in IAM.
	_, err = admin.DeleteUser(ctx, &iam.DeleteUserInput{UserName: awssdk.String("u")})
	wantCode(t, err, "DeleteConflict")
	_, err = admin.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: awssdk.String("ops")})
	wantCode(t, err, "DeleteConflict")
	must[*iam.RemoveUserFromGroupOutput](t)(admin.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: awssdk.String("ops"), UserName: awssdk.String("u")}))
	_, err = admin.RemoveUserFromGroup(ctx, &iam.RemoveUserFromGroupInput{GroupName: awssdk.String("ops"), UserName: awssdk.String("u")})
	wantCode(t, err, "NoSuchEntity")
	_, err = u.ListRoles(ctx, &iam.ListRolesInput{})
	wantCode(t, err, "AccessDenied") // implicitly, again
	if in := must[*iam.ListGroupsForUserOutput](t)(admin.ListGroupsForUser(ctx, &iam.ListGroupsForUserInput{UserName: awssdk.String("u")})); len(in.Groups) != 0 {
		t.Errorf("ListGroupsForUser after removal = %+v", in.Groups)
	}
	_, err = admin.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: awssdk.String("ops")})
	wantCode(t, err, "DeleteConflict")
	must[*iam.DeleteGroupPolicyOutput](t)(admin.DeleteGroupPolicy(ctx, &iam.DeleteGroupPolicyInput{GroupName: awssdk.String("ops"), PolicyName: awssdk.String("no-roles")}))
	must[*iam.DetachGroupPolicyOutput](t)(admin.DetachGroupPolicy(ctx, &iam.DetachGroupPolicyInput{GroupName: awssdk.String("ops"), PolicyArn: awssdk.String("arn:aws:iam::aws:policy/IAMReadOnlyAccess")}))
	must[*iam.DeleteGroupOutput](t)(admin.DeleteGroup(ctx, &iam.DeleteGroupInput{GroupName: awssdk.String("ops")}))
	if all := must[*iam.ListGroupsOutput](t)(admin.ListGroups(ctx, &iam.ListGroupsInput{})); len(all.Groups) != 0 {
		t.Errorf("ListGroups after delete = %+v", all.Groups)
	}

	// The wire shape of ListGroupsForUser, as the API reference shows it.
	must[*iam.CreateGroupOutput](t)(admin.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: awssdk.String("audit")}))
	must[*iam.AddUserToGroupOutput](t)(admin.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: awssdk.String("audit"), UserName: awssdk.String("u")}))
	status, body := signedPost(t, srv, srv.AdminCredentials(), "iam", "Action=ListGroupsForUser&Version=2010-05-08&UserName=u", time.Now())
	var shape struct {
		XMLName xml.Name
		Result  struct {
			Groups      []struct{ Path, GroupName, GroupId, Arn, CreateDate string } `xml:"Groups>member"`
			IsTruncated bool
		} `xml:"ListGroupsForUserResult"`
	}
	if err := xml.Unmarshal(body, &shape); err != nil || status != 200 || shape.XMLName.Local != "ListGroupsForUserResponse" ||
		len(shape.Result.Groups) != 1 || shape.Result.Groups[0].Arn != "arn:aws:iam::123456789012:group/audit" || shape.Result.Groups[0].CreateDate == "" {
		t.Errorf("ListGroupsForUser response %d %s (%v)", status, body, err)
	}
}
