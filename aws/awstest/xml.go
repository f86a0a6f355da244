package awstest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"time"
)

// This file writes the AWS query protocol's XML: one
// <ActionResponse xmlns=…><ActionResult>…</ActionResult>
// <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata></ActionResponse>
// per success, and the documented <ErrorResponse> per failure.

const (
	iamNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"
	stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"
	snsNamespace = "http://sns.amazonaws.com/doc/2010-03-31/"
	iamVersion   = "2010-05-08"
	stsVersion   = "2011-06-15"
	snsVersion   = "2010-03-31"
)

// apiError is an AWS error response.
type apiError struct {
	Status  int
	Type    string // "Sender" or "Receiver"
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func newError(status int, code, format string, args ...any) *apiError {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	return &apiError{Status: status, Type: typ, Code: code, Message: fmt.Sprintf(format, args...)}
}

func errValidation(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "ValidationError", format, args...)
}

func errNoSuchEntity(format string, args ...any) *apiError {
	return newError(http.StatusNotFound, "NoSuchEntity", format, args...)
}

func errAlreadyExists(format string, args ...any) *apiError {
	return newError(http.StatusConflict, "EntityAlreadyExists", format, args...)
}

func errDeleteConflict(format string, args ...any) *apiError {
	return newError(http.StatusConflict, "DeleteConflict", format, args...)
}

func errLimitExceeded(format string, args ...any) *apiError {
	return newError(http.StatusConflict, "LimitExceeded", format, args...)
}

func errMalformedPolicy(msg string) *apiError {
	return newError(http.StatusBadRequest, "MalformedPolicyDocument", "%s", msg)
}

func errAccessDenied(format string, args ...any) *apiError {
	return newError(http.StatusForbidden, "AccessDenied", format, args...)
}

func errSignature(msg string) *apiError {
	return newError(http.StatusForbidden, "SignatureDoesNotMatch", "%s", msg)
}

func errIncompleteSignature(msg string) *apiError {
	return newError(http.StatusBadRequest, "IncompleteSignature", "%s", msg)
}

func errInvalidToken() *apiError {
	return newError(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
}

func errExpiredToken() *apiError {
	return newError(http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired")
}

// forService renames the server's own error codes the way each service
// spells them: the JSON services (EventBridge, CloudTrail) say
// AccessDeniedException, UnrecognizedClientException and so on, SNS says
// AuthorizationError for a denied call. Injected faults keep their code.
func (e *apiError) forService(service string) *apiError {
	if e == nil {
		return nil
	}
	var code string
	status := e.Status
	switch service {
	case "events", "cloudtrail":
		switch e.Code {
		case "AccessDenied":
			code, status = "AccessDeniedException", http.StatusBadRequest
		case "InvalidClientTokenId":
			code, status = "UnrecognizedClientException", http.StatusBadRequest
		case "SignatureDoesNotMatch":
			code, status = "InvalidSignatureException", http.StatusBadRequest
		case "ExpiredToken":
			code, status = "ExpiredTokenException", http.StatusBadRequest
		case "MissingAuthenticationToken":
			code = "MissingAuthenticationTokenException"
		case "IncompleteSignature":
			code = "IncompleteSignatureException"
		}
	case "sns":
		if e.Code == "AccessDenied" {
			code = "AuthorizationError"
		}
	case "s3":
		switch e.Code {
		case "InvalidClientTokenId":
			code, status = "InvalidAccessKeyId", http.StatusForbidden
		case "MissingAuthenticationToken":
			code, status = "AccessDenied", http.StatusForbidden
		case "IncompleteSignature":
			code = "AuthorizationHeaderMalformed"
		}
	}
	if code == "" {
		return e
	}
	return &apiError{Status: status, Type: e.Type, Code: code, Message: e.Message}
}

// statusForCode gives the HTTP status AWS uses for an injected fault.
func statusForCode(code string) int {
	switch code {
	case "InternalFailure", "ServiceFailure", "InternalError":
		return http.StatusInternalServerError
	case "ServiceUnavailable":
		return http.StatusServiceUnavailable
	case "AccessDenied", "InvalidClientTokenId", "ExpiredToken", "SignatureDoesNotMatch":
		return http.StatusForbidden
	case "NoSuchEntity", "NotFound":
		return http.StatusNotFound
	case "EntityAlreadyExists", "LimitExceeded", "DeleteConflict":
		return http.StatusConflict
	}
	return http.StatusBadRequest // Throttling, ValidationError, …
}

type xmlErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Error     xmlError `xml:"Error"`
	RequestID string   `xml:"RequestId"`
}

type xmlError struct {
	Type    string
	Code    string
	Message string
}

func writeError(w http.ResponseWriter, ns, requestID string, e *apiError) {
	body, err := xml.Marshal(xmlErrorResponse{
		Xmlns:     ns,
		Error:     xmlError{Type: e.Type, Code: e.Code, Message: e.Message},
		RequestID: requestID,
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.WriteHeader(e.Status)
	w.Write([]byte(xml.Header))
	w.Write(body)
}

// writeResult writes the success response of action; result may be nil
// for actions that return only ResponseMetadata.
func writeResult(w http.ResponseWriter, ns, action, requestID string, result any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	fmt.Fprintf(&buf, "<%sResponse xmlns=%q>", action, ns)
	if result != nil {
		enc := xml.NewEncoder(&buf)
		if err := enc.EncodeElement(result, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	fmt.Fprintf(&buf, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>", requestID, action)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-Requestid", requestID)
	w.Write(buf.Bytes())
}

// isoTime formats t the way IAM and STS do.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// Response shapes, named after the IAM and STS API reference data types.

type xTag struct {
	Key   string
	Value string
}

// xTags is a member list that is left out entirely when empty, as IAM
// does (encoding/xml would otherwise write an empty <Tags/>).
type xTags struct {
	Member []xTag `xml:"member"`
}

func tagsOf(t []xTag) *xTags {
	if len(t) == 0 {
		return nil
	}
	return &xTags{Member: t}
}

type xUser struct {
	Path       string
	UserName   string
	UserId     string
	Arn        string
	CreateDate string
	Tags       *xTags `xml:",omitempty"`
}

type xGroup struct {
	Path       string
	GroupName  string
	GroupId    string
	Arn        string
	CreateDate string
}

type xRole struct {
	Path                     string
	RoleName                 string
	RoleId                   string
	Arn                      string
	CreateDate               string
	AssumeRolePolicyDocument string
	Description              string `xml:",omitempty"`
	MaxSessionDuration       int
	Tags                     *xTags `xml:",omitempty"`
}

type xAccessKey struct {
	UserName        string
	AccessKeyId     string
	Status          string
	SecretAccessKey string `xml:",omitempty"`
	CreateDate      string
}

type xAttachedPolicy struct {
	PolicyName string
	PolicyArn  string
}

type xCredentials struct {
	AccessKeyId     string
	SecretAccessKey string
	SessionToken    string
	Expiration      string
}

type xAssumedRoleUser struct {
	AssumedRoleId string
	Arn           string
}
