package session

import (
	"time"

	"github.com/breakglass/breakglass/logbook"
)

// The entries that end an AWS session (breakglass aws session): its
// release, or the note that AWS refused it.

// An AWSRelease is what an AWS session released, as its release entry
// records it: either an STS session (SessionKeyID set) or, on an
// air-gapped machine, a presigned AssumeRole request (RequestSHA256 set).
type AWSRelease struct {
	// KeyID is the sealed long-term access key's id (detail key-id).
	KeyID string
	// RoleARN is the emergency role (detail role-arn).
	RoleARN string
	// Output is where the session went: exec, console, json, export or
	// presign (detail output).
	Output string
	// Tapped names who tapped ([Tapped]).
	Tapped string
	// Concurrent is the reason given to go ahead although another release
	// of the secret is open; "" for none (detail concurrent-release).
	Concurrent string
	// Expires is when the session ends at the latest: the STS session's
	// expiry, or for a presigned request the expiry of a session redeemed
	// at the last moment (detail expires).
	Expires time.Time

	// An STS session: its access key id (detail session-key-id) and the
	// assumed role's ARN (detail assumed-role-arn).
	SessionKeyID   string
	AssumedRoleARN string

	// A presigned request: the SHA-256 of its text (detail
	// presigned-request-sha256), when it was signed (request-signed) and
	// until when it can be redeemed (request-expires).
	RequestSHA256  string
	RequestSigned  time.Time
	RequestExpires time.Time
}

// AWSRelease is the release entry of the AWS session r. Times are UTC,
// RFC 3339; empty values are left out.
func (s *Session) AWSRelease(r AWSRelease) logbook.Entry {
	return s.Entry(logbook.KindRelease, map[string]string{
		logbook.DetailKeyID: r.KeyID, logbook.DetailTapped: r.Tapped,
		"role-arn": r.RoleARN, "output": r.Output, "concurrent-release": r.Concurrent,
		"expires":        rfc3339(r.Expires),
		"session-key-id": r.SessionKeyID, "assumed-role-arn": r.AssumedRoleARN,
		"presigned-request-sha256": r.RequestSHA256,
		"request-signed":           rfc3339(r.RequestSigned), "request-expires": rfc3339(r.RequestExpires),
	})
}

// AWSFailed is the note that the AWS session whose sealed key has id keyID
// was refused after tapped tapped, because of cause: result failed, and
// the error on one line. It closes the session: nothing was released.
func (s *Session) AWSFailed(keyID, tapped string, cause error) logbook.Entry {
	return s.Entry(logbook.KindNote, map[string]string{logbook.DetailAction: logbook.ActionAWSSession,
		logbook.DetailResult: "failed", logbook.DetailKeyID: keyID, logbook.DetailTapped: tapped,
		"error": logbook.OneLine(cause.Error())})
}

// rfc3339 is t in UTC as RFC 3339, or "" for the zero time.
func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
