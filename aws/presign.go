package aws

// Release without the long-term key touching a networked machine: the
// air-gapped laptop presigns an STS AssumeRole request with the unsealed
// key (SigV4 query-string authentication), and any networked machine sends
// it. The request is a URL; it holds the access key id but never the
// secret, and it is valid for a few minutes only.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/smithy-go"
)

// MaxPresignExpiry bounds how long a presigned request can be redeemed
// (its X-Amz-Expires). Real STS is reported to accept a presigned request
// for 15 minutes after it was signed whatever X-Amz-Expires says
// (aws/aws-sdk-go#2167), so Redeem also refuses an expired request itself.
const MaxPresignExpiry = 5 * time.Minute

// maxPresignedText bounds a presigned request's text.
const maxPresignedText = 4096

// Errors of a presigned release, beside the ones Session returns.
var (
	// ErrRequestExpired: the presigned request's X-Amz-Expires has passed
	// (or, at AWS, its signature is too old).
	ErrRequestExpired = errors.New("the presigned request has expired")
	// ErrRequestAltered: AWS refused the presigned request's signature:
	// something in it changed after it was signed.
	ErrRequestAltered = errors.New("the presigned request was altered after it was signed")
)

// A Presigned is an STS AssumeRole request presigned with the
// break-glass user's long-term key: the URL and what it asks for.
type Presigned struct {
	URL         string
	KeyID       string // the long-term key that signed it
	Region      string
	RoleARN     string
	Operator    string // SourceIdentity
	SessionName string // RoleSessionName
	Duration    time.Duration
	SignedAt    time.Time
	Expires     time.Time // SignedAt + X-Amz-Expires
}

// Text is the request as it crosses the air gap: the URL and a newline.
func (p *Presigned) Text() []byte { return []byte(p.URL + "\n") }

// Hash is the hex SHA-256 of the URL, as the logbook records it.
func (p *Presigned) Hash() string {
	sum := sha256.Sum256([]byte(p.URL))
	return hex.EncodeToString(sum[:])
}

// LatestEnd is the latest time a session redeemed from p can end.
func (p *Presigned) LatestEnd() time.Time { return p.Expires.Add(p.Duration) }

// stsEndpoint is STS's regional endpoint, as the SDK resolves it in the
// aws partition, or req.Endpoint.
func stsEndpoint(req Request) (endpoint, region string) {
	region = req.Region
	if region == "" {
		region = "us-east-1"
	}
	if req.Endpoint != "" {
		return strings.TrimSuffix(req.Endpoint, "/"), region
	}
	return "https://sts." + region + ".amazonaws.com", region
}

// assumeRoleParams checks the operator, session name and duration as
// Session does, and gives the query parameters of the AssumeRole call.
func assumeRoleParams(req Request) (url.Values, error) {
	if !ValidOperator(req.Operator) {
		return nil, fmt.Errorf("aws: operator name %q cannot be a source identity: use 2 to 64 letters, digits or +=,.@_-", req.Operator)
	}
	name := req.SessionName
	if name == "" {
		name = req.Operator
	}
	if !sourceIdentityRE.MatchString(name) {
		return nil, fmt.Errorf("aws: session name %q: use 2 to 64 letters, digits or +=,.@_-", name)
	}
	q := url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {req.RoleARN},
		"RoleSessionName": {name}, "SourceIdentity": {req.Operator}}
	if req.Duration != 0 {
		secs := req.Duration / time.Second
		if secs < 900 || req.Duration%time.Second != 0 {
			return nil, fmt.Errorf("aws: session duration %s: use whole seconds, at least 15m", req.Duration)
		}
		if secs > 43200 {
			return nil, fmt.Errorf("aws: session duration %s: %w (AWS allows at most 12h)", req.Duration, ErrDurationTooLong)
		}
		q.Set("DurationSeconds", strconv.Itoa(int(secs)))
	}
	return q, nil
}

// Presign builds the AssumeRole request of req (SourceIdentity and
// RoleSessionName the operator, DurationSeconds) presigned with key at
// now, valid for expires (at most MaxPresignExpiry). It makes no network
// call. The URL holds the key id, never the secret; the caller wipes key
// afterwards (the SDK's signer keeps a string copy of the secret for the
// call, which cannot be wiped).
func Presign(ctx context.Context, key Credentials, req Request, expires time.Duration, now time.Time) (*Presigned, error) {
	if expires < time.Minute || expires > MaxPresignExpiry || expires%time.Second != 0 {
		return nil, fmt.Errorf("aws: a presigned request is valid for 1m to %s, in whole seconds (asked: %s)", MaxPresignExpiry, expires)
	}
	if !ValidAccessKeyID(key.AccessKeyID) {
		return nil, errors.New("aws: the access key id has an unexpected shape")
	}
	q, err := assumeRoleParams(req)
	if err != nil {
		return nil, err
	}
	q.Set("X-Amz-Expires", strconv.Itoa(int(expires/time.Second)))
	endpoint, region := stsEndpoint(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("aws: STS endpoint %q: %w", endpoint, err)
	}
	empty := sha256.Sum256(nil)
	u, _, err := v4.NewSigner().PresignHTTP(ctx,
		awssdk.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: string(key.SecretAccessKey)},
		hr, hex.EncodeToString(empty[:]), "sts", region, now.UTC())
	if err != nil {
		return nil, fmt.Errorf("aws: presigning: %w", err)
	}
	return ParsePresigned(u)
}

// ParsePresigned reads a presigned AssumeRole request (its URL, with or
// without surrounding white space, as Text writes it or a QR reader gives
// it back) and checks its shape: https (or http to a loopback address, for
// the rehearsal server), AssumeRole with a SourceIdentity, SigV4 query
// parameters with a long-term key id and X-Amz-Expires of at most
// MaxPresignExpiry, each parameter once. It cannot check the signature:
// only AWS can.
func ParsePresigned(text string) (*Presigned, error) {
	text = strings.TrimSpace(text)
	bad := func(format string, args ...any) (*Presigned, error) {
		return nil, fmt.Errorf("not a presigned AssumeRole request: "+format, args...)
	}
	if len(text) > maxPresignedText {
		return bad("longer than %d bytes", maxPresignedText)
	}
	if strings.ContainsAny(text, " \t\r\n") {
		return bad("it must be one line")
	}
	u, err := url.Parse(text)
	if err != nil || u.Host == "" || u.Fragment != "" || u.User != nil || (u.Path != "/" && u.Path != "") {
		return bad("not an STS URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return bad("plain http is allowed only to a loopback address (the rehearsal server)")
		}
	default:
		return bad("scheme %q", u.Scheme)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("malformed query")
	}
	for k, v := range q {
		if len(v) != 1 {
			return bad("parameter %s given %d times", k, len(v))
		}
	}
	allowed := map[string]bool{"Action": true, "Version": true, "RoleArn": true, "RoleSessionName": true, "SourceIdentity": true,
		"DurationSeconds": true, "X-Amz-Algorithm": true, "X-Amz-Credential": true, "X-Amz-Date": true, "X-Amz-Expires": true,
		"X-Amz-SignedHeaders": true, "X-Amz-Signature": true}
	for k := range q {
		if !allowed[k] {
			return bad("unexpected parameter %s", k)
		}
	}
	if q.Get("Action") != "AssumeRole" || q.Get("Version") != "2011-06-15" {
		return bad("the action is not STS AssumeRole (Version 2011-06-15)")
	}
	p := &Presigned{URL: text, RoleARN: q.Get("RoleArn"), Operator: q.Get("SourceIdentity"), SessionName: q.Get("RoleSessionName")}
	if !strings.HasPrefix(p.RoleARN, "arn:aws") || !strings.Contains(p.RoleARN, ":role/") {
		return bad("RoleArn %q is not a role ARN", p.RoleARN)
	}
	if !sourceIdentityRE.MatchString(p.Operator) || !sourceIdentityRE.MatchString(p.SessionName) {
		return bad("no valid SourceIdentity and RoleSessionName")
	}
	if d := q.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 900 || n > 43200 || strconv.Itoa(n) != d {
			return bad("DurationSeconds %q", d)
		}
		p.Duration = time.Duration(n) * time.Second
	} else {
		p.Duration = time.Hour // STS's default
	}
	if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" || q.Get("X-Amz-SignedHeaders") == "" || len(q.Get("X-Amz-Signature")) != 64 {
		return bad("no SigV4 query-string signature")
	}
	cred := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(cred) != 5 || !ValidAccessKeyID(cred[0]) || cred[3] != "sts" || cred[4] != "aws4_request" {
		return bad("X-Amz-Credential is not an STS credential scope")
	}
	if !strings.HasPrefix(cred[0], "AKIA") {
		return bad("it is not signed with a long-term access key (AKIA…)")
	}
	p.KeyID, p.Region = cred[0], cred[2]
	signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil || signed.Format("20060102") != cred[1] {
		return bad("X-Amz-Date")
	}
	exp, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || exp < 1 || time.Duration(exp)*time.Second > MaxPresignExpiry {
		return bad("X-Amz-Expires must be at most %d seconds", int(MaxPresignExpiry/time.Second))
	}
	p.SignedAt, p.Expires = signed, signed.Add(time.Duration(exp)*time.Second)
	return p, nil
}

// RedeemOptions tune Redeem.
type RedeemOptions struct {
	// Now is the redeeming machine's clock; default time.Now.
	Now func() time.Time
	// HTTPClient sends the request; default a client with a 30 s timeout.
	HTTPClient *http.Client
	// RetryAttempts on throttling and server errors; 0 means 3.
	RetryAttempts int
	// MaxBackoff caps the delay between attempts; 0 means 2 s.
	MaxBackoff time.Duration
}

// Redeem sends a presigned AssumeRole request and returns the session. It
// refuses, without sending it, a request that has expired by the local
// clock. It never learns the long-term key. Errors wrap ErrRequestExpired,
// ErrRequestAltered, ErrKeyInvalid (the key was deleted or deactivated
// since), ErrAccessDenied, ErrDurationTooLong, ErrThrottled or
// ErrUnreachable.
//
// Until it expires, a presigned request can be sent again and gives
// another session: treat its text as a secret until then.
func Redeem(ctx context.Context, p *Presigned, o RedeemOptions) (*STSCredentials, error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if !now().Before(p.Expires) {
		return nil, fmt.Errorf("aws: %w at %s (it was signed at %s); it was not sent", ErrRequestExpired,
			p.Expires.UTC().Format(time.RFC3339), p.SignedAt.UTC().Format(time.RFC3339))
	}
	client := o.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	attempts, backoff := o.RetryAttempts, o.MaxBackoff
	if attempts <= 0 {
		attempts = 3
	}
	if backoff <= 0 {
		backoff = 2 * time.Second
	}
	op := "redeem the presigned request for " + p.Operator
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return nil, classify(op, ctx.Err())
			case <-time.After(min(backoff, time.Duration(100<<i)*time.Millisecond)):
			}
		}
		creds, retry, err := redeemOnce(ctx, client, p)
		if err == nil {
			return creds, nil
		}
		last = err
		if !retry {
			break
		}
	}
	return nil, presignedError(op, last)
}

// redeemOnce sends the request once; retry says whether a failure is
// worth another attempt (throttling, server errors, the network).
func redeemOnce(ctx context.Context, client *http.Client, p *Presigned) (*STSCredentials, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
	if err != nil {
		return nil, false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		// The error text holds the URL, a bearer request until it expires.
		return nil, true, fmt.Errorf("%w: sending to %s failed (%v)", ErrUnreachable, req.URL.Host, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, true, fmt.Errorf("%w: reading the answer: %v", ErrUnreachable, err)
	}
	if resp.StatusCode != http.StatusOK {
		var er struct {
			Error struct{ Code, Message string }
		}
		if xml.Unmarshal(body, &er) != nil || er.Error.Code == "" {
			return nil, resp.StatusCode >= 500, fmt.Errorf("STS answered %s", resp.Status)
		}
		retry := resp.StatusCode >= 500 || er.Error.Code == "Throttling"
		return nil, retry, &smithy.GenericAPIError{Code: er.Error.Code, Message: er.Error.Message}
	}
	var ok struct {
		Result struct {
			Credentials struct {
				AccessKeyId, SecretAccessKey, SessionToken string
				Expiration                                 time.Time
			}
			AssumedRoleUser struct{ Arn string }
			SourceIdentity  string
		} `xml:"AssumeRoleResult"`
	}
	if err := xml.Unmarshal(body, &ok); err != nil || ok.Result.Credentials.AccessKeyId == "" {
		return nil, false, errors.New("STS answered without credentials")
	}
	r := ok.Result
	if r.SourceIdentity != p.Operator {
		return nil, false, fmt.Errorf("STS answered with source identity %q, the request asked for %q", r.SourceIdentity, p.Operator)
	}
	return &STSCredentials{
		AccessKeyID: r.Credentials.AccessKeyId, SecretAccessKey: []byte(r.Credentials.SecretAccessKey),
		SessionToken: []byte(r.Credentials.SessionToken), Expiration: r.Credentials.Expiration,
		AssumedRoleARN: r.AssumedRoleUser.Arn, SourceIdentity: r.SourceIdentity,
	}, false, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// presignedError classifies a redeem failure: a signature refused for its
// age is ErrRequestExpired, any other refused signature ErrRequestAltered
// (the request was signed with the sealed key, which AWS knows, or the
// answer would be InvalidClientTokenId); the rest as classify does.
func presignedError(op string, err error) error {
	if errorCode(err) == "SignatureDoesNotMatch" {
		kind := ErrRequestAltered
		if m := err.Error(); strings.Contains(m, "Signature expired") || strings.Contains(m, "Signature not yet current") {
			kind = ErrRequestExpired
		}
		return fmt.Errorf("aws: %s: %w: %w", op, kind, err)
	}
	if errors.Is(err, ErrUnreachable) {
		return fmt.Errorf("aws: %s: %w", op, err)
	}
	return classify(op, err)
}
