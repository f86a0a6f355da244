package awstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file implements the SNS calls breakglass's alerts need, with the
// query protocol (Version 2010-03-31) and the shapes and errors of the SNS
// API reference: CreateTopic (idempotent: the same name gives the same
// topic, unless tags or attributes differ), Get/SetTopicAttributes,
// DeleteTopic, Subscribe, ConfirmSubscription, Unsubscribe,
// ListSubscriptionsByTopic, Publish, TagResource, UntagResource and
// ListTagsForResource.
//
// The server sends nothing anywhere: each message it would deliver to a
// subscription, the SubscriptionConfirmation messages of email and HTTP(S)
// subscriptions included, is kept as a [Delivery] that tests read with
// [Server.Deliveries] and rehearsals at /_awstest/deliveries. A
// confirmation's SubscribeURL points back at this server and confirms the
// subscription when fetched, as AWS's does. Only confirmed subscriptions
// get notifications.

var snsHandlers = map[string]handler{
	"CreateTopic":              (*Server).createTopic,
	"DeleteTopic":              (*Server).deleteTopic,
	"GetTopicAttributes":       (*Server).getTopicAttributes,
	"SetTopicAttributes":       (*Server).setTopicAttributes,
	"Subscribe":                (*Server).subscribe,
	"ConfirmSubscription":      (*Server).confirmSubscription,
	"Unsubscribe":              (*Server).unsubscribe,
	"ListSubscriptionsByTopic": (*Server).listSubscriptionsByTopic,
	"Publish":                  (*Server).publish,
	"TagResource":              (*Server).tagSNSResource,
	"UntagResource":            (*Server).untagSNSResource,
	"ListTagsForResource":      (*Server).listSNSTags,
}

// maxDeliveries bounds the delivery log; the oldest go first.
const maxDeliveries = 1000

type topic struct {
	ARN        string            `json:"arn"`
	Name       string            `json:"name"`
	Region     string            `json:"region"`
	Attributes map[string]string `json:"attributes"` // Policy, DisplayName, …
	Tags       []xTag            `json:"tags"`
	Created    time.Time         `json:"created"`
}

type subscription struct {
	ARN       string    `json:"arn"`
	TopicARN  string    `json:"topicArn"`
	Protocol  string    `json:"protocol"`
	Endpoint  string    `json:"endpoint"`
	Confirmed bool      `json:"confirmed"`
	Token     string    `json:"token"`
	Created   time.Time `json:"created"`
}

// A Delivery is one message the server delivered to a subscription, as
// the subscriber would have received it.
type Delivery struct {
	Time            time.Time `json:"time"`
	Type            string    `json:"type"` // "Notification" or "SubscriptionConfirmation"
	MessageID       string    `json:"messageId"`
	TopicARN        string    `json:"topicArn"`
	SubscriptionARN string    `json:"subscriptionArn,omitempty"` // notifications only
	Protocol        string    `json:"protocol"`
	Endpoint        string    `json:"endpoint"`
	Subject         string    `json:"subject,omitempty"`
	Message         string    `json:"message"`
	SubscribeURL    string    `json:"subscribeUrl,omitempty"` // confirmations only
	// Rule is the EventBridge rule whose target published the message,
	// if one did.
	Rule string `json:"rule,omitempty"`
}

// Deliveries are the messages delivered so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.st.Deliveries...)
}

// serveDeliveries answers GET /_awstest/deliveries with the delivery log
// as JSON, optionally only those of ?messageId= or ?topicArn=.
func (s *Server) serveDeliveries(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	out := []Delivery{}
	for _, d := range s.Deliveries() {
		if (q.Get("messageId") == "" || q.Get("messageId") == d.MessageID) && (q.Get("topicArn") == "" || q.Get("topicArn") == d.TopicARN) {
			out = append(out, d)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(struct {
		Deliveries []Delivery `json:"deliveries"`
	}{out})
}

// ErrNotRehearsal is FetchDeliveries' answer from an endpoint that is not
// this server: real AWS does not say where its messages went.
var ErrNotRehearsal = errors.New("the endpoint is not a rehearsal server: it keeps no delivery log")

// FetchDeliveries asks the server at endpoint (its URL) for the
// deliveries of one message, as a rehearsal or a test client does. Any
// endpoint that does not answer like this server gives an error wrapping
// ErrNotRehearsal.
func FetchDeliveries(ctx context.Context, endpoint, messageID string) ([]Delivery, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(endpoint, "/")+deliveriesPath+"?"+url.Values{"messageId": {messageID}}.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotRehearsal, err)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotRehearsal, err)
	}
	defer resp.Body.Close()
	var out struct {
		Deliveries *[]Delivery `json:"deliveries"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&out) != nil || out.Deliveries == nil {
		return nil, fmt.Errorf("%w (%s answered %s)", ErrNotRehearsal, endpoint, resp.Status)
	}
	return *out.Deliveries, nil
}

// An AlertTrace is where the alert of one AssumeRole went, as the
// rehearsal server saw it.
type AlertTrace struct {
	Observed bool     `json:"observed"` // the endpoint is a rehearsal server, which tells
	Reached  []string `json:"reached,omitempty"`
}

// TraceAssumeRoleAlert asks the server at endpoint where the alert rule's
// notification of an AssumeRole by operator (its source identity), made
// at or after since, was delivered: "email:ADDRESS", "https:URL". Rules
// fire as the call is made; it waits up to a second for the delivery.
// Against real AWS (or no endpoint) Observed is false: AWS does not say.
func TraceAssumeRoleAlert(ctx context.Context, endpoint, operator string, since time.Time) *AlertTrace {
	out := &AlertTrace{}
	if endpoint == "" {
		return out
	}
	for try := 0; try < 10; try++ {
		ds, err := FetchDeliveries(ctx, endpoint, "")
		if err != nil {
			return out
		}
		out.Observed = true
		for _, d := range ds {
			to := d.Protocol + ":" + d.Endpoint
			if d.Type == "Notification" && d.Rule != "" && !d.Time.Before(since) &&
				strings.Contains(d.Message, "AssumeRole") && strings.Contains(d.Message, "(operator) "+operator) &&
				!slices.Contains(out.Reached, to) {
				out.Reached = append(out.Reached, to)
			}
		}
		if len(out.Reached) > 0 {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out
}

var topicNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,256}$`)

func errSNSInvalid(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "InvalidParameter", format, args...)
}

func errSNSNotFound(what string) *apiError {
	return newError(http.StatusNotFound, "NotFound", "%s does not exist", what)
}

func (s *Server) topicARN(region, name string) string {
	return "arn:aws:sns:" + region + ":" + s.st.Account + ":" + name
}

// defaultTopicPolicy is the policy SNS gives a new topic: the account's
// principals may use it. It does not let EventBridge publish.
func (s *Server) defaultTopicPolicy(arn string) string {
	return `{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},` +
		`"Action":["SNS:GetTopicAttributes","SNS:SetTopicAttributes","SNS:AddPermission","SNS:RemovePermission","SNS:DeleteTopic","SNS:Subscribe","SNS:ListSubscriptionsByTopic","SNS:Publish"],` +
		`"Resource":"` + arn + `","Condition":{"StringEquals":{"AWS:SourceOwner":"` + s.st.Account + `"}}}]}`
}

// parseAttributes reads Attributes.entry.N.key / .value.
func parseAttributes(p url.Values) map[string]string {
	out := map[string]string{}
	for i := 1; ; i++ {
		base := "Attributes.entry." + strconv.Itoa(i)
		k, ok := p[base+".key"]
		if !ok {
			return out
		}
		out[k[0]] = p.Get(base + ".value")
	}
}

var topicAttributes = map[string]bool{"Policy": true, "DisplayName": true, "DeliveryPolicy": true, "KmsMasterKeyId": true, "SignatureVersion": true, "TracingConfig": true}

func checkTopicAttribute(name, value string) *apiError {
	if !topicAttributes[name] {
		return errSNSInvalid("Invalid parameter: AttributeName")
	}
	if name == "Policy" {
		if _, err := parseTopicPolicy(value); err != nil {
			return errSNSInvalid("Invalid parameter: Policy Error: %v", err)
		}
	}
	return nil
}

// lookupTopic authorizes action on the topic named by TopicArn and
// returns it.
func (s *Server) lookupTopic(c *call, param, action string) (*topic, *apiError) {
	arn := c.get(param)
	if arn == "" {
		return nil, errSNSInvalid("Invalid parameter: %s", param)
	}
	if err := s.authorize(c, action, arn, nil); err != nil {
		return nil, err
	}
	t := s.st.Topics[arn]
	if t == nil {
		return nil, errSNSNotFound("Topic")
	}
	return t, nil
}

func (s *Server) createTopic(c *call) (any, *apiError) {
	name := c.get("Name")
	if !topicNameRE.MatchString(name) {
		return nil, errSNSInvalid("Invalid parameter: Topic Name")
	}
	attrs := parseAttributes(c.params)
	for k, v := range attrs {
		if err := checkTopicAttribute(k, v); err != nil {
			return nil, err
		}
	}
	tags, err := parseTags(c.params)
	if err != nil {
		return nil, errSNSInvalid("Invalid parameter: Tags Reason: %s", err.Message)
	}
	arn := s.topicARN(c.region, name)
	if err := s.authorize(c, "sns:CreateTopic", arn, nil); err != nil {
		return nil, err
	}
	if t := s.st.Topics[arn]; t != nil {
		// Idempotent, as long as what is asked for is what is there.
		for k, v := range attrs {
			if t.Attributes[k] != v {
				return nil, errSNSInvalid("Invalid parameter: Attributes Reason: Topic already exists with different attributes")
			}
		}
		if len(tags) > 0 && !sameTags(tags, t.Tags) {
			return nil, errSNSInvalid("Invalid parameter: Tags Reason: Topic already exists with different tags")
		}
		return struct{ TopicArn string }{arn}, nil
	}
	t := &topic{ARN: arn, Name: name, Region: c.region, Attributes: map[string]string{"Policy": s.defaultTopicPolicy(arn)}, Tags: tags, Created: s.now()}
	for k, v := range attrs {
		t.Attributes[k] = v
	}
	s.st.Topics[arn] = t
	return struct{ TopicArn string }{arn}, nil
}

func sameTags(a, b []xTag) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]string{}
	for _, t := range b {
		m[t.Key] = t.Value
	}
	for _, t := range a {
		if v, ok := m[t.Key]; !ok || v != t.Value {
			return false
		}
	}
	return true
}

func (s *Server) deleteTopic(c *call) (any, *apiError) {
	arn := c.get("TopicArn")
	if err := s.authorize(c, "sns:DeleteTopic", arn, nil); err != nil {
		return nil, err
	}
	// Deleting a topic that does not exist succeeds, as in SNS.
	delete(s.st.Topics, arn)
	for k, sub := range s.st.Subscriptions {
		if sub.TopicARN == arn {
			delete(s.st.Subscriptions, k)
		}
	}
	return nil, nil
}

type xEntry struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func (s *Server) getTopicAttributes(c *call) (any, *apiError) {
	t, err := s.lookupTopic(c, "TopicArn", "sns:GetTopicAttributes")
	if err != nil {
		return nil, err
	}
	confirmed, pending := 0, 0
	for _, sub := range s.st.Subscriptions {
		if sub.TopicARN == t.ARN {
			if sub.Confirmed {
				confirmed++
			} else {
				pending++
			}
		}
	}
	attrs := map[string]string{
		"TopicArn": t.ARN, "Owner": s.st.Account, "SubscriptionsConfirmed": strconv.Itoa(confirmed),
		"SubscriptionsPending": strconv.Itoa(pending), "SubscriptionsDeleted": "0",
	}
	for k, v := range t.Attributes {
		attrs[k] = v
	}
	var out []xEntry
	for _, k := range sortedKeys(attrs) {
		out = append(out, xEntry{k, attrs[k]})
	}
	return struct {
		Attributes []xEntry `xml:"Attributes>entry"`
	}{out}, nil
}

func (s *Server) setTopicAttributes(c *call) (any, *apiError) {
	t, err := s.lookupTopic(c, "TopicArn", "sns:SetTopicAttributes")
	if err != nil {
		return nil, err
	}
	name, value := c.get("AttributeName"), c.get("AttributeValue")
	if err := checkTopicAttribute(name, value); err != nil {
		return nil, err
	}
	t.Attributes[name] = value
	return nil, nil
}

// subscriptionNeedsConfirmation: email and HTTP(S) endpoints confirm by
// fetching the SubscribeURL; other protocols in the same account do not.
func subscriptionNeedsConfirmation(protocol string) bool {
	switch protocol {
	case "email", "email-json", "http", "https":
		return true
	}
	return false
}

func checkEndpoint(protocol, endpoint string) *apiError {
	switch protocol {
	case "email", "email-json":
		if i := strings.Index(endpoint, "@"); i <= 0 || i == len(endpoint)-1 || strings.ContainsAny(endpoint, " <>") {
			return errSNSInvalid("Invalid parameter: Email address")
		}
	case "http", "https":
		u, err := url.Parse(endpoint)
		if err != nil || u.Scheme != protocol || u.Host == "" {
			return errSNSInvalid("Invalid parameter: Endpoint must match the specified protocol")
		}
	case "sqs", "lambda", "firehose", "application":
		if !strings.HasPrefix(endpoint, "arn:") {
			return errSNSInvalid("Invalid parameter: %s endpoint ARN", strings.ToUpper(protocol))
		}
	case "sms":
		if strings.Trim(endpoint, "+0123456789") != "" || endpoint == "" {
			return errSNSInvalid("Invalid parameter: Invalid SMS endpoint")
		}
	default:
		return errSNSInvalid("Invalid parameter: Amazon SNS does not support this protocol string: %s", protocol)
	}
	return nil
}

func (s *Server) subscribe(c *call) (any, *apiError) {
	t, err := s.lookupTopic(c, "TopicArn", "sns:Subscribe")
	if err != nil {
		return nil, err
	}
	protocol, endpoint := c.get("Protocol"), c.get("Endpoint")
	if err := checkEndpoint(protocol, endpoint); err != nil {
		return nil, err
	}
	returnARN := c.get("ReturnSubscriptionArn") == "true"
	answer := func(sub *subscription) (any, *apiError) {
		arn := sub.ARN
		if !sub.Confirmed && !returnARN {
			arn = "pending confirmation"
		}
		return struct{ SubscriptionArn string }{arn}, nil
	}
	for _, sub := range s.st.Subscriptions {
		if sub.TopicARN == t.ARN && sub.Protocol == protocol && sub.Endpoint == endpoint {
			return answer(sub) // the same subscription again
		}
	}
	sub := &subscription{ARN: t.ARN + ":" + newUUID(), TopicARN: t.ARN, Protocol: protocol, Endpoint: endpoint,
		Confirmed: !subscriptionNeedsConfirmation(protocol), Created: s.now()}
	s.st.Subscriptions[sub.ARN] = sub
	if !sub.Confirmed {
		sub.Token = strings.ToLower(randomString(64))
		q := url.Values{"Action": {"ConfirmSubscription"}, "TopicArn": {t.ARN}, "Token": {sub.Token}}
		s.deliver(Delivery{Type: "SubscriptionConfirmation", MessageID: newUUID(), TopicARN: t.ARN, Protocol: protocol, Endpoint: endpoint,
			Message:      "You have chosen to subscribe to the topic " + t.ARN + ".\nTo confirm the subscription, visit the SubscribeURL included in this message.",
			SubscribeURL: s.URL() + "/?" + q.Encode()})
	}
	return answer(sub)
}

// confirmSubscription needs no signature when it comes from a
// SubscribeURL, as in SNS.
func (s *Server) confirmSubscription(c *call) (any, *apiError) {
	arn, token := c.get("TopicArn"), c.get("Token")
	if arn == "" || token == "" {
		return nil, errSNSInvalid("Invalid parameter: Token")
	}
	if c.caller != nil {
		if err := s.authorize(c, "sns:ConfirmSubscription", arn, nil); err != nil {
			return nil, err
		}
	}
	if s.st.Topics[arn] == nil {
		return nil, errSNSNotFound("Topic")
	}
	for _, sub := range s.st.Subscriptions {
		if sub.TopicARN == arn && sub.Token != "" && sub.Token == token {
			sub.Confirmed = true
			return struct{ SubscriptionArn string }{sub.ARN}, nil
		}
	}
	return nil, errSNSInvalid("Invalid token")
}

func (s *Server) unsubscribe(c *call) (any, *apiError) {
	arn := c.get("SubscriptionArn")
	sub := s.st.Subscriptions[arn]
	if sub == nil {
		return nil, errSNSNotFound("Subscription")
	}
	if err := s.authorize(c, "sns:Unsubscribe", sub.TopicARN, nil); err != nil {
		return nil, err
	}
	delete(s.st.Subscriptions, arn)
	return nil, nil
}

type xSubscription struct {
	SubscriptionArn string
	Owner           string
	Protocol        string
	Endpoint        string
	TopicArn        string
}

func (s *Server) listSubscriptionsByTopic(c *call) (any, *apiError) {
	t, err := s.lookupTopic(c, "TopicArn", "sns:ListSubscriptionsByTopic")
	if err != nil {
		return nil, err
	}
	var subs []*subscription
	for _, sub := range s.st.Subscriptions {
		if sub.TopicARN == t.ARN {
			subs = append(subs, sub)
		}
	}
	slices.SortFunc(subs, func(a, b *subscription) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ARN, b.ARN)
	})
	skip := 0
	if tok := c.get("NextToken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(subs) {
			return nil, errSNSInvalid("Invalid parameter: NextToken")
		}
		skip = n
	}
	const page = 100
	var out []xSubscription
	for _, sub := range subs[skip:min(len(subs), skip+page)] {
		arn := sub.ARN
		if !sub.Confirmed {
			arn = "PendingConfirmation"
		}
		out = append(out, xSubscription{SubscriptionArn: arn, Owner: s.st.Account, Protocol: sub.Protocol, Endpoint: sub.Endpoint, TopicArn: sub.TopicARN})
	}
	next := ""
	if skip+page < len(subs) {
		next = strconv.Itoa(skip + page)
	}
	return struct {
		Subscriptions []xSubscription `xml:"Subscriptions>member"`
		NextToken     string          `xml:",omitempty"`
	}{out, next}, nil
}

// maxMessage is SNS's limit on a message: 256 KiB.
const maxMessage = 256 << 10

func (s *Server) publish(c *call) (any, *apiError) {
	if c.get("TopicArn") == "" && c.get("TargetArn") == "" && c.get("PhoneNumber") == "" {
		return nil, errSNSInvalid("Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter")
	}
	t, err := s.lookupTopic(c, "TopicArn", "sns:Publish")
	if err != nil {
		return nil, err
	}
	msg, subject := c.get("Message"), c.get("Subject")
	switch {
	case msg == "":
		return nil, errSNSInvalid("Invalid parameter: Empty message")
	case len(msg) > maxMessage:
		return nil, errSNSInvalid("Invalid parameter: Message too long")
	case len(subject) > 100 || strings.ContainsAny(subject, "\r\n"):
		return nil, errSNSInvalid("Invalid parameter: Subject")
	}
	id := newUUID()
	s.notify(t, id, subject, msg, "")
	return struct{ MessageId string }{id}, nil
}

// notify delivers a message to the topic's confirmed subscriptions.
func (s *Server) notify(t *topic, id, subject, msg, rule string) {
	var subs []*subscription
	for _, sub := range s.st.Subscriptions {
		if sub.TopicARN == t.ARN && sub.Confirmed {
			subs = append(subs, sub)
		}
	}
	slices.SortFunc(subs, func(a, b *subscription) int { return strings.Compare(a.ARN, b.ARN) })
	for _, sub := range subs {
		s.deliver(Delivery{Type: "Notification", MessageID: id, TopicARN: t.ARN, SubscriptionARN: sub.ARN,
			Protocol: sub.Protocol, Endpoint: sub.Endpoint, Subject: subject, Message: msg, Rule: rule})
	}
}

func (s *Server) deliver(d Delivery) {
	d.Time = s.now()
	s.st.Deliveries = append(s.st.Deliveries, d)
	if n := len(s.st.Deliveries) - maxDeliveries; n > 0 {
		s.st.Deliveries = append([]Delivery(nil), s.st.Deliveries[n:]...)
	}
	s.logf("awstest: sns delivered a %s from %s to %s %s", d.Type, d.TopicARN, d.Protocol, d.Endpoint)
}

// Tags of topics.

func (s *Server) taggedTopic(c *call, action string) (*topic, *apiError) {
	arn := c.get("ResourceArn")
	if err := s.authorize(c, action, arn, nil); err != nil {
		return nil, err
	}
	t := s.st.Topics[arn]
	if t == nil {
		return nil, newError(http.StatusNotFound, "ResourceNotFound", "Resource does not exist")
	}
	return t, nil
}

func (s *Server) tagSNSResource(c *call) (any, *apiError) {
	t, err := s.taggedTopic(c, "sns:TagResource")
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(c.params)
	if err != nil {
		return nil, errSNSInvalid("Invalid parameter: Tags Reason: %s", err.Message)
	}
	merged, err := mergeTags(append([]xTag{}, t.Tags...), tags)
	if err != nil {
		return nil, newError(http.StatusBadRequest, "TagLimitExceeded", "Could not complete request: tag quota of per resource exceeded")
	}
	t.Tags = merged
	return struct{}{}, nil
}

func (s *Server) untagSNSResource(c *call) (any, *apiError) {
	t, err := s.taggedTopic(c, "sns:UntagResource")
	if err != nil {
		return nil, err
	}
	t.Tags = removeTags(t.Tags, parseMembers(c.params, "TagKeys"))
	return struct{}{}, nil
}

func (s *Server) listSNSTags(c *call) (any, *apiError) {
	t, err := s.taggedTopic(c, "sns:ListTagsForResource")
	if err != nil {
		return nil, err
	}
	return struct {
		Tags []xTag `xml:"Tags>member"`
	}{t.Tags}, nil
}

// Topic policies: only what decides whether EventBridge may publish.

type topicPolicy struct {
	Statement []struct {
		Effect    string
		Principal any
		Action    any
		Resource  any
		Condition map[string]any
	}
}

func parseTopicPolicy(doc string) (*topicPolicy, error) {
	var p topicPolicy
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return nil, err
	}
	return &p, nil
}

// allowsService reports whether the topic's policy lets the AWS service
// (e.g. "events.amazonaws.com") publish to it: an Allow statement with
// that service principal (or "*" without conditions), sns:Publish and the
// topic. Denies are honoured the same way.
func (t *topic) allowsService(service string) bool {
	p, err := parseTopicPolicy(t.Attributes["Policy"])
	if err != nil {
		return false
	}
	allowed := false
	for _, st := range p.Statement {
		principal := false
		switch v := st.Principal.(type) {
		case string:
			principal = v == "*" && len(st.Condition) == 0
		case map[string]any:
			principal = slices.Contains(anyStrings(v["Service"]), service) ||
				(slices.Contains(anyStrings(v["AWS"]), "*") && len(st.Condition) == 0)
		}
		action := false
		for _, a := range anyStrings(st.Action) {
			action = action || glob(strings.ToLower(a), "sns:publish")
		}
		resource := false
		for _, r := range anyStrings(st.Resource) {
			resource = resource || glob(r, t.ARN)
		}
		if principal && action && resource {
			if st.Effect == "Deny" {
				return false
			}
			allowed = allowed || st.Effect == "Allow"
		}
	}
	return allowed
}

func anyStrings(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func newUUID() string { return newRequestID() }
