package aws_test

import (
	"errors"
	"testing"
	"time"

	bgaws "github.com/breakglass/breakglass/aws"
)

func TestCallerIdentity(t *testing.T) {
	srv := newServer(t)
	s := spec(srv)
	key := provision(t, srv, s)
	req := request(srv, s, "alice")

	who, err := bgaws.CallerIdentity(ctx, bgaws.SessionConfig(*key, "", req))
	if err != nil {
		t.Fatal(err)
	}
	if who.ARN != "arn:aws:iam::123456789012:user/breakglass/breakglass-prod" || who.Account != "123456789012" || who.SessionName != "" {
		t.Errorf("the sealed key is %+v", who)
	}

	req.Duration = 15 * time.Minute
	sess, err := bgaws.Session(ctx, *key, req)
	if err != nil {
		t.Fatal(err)
	}
	scfg := sess.Config(req)
	who, err = bgaws.CallerIdentity(ctx, scfg)
	if err != nil {
		t.Fatal(err)
	}
	if who.ARN != "arn:aws:sts::123456789012:assumed-role/breakglass-prod/alice" || who.SessionName != "alice" {
		t.Errorf("the session is %+v", who)
	}
	if err := bgaws.ProbeIAM(ctx, scfg); err != nil {
		t.Errorf("ProbeIAM with the role's session: %v", err)
	}

	// After aws revoke, the session may not act: IAM denies it.
	if _, err := bgaws.Revoke(ctx, adminConfig(srv), s, key.AccessKeyID, srv.Now()); err != nil {
		t.Fatal(err)
	}
	if err := bgaws.ProbeIAM(ctx, scfg); !errors.Is(err, bgaws.ErrAccessDenied) {
		t.Errorf("ProbeIAM after revoke: %v, want ErrAccessDenied", err)
	}

	srv.Advance(20 * time.Minute)
	if _, err := bgaws.CallerIdentity(ctx, scfg); !errors.Is(err, bgaws.ErrExpired) {
		t.Errorf("CallerIdentity of an expired session: %v, want ErrExpired", err)
	}
}
