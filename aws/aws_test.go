package aws_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/processcreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	bgaws "github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/aws/awstest"
)

var ctx = context.Background()

func newServer(t testing.TB) *awstest.Server {
	t.Helper()
	srv, err := awstest.NewServer(awstest.Options{})
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

// adminConfig is a real SDK configuration with the test account's root key.
func adminConfig(srv *awstest.Server) awssdk.Config {
	c := srv.AdminCredentials()
	return awssdk.Config{
		Region:       "us-east-1",
		BaseEndpoint: awssdk.String(srv.URL()),
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
		Retryer: func() awssdk.Retryer {
			return retry.AddWithMaxBackoffDelay(retry.NewStandard(), 5*time.Millisecond)
		},
	}
}

func spec(srv *awstest.Server) bgaws.Spec {
	return bgaws.Spec{
		Name:          "prod",
		AccountID:     srv.AccountID(),
		RolePolicyARN: "arn:aws:iam::aws:policy/AdministratorAccess",
		MaxSession:    2 * time.Hour,
		Owner:         "sre",
		ExtraTags:     map[string]string{"cleanup:exempt": "true"},
	}
}

func request(srv *awstest.Server, s bgaws.Spec, operator string) bgaws.Request {
	return bgaws.Request{RoleARN: s.RoleARN(srv.AccountID()), Operator: operator, Endpoint: srv.URL(), MaxBackoff: 5 * time.Millisecond}
}

// provision sets up the break-glass identity and returns its key.
func provision(t testing.TB, srv *awstest.Server, s bgaws.Spec) *bgaws.Credentials {
	t.Helper()
	res, err := bgaws.Provision(ctx, adminConfig(srv), s)
	if err != nil {
		t.Fatal(err)
	}
	if res.AccessKey == nil {
		t.Fatal("Provision created no access key")
	}
	return res.AccessKey
}

func TestProvisionSessionRevokeCheck(t *testing.T) {
	srv := newServer(t)
	admin := adminConfig(srv)
	s := spec(srv)
	adminIAM := iam.NewFromConfig(admin)

	plan, err := bgaws.PlanProvision(ctx, admin, s)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, st := range plan.Steps {
		steps = append(steps, st.Do)
	}
	for _, want := range []string{"create user breakglass-prod", "create role breakglass-prod", "attach arn:aws:iam::aws:policy/AdministratorAccess", "put inline policy breakglass-assume-role", "create an access key"} {
		if !strings.Contains(strings.Join(steps, "\n"), want) {
			t.Errorf("plan lacks %q:\n%s", want, strings.Join(steps, "\n"))
		}
	}
	// Planning changes nothing.
	if users, _ := adminIAM.ListUsers(ctx, &iam.ListUsersInput{}); len(users.Users) != 0 {
		t.Fatal("PlanProvision created users")
	}

	res, err := plan.Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := res.AccessKey
	if key == nil || !strings.HasPrefix(key.AccessKeyID, "AKIA") || len(key.SecretAccessKey) != 40 {
		t.Fatalf("Provision key = %v", key)
	}
	if res.UserARN != "arn:aws:iam::123456789012:user/breakglass/breakglass-prod" || res.RoleARN != "arn:aws:iam::123456789012:role/breakglass/breakglass-prod" {
		t.Errorf("ARNs %s %s", res.UserARN, res.RoleARN)
	}
	if len(res.PolicyHashes["user"]) != 64 || len(res.PolicyHashes["trust"]) != 64 {
		t.Errorf("policy hashes %v", res.PolicyHashes)
	}
	tags, _ := adminIAM.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: awssdk.String("breakglass-prod")})
	tm := map[string]string{}
	for _, tg := range tags.Tags {
		tm[*tg.Key] = *tg.Value
	}
	if tm[bgaws.TagOwner] != "sre" || tm[bgaws.TagNoCleanup] != "true" || tm[bgaws.TagNoExpiry] != "true" || tm[bgaws.TagProvisioned] == "" || tm["cleanup:exempt"] != "true" {
		t.Errorf("role tags %v", tm)
	}
	role, _ := adminIAM.GetRole(ctx, &iam.GetRoleInput{RoleName: awssdk.String("breakglass-prod")})
	if *role.Role.MaxSessionDuration != 7200 {
		t.Errorf("MaxSessionDuration %d", *role.Role.MaxSessionDuration)
	}

	// A second run changes nothing and makes no second key.
	again, err := bgaws.Provision(ctx, admin, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Steps) != 0 || again.AccessKey != nil || len(again.ExistingKeyIDs) != 1 || again.ExistingKeyIDs[0] != key.AccessKeyID {
		t.Fatalf("second Provision: steps %v, key %v, existing %v", again.Steps, again.AccessKey, again.ExistingKeyIDs)
	}

	// The user's key can do nothing but assume the role.
	userIAM := iam.NewFromConfig(bgaws.SessionConfig(*key, "", request(srv, s, "x")))
	if _, err := userIAM.ListUsers(ctx, &iam.ListUsersInput{}); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("the break-glass user could list users: %v", err)
	}

	// A personal session.
	sess, err := bgaws.Session(ctx, *key, request(srv, s, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sess.AccessKeyID, "ASIA") || sess.SourceIdentity != "alice" || sess.AssumedRoleARN != "arn:aws:sts::123456789012:assumed-role/breakglass-prod/alice" {
		t.Errorf("session %s %s %s", sess.AccessKeyID, sess.SourceIdentity, sess.AssumedRoleARN)
	}
	if d := time.Until(sess.Expiration); d < 55*time.Minute || d > 65*time.Minute {
		t.Errorf("default session lasts %s, want 1h", d)
	}
	id, err := sts.NewFromConfig(sess.Config(request(srv, s, "alice"))).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || *id.Arn != sess.AssumedRoleARN {
		t.Fatalf("GetCallerIdentity with the session: %v", err)
	}
	sessIAM := iam.NewFromConfig(sess.Config(request(srv, s, "alice")))
	if _, err := sessIAM.ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Fatalf("the session lacks the role's permissions: %v", err)
	}

	report, err := bgaws.Check(ctx, admin, s, key.AccessKeyID, bgaws.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Findings) != 0 {
		t.Errorf("fresh account has findings: %v", report.Findings)
	}
	if report.SealedKey.Status != bgaws.KeyActive || report.SealedKey.LastUsedService != "sts" || report.SealedKey.LastUsed.IsZero() {
		t.Errorf("sealed key state %+v", report.SealedKey)
	}

	// Revoke: the released key dies, the session stops, a new key works.
	rev, err := bgaws.Revoke(ctx, admin, s, key.AccessKeyID, srv.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !rev.RetiredKeyFound || rev.NewKey == nil || rev.NewKey.AccessKeyID == key.AccessKeyID || len(rev.RevokePolicyHash) != 64 {
		t.Fatalf("Revoke = %+v", rev)
	}
	if _, err := bgaws.Session(ctx, *key, request(srv, s, "alice")); !errors.Is(err, bgaws.ErrKeyInvalid) {
		t.Errorf("released key after revoke: %v, want ErrKeyInvalid", err)
	}
	if _, err := sessIAM.ListUsers(ctx, &iam.ListUsersInput{}); err == nil || !strings.Contains(err.Error(), "explicit deny") {
		t.Errorf("old session after revoke: %v, want an explicit deny", err)
	}
	st, err := bgaws.KeyStatus(ctx, admin, s.UserName(), key.AccessKeyID)
	if err != nil || st.Status != bgaws.KeyDeleted {
		t.Errorf("KeyStatus of the released key = %+v, %v", st, err)
	}
	srv.Advance(2 * time.Second)
	sess2, err := bgaws.Session(ctx, *rev.NewKey, request(srv, s, "bob"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iam.NewFromConfig(sess2.Config(request(srv, s, "bob"))).ListUsers(ctx, &iam.ListUsersInput{}); err != nil {
		t.Errorf("new session after revoke: %v", err)
	}
	report, err = bgaws.Check(ctx, admin, s, rev.NewKey.AccessKeyID, bgaws.CheckOptions{})
	if err != nil || len(report.Findings) != 0 {
		t.Errorf("check after revoke: %v %v", report.Findings, err)
	}
	again, err = bgaws.Provision(ctx, admin, s)
	if err != nil || len(again.Steps) != 0 || len(again.Notes) != 2 {
		t.Errorf("provision after revoke: steps %v notes %v err %v", again.Steps, again.Notes, err)
	}

	// Rotation: new key first, old key retired after sealing.
	newer, err := bgaws.Rotate(ctx, admin, s)
	if err != nil {
		t.Fatal(err)
	}
	if found, err := bgaws.RetireKey(ctx, admin, s, rev.NewKey.AccessKeyID); err != nil || !found {
		t.Fatalf("RetireKey: %v %v", found, err)
	}
	if found, err := bgaws.RetireKey(ctx, admin, s, rev.NewKey.AccessKeyID); err != nil || found {
		t.Fatalf("RetireKey twice: %v %v", found, err)
	}
	if report, err := bgaws.Check(ctx, admin, s, newer.AccessKeyID, bgaws.CheckOptions{}); err != nil || report.Drifted() {
		t.Errorf("check after rotation: %v %v", report.Findings, err)
	}
	key.Wipe()
	if !bytes.Equal(key.SecretAccessKey, make([]byte, 40)) {
		t.Error("Wipe left the secret")
	}
}

func TestProvisionConflicts(t *testing.T) {
	srv := newServer(t)
	admin := adminConfig(srv)
	adminIAM := iam.NewFromConfig(admin)
	s := spec(srv)

	if _, err := adminIAM.CreateUser(ctx, &iam.CreateUserInput{UserName: awssdk.String("breakglass-prod")}); err != nil {
		t.Fatal(err)
	}
	_, err := bgaws.Provision(ctx, admin, s)
	var ce *bgaws.ConflictError
	if !errors.As(err, &ce) || ce.Kind != "user" || !strings.Contains(err.Error(), "not provisioned by breakglass") {
		t.Fatalf("Provision over a foreign user: %v", err)
	}
	if users, _ := adminIAM.ListUsers(ctx, &iam.ListUsersInput{PathPrefix: awssdk.String("/breakglass/")}); len(users.Users) != 0 {
		t.Error("Provision changed the account despite the conflict")
	}

	other := s
	other.AccountID = "999999999999"
	if _, err := bgaws.Provision(ctx, admin, other); !errors.Is(err, bgaws.ErrWrongAccount) {
		t.Errorf("Provision in the wrong account: %v", err)
	}
}

func TestCheckFindsDriftAndProvisionRepairs(t *testing.T) {
	srv := newServer(t)
	admin := adminConfig(srv)
	adminIAM := iam.NewFromConfig(admin)
	s := spec(srv)
	s.RolePolicyARN = ""
	s.RolePolicy = []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*"}]}`)
	key := provision(t, srv, s)
	user, role := awssdk.String(s.UserName()), awssdk.String(s.RoleName())

	// Tamper with everything Check looks at.
	mustDo(t)(adminIAM.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: user, PolicyArn: awssdk.String("arn:aws:iam::aws:policy/ReadOnlyAccess")}))
	mustDo(t)(adminIAM.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: role, MaxSessionDuration: awssdk.Int32(43200)}))
	mustDo(t)(adminIAM.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: role, PolicyName: awssdk.String(bgaws.RolePolicyName),
		PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)}))
	mustDo(t)(adminIAM.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: role,
		PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}]}`)}))
	mustDo(t)(adminIAM.UntagRole(ctx, &iam.UntagRoleInput{RoleName: role, TagKeys: []string{bgaws.TagNoCleanup}}))
	extra := mustDo(t)(adminIAM.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: user})).(*iam.CreateAccessKeyOutput)

	report, err := bgaws.Check(ctx, admin, s, key.AccessKeyID, bgaws.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	text := ""
	for _, f := range report.Findings {
		text += f.String() + "\n"
		if f.Fix == "" {
			t.Errorf("finding without a fix: %v", f)
		}
	}
	for _, want := range []string{
		"unexpected attached policy arn:aws:iam::aws:policy/ReadOnlyAccess",
		"maximum session is 12h0m0s, provisioned 2h0m0s",
		"inline permissions breakglass-permissions",
		"trust policy differs",
		"tag breakglass:exempt-from-cleanup",
		*extra.AccessKey.AccessKeyId + ": an access key that is not the sealed one",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("findings lack %q:\n%s", want, text)
		}
	}
	if !report.Drifted() {
		t.Error("Drifted() = false")
	}

	plan, err := bgaws.PlanProvision(ctx, admin, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Steps) != 5 {
		t.Errorf("repair plan has %d steps, want 5", len(plan.Steps))
	}
	if _, err := plan.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := bgaws.RetireKey(ctx, admin, s, *extra.AccessKey.AccessKeyId); err != nil {
		t.Fatal(err)
	}
	report, err = bgaws.Check(ctx, admin, s, key.AccessKeyID, bgaws.CheckOptions{})
	if err != nil || len(report.Findings) != 0 {
		t.Errorf("after repair: %v %v", report.Findings, err)
	}

	// Key findings: age, inactive, missing.
	report, _ = bgaws.Check(ctx, admin, s, key.AccessKeyID, bgaws.CheckOptions{Now: time.Now().Add(100 * 24 * time.Hour)})
	if len(report.Findings) != 1 || report.Findings[0].Severity != bgaws.Warning || !strings.Contains(report.Findings[0].Fix, "rotate") {
		t.Errorf("old key findings: %v", report.Findings)
	}
	mustDo(t)(adminIAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: user, AccessKeyId: &key.AccessKeyID, Status: iamtypes.StatusTypeInactive}))
	report, _ = bgaws.Check(ctx, admin, s, key.AccessKeyID, bgaws.CheckOptions{})
	if !report.Drifted() || report.SealedKey.Status != bgaws.KeyInactive {
		t.Errorf("inactive key: %v %+v", report.Findings, report.SealedKey)
	}
	report, _ = bgaws.Check(ctx, admin, s, "AKIANOTTHESEALEDKEY0", bgaws.CheckOptions{})
	found := false
	for _, f := range report.Findings {
		found = found || (strings.Contains(f.Problem, "no longer exists in IAM") && strings.Contains(f.Fix, "revoke"))
	}
	if !found {
		t.Errorf("missing sealed key not reported: %v", report.Findings)
	}
}

func mustDo(t *testing.T) func(any, error) any {
	return func(v any, err error) any {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func TestSessionErrors(t *testing.T) {
	srv := newServer(t)
	admin := adminConfig(srv)
	s := spec(srv)
	key := provision(t, srv, s)

	deadAddr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr
	}()

	tests := []struct {
		name    string
		key     bgaws.Credentials
		mod     func(*bgaws.Request)
		setup   func()
		want    error
		wantMsg string
	}{
		{name: "over the role's limit", key: *key, mod: func(r *bgaws.Request) { r.Duration = 3 * time.Hour }, want: bgaws.ErrDurationTooLong},
		{name: "over 12h", key: *key, mod: func(r *bgaws.Request) { r.Duration = 13 * time.Hour }, want: bgaws.ErrDurationTooLong},
		{name: "under 15m", key: *key, mod: func(r *bgaws.Request) { r.Duration = time.Minute }, wantMsg: "at least 15m"},
		{name: "wrong secret", key: bgaws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: bytes.Repeat([]byte("x"), 40)}, want: bgaws.ErrKeyInvalid},
		{name: "unknown key", key: bgaws.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: key.SecretAccessKey}, want: bgaws.ErrKeyInvalid},
		{name: "bad operator", key: *key, mod: func(r *bgaws.Request) { r.Operator = "alice smith" }, wantMsg: "cannot be a source identity"},
		{name: "throttled", key: *key, mod: func(r *bgaws.Request) { r.RetryAttempts = 2 },
			setup: func() { srv.FailNext("AssumeRole", "Throttling", 5) }, want: bgaws.ErrThrottled},
		{name: "unreachable", key: *key, mod: func(r *bgaws.Request) { r.Endpoint = deadAddr; r.RetryAttempts = 1 }, want: bgaws.ErrUnreachable},
		{name: "other role", key: *key, mod: func(r *bgaws.Request) { r.RoleARN = "arn:aws:iam::123456789012:role/other" }, want: bgaws.ErrAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(srv, s, "alice")
			if tt.mod != nil {
				tt.mod(&req)
			}
			if tt.setup != nil {
				tt.setup()
				defer srv.FailNext("AssumeRole", "", 0)
			}
			creds, err := bgaws.Session(ctx, tt.key, req)
			if err == nil {
				t.Fatalf("Session succeeded: %s", creds.AccessKeyID)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %v, want it to say %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), string(key.SecretAccessKey)) {
				t.Error("the error contains the secret")
			}
		})
	}

	// Retries: two throttles, then success within three attempts.
	before := srv.Calls("AssumeRole")
	srv.FailNext("AssumeRole", "Throttling", 2)
	req := request(srv, s, "alice")
	req.RetryAttempts = 3
	if _, err := bgaws.Session(ctx, *key, req); err != nil {
		t.Fatalf("Session with two throttles and three attempts: %v", err)
	}
	if n := srv.Calls("AssumeRole") - before; n != 3 {
		t.Errorf("AssumeRole reached the server %d times, want 3", n)
	}

	// A trust policy without sts:SetSourceIdentity (a missing SourceIdentity
	// permission) is access denied.
	_, err := iam.NewFromConfig(admin).UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: awssdk.String(s.RoleName()),
		PolicyDocument: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + s.UserARN(srv.AccountID()) + `"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bgaws.Session(ctx, *key, request(srv, s, "alice")); !errors.Is(err, bgaws.ErrAccessDenied) {
		t.Errorf("without sts:SetSourceIdentity: %v", err)
	}
}

func TestPresentations(t *testing.T) {
	srv := newServer(t)
	s := spec(srv)
	key := provision(t, srv, s)
	sess, err := bgaws.Session(ctx, *key, bgaws.Request{RoleARN: s.RoleARN(srv.AccountID()), Operator: "alice", Endpoint: srv.URL(), Duration: 15 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}

	// credential_process: the SDK's own process provider reads it back.
	js, err := bgaws.CredentialProcessJSON(sess)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "creds.json")
	if err := os.WriteFile(path, js, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := processcreds.NewProvider("cat " + path).Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessKeyID != sess.AccessKeyID || got.SecretAccessKey != string(sess.SecretAccessKey) || got.SessionToken != string(sess.SessionToken) ||
		!got.CanExpire || !got.Expires.Equal(sess.Expiration) {
		t.Errorf("credential_process round trip: %+v", got)
	}

	// Shell exports: a real shell reads them back.
	sh := exec.Command("sh", "-c", `eval "$(cat)"; printf '%s\n%s\n%s\n' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN"`)
	sh.Stdin = bytes.NewReader(bgaws.ExportLines(sess))
	sh.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := sh.Output()
	if err != nil {
		t.Fatalf("sh: %v (install a POSIX sh)", err)
	}
	if want := sess.AccessKeyID + "\n" + string(sess.SecretAccessKey) + "\n" + string(sess.SessionToken) + "\n"; string(out) != want {
		t.Error("shell exports do not round-trip")
	}

	// Console sign-in through the federation endpoint.
	u, err := bgaws.ConsoleURL(ctx, sess, srv.FederationURL())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, srv.FederationURL()+"?Action=login") || !strings.Contains(u, "SigninToken=") {
		t.Errorf("console URL %s", u)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "breakglass-prod%2Falice") {
		t.Errorf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	bad := *sess
	bad.SecretAccessKey = []byte("wrong")
	if _, err := bgaws.ConsoleURL(ctx, &bad, srv.FederationURL()); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("ConsoleURL with a wrong secret: %v", err)
	}
	expired := *sess
	expired.Expiration = time.Now().Add(-time.Minute)
	if _, err := bgaws.ConsoleURL(ctx, &expired, srv.FederationURL()); !errors.Is(err, bgaws.ErrExpired) {
		t.Errorf("ConsoleURL with an expired session: %v", err)
	}

	// An expired session is reported as such by AWS.
	srv.Advance(16 * time.Minute)
	_, err = sts.NewFromConfig(sess.Config(bgaws.Request{Endpoint: srv.URL()})).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err == nil || !strings.Contains(err.Error(), "ExpiredToken") {
		t.Errorf("expired session: %v", err)
	}
	sess.Wipe()
	if !bytes.Equal(sess.SessionToken, make([]byte, len(sess.SessionToken))) {
		t.Error("Wipe left the session token")
	}
}

func TestLoadConfig(t *testing.T) {
	srv := newServer(t)
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	if err := srv.WriteCredentialsFile(creds); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "no-config"))
	for _, v := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL"} {
		t.Setenv(v, "")
	}
	cfg, err := bgaws.LoadConfig(ctx, bgaws.ConfigOptions{CredentialsFile: creds, Endpoint: srv.URL(), Profile: "default", RetryAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "us-east-1" {
		t.Errorf("region %q", cfg.Region)
	}
	if _, err := bgaws.Provision(ctx, cfg, spec(srv)); err != nil {
		t.Fatalf("Provision with a loaded configuration: %v", err)
	}
	if _, err := bgaws.LoadConfig(ctx, bgaws.ConfigOptions{CredentialsFile: creds, Profile: "missing"}); err == nil {
		t.Error("LoadConfig accepted a missing profile")
	}
}

func TestKeyStatus(t *testing.T) {
	srv := newServer(t)
	admin := adminConfig(srv)
	s := spec(srv)
	key := provision(t, srv, s)
	adminIAM := iam.NewFromConfig(admin)

	check := func(want string) *bgaws.KeyState {
		t.Helper()
		st, err := bgaws.KeyStatus(ctx, admin, s.UserName(), key.AccessKeyID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Status != want {
			t.Fatalf("status %s, want %s", st.Status, want)
		}
		return st
	}
	if st := check(bgaws.KeyActive); !st.LastUsed.IsZero() || st.Created.IsZero() {
		t.Errorf("unused key: %+v", st)
	}
	if _, err := bgaws.Session(ctx, *key, request(srv, s, "alice")); err != nil {
		t.Fatal(err)
	}
	if st := check(bgaws.KeyActive); st.LastUsed.IsZero() || st.LastUsedService != "sts" || st.LastUsedRegion != "us-east-1" {
		t.Errorf("used key: %+v", st)
	}
	if _, err := adminIAM.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: awssdk.String(s.UserName()), AccessKeyId: &key.AccessKeyID, Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	check(bgaws.KeyInactive)
	if _, err := bgaws.RetireKey(ctx, admin, s, key.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	check(bgaws.KeyDeleted)
	st, err := bgaws.KeyStatus(ctx, admin, "no-such-user", key.AccessKeyID)
	if err != nil || st.Status != bgaws.KeyDeleted {
		t.Errorf("key of a missing user: %+v %v", st, err)
	}
}

func TestSpecValidate(t *testing.T) {
	good := bgaws.Spec{Name: "prod", RolePolicyARN: "arn:aws:iam::aws:policy/ReadOnlyAccess", Owner: "sre"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		mod  func(*bgaws.Spec)
		want string
	}{
		{"empty name", func(s *bgaws.Spec) { s.Name = "" }, "name"},
		{"long name", func(s *bgaws.Spec) { s.Name = strings.Repeat("a", 49) }, "name"},
		{"slash in name", func(s *bgaws.Spec) { s.Name = "a/b" }, "name"},
		{"account", func(s *bgaws.Spec) { s.AccountID = "1234" }, "account"},
		{"two policies", func(s *bgaws.Spec) { s.RolePolicy = []byte(`{}`) }, "exactly one"},
		{"no policy", func(s *bgaws.Spec) { s.RolePolicyARN = "" }, "exactly one"},
		{"bad policy", func(s *bgaws.Spec) { s.RolePolicyARN = ""; s.RolePolicy = []byte(`{`) }, "not valid JSON"},
		{"not an ARN", func(s *bgaws.Spec) { s.RolePolicyARN = "AdministratorAccess" }, "not an ARN"},
		{"short session", func(s *bgaws.Spec) { s.MaxSession = 30 * time.Minute }, "between 1h and 12h"},
		{"long session", func(s *bgaws.Spec) { s.MaxSession = 13 * time.Hour }, "between 1h and 12h"},
		{"no owner", func(s *bgaws.Spec) { s.Owner = "" }, "owner"},
	}
	for _, tt := range tests {
		s := good
		tt.mod(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error about %q", tt.name, err, tt.want)
		}
	}
}

func TestPolicyHash(t *testing.T) {
	a, err := bgaws.PolicyHash([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bgaws.PolicyHash([]byte("{\n  \"Statement\": [ {\"Resource\":\"*\", \"Action\":\"*\", \"Effect\":\"Allow\"} ],\n  \"Version\": \"2012-10-17\"\n}"))
	c, _ := bgaws.PolicyHash([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`))
	if a != b || a == c {
		t.Errorf("hashes %s %s %s: formatting must not matter, content must", a, b, c)
	}
	if _, err := bgaws.PolicyHash([]byte(`[1]`)); err == nil {
		t.Error("PolicyHash accepted a non-object")
	}
}

func FuzzCanonicalPolicy(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`))
	f.Add([]byte(`{"b":1.50,"a":[true,null,"\u00e9"]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := bgaws.CanonicalPolicy(doc)
		if err != nil {
			return
		}
		again, err := bgaws.CanonicalPolicy(c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("canonical form is not a fixed point: %q -> %q (%v)", c, again, err)
		}
		var v1, v2 any
		if json.Unmarshal(doc, &v1) != nil || json.Unmarshal(c, &v2) != nil {
			t.Fatal("canonical form does not parse")
		}
	})
}

// BenchmarkSession measures `aws session` tool time without taps: one
// AssumeRole against the loopback server (target: well under 300 ms).
func BenchmarkSession(b *testing.B) {
	srv := newServer(b)
	s := spec(srv)
	key := provision(b, srv, s)
	req := request(srv, s, "alice")
	b.ResetTimer()
	for b.Loop() {
		creds, err := bgaws.Session(ctx, *key, req)
		if err != nil {
			b.Fatal(err)
		}
		creds.Wipe()
	}
}
