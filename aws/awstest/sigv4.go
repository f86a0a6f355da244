package awstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file verifies AWS Signature Version 4 on incoming requests, as
// described in the AWS General Reference ("Create a signed AWS API
// request"). It is the server half of what every AWS SDK does when it
// signs: rebuild the canonical request from what arrived, derive the
// signing key from the secret the server issued, and compare.

const sigV4Algorithm = "AWS4-HMAC-SHA256"

// authHeader is a parsed SigV4 Authorization header.
type authHeader struct {
	AccessKeyID   string
	Date          string // yyyymmdd
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

func (a authHeader) scope() string {
	return a.Date + "/" + a.Region + "/" + a.Service + "/aws4_request"
}

// String formats the header the way SDKs send it; parseAuthHeader of the
// result gives back a.
func (a authHeader) String() string {
	return fmt.Sprintf("%s Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		sigV4Algorithm, a.AccessKeyID, a.scope(), strings.Join(a.SignedHeaders, ";"), a.Signature)
}

// parseAuthHeader parses
//
//	AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/iam/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex
func parseAuthHeader(h string) (authHeader, error) {
	var a authHeader
	rest, ok := strings.CutPrefix(h, sigV4Algorithm+" ")
	if !ok {
		return a, fmt.Errorf("authorization header requires the %s algorithm", sigV4Algorithm)
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		k, v, ok := strings.Cut(part, "=")
		if !ok || seen[k] {
			return a, fmt.Errorf("authorization header has a malformed component %q", part)
		}
		seen[k] = true
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 5 || f[4] != "aws4_request" || f[0] == "" || len(f[1]) != 8 || f[2] == "" || f[3] == "" {
				return a, fmt.Errorf("authorization header has a malformed Credential %q", v)
			}
			a.AccessKeyID, a.Date, a.Region, a.Service = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.SignedHeaders = strings.Split(v, ";")
			for i, h := range a.SignedHeaders {
				if h == "" || h != strings.ToLower(h) || (i > 0 && a.SignedHeaders[i-1] >= h) {
					return a, fmt.Errorf("authorization header has malformed SignedHeaders %q", v)
				}
			}
		case "Signature":
			if len(v) != 64 || strings.ToLower(v) != v {
				return a, fmt.Errorf("authorization header has a malformed Signature")
			}
			if _, err := hex.DecodeString(v); err != nil {
				return a, fmt.Errorf("authorization header has a malformed Signature")
			}
			a.Signature = v
		default:
			return a, fmt.Errorf("authorization header has an unknown component %q", k)
		}
	}
	if !seen["Credential"] || !seen["SignedHeaders"] || !seen["Signature"] {
		return a, fmt.Errorf("authorization header requires Credential, SignedHeaders and Signature")
	}
	return a, nil
}

// canonicalRequest rebuilds the canonical request of r (whose body has
// already been read into body) for the headers the client signed. For a
// presigned request the query's X-Amz-Signature is left out, as the
// signer could not sign its own signature.
func canonicalRequest(r *http.Request, body []byte, signed []string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	b.WriteByte('\n')
	q := r.URL.Query()
	q.Del("X-Amz-Signature")
	b.WriteString(canonicalQuery(q))
	b.WriteByte('\n')
	for _, h := range signed {
		b.WriteString(h)
		b.WriteByte(':')
		switch h {
		case "host":
			b.WriteString(r.Host)
		case "content-length":
			b.WriteString(strconv.FormatInt(r.ContentLength, 10))
		default:
			vals := r.Header.Values(h)
			for i, v := range vals {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strings.Join(strings.Fields(v), " "))
			}
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		sum := sha256.Sum256(body)
		payload = hex.EncodeToString(sum[:])
	}
	b.WriteString(payload)
	return b.String()
}

func canonicalQuery(q url.Values) string {
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, uriEncode(k)+"="+uriEncode(v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "&")
}

// uriEncode is SigV4's encoding: RFC 3986 unreserved characters stay,
// everything else is %XX with upper-case hex.
func uriEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signature computes the hex SigV4 signature of a canonical request.
func signature(secret string, a authHeader, amzDate, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	toSign := sigV4Algorithm + "\n" + amzDate + "\n" + a.scope() + "\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("AWS4"+secret), a.Date)
	k = hmacSHA256(k, a.Region)
	k = hmacSHA256(k, a.Service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, toSign))
}

// maxClockSkew is how far a request's X-Amz-Date may be from the real
// clock, as AWS enforces.
const maxClockSkew = 15 * time.Minute

// maxPresignExpires is the longest X-Amz-Expires SigV4 allows: seven
// days, the life of a signing key.
const maxPresignExpires = 604800

// signedRequest is how a request was signed: with the Authorization
// header, or presigned with query-string parameters (X-Amz-Algorithm,
// X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
// X-Amz-Signature and, for session credentials, X-Amz-Security-Token).
type signedRequest struct {
	authHeader
	amzDate   string
	token     string
	presigned bool
	expires   time.Duration // presigned only
}

// parseSigned finds the signature of r: the Authorization header, else
// the presigning query parameters. An unsigned request gives nil, nil.
func parseSigned(r *http.Request) (*signedRequest, *apiError) {
	if h := r.Header.Get("Authorization"); h != "" {
		a, err := parseAuthHeader(h)
		if err != nil {
			return nil, errIncompleteSignature(err.Error())
		}
		return &signedRequest{authHeader: a, amzDate: r.Header.Get("X-Amz-Date"), token: r.Header.Get("X-Amz-Security-Token")}, nil
	}
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") == "" && q.Get("X-Amz-Signature") == "" && q.Get("X-Amz-Credential") == "" {
		return nil, nil
	}
	for _, p := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Expires"} {
		if len(q[p]) != 1 {
			return nil, errIncompleteSignature("AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-Date', 'X-Amz-SignedHeaders' and 'X-Amz-Expires' exactly once. Re-examine the query-string parameters.")
		}
	}
	if q.Get("X-Amz-Algorithm") != sigV4Algorithm {
		return nil, errIncompleteSignature("X-Amz-Algorithm only supports " + sigV4Algorithm)
	}
	a, err := parseAuthHeader(sigV4Algorithm + " Credential=" + q.Get("X-Amz-Credential") +
		", SignedHeaders=" + q.Get("X-Amz-SignedHeaders") + ", Signature=" + q.Get("X-Amz-Signature"))
	if err != nil {
		return nil, errIncompleteSignature(strings.Replace(err.Error(), "authorization header", "query-string authentication", 1))
	}
	n, err := strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil || n < 1 || n > maxPresignExpires || strconv.Itoa(n) != q.Get("X-Amz-Expires") {
		return nil, errIncompleteSignature(fmt.Sprintf("X-Amz-Expires must be a whole number of seconds from 1 to %d, got %q", maxPresignExpires, q.Get("X-Amz-Expires")))
	}
	return &signedRequest{authHeader: a, amzDate: q.Get("X-Amz-Date"), token: q.Get("X-Amz-Security-Token"),
		presigned: true, expires: time.Duration(n) * time.Second}, nil
}

const amzDateLayout = "20060102T150405Z"

// checkSignature verifies r's signature with secret. It returns an
// *apiError describing the first problem found, or nil.
//
// A request signed in its header must be within 15 minutes of the real
// clock. A presigned one is valid from X-Amz-Date (less the same 15
// minutes, for clocks that run ahead) until X-Amz-Date plus X-Amz-Expires.
func checkSignature(r *http.Request, body []byte, a *signedRequest, secret string, realNow time.Time) *apiError {
	t, err := time.Parse(amzDateLayout, a.amzDate)
	if err != nil {
		if a.presigned {
			return errIncompleteSignature("X-Amz-Date must be in the ISO8601 basic format yyyyMMdd'T'HHmmss'Z'")
		}
		return errIncompleteSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if a.amzDate[:8] != a.Date {
		return errSignature("Credential should be scoped to a valid date, got " + a.Date)
	}
	now := realNow.UTC()
	switch d := now.Sub(t); {
	case d < -maxClockSkew:
		return errSignature(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 15 min.)",
			a.amzDate, now.Add(maxClockSkew).Format(amzDateLayout), now.Format(amzDateLayout)))
	case a.presigned && d > a.expires:
		return errSignature(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s + %d s, X-Amz-Expires)",
			t.Add(a.expires).Format(amzDateLayout), now.Format(amzDateLayout), a.amzDate, int(a.expires/time.Second)))
	case !a.presigned && d > maxClockSkew:
		return errSignature(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 15 min.)",
			a.amzDate, now.Add(-maxClockSkew).Format(amzDateLayout), now.Format(amzDateLayout)))
	}
	hasHost := false
	for _, h := range a.SignedHeaders {
		hasHost = hasHost || h == "host"
	}
	if !hasHost {
		return errSignature("'Host' must be a signed header")
	}
	want := signature(secret, a.authHeader, a.amzDate, canonicalRequest(r, body, a.SignedHeaders))
	if !hmac.Equal([]byte(want), []byte(a.Signature)) {
		return errSignature("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")
	}
	return nil
}
