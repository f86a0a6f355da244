package awstest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file is the server's CloudTrail: every authenticated call is
// recorded as a CloudTrail management event, in the record format of the
// CloudTrail User Guide ("CloudTrail record contents"), and LookupEvents
// reads them back as the CloudTrail API reference describes.
//
// What the record says about the caller is what breakglass's audit
// matches on, so it follows real CloudTrail closely: userIdentity.type is
// IAMUser, AssumedRole or Root; accessKeyId is the key that signed the
// call (AKIA… for a long-term key, ASIA… for temporary credentials); a
// role session's sessionContext carries the sessionIssuer (the role) and
// the sourceIdentity; AssumeRole's requestParameters carry the
// sourceIdentity asked for and its responseElements the new session's
// access key id, expiration, assumedRoleUser and sourceIdentity.

// cloudtrailTargetPrefixes: the SDKs send the short one, older clients
// the long one; CloudTrail takes both.
var cloudtrailTargetPrefixes = []string{"CloudTrail_20131101", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"}

const (

	// maxEvents bounds the record the server keeps (CloudTrail keeps 90
	// days); the oldest events go first.
	maxEvents = 2000
	// lookupWindow is how far back LookupEvents looks by default.
	lookupWindow = 90 * 24 * time.Hour
)

var cloudtrailHandlers = map[string]handler{
	"LookupEvents": (*Server).lookupEvents,
}

// trailEvent is one recorded call: the fields LookupEvents filters on and
// the full CloudTrail record.
type trailEvent struct {
	ID          string          `json:"id"`
	Time        time.Time       `json:"time"`
	Source      string          `json:"source"` // e.g. "sts.amazonaws.com"
	Name        string          `json:"name"`   // the action
	Region      string          `json:"region"`
	ReadOnly    bool            `json:"readOnly"`
	AccessKeyID string          `json:"accessKeyId"`
	Username    string          `json:"username"`
	Resources   []trailResource `json:"resources,omitempty"`
	Record      json.RawMessage `json:"record"`
}

type trailResource struct {
	ResourceType string
	ResourceName string
}

// The CloudTrail record, field for field in CloudTrail's order.
type ctRecord struct {
	EventVersion       string       `json:"eventVersion"`
	UserIdentity       ctIdentity   `json:"userIdentity"`
	EventTime          string       `json:"eventTime"`
	EventSource        string       `json:"eventSource"`
	EventName          string       `json:"eventName"`
	AWSRegion          string       `json:"awsRegion"`
	SourceIPAddress    string       `json:"sourceIPAddress"`
	UserAgent          string       `json:"userAgent"`
	ErrorCode          string       `json:"errorCode,omitempty"`
	ErrorMessage       string       `json:"errorMessage,omitempty"`
	RequestParameters  any          `json:"requestParameters"`
	ResponseElements   any          `json:"responseElements"`
	RequestID          string       `json:"requestID"`
	EventID            string       `json:"eventID"`
	ReadOnly           bool         `json:"readOnly"`
	Resources          []ctResource `json:"resources,omitempty"`
	EventType          string       `json:"eventType"`
	ManagementEvent    bool         `json:"managementEvent"`
	RecipientAccountID string       `json:"recipientAccountId"`
	EventCategory      string       `json:"eventCategory"`
}

type ctIdentity struct {
	Type           string            `json:"type"`
	PrincipalID    string            `json:"principalId"`
	ARN            string            `json:"arn"`
	AccountID      string            `json:"accountId"`
	AccessKeyID    string            `json:"accessKeyId,omitempty"`
	UserName       string            `json:"userName,omitempty"`
	SessionContext *ctSessionContext `json:"sessionContext,omitempty"`
}

type ctSessionContext struct {
	SessionIssuer  *ctIssuer    `json:"sessionIssuer,omitempty"`
	Attributes     ctAttributes `json:"attributes"`
	SourceIdentity string       `json:"sourceIdentity,omitempty"`
}

type ctIssuer struct {
	Type        string `json:"type"`
	PrincipalID string `json:"principalId"`
	ARN         string `json:"arn"`
	AccountID   string `json:"accountId"`
	UserName    string `json:"userName"`
}

type ctAttributes struct {
	CreationDate     string `json:"creationDate"`
	MFAAuthenticated string `json:"mfaAuthenticated"`
}

type ctResource struct {
	ARN       string `json:"ARN"`
	AccountID string `json:"accountId"`
	Type      string `json:"type"`
}

// readOnlyAction says whether CloudTrail marks the action read-only.
func readOnlyAction(action string) bool {
	for _, p := range []string{"Get", "List", "Describe", "Lookup"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// record appends the CloudTrail event of c (failed or not) and returns
// it. Callers hold s.mu.
func (s *Server) record(c *call, aerr *apiError) *trailEvent {
	p := c.caller
	now := s.now()
	ev := &trailEvent{
		ID: newRequestID(), Time: now, Source: c.service + ".amazonaws.com", Name: c.action,
		Region: c.region, ReadOnly: readOnlyAction(c.action), AccessKeyID: c.keyID,
		Resources: c.resources,
	}
	if c.service == "iam" {
		ev.Region = "us-east-1" // IAM is global; CloudTrail records it there
	}
	id := ctIdentity{PrincipalID: p.id, ARN: p.arn, AccountID: s.st.Account, AccessKeyID: c.keyID}
	switch {
	case p.kind == "root":
		id.Type, ev.Username = "Root", "root"
	case p.assumedRole():
		id.Type = "AssumedRole"
		ev.Username = p.session.Name
		sc := &ctSessionContext{
			Attributes:     ctAttributes{CreationDate: isoTime(p.session.Issued), MFAAuthenticated: "false"},
			SourceIdentity: p.session.SourceIdentity,
		}
		if r := s.st.Roles[p.session.Role]; r != nil {
			sc.SessionIssuer = &ctIssuer{Type: "Role", PrincipalID: r.ID, ARN: s.roleARN(r), AccountID: s.st.Account, UserName: r.Name}
		}
		id.SessionContext = sc
	default:
		id.Type, id.UserName, ev.Username = "IAMUser", p.user.Name, p.user.Name
		if p.session != nil {
			id.SessionContext = &ctSessionContext{Attributes: ctAttributes{CreationDate: isoTime(p.session.Issued), MFAAuthenticated: "false"}}
		}
	}
	if p.kind == "root" && p.session != nil {
		id.SessionContext = &ctSessionContext{Attributes: ctAttributes{CreationDate: isoTime(p.session.Issued), MFAAuthenticated: "false"}}
	}
	rec := ctRecord{
		EventVersion: "1.08", UserIdentity: id, EventTime: isoTime(now), EventSource: ev.Source,
		EventName: c.action, AWSRegion: ev.Region, SourceIPAddress: sourceIP(c.r), UserAgent: c.r.UserAgent(),
		RequestParameters: c.requestParameters(), RequestID: c.requestID, EventID: ev.ID, ReadOnly: ev.ReadOnly,
		EventType: "AwsApiCall", ManagementEvent: true, RecipientAccountID: s.st.Account, EventCategory: "Management",
	}
	if aerr != nil {
		rec.ErrorCode, rec.ErrorMessage = aerr.Code, aerr.Message
	} else {
		rec.ResponseElements = c.responseElements
	}
	for _, r := range c.resources {
		rec.Resources = append(rec.Resources, ctResource{ARN: r.ResourceName, AccountID: s.st.Account, Type: r.ResourceType})
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil
	}
	ev.Record = b
	s.st.Events = append(s.st.Events, ev)
	if n := len(s.st.Events) - maxEvents; n > 0 {
		s.st.Events = append([]*trailEvent(nil), s.st.Events[n:]...)
	}
	return ev
}

func sourceIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndex(host, ":"); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// requestParameters are the call's parameters as CloudTrail writes them:
// names in lower camel case; lists and nested shapes of the query
// protocol are left out. The signature's own parameters are not part of
// the request.
func (c *call) requestParameters() any {
	if c.json {
		var in map[string]any
		if json.Unmarshal(c.body, &in) != nil || len(in) == 0 {
			return nil
		}
		out := map[string]any{}
		for k, v := range in {
			out[lowerCamel(k)] = v
		}
		return out
	}
	out := map[string]any{}
	for k, v := range c.params {
		if k == "Action" || k == "Version" || strings.HasPrefix(k, "X-Amz-") || strings.Contains(k, ".") || len(v) == 0 {
			continue
		}
		if n, err := strconv.Atoi(v[0]); err == nil && strings.HasSuffix(k, "Seconds") {
			out[lowerCamel(k)] = n
			continue
		}
		out[lowerCamel(k)] = v[0]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func lowerCamel(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[n:]
}

// LookupEvents, as the CloudTrail API reference describes it: at most one
// lookup attribute; events of the region called, newest first, between
// StartTime and EndTime (the last 90 days by default); MaxResults up to
// 50 per page with NextToken.

type lookupInput struct {
	LookupAttributes []struct {
		AttributeKey   string
		AttributeValue string
	}
	StartTime     *epochSeconds
	EndTime       *epochSeconds
	EventCategory string
	MaxResults    *int
	NextToken     string
}

type xEvent struct {
	EventId         string
	EventName       string
	ReadOnly        string
	AccessKeyId     string `json:",omitempty"`
	EventTime       epochSeconds
	EventSource     string
	Username        string          `json:",omitempty"`
	Resources       []trailResource `json:",omitempty"`
	CloudTrailEvent string
}

func (s *Server) lookupEvents(c *call) (any, *apiError) {
	var in lookupInput
	if err := c.decodeInput(&in); err != nil {
		return nil, err
	}
	if err := s.authorize(c, "cloudtrail:LookupEvents", "*", nil); err != nil {
		return nil, err
	}
	if len(in.LookupAttributes) > 1 {
		return nil, newError(http.StatusBadRequest, "InvalidLookupAttributesException", "You cannot specify more than one lookup attribute.")
	}
	if in.EventCategory != "" && in.EventCategory != "insight" {
		return nil, newError(http.StatusBadRequest, "InvalidEventCategoryException", "Event category %s is not valid.", in.EventCategory)
	}
	if in.EventCategory == "insight" {
		return struct{ Events []xEvent }{[]xEvent{}}, nil // no Insights here
	}
	var key, value string
	if len(in.LookupAttributes) == 1 {
		key, value = in.LookupAttributes[0].AttributeKey, in.LookupAttributes[0].AttributeValue
		switch key {
		case "EventId", "EventName", "ReadOnly", "Username", "ResourceType", "ResourceName", "EventSource", "AccessKeyId":
		default:
			return nil, newError(http.StatusBadRequest, "InvalidLookupAttributesException", "Lookup attribute key %q is not valid.", key)
		}
		if value == "" {
			return nil, newError(http.StatusBadRequest, "InvalidLookupAttributesException", "The value of lookup attribute %s must not be empty.", key)
		}
	}
	now := s.now()
	end, start := now, now.Add(-lookupWindow)
	if in.EndTime != nil {
		end = time.Time(*in.EndTime)
	}
	if in.StartTime != nil {
		start = time.Time(*in.StartTime)
	}
	if start.After(end) {
		return nil, newError(http.StatusBadRequest, "InvalidTimeRangeException", "Start time must be before end time.")
	}
	limit := 50
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 50 {
			return nil, newError(http.StatusBadRequest, "InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
		}
		limit = *in.MaxResults
	}
	var match []*trailEvent
	for i := len(s.st.Events) - 1; i >= 0; i-- {
		ev := s.st.Events[i]
		if ev.Region != c.region || ev.Time.Before(start) || ev.Time.After(end) || !ev.matches(key, value) {
			continue
		}
		match = append(match, ev)
	}
	// The token names the last event of the previous page, so that the
	// events recorded meanwhile (this very call among them) do not shift
	// the pages.
	if in.NextToken != "" {
		id, ok := strings.CutPrefix(in.NextToken, "awstest-")
		i := slices.IndexFunc(match, func(ev *trailEvent) bool { return ev.ID == id })
		if !ok || i < 0 {
			return nil, newError(http.StatusBadRequest, "InvalidNextTokenException", "Invalid NextToken.")
		}
		match = match[i+1:]
	}
	out := struct {
		Events    []xEvent
		NextToken string `json:",omitempty"`
	}{Events: []xEvent{}}
	for _, ev := range match[:min(limit, len(match))] {
		out.Events = append(out.Events, xEvent{
			EventId: ev.ID, EventName: ev.Name, ReadOnly: strconv.FormatBool(ev.ReadOnly), AccessKeyId: ev.AccessKeyID,
			EventTime: epochSeconds(ev.Time), EventSource: ev.Source, Username: ev.Username, Resources: ev.Resources,
			CloudTrailEvent: string(ev.Record),
		})
	}
	if len(match) > limit {
		out.NextToken = "awstest-" + match[limit-1].ID
	}
	return out, nil
}

func (ev *trailEvent) matches(key, value string) bool {
	switch key {
	case "":
		return true
	case "EventId":
		return ev.ID == value
	case "EventName":
		return ev.Name == value
	case "ReadOnly":
		return strconv.FormatBool(ev.ReadOnly) == value
	case "Username":
		return ev.Username == value
	case "EventSource":
		return ev.Source == value
	case "AccessKeyId":
		return ev.AccessKeyID == value
	case "ResourceType", "ResourceName":
		for _, r := range ev.Resources {
			if (key == "ResourceType" && r.ResourceType == value) || (key == "ResourceName" && r.ResourceName == value) {
				return true
			}
		}
	}
	return false
}
