package aws_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	bgaws "github.com/breakglass/breakglass/aws"
)

func TestPresignAndRedeem(t *testing.T) {
	srv := newServer(t)
	s := spec(srv)
	key := provision(t, srv, s)
	secretKey := string(key.SecretAccessKey)
	req := request(srv, s, "alice")
	req.Duration = 30 * time.Minute
	now := time.Now()

	p, err := bgaws.Presign(ctx, *key, req, 5*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(p.Text()), secretKey) || strings.Contains(url.QueryEscape(string(p.Text())), url.QueryEscape(secretKey)) {
		t.Fatal("the presigned text holds the secret access key")
	}
	if srv.Calls("AssumeRole") != 0 {
		t.Fatal("Presign called AWS")
	}
	if p.KeyID != key.AccessKeyID || p.Operator != "alice" || p.SessionName != "alice" || p.RoleARN != req.RoleARN ||
		p.Duration != 30*time.Minute || p.Region != "us-east-1" || !p.Expires.Equal(p.SignedAt.Add(5*time.Minute)) ||
		p.SignedAt.Sub(now) > time.Second || now.Sub(p.SignedAt) > time.Second || len(p.Hash()) != 64 {
		t.Errorf("presigned %+v", p)
	}
	// The text survives the air gap: parsed back, it is the same request.
	q, err := bgaws.ParsePresigned("\n" + string(p.Text()) + "\n")
	if err != nil || *q != *p {
		t.Fatalf("ParsePresigned(Text()) = %+v, %v", q, err)
	}

	sess, err := bgaws.Redeem(ctx, q, bgaws.RedeemOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Wipe()
	if sess.SourceIdentity != "alice" || !strings.HasSuffix(sess.AssumedRoleARN, ":assumed-role/breakglass-prod/alice") {
		t.Errorf("session %s as %s", sess.SourceIdentity, sess.AssumedRoleARN)
	}
	if d := sess.Expiration.Sub(srv.Now()); d < 29*time.Minute || d > 31*time.Minute {
		t.Errorf("session lasts %s", d)
	}
	id, err := sts.NewFromConfig(sess.Config(req)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.HasSuffix(*id.Arn, "/alice") {
		t.Fatalf("the redeemed session: %v", err)
	}

	// Altered after signing: AWS refuses the signature.
	for from, to := range map[string]string{"DurationSeconds=1800": "DurationSeconds=3600", "SourceIdentity=alice": "SourceIdentity=mallory"} {
		alt, err := bgaws.ParsePresigned(strings.Replace(p.URL, from, to, 1))
		if err != nil {
			t.Fatal(err)
		}
		_, err = bgaws.Redeem(ctx, alt, bgaws.RedeemOptions{})
		if !errors.Is(err, bgaws.ErrRequestAltered) {
			t.Errorf("altered %s: %v", from, err)
		}
	}
	// Expired by the local clock: not even sent.
	calls := srv.Calls("AssumeRole")
	_, err = bgaws.Redeem(ctx, p, bgaws.RedeemOptions{Now: func() time.Time { return now.Add(6 * time.Minute) }})
	if !errors.Is(err, bgaws.ErrRequestExpired) || srv.Calls("AssumeRole") != calls {
		t.Errorf("expired locally: %v (%d calls)", err, srv.Calls("AssumeRole")-calls)
	}
	// Expired by AWS's clock.
	srv.AdvanceSigningClock(6 * time.Minute)
	_, err = bgaws.Redeem(ctx, p, bgaws.RedeemOptions{})
	if !errors.Is(err, bgaws.ErrRequestExpired) || srv.Calls("AssumeRole") != calls+1 {
		t.Errorf("expired at AWS: %v", err)
	}
	srv.AdvanceSigningClock(-6 * time.Minute)
	// Throttled beyond the retries.
	srv.FailNext("AssumeRole", "Throttling", 5)
	_, err = bgaws.Redeem(ctx, p, bgaws.RedeemOptions{MaxBackoff: time.Millisecond})
	if !errors.Is(err, bgaws.ErrThrottled) {
		t.Errorf("throttled: %v", err)
	}
	srv.FailNext("AssumeRole", "Throttling", 0)
	// Revoked since: the key is gone.
	if _, err := bgaws.RetireKey(ctx, adminConfig(srv), s, key.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	_, err = bgaws.Redeem(ctx, p, bgaws.RedeemOptions{})
	if !errors.Is(err, bgaws.ErrKeyInvalid) {
		t.Errorf("deleted key: %v", err)
	}
	// Unreachable.
	dead, _ := bgaws.ParsePresigned(strings.Replace(p.URL, srv.URL(), "http://127.0.0.1:1", 1))
	_, err = bgaws.Redeem(ctx, dead, bgaws.RedeemOptions{MaxBackoff: time.Millisecond})
	if !errors.Is(err, bgaws.ErrUnreachable) || strings.Contains(err.Error(), "X-Amz-Signature") {
		t.Errorf("unreachable: %v", err)
	}
}

func TestPresignRefuses(t *testing.T) {
	srv := newServer(t)
	s := spec(srv)
	key := &bgaws.Credentials{AccessKeyID: "AKIAAAAAAAAAAAAAAAAA", SecretAccessKey: []byte(strings.Repeat("s", 40))}
	req := request(srv, s, "alice")
	for _, exp := range []time.Duration{0, 30 * time.Second, 6 * time.Minute, 90500 * time.Millisecond} {
		if _, err := bgaws.Presign(ctx, *key, req, exp, time.Now()); err == nil {
			t.Errorf("Presign accepted expiry %s", exp)
		}
	}
	bad := req
	bad.Operator = "aws:x"
	if _, err := bgaws.Presign(ctx, *key, bad, time.Minute, time.Now()); err == nil {
		t.Error("Presign accepted an aws: source identity")
	}
	bad = req
	bad.Duration = 13 * time.Hour
	if _, err := bgaws.Presign(ctx, *key, bad, time.Minute, time.Now()); !errors.Is(err, bgaws.ErrDurationTooLong) {
		t.Errorf("13h: %v", err)
	}
	// Without an endpoint: AWS's regional STS endpoint.
	req.Endpoint, req.Region = "", "eu-west-1"
	p, err := bgaws.Presign(ctx, *key, req, time.Minute, time.Now())
	if err != nil || !strings.HasPrefix(p.URL, "https://sts.eu-west-1.amazonaws.com/?") || p.Region != "eu-west-1" || p.Duration != time.Hour {
		t.Errorf("default endpoint: %v %+v", err, p)
	}

	good := p.URL
	for name, text := range map[string]string{
		"plain http":      strings.Replace(good, "https://sts.eu-west-1.amazonaws.com", "http://sts.eu-west-1.amazonaws.com", 1),
		"two lines":       good + "\n" + good,
		"session token":   good + "&X-Amz-Security-Token=x",
		"twice":           good + "&RoleSessionName=bob",
		"another action":  strings.Replace(good, "Action=AssumeRole", "Action=GetSessionToken", 1),
		"no expiry":       strings.Replace(good, "X-Amz-Expires=60", "X-Amz-Expiry=60", 1),
		"long expiry":     strings.Replace(good, "X-Amz-Expires=60", "X-Amz-Expires=900", 1),
		"a path":          strings.Replace(good, ".com/?", ".com/x?", 1),
		"session key":     strings.Replace(good, "AKIA", "ASIA", 1),
		"no signature":    good[:strings.Index(good, "&X-Amz-Signature")],
		"not a role":      strings.Replace(good, "%3Arole%2F", "%3Auser%2F", 1),
		"bad date":        strings.Replace(good, "X-Amz-Date=2", "X-Amz-Date=1", 1),
		"huge":            good + "&" + strings.Repeat("x", 5000),
		"ftp":             strings.Replace(good, "https://", "ftp://", 1),
		"other parameter": good + "&Policy=%7B%7D",
	} {
		if _, err := bgaws.ParsePresigned(text); err == nil {
			t.Errorf("%s: ParsePresigned accepted %s", name, text)
		}
	}
	// Loopback http is the rehearsal server.
	if _, err := bgaws.ParsePresigned(strings.Replace(good, "https://sts.eu-west-1.amazonaws.com", "http://127.0.0.1:4599", 1)); err != nil {
		t.Errorf("loopback: %v", err)
	}
}

// FuzzParsePresigned: what parses is one line, and parses again to the
// same request.
func FuzzParsePresigned(f *testing.F) {
	key := bgaws.Credentials{AccessKeyID: "AKIAAAAAAAAAAAAAAAAA", SecretAccessKey: []byte(strings.Repeat("s", 40))}
	for _, ep := range []string{"", "http://127.0.0.1:4599"} {
		p, err := bgaws.Presign(ctx, key, bgaws.Request{RoleARN: "arn:aws:iam::123456789012:role/breakglass/breakglass-prod",
			Operator: "alice", Endpoint: ep, Duration: time.Hour}, time.Minute, time.Unix(1.8e9, 0))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p.URL)
	}
	f.Fuzz(func(t *testing.T, text string) {
		p, err := bgaws.ParsePresigned(text)
		if err != nil {
			return
		}
		if strings.ContainsAny(p.URL, "\r\n") {
			t.Fatal("a presigned request of more than one line")
		}
		q, err := bgaws.ParsePresigned(string(p.Text()))
		if err != nil || *q != *p {
			t.Fatalf("parsed again: %+v, %v", q, err)
		}
	})
}

// The long-term key signs the request but is not used against IAM: a
// presigned release leaves the key's last use at AssumeRole.
func TestPresignedLastUse(t *testing.T) {
	srv := newServer(t)
	s := spec(srv)
	key := provision(t, srv, s)
	p, err := bgaws.Presign(ctx, *key, request(srv, s, "alice"), time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bgaws.Redeem(ctx, p, bgaws.RedeemOptions{}); err != nil {
		t.Fatal(err)
	}
	lu, err := iam.NewFromConfig(adminConfig(srv)).GetAccessKeyLastUsed(ctx, &iam.GetAccessKeyLastUsedInput{AccessKeyId: &key.AccessKeyID})
	if err != nil || *lu.AccessKeyLastUsed.ServiceName != "sts" {
		t.Errorf("last use: %v %+v", err, lu)
	}
}

func TestValidOperator(t *testing.T) {
	for name, want := range map[string]bool{
		"alice": true, "a.b@example.com": true, "x+y=z,w_-": true, strings.Repeat("a", 64): true,
		"a": false, strings.Repeat("a", 65): false, "aws:alice": false, "AWS:x": false,
		"alice smith": false, "élise": false, "": false, "a/b": false,
	} {
		if got := bgaws.ValidOperator(name); got != want {
			t.Errorf("ValidOperator(%q) = %v, want %v", name, got, want)
		}
	}
}
