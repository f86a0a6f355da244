package audit

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/aws/awstest"
	"github.com/breakglass/breakglass/logbook"
)

// TestAddTrail plays an incident against the loopback server and matches
// its CloudTrail to a logbook: a recorded session, a recorded presigned
// release redeemed twice, a session nobody recorded, a recorded failed
// attempt, and a direct use of the long-term key.
func TestAddTrail(t *testing.T) {
	ctx := context.Background()
	srv, err := awstest.NewServer(awstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.AddTrailBucket("trail", "")
	ac := srv.AdminCredentials()
	admin := awssdk.Config{Region: "us-east-1", BaseEndpoint: awssdk.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(ac.AccessKeyID, ac.SecretAccessKey, ""),
		Retryer:     func() awssdk.Retryer { return retry.AddWithMaxBackoffDelay(retry.NewStandard(), time.Millisecond) }}
	spec := aws.Spec{Name: "prod", AccountID: srv.AccountID(), RolePolicyARN: "arn:aws:iam::aws:policy/ReadOnlyAccess", Owner: "sre"}
	res, err := aws.Provision(ctx, admin, spec)
	if err != nil {
		t.Fatal(err)
	}
	key := *res.AccessKey
	role := spec.RoleARN(srv.AccountID())
	req := func(op string) aws.Request {
		return aws.Request{RoleARN: role, Operator: op, Endpoint: srv.URL(), MaxBackoff: time.Millisecond}
	}
	t0 := srv.Now()

	// 1. A recorded session, which lists users and fails to delete one.
	alice, err := aws.Session(ctx, key, req("alice"))
	if err != nil {
		t.Fatal(err)
	}
	ic := iam.NewFromConfig(alice.Config(req("alice")))
	ic.ListUsers(ctx, &iam.ListUsersInput{})
	ic.ListRoles(ctx, &iam.ListRolesInput{})
	ic.DeleteUser(ctx, &iam.DeleteUserInput{UserName: awssdk.String("ghost")})
	// 2. A presigned release, redeemed twice.
	p, err := aws.Presign(ctx, key, req("bob"), 5*time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bob, err := aws.Redeem(ctx, p, aws.RedeemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := aws.Redeem(ctx, p, aws.RedeemOptions{}); err != nil {
		t.Fatal(err)
	}
	// 3. A session nobody recorded.
	if _, err := aws.Session(ctx, key, req("mallory")); err != nil {
		t.Fatal(err)
	}
	// 4. A failed attempt, recorded as a note.
	if _, err := aws.Session(ctx, key, aws.Request{RoleARN: role, Operator: "carol", Endpoint: srv.URL(), Duration: 2 * time.Hour}); err == nil {
		t.Fatal("a 2h session on a 1h role")
	}
	// 5. The long-term key used directly.
	stsc := sts.NewFromConfig(aws.SessionConfig(key, "", req("x")))
	stsc.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	stsc.GetSessionToken(ctx, &sts.GetSessionTokenInput{})

	details := func(kv ...string) map[string]string {
		m := map[string]string{"role-arn": role, logbook.DetailKeyID: key.AccessKeyID}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	entries := []*logbook.Entry{
		{Index: 0, Kind: logbook.KindSeal, Secret: "prod", Time: t0.Add(-time.Hour), Details: details()},
		{Index: 1, Kind: logbook.KindRelease, Secret: "prod", Time: t0, Details: details(logbook.DetailOperator, "alice", "session-key-id", alice.AccessKeyID, "output", "exec")},
		{Index: 2, Kind: logbook.KindRelease, Secret: "prod", Time: t0, Details: details(logbook.DetailOperator, "bob", "output", "presign",
			"request-signed", p.SignedAt.Format(time.RFC3339), "request-expires", p.Expires.Format(time.RFC3339))},
		{Index: 3, Kind: logbook.KindNote, Secret: "prod", Time: t0, Details: details(logbook.DetailOperator, "carol", "action", "aws-session")},
		{Index: 4, Kind: logbook.KindRelease, Secret: "prod", Time: t0.Add(-100 * 24 * time.Hour), Details: details(logbook.DetailOperator, "dave", "session-key-id", "ASIAOLD", "output", "json")},
	}
	rep, err := Build(ctx, entries, time.Time{}, func(ctx context.Context, secret, keyID string) (*aws.KeyState, error) {
		return aws.KeyStatus(ctx, admin, "breakglass-"+secret, keyID)
	})
	if err != nil {
		t.Fatal(err)
	}
	ct := aws.NewCloudTrail(admin, nil, time.Time{})
	if err := AddTrail(ctx, rep, entries, time.Time{}, srv.Now(), ct, ct.Regions()); err != nil {
		t.Fatal(err)
	}

	byEntry := map[int64]*SessionTrail{}
	for _, r := range rep.Releases {
		byEntry[r.Entry] = r.Trail
	}
	if st := byEntry[1]; len(st.AssumeRoles) != 1 || st.AssumeRoles[0].SourceIdentity != "alice" || st.Events != 3 || st.Errors != 1 ||
		len(st.Writes) != 1 || st.Writes[0] != (CallCount{"DeleteUser", 1}) || st.First == nil || st.Note != "" {
		t.Errorf("release 1 (session): %+v", st)
	}
	if st := byEntry[2]; len(st.AssumeRoles) != 2 || len(st.SessionKeys) != 2 || st.SessionKeys[0] != bob.AccessKeyID {
		t.Errorf("release 2 (presigned): %+v", st)
	}
	if st := byEntry[4]; !strings.Contains(st.Note, "90 days") {
		t.Errorf("release 4 (old): %+v", st)
	}
	var problems []string
	for _, f := range rep.TrailFindings {
		problems = append(problems, f.Event.Name+": "+f.Problem)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{
		"AssumeRole: the presigned request of release 2 was redeemed again",
		`AssumeRole: AssumeRole by arn:aws:iam::123456789012:user/breakglass/breakglass-prod (source identity "mallory") made session ASIA`,
		"GetCallerIdentity: GetCallerIdentity was called with the long-term key " + key.AccessKeyID,
		"GetSessionToken: GetSessionToken was called with the long-term key",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("findings lack %q:\n%s", want, all)
		}
	}
	if len(rep.TrailFindings) != 4 || rep.UnexplainedCalls != 4 || rep.Proven() {
		t.Errorf("%d findings (the failed attempt is explained):\n%s", len(rep.TrailFindings), all)
	}
	var b strings.Builder
	rep.WriteMarkdown(&b)
	for _, want := range []string{"## CloudTrail (us-east-1)", "| 1 | alice |", "DeleteUser ×1", "### Not explained by a release", "4 CloudTrail events unexplained."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}

	// Since after everything: nothing to explain.
	rep2, _ := Build(ctx, entries, srv.Now().Add(time.Minute), func(ctx context.Context, secret, keyID string) (*aws.KeyState, error) {
		return aws.KeyStatus(ctx, admin, "breakglass-"+secret, keyID)
	})
	if err := AddTrail(ctx, rep2, entries, srv.Now().Add(time.Minute), srv.Now(), ct, ct.Regions()); err != nil || len(rep2.TrailFindings) != 0 {
		t.Errorf("since later: %v %+v", err, rep2.TrailFindings)
	}

	// The trail's log files, alone and with LookupEvents (each event
	// counted once), tell the same.
	logs, err := aws.NewTrailLogs(admin, aws.TrailBucket{Name: "trail"}, srv.AccountID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := logs.Read(ctx, Windows(rep)); err != nil {
		t.Fatal(err)
	}
	summary := func(rep *Report) string {
		var b strings.Builder
		for _, r := range rep.Releases {
			st := r.Trail
			fmt.Fprintf(&b, "%d: %d AssumeRoles, keys %v, %d events, %d errors, writes %v\n", r.Entry, len(st.AssumeRoles), st.SessionKeys, st.Events, st.Errors, st.Writes)
		}
		for _, f := range rep.TrailFindings {
			fmt.Fprintf(&b, "finding %s %s\n", f.Event.ID, f.Problem)
		}
		return b.String()
	}
	for name, tr := range map[string]Trail{"log files": logs, "both": Trails(ct, logs)} {
		rep3, err := Build(ctx, entries, time.Time{}, func(ctx context.Context, secret, keyID string) (*aws.KeyState, error) {
			return aws.KeyStatus(ctx, admin, "breakglass-"+secret, keyID)
		})
		if err != nil {
			t.Fatal(err)
		}
		rep3.TrailLogs = &TrailLogsRead{Location: logs.Location(), Objects: len(logs.Objects()), Days: logs.Days(), LookupEvents: name == "both"}
		if err := AddTrail(ctx, rep3, entries, time.Time{}, srv.Now(), tr, ct.Regions()); err != nil {
			t.Fatal(err)
		}
		if got, want := summary(rep3), summary(rep); got != want {
			t.Errorf("%s:\n%s\nwant (LookupEvents)\n%s", name, got, want)
		}
		for _, r := range rep3.Releases {
			if r.Entry == 4 && !strings.Contains(r.Trail.Note, "no AssumeRole in the trail's log files read") {
				t.Errorf("%s: release 4 (old): %q", name, r.Trail.Note)
			}
		}
		var b strings.Builder
		rep3.WriteMarkdown(&b)
		if !strings.Contains(b.String(), "read from s3://trail/AWSLogs/"+srv.AccountID()+"/CloudTrail/, the days of the releases' sessions") {
			t.Errorf("%s: markdown:\n%s", name, b.String())
		}
	}
}

func TestWindows(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 23, 50, 0, 0, time.UTC)
	rep := &Report{Releases: []Release{
		{Time: t0, Expires: t0.Add(time.Hour).Format(time.RFC3339), Output: "exec"},
		{Time: t0, Expires: "", Output: "json"},
		{Time: t0, Expires: t0.Add(time.Hour).Format(time.RFC3339), Output: "presign"},
	}}
	w := Windows(rep)
	if len(w) != 3 || !w[0].From.Equal(t0.Add(-15*time.Minute)) || !w[0].To.Equal(t0.Add(time.Hour)) ||
		!w[1].To.Equal(t0.Add(12*time.Hour+15*time.Minute)) || !w[2].To.Equal(w[1].To) {
		t.Errorf("windows %+v", w)
	}
}
