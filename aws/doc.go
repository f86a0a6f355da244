// Package aws provisions, releases, revokes and audits break-glass access
// to one AWS account with aws-sdk-go-v2. It knows nothing of cards,
// sealing or the logbook: secrets arrive and leave as byte slices, and the
// CLI composes this package with seal and logbook.
//
// # The shape of the access
//
// For a Spec named NAME, [Provision] creates under the IAM path
// /breakglass/:
//
//   - the user breakglass-NAME, whose only permission (inline policy
//     breakglass-assume-role) is sts:AssumeRole and sts:SetSourceIdentity on
//     the emergency role, with a SourceIdentity required (an explicit deny
//     covers AssumeRole without one);
//   - the role breakglass-NAME, trusted by that user only and only with a
//     SourceIdentity, with a bounded MaxSessionDuration and the scoped
//     permissions of the Spec (a managed policy ARN or an inline document);
//   - tags on both naming the secret, the owner team, and exempting them
//     from expiry and cleanup automation, plus the provisioning time;
//   - one access key, returned to the caller to seal at once. It is never
//     printed or logged here.
//
// Provision is idempotent: [PlanProvision] reads the account and lists the
// steps (a dry run prints them), [Plan.Apply] makes them. A second run
// plans nothing and creates no second key. An existing user or role of
// the same name that breakglass did not tag as its own stops the run with
// a [ConflictError].
//
// # Release, revoke, rotate
//
// [Session] exchanges the unsealed long-term key for STS credentials with
// SourceIdentity and RoleSessionName set to the operator's enrolled name,
// so CloudTrail shows who acted. [ConsoleURL], [CredentialProcessJSON],
// [ExportLines] and [Environ] present the session. Errors wrap sentinels
// ([ErrDurationTooLong], [ErrAccessDenied], [ErrKeyInvalid],
// [ErrThrottled], [ErrUnreachable], [ErrExpired]) for the CLI's hints.
//
// On an air-gapped laptop, [Presign] makes the same AssumeRole request
// without sending it: SigV4 query-string authentication with the
// long-term key, valid for at most [MaxPresignExpiry]. The URL holds the
// key id, never the secret; [ParsePresigned] reads it back on any machine
// and [Redeem] sends it (refusing one expired by the local clock), so the
// key never touches a networked machine. Errors add [ErrRequestExpired]
// and [ErrRequestAltered].
//
// After an incident, [Revoke] deactivates and deletes the released key,
// denies everything to sessions issued before now (the aws:TokenIssueTime
// policy AWS's own "Revoke active sessions" uses, named
// AWSRevokeOlderSessions) on the role and on the user, and creates a new
// key to seal. The user's deny matters because deleting a key does not
// end the session tokens made from it (sts:GetSessionToken, up to 36
// hours), which could otherwise assume the role again; calls signed with
// the new long-term key carry no token issue time and are not affected. [Rotate] only
// creates the new key; [RetireKey] deletes the old one once the new one
// is sealed, so a scheduled rotation never leaves the account without a
// working sealed key.
//
// # Audit
//
// [Check] compares the account with the Spec (policies by SHA-256 of their
// canonical JSON, [PolicyHash]), and the access keys with the sealed key
// id: exactly one key, the sealed one, active, not too old, and its last
// use. Whatever could give the user or the role more power is drift: a
// group membership of the user, a managed policy attached to the user or
// an extra one to the role, an inline policy breakglass did not write. A
// revoke's deny must be exactly what [Revoke] writes ([RevokeCutoff]) and
// the same on the user and the role; [CheckReport.SessionsRevokedBefore]
// gives its cutoff for comparison with the logbook. [KeyStatus] answers an auditor's question about one released key:
// deleted, inactive or still active, and when it was last used.
//
// # Alerts and CloudTrail
//
// A Spec with Alerts makes every use loud: Provision also creates an
// EventBridge rule on the CloudTrail events of the user and of AssumeRole
// on the role, and an SNS topic only that rule may publish to, with the
// alerts' subscriptions ([Spec.AlertPattern], [Spec.AlertTopicPolicy]);
// Check verifies the path ([AlertReport]) and [FireAlertTest] publishes a
// test message. [CloudTrail] reads the evidence with LookupEvents as
// [TrailEvent]s ([ParseTrailRecord] reads one record), which package
// aws/audit matches to the logbook's releases.
//
// # Testing
//
// The tests run the real SDK clients against package awstest, a loopback
// IAM/STS server that verifies SigV4 signatures and evaluates the
// policies above.
package aws
