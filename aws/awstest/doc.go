// Package awstest is a small IAM and STS server on loopback, for tests and
// rehearsals of the breakglass AWS procedure without an AWS account.
//
// No AWS endpoint is reachable from the machines breakglass is built and
// tested on, and emulators such as moto or LocalStack are not installable
// there. So the tests drive the real aws-sdk-go-v2 clients (and anyone can
// drive the AWS CLI with --endpoint-url) against this server, which
// behaves like the parts of AWS that breakglass relies on:
//
//   - It speaks the AWS query protocol (form-encoded POST with Action and
//     Version) and answers in the XML shapes of the IAM and STS API
//     references, with their namespaces, RequestId and documented error
//     codes and HTTP statuses.
//   - It verifies every request's Signature Version 4 against the secret
//     it issued for the access key; unknown, deleted and inactive keys get
//     InvalidClientTokenId, a wrong signature SignatureDoesNotMatch, an
//     expired session ExpiredToken.
//   - It authorizes with a small policy evaluator (explicit deny beats
//     allow; wildcards in actions and resources; the String, Arn, Date,
//     Bool and Null condition operators; a condition on a key the request
//     lacks does not hold, unless the operator is negated or IfExists),
//     enough for the user, role, trust and "revoke older sessions"
//     policies breakglass writes. A user's policies are its own and those
//     of its groups. The account root (the admin credentials) may do
//     anything but assume roles.
//   - AssumeRole checks the caller's identity policy and the role's trust
//     policy, SourceIdentity (which needs sts:SetSourceIdentity, and
//     carries through role chaining), and DurationSeconds against 900 s,
//     the role's MaxSessionDuration and the one-hour role-chaining limit.
//   - GetSessionToken gives a user (or the root) a session token that
//     acts as the user, with the user's policies and the token's issue
//     time as aws:TokenIssueTime (long-term keys have none): 15 minutes to
//     36 hours, 12 by default (the root: at most one hour). As in AWS it
//     needs no permission, cannot be called with session credentials, its
//     tokens may not call IAM (no MFA here: InvalidClientTokenId) nor sign
//     in to the console, and they outlive the key that made them; only a
//     deny on the user, the token's expiry or deleting the user ends them.
//   - Groups: CreateGroup, AddUserToGroup, ListGroupsForUser and the group
//     policy calls, so that tests can grant a user powers the way an
//     administrator might.
//   - It records each access key's last use (time, service, region).
//   - The console federation endpoint lives at /federation
//     (getSigninToken and login); /console stands in for the console.
//
// # Using it in tests
//
//	srv, err := awstest.NewServer(awstest.Options{})
//	…
//	defer srv.Close()
//	admin := srv.AdminCredentials()
//	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()),
//		Credentials: credentials.NewStaticCredentialsProvider(admin.AccessKeyID, admin.SecretAccessKey, "")}
//	client := iam.NewFromConfig(cfg)
//
// Test knobs: [Server.FailNext] injects errors (such as Throttling) into
// the next calls of an action, [Server.Advance] moves the server's clock
// to expire sessions, [Server.Calls] counts requests per action.
//
// # Rehearsals
//
// With Options.StatePath the account survives restarts: the state,
// including secret keys, is saved as JSON (mode 0600) after every request.
// [Server.WriteCredentialsFile] writes the admin key in the shared
// credentials format for the AWS CLI and SDKs.
//
// # Not AWS
//
// The server is deliberately small. It does not implement customer
// managed policies (only a few AWS managed ones can be attached),
// permission boundaries, session policies or tags, MFA devices,
// pagination (every list fits one page), or eventual consistency. Signatures must be in the
// Authorization header; presigned URLs are not accepted.
package awstest
