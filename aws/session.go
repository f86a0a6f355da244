package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/breakglass/breakglass/internal/secret"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Credentials is a long-term access key. The secret is a byte slice so
// that it can be wiped; call Wipe when done.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey []byte
}

// Wipe zeroes the secret.
func (c *Credentials) Wipe() { secret.Wipe(c.SecretAccessKey) }

// STSCredentials are temporary session credentials from AssumeRole.
type STSCredentials struct {
	AccessKeyID     string // ASIA…
	SecretAccessKey []byte
	SessionToken    []byte
	Expiration      time.Time
	AssumedRoleARN  string // arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION
	SourceIdentity  string
}

// Wipe zeroes the secret and the token.
func (c *STSCredentials) Wipe() {
	secret.Wipe(c.SecretAccessKey)
	secret.Wipe(c.SessionToken)
}

// Request asks for one personal session.
type Request struct {
	RoleARN string
	// Operator is the enrolled name of the person the session is for. It
	// becomes the SourceIdentity (visible in CloudTrail and carried into
	// every role the session assumes) and, unless SessionName is set, the
	// RoleSessionName.
	Operator    string
	SessionName string
	// Duration of the session; 0 asks for one hour. More than the role's
	// maximum fails with ErrDurationTooLong.
	Duration time.Duration
	Region   string // default us-east-1
	Endpoint string // STS endpoint override, for tests and rehearsals
	// RetryAttempts bounds the SDK's attempts (with exponential backoff)
	// on throttling and transient errors; 0 means the SDK default (3).
	RetryAttempts int
	// MaxBackoff caps the delay between retries; 0 means the SDK default.
	MaxBackoff time.Duration
	// HTTPClient, if set, carries the requests.
	HTTPClient *http.Client
}

// sourceIdentityRE is STS's pattern for SourceIdentity and RoleSessionName.
var sourceIdentityRE = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

// ValidOperator reports whether name can be a session's operator: STS
// takes it as the SourceIdentity, which is 2 to 64 letters, digits or
// +=,.@_- (so never STS's reserved "aws:" prefix). A command checks it
// before anyone taps; Session and Presign refuse other names.
func ValidOperator(name string) bool { return sourceIdentityRE.MatchString(name) }

// Session exchanges the long-term key for personal STS credentials:
// AssumeRole with SourceIdentity = the operator. It never logs or prints
// the key; the caller wipes it afterwards. Errors wrap ErrDurationTooLong,
// ErrAccessDenied, ErrKeyInvalid, ErrThrottled or ErrUnreachable.
func Session(ctx context.Context, key Credentials, req Request) (*STSCredentials, error) {
	q, err := assumeRoleParams(req)
	if err != nil {
		return nil, err
	}
	in := &sts.AssumeRoleInput{
		RoleArn:         awssdk.String(req.RoleARN),
		RoleSessionName: awssdk.String(q.Get("RoleSessionName")),
		SourceIdentity:  awssdk.String(req.Operator),
	}
	if d := q.Get("DurationSeconds"); d != "" {
		secs, _ := strconv.Atoi(d)
		in.DurationSeconds = awssdk.Int32(int32(secs))
	}
	cfg := SessionConfig(Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}, "", req)
	out, err := sts.NewFromConfig(cfg).AssumeRole(ctx, in)
	if err != nil {
		return nil, classify("assume role "+req.RoleARN+" as "+req.Operator, err)
	}
	c := out.Credentials
	return &STSCredentials{
		AccessKeyID:     awssdk.ToString(c.AccessKeyId),
		SecretAccessKey: []byte(awssdk.ToString(c.SecretAccessKey)),
		SessionToken:    []byte(awssdk.ToString(c.SessionToken)),
		Expiration:      awssdk.ToTime(c.Expiration),
		AssumedRoleARN:  awssdk.ToString(out.AssumedRoleUser.Arn),
		SourceIdentity:  awssdk.ToString(out.SourceIdentity),
	}, nil
}

// SessionConfig is an SDK configuration that signs with key (and token,
// for session credentials) and honours req's region, endpoint and retry
// settings. The SDK keeps its own string copy of the secret, which cannot
// be wiped; let the configuration go out of scope soon.
func SessionConfig(key Credentials, token string, req Request) awssdk.Config {
	region := req.Region
	if region == "" {
		region = "us-east-1"
	}
	cfg := awssdk.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(key.AccessKeyID, string(key.SecretAccessKey), token),
		Retryer: func() awssdk.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				if req.RetryAttempts > 0 {
					o.MaxAttempts = req.RetryAttempts
				}
				if req.MaxBackoff > 0 {
					o.MaxBackoff = req.MaxBackoff
				}
			})
		},
	}
	if req.Endpoint != "" {
		cfg.BaseEndpoint = awssdk.String(req.Endpoint)
	}
	if req.HTTPClient != nil {
		cfg.HTTPClient = req.HTTPClient
	}
	return cfg
}

// Config is SessionConfig for session credentials.
func (c *STSCredentials) Config(req Request) awssdk.Config {
	return SessionConfig(Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey}, string(c.SessionToken), req)
}

// DefaultFederationEndpoint is AWS's console federation endpoint.
const DefaultFederationEndpoint = "https://signin.aws.amazon.com/federation"

// DefaultConsoleDestination is where a console sign-in lands.
const DefaultConsoleDestination = "https://console.aws.amazon.com/"

// ConsoleURL turns session credentials into a console sign-in URL through
// the federation endpoint (getSigninToken, then a login URL). endpoint ""
// means DefaultFederationEndpoint. The URL grants console access until it
// is used or expires (15 minutes): treat it as a secret.
func ConsoleURL(ctx context.Context, creds *STSCredentials, endpoint string) (string, error) {
	if endpoint == "" {
		endpoint = DefaultFederationEndpoint
	}
	if !time.Now().Before(creds.Expiration) {
		return "", fmt.Errorf("aws: console sign-in: %w (at %s)", ErrExpired, creds.Expiration.Format(time.RFC3339))
	}
	session, err := json.Marshal(map[string]string{
		"sessionId": creds.AccessKeyID, "sessionKey": string(creds.SecretAccessKey), "sessionToken": string(creds.SessionToken),
	})
	if err != nil {
		return "", err
	}
	q := url.Values{"Action": {"getSigninToken"}, "Session": {string(session)}}
	secret.Wipe(session)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"?"+q.Encode(), nil)
	if err != nil {
		return "", fmt.Errorf("aws: console sign-in: %w", err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		// The error text contains the URL, and so the session: drop it.
		return "", fmt.Errorf("aws: console sign-in: %w: the federation endpoint %s did not answer", ErrUnreachable, endpoint)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("aws: console sign-in: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("aws: console sign-in: the federation endpoint refused the session (%s): %s",
			resp.Status, strings.TrimSpace(string(body[:min(len(body), 200)])))
	}
	var tok struct{ SigninToken string }
	if err := json.Unmarshal(body, &tok); err != nil || tok.SigninToken == "" {
		return "", fmt.Errorf("aws: console sign-in: the federation endpoint returned no SigninToken")
	}
	login := url.Values{"Action": {"login"}, "Issuer": {"breakglass"}, "Destination": {DefaultConsoleDestination}, "SigninToken": {tok.SigninToken}}
	return endpoint + "?" + login.Encode(), nil
}

// CredentialProcessJSON is the credential_process output (Version 1)
// for the session, as the AWS CLI and SDKs read it.
func CredentialProcessJSON(creds *STSCredentials) ([]byte, error) {
	return json.Marshal(struct {
		Version         int
		AccessKeyId     string
		SecretAccessKey string
		SessionToken    string
		Expiration      string
	}{1, creds.AccessKeyID, string(creds.SecretAccessKey), string(creds.SessionToken), creds.Expiration.UTC().Format(time.RFC3339)})
}

// Environ is the session as environment variables, for a command run
// with the session and nothing on disk.
func Environ(creds *STSCredentials) []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + string(creds.SecretAccessKey),
		"AWS_SESSION_TOKEN=" + string(creds.SessionToken),
		"AWS_CREDENTIAL_EXPIRATION=" + creds.Expiration.UTC().Format(time.RFC3339),
	}
}

// ExportLines is the session as POSIX shell export lines.
func ExportLines(creds *STSCredentials) []byte {
	var b strings.Builder
	for _, kv := range Environ(creds) {
		k, v, _ := strings.Cut(kv, "=")
		// Keys, secrets and tokens are base64-like: no single quotes.
		fmt.Fprintf(&b, "export %s='%s'\n", k, strings.ReplaceAll(v, "'", `'\''`))
	}
	return []byte(b.String())
}
