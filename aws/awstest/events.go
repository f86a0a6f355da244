package awstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// This file implements EventBridge rules on the default event bus, with
// the JSON 1.1 protocol (X-Amz-Target AWSEvents.*) and the shapes and
// errors of the EventBridge API reference: PutRule, DescribeRule,
// DeleteRule, PutTargets, ListTargetsByRule, RemoveTargets, TagResource
// and ListTagsForResource.
//
// Rules fire. Every call the server records for CloudTrail is offered to
// the rules of its region as the event EventBridge would see ("detail-type"
// "AWS API Call via CloudTrail", "source" aws.SERVICE, the CloudTrail
// record as "detail"). A rule in state ENABLED gets only events that
// change something (readOnly false), as in AWS; one in state
// ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS gets the read-only ones
// too. A matching rule's SNS targets in this account publish (the whole
// event, Input, InputPath or InputTransformer), if the topic's policy
// lets events.amazonaws.com publish; other targets, and topics that do not
// allow it, count as failed invocations ([Server.RuleInvocations]).
//
// Event patterns support exact values, prefix, suffix, anything-but,
// exists, equals-ignore-case, wildcard and $or. Other content filters
// (numeric, cidr) are rejected as InvalidEventPatternException rather
// than evaluated wrongly.

const (
	eventsTargetPrefix  = "AWSEvents"
	defaultEventBus     = "default"
	maxTargetsPerRule   = 5
	cloudTrailEventType = "AWS API Call via CloudTrail"
)

var eventsHandlers = map[string]handler{
	"PutRule":             (*Server).putRule,
	"DescribeRule":        (*Server).describeRule,
	"DeleteRule":          (*Server).deleteRule,
	"PutTargets":          (*Server).putTargets,
	"ListTargetsByRule":   (*Server).listTargetsByRule,
	"RemoveTargets":       (*Server).removeTargets,
	"TagResource":         (*Server).tagRule,
	"ListTagsForResource": (*Server).listRuleTags,
}

type rule struct {
	ARN          string    `json:"arn"`
	Name         string    `json:"name"`
	Region       string    `json:"region"`
	EventPattern string    `json:"eventPattern,omitempty"`
	Schedule     string    `json:"schedule,omitempty"`
	State        string    `json:"state"`
	Description  string    `json:"description,omitempty"`
	RoleARN      string    `json:"roleArn,omitempty"`
	Tags         []xTag    `json:"tags,omitempty"`
	Targets      []*target `json:"targets,omitempty"`
	Created      time.Time `json:"created"`
	Invocations  int       `json:"invocations"`
	Failed       int       `json:"failedInvocations"`
}

// target is an EventBridge Target, in its JSON shape.
type target struct {
	Id               string
	Arn              string
	RoleArn          string            `json:",omitempty"`
	Input            string            `json:",omitempty"`
	InputPath        string            `json:",omitempty"`
	InputTransformer *inputTransformer `json:",omitempty"`
}

type inputTransformer struct {
	InputPathsMap map[string]string `json:",omitempty"`
	InputTemplate string
}

var (
	ruleNameRE = regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`)
	pathRefRE  = regexp.MustCompile(`^\$(\.[A-Za-z0-9_\-]+)*$`)
)

func errEventsValidation(format string, args ...any) *apiError {
	return newError(http.StatusBadRequest, "ValidationException", format, args...)
}

func errRuleNotFound(name string) *apiError {
	return newError(http.StatusBadRequest, "ResourceNotFoundException", "Rule %s does not exist on EventBus %s.", name, defaultEventBus)
}

func (s *Server) ruleARN(region, name string) string {
	return "arn:aws:events:" + region + ":" + s.st.Account + ":rule/" + name
}

// checkBus accepts only the default bus, by name or ARN.
func (s *Server) checkBus(c *call, bus string) *apiError {
	if bus == "" || bus == defaultEventBus || bus == "arn:aws:events:"+c.region+":"+s.st.Account+":event-bus/"+defaultEventBus {
		return nil
	}
	return newError(http.StatusBadRequest, "ResourceNotFoundException", "Event bus %s does not exist.", bus)
}

// lookupRule authorizes action on the named rule and returns it.
func (s *Server) lookupRule(c *call, name, bus, action string) (*rule, *apiError) {
	if !ruleNameRE.MatchString(name) {
		return nil, errEventsValidation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", name)
	}
	if err := s.checkBus(c, bus); err != nil {
		return nil, err
	}
	arn := s.ruleARN(c.region, name)
	if err := s.authorize(c, action, arn, nil); err != nil {
		return nil, err
	}
	r := s.st.Rules[arn]
	if r == nil {
		return nil, errRuleNotFound(name)
	}
	return r, nil
}

type xEventsTag struct {
	Key   string
	Value string
}

func (s *Server) putRule(c *call) (any, *apiError) {
	var in struct {
		Name, ScheduleExpression, EventPattern, State, Description, RoleArn, EventBusName string
		Tags                                                                              []xEventsTag
	}
	if err := c.decodeInput(&in); err != nil {
		return nil, err
	}
	if !ruleNameRE.MatchString(in.Name) {
		return nil, errEventsValidation("1 validation error detected: Value '%s' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", in.Name)
	}
	if err := s.checkBus(c, in.EventBusName); err != nil {
		return nil, err
	}
	if in.EventPattern == "" && in.ScheduleExpression == "" {
		return nil, errEventsValidation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
	}
	if in.EventPattern != "" {
		if _, err := parsePattern(in.EventPattern); err != nil {
			return nil, newError(http.StatusBadRequest, "InvalidEventPatternException", "Event pattern is not valid. Reason: %v", err)
		}
	}
	switch in.State {
	case "":
		in.State = "ENABLED"
	case "ENABLED", "DISABLED", "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS":
	default:
		return nil, errEventsValidation("1 validation error detected: Value '%s' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS]", in.State)
	}
	if len(in.Description) > 512 {
		return nil, errEventsValidation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 512")
	}
	arn := s.ruleARN(c.region, in.Name)
	if err := s.authorize(c, "events:PutRule", arn, nil); err != nil {
		return nil, err
	}
	r := s.st.Rules[arn]
	if r == nil {
		r = &rule{ARN: arn, Name: in.Name, Region: c.region, Created: s.now()}
		// Tags apply when the rule is created; later, TagResource.
		for _, t := range in.Tags {
			r.Tags = append(r.Tags, xTag(t))
		}
		s.st.Rules[arn] = r
	}
	r.EventPattern, r.Schedule, r.State, r.Description, r.RoleARN = in.EventPattern, in.ScheduleExpression, in.State, in.Description, in.RoleArn
	return struct{ RuleArn string }{arn}, nil
}

func (s *Server) describeRule(c *call) (any, *apiError) {
	var in struct{ Name, EventBusName string }
	if err := c.decodeInput(&in); err != nil {
		return nil, err
	}
	r, err := s.lookupRule(c, in.Name, in.EventBusName, "events:DescribeRule")
	if err != nil {
		return nil, err
	}
	return struct {
		Name               string
		Arn                string
		EventPattern       string `json:",omitempty"`
		ScheduleExpression string `json:",omitempty"`
		State              string
		Description        string `json:",omitempty"`
		RoleArn            string `json:",omitempty"`
		EventBusName       string
		CreatedBy          string
	}{r.Name, r.ARN, r.EventPattern, r.Schedule, r.State, r.Description, r.RoleARN, defaultEventBus, s.st.Account}, nil
}

func (s *Server) deleteRule(c *call) (any, *apiError) {
	var in struct {
		Name, EventBusName string
		Force              bool
	}
	if err := c.decodeInput(&in); err != nil {
		return nil, err
	}
	r, err := s.lookupRule(c, in.Name, in.EventBusName, "events:DeleteRule")
	if err != nil {
		if err.Code == "ResourceNotFoundException" && strings.HasPrefix(err.Message, "Rule ") {
			return struct{}{}, nil // deleting a rule that is not there succeeds
		}
		return nil, err
	}
	if len(r.Targets) > 0 {
		return nil, errEventsValidation("Rule can't be deleted since it has targets.")
	}
	delete(s.st.Rules, r.ARN)
	return struct{}{}, nil
}

type failedEntry struct {
	TargetId     string
	ErrorCode    string
	ErrorMessage string
}

type targetResult struct {
	FailedEntryCount int
	FailedEntries    []failedEntry
}

func (s *Server) putTargets(c *call) (any, *apiError) {
	var in struct {
		Rule, EventBusName string
		Targets            []*target
	}
	if err := c.decodeInput(&in); err != nil {
		return nil, err
	}
	if len(in.Targets) == 0 || len(in.Targets) > 10 {
		return nil, errEventsValidation("1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length less than or equal to 10 and greater than or equal to 1")
	}
	for _, t := range in.Targets {
		if !ruleNameRE.MatchString(t.Id) {
			return nil, errEventsValidation("1 validation error detected: Value '%s' at 'targets.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+", t.Id)
		}
		if !strings.HasPrefix(t.Arn, "arn:") {
			return nil, errEventsValidation("Parameter %s is not valid. Reason: Provided Arn is not in correct format.", t.Arn)
		}
		n := 0
		for _, set := range []bool{t.Input != "", t.InputPath != "", t.InputTransformer != nil} {
			if set {
				n++
			}
		}
		if n > 1 {
			return nil, errEventsValidation("Only one of Input, InputPath, or InputTransformer must be provided.")
		}
		if t.Input != "" && !json.Valid([]byte(t.Input)) {
			return nil, errEventsValidation("Input is not valid JSON.")
		}
		if t.InputPath != "" && !pathRefRE.MatchString(t.InputPath) {
			return nil, errEventsValidation("InputPath %s is not a valid JsonPath.", t.InputPath)
		}
		if tr := t.InputTransformer; tr != nil {
			if tr.InputTemplate == "" {
				return nil, errEventsValidation("InputTemplate must not be empty.")
			}
			for k, p := range tr.InputPathsMap {
				if !pathRefRE.MatchString(p) || strings.HasPrefix(strings.ToLower(k), "aws.") {
					return nil, errEventsValidation("InputPathsMap value %s for key %s is not a valid JsonPath.", p, k)
				}
			}
		}
	}
	r, err := s.lookupRule(c, in.Rule, in.EventBusName, "events:PutTargets")
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for _, t := range r.Targets {
		ids[t.Id] = true
	}
	for _, t := range in.Targets {
		ids[t.Id] = true
	}
	if len(ids) > maxTargetsPerRule {
		return nil, newError(http.StatusBadRequest, "LimitExceededException", "The requested resource exceeds the maximum number allowed.")
	}
	for _, t := range in.Targets {
		if i := slices.IndexFunc(r.Targets, func(have *target) bool { return have.Id == t.Id }); i >= 0 {
			r.Targets[i] = t
		} else {
			r.Targets = append(r.Targets, t)
		}
	}
	return targetResult{FailedEntries: []failedEntry{}}, nil
}

func (s *Server) listTargetsByRule(c *call) (any, *apiError) {
	var in struct {
		Rule, EventBusName, NextToken string
		Limit                         int
	}
	if err := c.decodeInput(&in); err != nil {
		return nil, err
	}
	r, err := s.lookupRule(c, in.Rule, in.EventBusName, "events:ListTargetsByRule")
	if err != nil {
		return nil, err
	}
	// Five targets at most: always one page.
	return struct{ Targets []*target }{append([]*target{}, r.Targets...)}, nil
}

func (s *Server) removeTargets(c *call) (any, *apiError) {
	var in struct {
		Rule, EventBusName string
		Ids                []string
		Force              bool
	}
	if err := c.decodeInput(&in); err != nil {
		return nil, err
	}
	if len(in.Ids) == 0 || len(in.Ids) > 100 {
		return nil, errEventsValidation("1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must have length less than or equal to 100 and greater than or equal to 1")
	}
	r, err := s.lookupRule(c, in.Rule, in.EventBusName, "events:RemoveTargets")
	if err != nil {
		return nil, err
	}
	res := targetResult{FailedEntries: []failedEntry{}}
	for _, id := range in.Ids {
		i := slices.IndexFunc(r.Targets, func(t *target) bool { return t.Id == id })
		if i < 0 {
			res.FailedEntryCount++
			res.FailedEntries = append(res.FailedEntries, failedEntry{id, "ResourceNotFoundException", "Target " + id + " does not exist on rule " + r.Name + "."})
			continue
		}
		r.Targets = append(r.Targets[:i], r.Targets[i+1:]...)
	}
	return res, nil
}

// ruleByARN finds a rule for the tag calls.
func (s *Server) ruleByARN(c *call, action string) (*rule, *apiError) {
	var in struct{ ResourceARN string }
	if err := c.decodeInput(&in); err != nil {
		return nil, err
	}
	if err := s.authorize(c, action, in.ResourceARN, nil); err != nil {
		return nil, err
	}
	r := s.st.Rules[in.ResourceARN]
	if r == nil {
		return nil, newError(http.StatusBadRequest, "ResourceNotFoundException", "Rule %s does not exist on EventBus %s.", in.ResourceARN[strings.LastIndex(in.ResourceARN, "/")+1:], defaultEventBus)
	}
	return r, nil
}

func (s *Server) tagRule(c *call) (any, *apiError) {
	r, err := s.ruleByARN(c, "events:TagResource")
	if err != nil {
		return nil, err
	}
	var in struct{ Tags []xEventsTag }
	if err := c.decodeInput(&in); err != nil {
		return nil, err
	}
	add := make([]xTag, len(in.Tags))
	for i, t := range in.Tags {
		add[i] = xTag(t)
	}
	merged, err := mergeTags(append([]xTag{}, r.Tags...), add)
	if err != nil {
		return nil, errEventsValidation("%s", err.Message)
	}
	r.Tags = merged
	return struct{}{}, nil
}

func (s *Server) listRuleTags(c *call) (any, *apiError) {
	r, err := s.ruleByARN(c, "events:ListTagsForResource")
	if err != nil {
		return nil, err
	}
	out := []xEventsTag{}
	for _, t := range r.Tags {
		out = append(out, xEventsTag(t))
	}
	return struct{ Tags []xEventsTag }{out}, nil
}

// RuleInvocations reports how often the rule (by name, in region) has
// fired, and how many of its target invocations failed.
func (s *Server) RuleInvocations(region, name string) (invocations, failed int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.st.Rules[s.ruleARN(region, name)]; r != nil {
		return r.Invocations, r.Failed
	}
	return 0, 0
}

// fire offers a recorded call to the rules of its region, as the event
// EventBridge gets from CloudTrail. Callers hold s.mu.
func (s *Server) fire(ev *trailEvent) {
	var detail any
	if err := json.Unmarshal(ev.Record, &detail); err != nil {
		return
	}
	envelope := map[string]any{
		"version": "0", "id": newUUID(), "detail-type": cloudTrailEventType,
		"source": "aws." + strings.TrimSuffix(ev.Source, ".amazonaws.com"), "account": s.st.Account,
		"time": isoTime(ev.Time), "region": ev.Region, "resources": []any{}, "detail": detail,
	}
	var event any
	b, _ := json.Marshal(envelope)
	json.Unmarshal(b, &event) // numbers and maps as a decoded event has them
	for _, arn := range sortedKeys(s.st.Rules) {
		r := s.st.Rules[arn]
		if r.Region != ev.Region || r.EventPattern == "" || r.State == "DISABLED" ||
			(ev.ReadOnly && r.State != "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS") {
			continue
		}
		p, err := parsePattern(r.EventPattern)
		if err != nil || !p.matches(event) {
			continue
		}
		r.Invocations++
		for _, t := range r.Targets {
			topic := s.st.Topics[t.Arn]
			if topic == nil || !topic.allowsService("events.amazonaws.com") {
				r.Failed++
				s.logf("awstest: events rule %s: target %s not invoked (not a topic here, or its policy does not let events.amazonaws.com publish)", r.Name, t.Id)
				continue
			}
			msg, ok := t.input(event, string(b))
			if !ok {
				r.Failed++
				continue
			}
			s.notify(topic, newUUID(), "", msg, r.ARN)
		}
	}
}

// input is what the target receives: the whole event, Input, the value
// at InputPath, or the InputTransformer's template filled in.
func (t *target) input(event any, raw string) (string, bool) {
	switch {
	case t.Input != "":
		return t.Input, true
	case t.InputPath != "":
		v, ok := jsonPath(event, t.InputPath)
		if !ok {
			return "", false
		}
		b, _ := json.Marshal(v)
		return string(b), true
	case t.InputTransformer != nil:
		out := t.InputTransformer.InputTemplate
		for k, p := range t.InputTransformer.InputPathsMap {
			v, ok := jsonPath(event, p)
			text := ""
			if s, isString := v.(string); isString {
				// Inside the template's JSON string or object, a string
				// is inserted escaped and without its quotes.
				b, _ := json.Marshal(s)
				text = string(b[1 : len(b)-1])
			} else if ok {
				b, _ := json.Marshal(v)
				text = string(b)
			}
			out = strings.ReplaceAll(out, "<"+k+">", text)
		}
		return out, true
	}
	return raw, true
}

// jsonPath follows $.a.b.c in a decoded event.
func jsonPath(v any, path string) (any, bool) {
	for _, k := range strings.Split(strings.TrimPrefix(path, "$"), ".")[1:] {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// Event patterns.

type pattern struct {
	fields map[string]*patternField
	or     []*pattern
}

type patternField struct {
	nested  *pattern
	matches []matcher // any of them
}

type matcher struct {
	kind  string // "exact", "prefix", "suffix", "anything-but", "exists", "equals-ignore-case", "wildcard"
	value any    // exact: the JSON value; anything-but: []any; exists: bool; others: string
}

const maxPatternSize = 4096

func parsePattern(doc string) (*pattern, error) {
	if len(doc) > maxPatternSize {
		return nil, fmt.Errorf("pattern longer than %d characters", maxPatternSize)
	}
	var top any
	if err := json.Unmarshal([]byte(doc), &top); err != nil {
		return nil, fmt.Errorf("the pattern is not valid JSON")
	}
	m, ok := top.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the pattern must be a JSON object")
	}
	return parsePatternObject(m)
}

func parsePatternObject(m map[string]any) (*pattern, error) {
	p := &pattern{fields: map[string]*patternField{}}
	for k, v := range m {
		if k == "$or" {
			list, ok := v.([]any)
			if !ok || len(list) < 2 {
				return nil, fmt.Errorf("$or must be an array of at least two patterns")
			}
			for _, e := range list {
				o, ok := e.(map[string]any)
				if !ok {
					return nil, fmt.Errorf("$or must be an array of objects")
				}
				sub, err := parsePatternObject(o)
				if err != nil {
					return nil, err
				}
				p.or = append(p.or, sub)
			}
			continue
		}
		switch v := v.(type) {
		case map[string]any:
			sub, err := parsePatternObject(v)
			if err != nil {
				return nil, err
			}
			p.fields[k] = &patternField{nested: sub}
		case []any:
			if len(v) == 0 {
				return nil, fmt.Errorf("empty arrays are not allowed in a pattern (at %q)", k)
			}
			f := &patternField{}
			for _, e := range v {
				m, err := parseMatcher(e)
				if err != nil {
					return nil, fmt.Errorf("%q: %v", k, err)
				}
				f.matches = append(f.matches, m)
			}
			p.fields[k] = f
		default:
			return nil, fmt.Errorf("match value must be put inside a json array (at %q)", k)
		}
	}
	return p, nil
}

func parseMatcher(e any) (matcher, error) {
	o, ok := e.(map[string]any)
	if !ok {
		return matcher{kind: "exact", value: e}, nil
	}
	if len(o) != 1 {
		return matcher{}, fmt.Errorf("a content filter has exactly one key")
	}
	for k, v := range o {
		switch k {
		case "prefix", "suffix", "equals-ignore-case", "wildcard":
			s, ok := v.(string)
			if !ok {
				return matcher{}, fmt.Errorf("%s takes a string", k)
			}
			return matcher{kind: k, value: s}, nil
		case "exists":
			b, ok := v.(bool)
			if !ok {
				return matcher{}, fmt.Errorf("exists takes true or false")
			}
			return matcher{kind: k, value: b}, nil
		case "anything-but":
			if list, ok := v.([]any); ok {
				return matcher{kind: k, value: list}, nil
			}
			if _, ok := v.(map[string]any); ok {
				return matcher{}, fmt.Errorf("anything-but with a nested filter is not supported by awstest")
			}
			return matcher{kind: k, value: []any{v}}, nil
		default:
			return matcher{}, fmt.Errorf("content filter %q is not supported by awstest", k)
		}
	}
	return matcher{}, nil
}

// matches reports whether the decoded event matches p: every field, and
// one of each $or's alternatives.
func (p *pattern) matches(event any) bool {
	m, _ := event.(map[string]any)
	for k, f := range p.fields {
		v, present := m[k]
		if f.nested != nil {
			if !present || !f.nested.matches(v) {
				return false
			}
			continue
		}
		if !f.matchValue(v, present) {
			return false
		}
	}
	if len(p.or) > 0 {
		for _, o := range p.or {
			if o.matches(event) {
				return true
			}
		}
		return false
	}
	return true
}

func (f *patternField) matchValue(v any, present bool) bool {
	values := []any{v}
	if list, ok := v.([]any); ok {
		values = list
	}
	for _, m := range f.matches {
		if m.kind == "exists" {
			if m.value.(bool) == present {
				return true
			}
			continue
		}
		if !present {
			continue
		}
		for _, val := range values {
			if m.match(val) {
				return true
			}
		}
	}
	return false
}

func (m matcher) match(v any) bool {
	s, isString := v.(string)
	switch m.kind {
	case "exact":
		return jsonEqual(m.value, v)
	case "prefix":
		return isString && strings.HasPrefix(s, m.value.(string))
	case "suffix":
		return isString && strings.HasSuffix(s, m.value.(string))
	case "equals-ignore-case":
		return isString && strings.EqualFold(s, m.value.(string))
	case "wildcard":
		return isString && glob(m.value.(string), s)
	case "anything-but":
		for _, no := range m.value.([]any) {
			if jsonEqual(no, v) {
				return false
			}
		}
		return true
	}
	return false
}

func jsonEqual(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
