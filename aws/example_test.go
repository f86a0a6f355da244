package aws_test

import (
	"context"
	"fmt"
	"time"

	bgaws "github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/aws/awstest"
)

// The whole life of a break-glass key, against the loopback server.
func Example() {
	ctx := context.Background()
	srv, err := awstest.NewServer(awstest.Options{})
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	admin := adminConfig(srv) // the administrator's normal credentials

	spec := bgaws.Spec{Name: "prod", RolePolicyARN: "arn:aws:iam::aws:policy/ReadOnlyAccess", Owner: "sre"}
	plan, err := bgaws.PlanProvision(ctx, admin, spec)
	if err != nil {
		panic(err)
	}
	for _, step := range plan.Steps {
		fmt.Println("plan:", step.Do)
	}
	res, err := plan.Apply(ctx)
	if err != nil {
		panic(err)
	}
	key := res.AccessKey // the CLI seals it here, then wipes it

	// At 4 am: unsealed key → personal session.
	sess, err := bgaws.Session(ctx, *key, bgaws.Request{RoleARN: res.RoleARN, Operator: "alice", Endpoint: srv.URL()})
	if err != nil {
		panic(err)
	}
	fmt.Println("session:", sess.AssumedRoleARN, "source identity:", sess.SourceIdentity)
	sess.Wipe()

	// After the incident.
	rev, err := bgaws.Revoke(ctx, admin, spec, key.AccessKeyID, srv.Now())
	if err != nil {
		panic(err)
	}
	key.Wipe()
	old, _ := bgaws.KeyStatus(ctx, admin, spec.UserName(), rev.RetiredKeyID)
	fmt.Println("released key:", old.Status)
	report, _ := bgaws.Check(ctx, admin, spec, rev.NewKey.AccessKeyID, bgaws.CheckOptions{Now: time.Now()})
	fmt.Println("drift:", report.Drifted())
	// Output:
	// plan: create user breakglass-prod under /breakglass/
	// plan: create role breakglass-prod (trusting only breakglass-prod, sessions of at most 1h0m0s)
	// plan: attach arn:aws:iam::aws:policy/ReadOnlyAccess to role breakglass-prod
	// plan: put inline policy breakglass-assume-role on user breakglass-prod (sts:AssumeRole on the role only, with a source identity)
	// plan: create an access key for breakglass-prod (handed to the caller for sealing, never shown)
	// session: arn:aws:sts::123456789012:assumed-role/breakglass-prod/alice source identity: alice
	// released key: deleted
	// drift: false
}
