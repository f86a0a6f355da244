// Package awstest is a small IAM, STS, SNS, EventBridge and CloudTrail
// server on loopback, for tests and rehearsals of the breakglass AWS
// procedure without an AWS account.
//
// No AWS endpoint is reachable from the machines breakglass is built and
// tested on, and emulators such as moto or LocalStack are not installable
// there. So the tests drive the real aws-sdk-go-v2 clients (and anyone can
// drive the AWS CLI with --endpoint-url) against this server, which
// behaves like the parts of AWS that breakglass relies on:
//
//   - It speaks the AWS query protocol (form-encoded POST, or GET, with
//     Action and Version) for IAM, STS and SNS, and answers in the XML
//     shapes of their API references, with their namespaces, RequestId and
//     documented error codes and HTTP statuses. EventBridge and CloudTrail
//     speak JSON 1.1 (X-Amz-Target), with their "__type" errors; the
//     server's own errors take each service's name (AccessDenied is
//     AccessDeniedException there, AuthorizationError in SNS).
//   - It verifies every request's Signature Version 4 against the secret
//     it issued for the access key; unknown, deleted and inactive keys get
//     InvalidClientTokenId, a wrong signature SignatureDoesNotMatch, an
//     expired session ExpiredToken. Signatures in the Authorization header
//     must be within 15 minutes of the real clock. Presigned requests
//     (query-string authentication: X-Amz-Algorithm, X-Amz-Credential,
//     X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature) are
//     valid until X-Amz-Date plus X-Amz-Expires, which is required (1 s to
//     7 days); any parameter changed after signing is SignatureDoesNotMatch,
//     and until it expires a presigned request can be replayed, as in AWS.
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
//   - CloudTrail: every authenticated call, failed ones included, is
//     recorded as a CloudTrail management event (userIdentity with type,
//     accessKeyId and, for role sessions, sessionContext.sourceIdentity;
//     AssumeRole's sourceIdentity in requestParameters and the new
//     session's accessKeyId in responseElements), and LookupEvents reads
//     them back per region, newest first, with one lookup attribute,
//     StartTime, EndTime and pages of MaxResults. IAM calls are recorded
//     in us-east-1, as AWS does. The last 2000 events are kept.
//   - SNS topics (CreateTopic, attributes with the topic policy, tags),
//     subscriptions (Subscribe, ListSubscriptionsByTopic; email and
//     HTTP(S) ones wait for a confirmation) and Publish. Nothing leaves
//     the server: each message for a confirmed subscription, and each
//     confirmation request, is kept as a [Delivery] ([Server.Deliveries],
//     and GET /_awstest/deliveries for rehearsals). Fetching a
//     confirmation's SubscribeURL confirms the subscription.
//   - EventBridge rules on the default bus (PutRule, DescribeRule,
//     DeleteRule, PutTargets, ListTargetsByRule, RemoveTargets, rule tags)
//     fire: each recorded call is matched, as the "AWS API Call via
//     CloudTrail" event, against the rules of its region, and SNS targets
//     in the account publish to their topic if its policy lets
//     events.amazonaws.com do so ([Server.RuleInvocations] counts
//     invocations and failures). Read-only calls reach only rules in state
//     ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, as in AWS.
//   - S3, for a trail's log files (s3.go): [Server.AddTrailBucket] makes a
//     bucket a trail delivers the recorded events to, as gzip log files
//     per region and five minutes under AWSLogs/ACCOUNT/CloudTrail/, read
//     with ListObjectsV2 and GetObject in path-style addressing.
//     [Server.PutTrailObject] adds or replaces an object (another
//     account's file, a tampered one).
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
// to expire sessions, [Server.AdvanceSigningClock] moves the clock
// signatures are checked against to expire presigned requests,
// [Server.Calls] counts requests per action.
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
// permission boundaries, session policies or tags, MFA devices, IAM
// pagination (every IAM list fits one page), or eventual consistency.
// SNS and EventBridge authorize with identity policies only (a topic's
// policy decides only whether EventBridge may publish); event buses other
// than the default, schedules, and targets other than SNS topics are not
// served; CloudTrail needs no trail and delivers to EventBridge at once.
// S3 serves only trail buckets, read-only (ListObjectsV2 without a
// delimiter, GetObject), path-style; the trail delivers its log files at
// once and keeps no more events than LookupEvents has, and writes no
// digest files.
//
// One difference is deliberate: real STS is reported to ignore
// X-Amz-Expires and accept a presigned request for 15 minutes after its
// X-Amz-Date (aws/aws-sdk-go#2167). The server enforces X-Amz-Expires, as
// the SigV4 reference describes it; do not rely on AWS to refuse a
// presigned STS request sooner than 15 minutes.
package awstest
