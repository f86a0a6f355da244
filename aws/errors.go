package aws

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// Errors callers branch on. Returned errors wrap one of these (test with
// errors.Is) and the underlying SDK error, whose message names the AWS
// error code.
var (
	// ErrDurationTooLong: the requested session is longer than the role
	// (or role chaining) allows.
	ErrDurationTooLong = errors.New("requested session duration exceeds the role's maximum")
	// ErrAccessDenied: IAM refused, e.g. a missing sts:SetSourceIdentity
	// permission or a changed trust policy.
	ErrAccessDenied = errors.New("access denied")
	// ErrKeyInvalid: AWS does not know the access key (deleted, inactive
	// or rotated outside breakglass) or the secret does not match it.
	ErrKeyInvalid = errors.New("the access key is not valid in IAM")
	// ErrExpired: the session credentials have expired.
	ErrExpired = errors.New("the session has expired")
	// ErrThrottled: AWS kept throttling after the SDK's retries.
	ErrThrottled = errors.New("AWS throttled the request")
	// ErrUnreachable: AWS could not be reached.
	ErrUnreachable = errors.New("AWS is unreachable")
	// ErrWrongAccount: the credentials belong to another account than
	// the spec names.
	ErrWrongAccount = errors.New("the credentials belong to another account")
	// ErrLimitExceeded: IAM refused because a limit is reached (for
	// example a user's two access keys).
	ErrLimitExceeded = errors.New("an IAM limit is reached")
	// ErrNoCredentials: the SDK's credential chain found none (no
	// profile, no environment variables, no instance role).
	ErrNoCredentials = errors.New("no AWS credentials found")
)

// ConflictError reports an existing IAM entity that breakglass did not
// create, where it wants to create its own.
type ConflictError struct {
	Kind   string // "user" or "role"
	Name   string
	ARN    string
	Reason string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("aws: %s %s already exists and was not provisioned by breakglass (%s); "+
		"rename the existing %s, or choose another --name", e.Kind, e.ARN, e.Reason, e.Kind)
}

// errorCode is the AWS error code inside err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// classify wraps err with the sentinel that describes it, prefixed with
// what was being done.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	var kind error
	switch code := errorCode(err); {
	case code == "ValidationError" && strings.Contains(err.Error(), "DurationSeconds exceeds"):
		kind = ErrDurationTooLong
	case code == "LimitExceeded":
		kind = ErrLimitExceeded
	case code == "AccessDenied":
		kind = ErrAccessDenied
	case code == "InvalidClientTokenId", code == "SignatureDoesNotMatch":
		kind = ErrKeyInvalid
	case code == "ExpiredToken", code == "ExpiredTokenException":
		kind = ErrExpired
	case code == "Throttling", code == "ThrottlingException", code == "RequestLimitExceeded", code == "TooManyRequestsException":
		kind = ErrThrottled
	case code == "" && strings.Contains(err.Error(), "failed to refresh cached credentials"):
		kind = ErrNoCredentials
	case code == "":
		var ne net.Error
		var me *retry.MaxAttemptsError
		if errors.As(err, &ne) || errors.As(err, &me) || strings.Contains(err.Error(), "connection refused") {
			kind = ErrUnreachable
		}
	}
	if kind == nil {
		return fmt.Errorf("aws: %s: %w", op, err)
	}
	return fmt.Errorf("aws: %s: %w: %w", op, kind, err)
}
