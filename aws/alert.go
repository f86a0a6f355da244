package aws

// Alerts: any use of the break-glass user, and any AssumeRole of the
// emergency role, is loud. Provision creates an EventBridge rule on the
// CloudTrail events of both, targeting an SNS topic with the alert's
// subscriptions (and any existing topics named with sns:ARN); Check
// verifies the path; FireAlertTest publishes a test message.

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// An Alert is one destination of the alert: an email address, an HTTPS
// endpoint (both subscribed to the alert topic) or an existing SNS topic
// (a second target of the rule).
type Alert struct {
	Kind   string // "email", "https" or "sns"
	Target string // the address, the https:// URL, or the topic ARN
}

// String is the alert as ParseAlert reads it: "email:ADDR", "https:URL",
// "sns:ARN".
func (a Alert) String() string { return a.Kind + ":" + a.Target }

// ParseAlert reads "email:ADDR", "https:URL" (an https:// URL, as in
// https:https://hooks.example.com/x, or https://… alone) or "sns:ARN".
func ParseAlert(s string) (Alert, error) {
	if strings.HasPrefix(s, "https://") {
		s = "https:" + s
	}
	kind, target, ok := strings.Cut(s, ":")
	if !ok || target == "" {
		return Alert{}, fmt.Errorf("alert %q: want email:ADDRESS, https:URL or sns:TOPIC-ARN", s)
	}
	a := Alert{Kind: kind, Target: target}
	switch kind {
	case "email":
		addr, err := mail.ParseAddress(target)
		if err != nil || addr.Address != target || addr.Name != "" {
			return Alert{}, fmt.Errorf("alert %q: not a plain email address", s)
		}
	case "https":
		u, err := url.Parse(target)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
			return Alert{}, fmt.Errorf("alert %q: the endpoint must be an https:// URL", s)
		}
	case "sns":
		a2, err := arn.Parse(target)
		if err != nil || a2.Service != "sns" || a2.AccountID == "" || a2.Region == "" || strings.Contains(a2.Resource, ":") {
			return Alert{}, fmt.Errorf("alert %q: not an SNS topic ARN", s)
		}
	default:
		return Alert{}, fmt.Errorf("alert %q: want email:ADDRESS, https:URL or sns:TOPIC-ARN", s)
	}
	return a, nil
}

// DefaultAlertRegion is where the alert's rule and topic live unless the
// Spec says otherwise. CloudTrail delivers IAM's events, and those of the
// global and us-east-1 STS endpoints, there.
const DefaultAlertRegion = "us-east-1"

// AlertRuleState is the state provision gives the rule: read-only calls
// (GetCallerIdentity with a copied key, say) reach it too.
const AlertRuleState = ebtypes.RuleStateEnabledWithAllCloudtrailManagementEvents

// alertTargetID is the rule's target id for the alert topic; the sns:
// alerts are alert-sns-1, -2, … in the order given.
const alertTargetID = "breakglass-alert-topic"

func (s Spec) alertRegion() string {
	if s.AlertRegion == "" {
		return DefaultAlertRegion
	}
	return s.AlertRegion
}

// AlertTopicName is the SNS topic "breakglass-NAME-alerts".
func (s Spec) AlertTopicName() string { return "breakglass-" + s.Name + "-alerts" }

// AlertRuleName is the EventBridge rule "breakglass-NAME-alert".
func (s Spec) AlertRuleName() string { return "breakglass-" + s.Name + "-alert" }

// AlertTopicARN is the alert topic's ARN in account.
func (s Spec) AlertTopicARN(account string) string {
	return "arn:aws:sns:" + s.alertRegion() + ":" + account + ":" + s.AlertTopicName()
}

// AlertRuleARN is the alert rule's ARN in account.
func (s Spec) AlertRuleARN(account string) string {
	return "arn:aws:events:" + s.alertRegion() + ":" + account + ":rule/" + s.AlertRuleName()
}

// AlertPattern is the rule's event pattern: every CloudTrail event of a
// call by the break-glass user (its long-term key, or session tokens made
// from it), and every AssumeRole of the emergency role, by anyone.
func (s Spec) AlertPattern(account string) []byte {
	return mustJSON(map[string]any{
		"detail-type": []string{"AWS API Call via CloudTrail", "AWS Console Sign In via CloudTrail"},
		"$or": []any{
			map[string]any{"detail": map[string]any{"userIdentity": map[string]any{"arn": []string{s.UserARN(account)}}}},
			map[string]any{"detail": map[string]any{"eventName": []string{"AssumeRole"},
				"requestParameters": map[string]any{"roleArn": []string{s.RoleARN(account)}}}},
		},
	})
}

// AlertTopicPolicy lets the account administer the topic and the alert
// rule (only it) publish to it.
func (s Spec) AlertTopicPolicy(account string) []byte {
	topic := s.AlertTopicARN(account)
	return mustJSON(policyDocument{Version: "2012-10-17", Statement: []policyStatement{
		{
			Sid: "AccountAdministers", Effect: "Allow",
			Principal: map[string]any{"AWS": "arn:aws:iam::" + account + ":root"},
			Action: []string{"sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe", "sns:ListSubscriptionsByTopic",
				"sns:Publish", "sns:TagResource", "sns:ListTagsForResource", "sns:DeleteTopic"},
			Resource: topic,
		},
		{
			Sid: "TheBreakGlassAlertRulePublishes", Effect: "Allow",
			Principal: map[string]any{"Service": "events.amazonaws.com"},
			Action:    []string{"sns:Publish"},
			Resource:  topic,
			Condition: map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": s.AlertRuleARN(account)}},
		},
	}})
}

// alertTransformer turns the event into one line that says what happened,
// who (the source identity, the operator, on AssumeRole), with which key,
// and where to look.
func (s Spec) alertTransformer() *ebtypes.InputTransformer {
	region := s.alertRegion()
	trail := "https://" + region + ".console.aws.amazon.com/cloudtrail/home?region=" + region + "#/events?AccessKeyId="
	return &ebtypes.InputTransformer{
		InputPathsMap: map[string]string{
			"call": "$.detail.eventName", "time": "$.detail.eventTime", "by": "$.detail.userIdentity.arn",
			"key": "$.detail.userIdentity.accessKeyId", "operator": "$.detail.requestParameters.sourceIdentity",
			"session": "$.detail.responseElements.credentials.accessKeyId", "from": "$.detail.sourceIPAddress",
			"error": "$.detail.errorCode",
		},
		InputTemplate: awssdk.String(`"breakglass ` + s.Name + `: <call> at <time> by <by> with key <key>, source identity (operator) <operator>, ` +
			`new session key <session>, from <from> <error>. If no release in the logbook explains this, treat it as an incident. ` +
			`The session's activity: ` + trail + `<session> ; the key's: ` + trail + `<key>"`),
	}
}

// alertTargets are the rule's targets: the alert topic, then each sns:
// alert.
func (s Spec) alertTargets(account string) []ebtypes.Target {
	out := []ebtypes.Target{{Id: awssdk.String(alertTargetID), Arn: awssdk.String(s.AlertTopicARN(account)), InputTransformer: s.alertTransformer()}}
	n := 0
	for _, a := range s.Alerts {
		if a.Kind == "sns" {
			n++
			out = append(out, ebtypes.Target{Id: awssdk.String(fmt.Sprintf("breakglass-alert-sns-%d", n)), Arn: awssdk.String(a.Target), InputTransformer: s.alertTransformer()})
		}
	}
	return out
}

// subscribed are the alerts that are subscriptions of the topic.
func (s Spec) subscribed() []Alert {
	var out []Alert
	for _, a := range s.Alerts {
		if a.Kind != "sns" {
			out = append(out, a)
		}
	}
	return out
}

func sameTarget(a, b ebtypes.Target) bool {
	if awssdk.ToString(a.Id) != awssdk.ToString(b.Id) || awssdk.ToString(a.Arn) != awssdk.ToString(b.Arn) ||
		awssdk.ToString(a.Input) != awssdk.ToString(b.Input) || awssdk.ToString(a.InputPath) != awssdk.ToString(b.InputPath) {
		return false
	}
	ta, tb := a.InputTransformer, b.InputTransformer
	if ta == nil || tb == nil {
		return ta == tb
	}
	return awssdk.ToString(ta.InputTemplate) == awssdk.ToString(tb.InputTemplate) && string(mustJSON(ta.InputPathsMap)) == string(mustJSON(tb.InputPathsMap))
}

func eventsClient(cfg awssdk.Config, region string) *eventbridge.Client {
	return eventbridge.NewFromConfig(cfg, func(o *eventbridge.Options) { o.Region = region })
}

func snsClient(cfg awssdk.Config, region string) *sns.Client {
	return sns.NewFromConfig(cfg, func(o *sns.Options) { o.Region = region })
}

// alertState is what the account holds of the alert path.
type alertState struct {
	rule      *eventbridge.DescribeRuleOutput // nil: no rule
	ruleTags  map[string]string
	targets   []ebtypes.Target
	topic     map[string]string // the topic's attributes; nil: no topic
	topicTags map[string]string
	subs      []snstypes.Subscription
	topicARN  string
	ruleARN   string
}

func readAlert(ctx context.Context, cfg awssdk.Config, spec Spec, account string) (*alertState, error) {
	eb, sc := eventsClient(cfg, spec.alertRegion()), snsClient(cfg, spec.alertRegion())
	st := &alertState{topicARN: spec.AlertTopicARN(account), ruleARN: spec.AlertRuleARN(account)}
	rule, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: awssdk.String(spec.AlertRuleName())})
	switch {
	case errorCode(err) == "ResourceNotFoundException":
	case err != nil:
		return nil, classify("describe rule "+spec.AlertRuleName(), err)
	default:
		st.rule = rule
		tags, err := eb.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: rule.Arn})
		if err != nil {
			return nil, classify("list tags of rule "+spec.AlertRuleName(), err)
		}
		st.ruleTags = map[string]string{}
		for _, t := range tags.Tags {
			st.ruleTags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
		}
		var next *string
		for {
			out, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: awssdk.String(spec.AlertRuleName()), NextToken: next})
			if err != nil {
				return nil, classify("list targets of rule "+spec.AlertRuleName(), err)
			}
			st.targets = append(st.targets, out.Targets...)
			if next = out.NextToken; next == nil {
				break
			}
		}
	}
	attrs, err := sc.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: &st.topicARN})
	switch {
	case errorCode(err) == "NotFound":
		return st, nil
	case err != nil:
		return nil, classify("get attributes of topic "+st.topicARN, err)
	}
	st.topic = attrs.Attributes
	tags, err := sc.ListTagsForResource(ctx, &sns.ListTagsForResourceInput{ResourceArn: &st.topicARN})
	if err != nil {
		return nil, classify("list tags of topic "+st.topicARN, err)
	}
	st.topicTags = map[string]string{}
	for _, t := range tags.Tags {
		st.topicTags[awssdk.ToString(t.Key)] = awssdk.ToString(t.Value)
	}
	subs := sns.NewListSubscriptionsByTopicPaginator(sc, &sns.ListSubscriptionsByTopicInput{TopicArn: &st.topicARN})
	for subs.HasMorePages() {
		page, err := subs.NextPage(ctx)
		if err != nil {
			return nil, classify("list subscriptions of topic "+st.topicARN, err)
		}
		st.subs = append(st.subs, page.Subscriptions...)
	}
	return st, nil
}

// subscription finds the topic's subscription of an alert.
func (st *alertState) subscription(a Alert) *snstypes.Subscription {
	for i, sub := range st.subs {
		if awssdk.ToString(sub.Protocol) == a.Kind && awssdk.ToString(sub.Endpoint) == a.Target {
			return &st.subs[i]
		}
	}
	return nil
}

func pending(sub *snstypes.Subscription) bool {
	arn := awssdk.ToString(sub.SubscriptionArn)
	return arn == "PendingConfirmation" || arn == "pending confirmation" || !strings.HasPrefix(arn, "arn:")
}

func snsTags(m map[string]string) []snstypes.Tag {
	var out []snstypes.Tag
	for _, k := range sortedKeys(m) {
		out = append(out, snstypes.Tag{Key: awssdk.String(k), Value: awssdk.String(m[k])})
	}
	return out
}

func eventsTags(m map[string]string) []ebtypes.Tag {
	var out []ebtypes.Tag
	for _, k := range sortedKeys(m) {
		out = append(out, ebtypes.Tag{Key: awssdk.String(k), Value: awssdk.String(m[k])})
	}
	return out
}

// changedTags are the tags of want that have is missing or different.
func changedTags(want, have map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			out[k] = v
		}
	}
	return out
}

// planAlert adds the steps that make the alert path match spec.
func (p *Plan) planAlert(ctx context.Context, cfg awssdk.Config, spec Spec) error {
	account := p.Account
	st, err := readAlert(ctx, cfg, spec, account)
	if len(spec.Alerts) == 0 {
		// Only a note, which administrators without EventBridge or SNS
		// permissions go without.
		if err == nil && (st.rule != nil || st.topic != nil) {
			p.Notes = append(p.Notes, "the alert rule or topic of "+spec.Name+" exists but no --alert was given: it is kept, and no longer checked; give the same --alert flags as before to keep checking it")
		}
		return nil
	}
	if err != nil {
		return err
	}
	eb, sc := eventsClient(cfg, spec.alertRegion()), snsClient(cfg, spec.alertRegion())
	tags := spec.Tags()
	policy := string(spec.AlertTopicPolicy(account))
	pattern := string(spec.AlertPattern(account))
	p.PolicyHashes["alert-pattern"], _ = PolicyHash([]byte(pattern))
	p.AlertRuleARN, p.AlertTopicARN = st.ruleARN, st.topicARN
	topicName, ruleName := spec.AlertTopicName(), spec.AlertRuleName()

	// The topic, which only the rule (and the account) may publish to.
	if st.topic == nil {
		all := map[string]string{TagProvisioned: p.now.Format(time.RFC3339)}
		for k, v := range tags {
			all[k] = v
		}
		p.add("create SNS topic "+topicName+" (only the alert rule may publish to it)", st.topicARN, func(ctx context.Context) error {
			_, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: &topicName, Tags: snsTags(all), Attributes: map[string]string{"Policy": policy}})
			return classify("create topic", err)
		})
	} else {
		if !samePolicy([]byte(st.topic["Policy"]), []byte(policy)) {
			p.add("set the policy of topic "+topicName+" (only the alert rule may publish to it)", st.topicARN, func(ctx context.Context) error {
				_, err := sc.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: &st.topicARN, AttributeName: awssdk.String("Policy"), AttributeValue: &policy})
				return classify("set topic policy", err)
			})
		}
		if diff := changedTags(tags, st.topicTags); len(diff) > 0 {
			p.add("tag topic "+topicName+" ("+strings.Join(sortedKeys(diff), ", ")+")", st.topicARN, func(ctx context.Context) error {
				_, err := sc.TagResource(ctx, &sns.TagResourceInput{ResourceArn: &st.topicARN, Tags: snsTags(diff)})
				return classify("tag topic", err)
			})
		}
	}
	for _, a := range spec.subscribed() {
		switch sub := st.subscription(a); {
		case sub == nil:
			a := a
			p.add("subscribe "+a.String()+" to topic "+topicName+" (SNS asks the recipient to confirm)", st.topicARN, func(ctx context.Context) error {
				_, err := sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &st.topicARN, Protocol: awssdk.String(a.Kind), Endpoint: awssdk.String(a.Target)})
				return classify("subscribe "+a.String(), err)
			})
		case pending(sub):
			p.Notes = append(p.Notes, a.String()+" has not confirmed its subscription yet: the recipient must follow the link SNS sent")
		}
	}
	for _, sub := range st.subs {
		a := Alert{Kind: awssdk.ToString(sub.Protocol), Target: awssdk.ToString(sub.Endpoint)}
		if !slices.Contains(spec.Alerts, a) {
			p.Notes = append(p.Notes, "topic "+topicName+" also alerts "+a.String()+", which no --alert names; kept (aws check warns about it)")
		}
	}

	// The rule.
	if st.rule == nil || awssdk.ToString(st.rule.EventPattern) == "" || !samePolicy([]byte(awssdk.ToString(st.rule.EventPattern)), []byte(pattern)) ||
		st.rule.State != AlertRuleState {
		do := "create EventBridge rule " + ruleName + " (every call by " + spec.UserName() + ", every AssumeRole of " + spec.RoleName() + ")"
		in := &eventbridge.PutRuleInput{Name: &ruleName, EventPattern: &pattern, State: AlertRuleState,
			Description: awssdk.String("breakglass " + spec.Name + ": any use of the break-glass user or role, owned by " + spec.Owner)}
		if st.rule == nil {
			all := map[string]string{TagProvisioned: p.now.Format(time.RFC3339)}
			for k, v := range tags {
				all[k] = v
			}
			in.Tags = eventsTags(all)
		} else {
			do = "restore the pattern and state of rule " + ruleName
		}
		p.add(do, st.ruleARN, func(ctx context.Context) error {
			_, err := eb.PutRule(ctx, in)
			return classify("put rule", err)
		})
	}
	if st.rule != nil {
		if diff := changedTags(tags, st.ruleTags); len(diff) > 0 {
			p.add("tag rule "+ruleName+" ("+strings.Join(sortedKeys(diff), ", ")+")", st.ruleARN, func(ctx context.Context) error {
				_, err := eb.TagResource(ctx, &eventbridge.TagResourceInput{ResourceARN: &st.ruleARN, Tags: eventsTags(diff)})
				return classify("tag rule", err)
			})
		}
	}
	want := spec.alertTargets(account)
	var put []ebtypes.Target
	for _, t := range want {
		if !slices.ContainsFunc(st.targets, func(have ebtypes.Target) bool { return sameTarget(have, t) }) {
			put = append(put, t)
		}
	}
	var remove []string
	for _, t := range st.targets {
		if !slices.ContainsFunc(want, func(w ebtypes.Target) bool { return awssdk.ToString(w.Id) == awssdk.ToString(t.Id) }) {
			remove = append(remove, awssdk.ToString(t.Id))
		}
	}
	if len(remove) > 0 {
		p.add("remove targets "+strings.Join(remove, ", ")+" from rule "+ruleName+" (not provisioned)", st.ruleARN, func(ctx context.Context) error {
			_, err := eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: &ruleName, Ids: remove})
			return classify("remove targets", err)
		})
	}
	if len(put) > 0 {
		var names []string
		for _, t := range put {
			names = append(names, awssdk.ToString(t.Arn))
		}
		p.add("point rule "+ruleName+" at "+strings.Join(names, ", "), st.ruleARN, func(ctx context.Context) error {
			out, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &ruleName, Targets: put})
			if err == nil && out.FailedEntryCount > 0 {
				return fmt.Errorf("aws: put targets of rule %s: %s", ruleName, awssdk.ToString(out.FailedEntries[0].ErrorMessage))
			}
			return classify("put targets", err)
		})
	}
	return nil
}

// AlertReport is the alert path as Check found it.
type AlertReport struct {
	RuleARN     string              `json:"rule_arn"`
	RuleState   string              `json:"rule_state,omitempty"` // "" when the rule is missing
	PatternHash string              `json:"pattern_sha256,omitempty"`
	TopicARN    string              `json:"topic_arn"`
	Targets     []string            `json:"targets,omitempty"` // ARNs
	Recipients  []AlertSubscription `json:"recipients"`
}

// AlertSubscription is one alert destination and its state: "confirmed",
// "pending" (not yet confirmed by the recipient), "missing", or for sns:
// alerts "target" (the rule targets the topic) or "missing".
type AlertSubscription struct {
	Alert  string `json:"alert"`
	Status string `json:"status"`
}

// checkAlert adds the alert path's findings: the rule enabled (with
// read-only events), its pattern unchanged (by hash), its targets in
// place, the topic there with a policy that lets the rule publish, every
// subscription confirmed, tags as provisioned.
func checkAlert(ctx context.Context, cfg awssdk.Config, spec Spec, account string, add func(Severity, string, string, string)) (*AlertReport, error) {
	st, err := readAlert(ctx, cfg, spec, account)
	if err != nil {
		return nil, err
	}
	const fix = "run `breakglass aws provision` with the same settings and --alert flags"
	rep := &AlertReport{RuleARN: st.ruleARN, TopicARN: st.topicARN}
	if st.rule == nil {
		add(Drift, st.ruleARN, "the alert rule does not exist: uses of the break-glass user and role go unnoticed", fix)
	} else {
		rep.RuleState = string(st.rule.State)
		rep.PatternHash, _ = PolicyHash([]byte(awssdk.ToString(st.rule.EventPattern)))
		switch st.rule.State {
		case AlertRuleState:
		case ebtypes.RuleStateDisabled:
			add(Drift, st.ruleARN, "the alert rule is disabled: uses of the break-glass user and role go unnoticed", fix)
		default:
			add(Drift, st.ruleARN, "the alert rule is "+string(st.rule.State)+", not "+string(AlertRuleState)+": read-only calls with the key go unnoticed", fix)
		}
		if !samePolicy([]byte(awssdk.ToString(st.rule.EventPattern)), spec.AlertPattern(account)) {
			add(Drift, st.ruleARN, "the alert rule's event pattern differs from the provisioned one (hash mismatch)", fix)
		}
		checkResourceTags(add, st.ruleARN, spec, st.ruleTags, fix)
		for _, t := range spec.alertTargets(account) {
			rep.Targets = append(rep.Targets, awssdk.ToString(t.Arn))
			if !slices.ContainsFunc(st.targets, func(have ebtypes.Target) bool { return sameTarget(have, t) }) {
				add(Drift, st.ruleARN, "the alert rule's target "+awssdk.ToString(t.Arn)+" is missing or changed", fix)
			}
		}
		for _, t := range st.targets {
			if !slices.ContainsFunc(spec.alertTargets(account), func(w ebtypes.Target) bool { return awssdk.ToString(w.Id) == awssdk.ToString(t.Id) }) {
				add(Drift, st.ruleARN, "the alert rule has a target breakglass did not provision: "+awssdk.ToString(t.Arn), fix+" (it removes the target)")
			}
		}
	}
	if st.topic == nil {
		add(Drift, st.topicARN, "the alert topic does not exist: alerts reach nobody", fix)
	} else {
		if !samePolicy([]byte(st.topic["Policy"]), spec.AlertTopicPolicy(account)) {
			add(Drift, st.topicARN, "the alert topic's policy differs from the provisioned one (hash mismatch): the rule may not be allowed to publish", fix)
		}
		checkResourceTags(add, st.topicARN, spec, st.topicTags, fix)
	}
	for _, a := range spec.Alerts {
		s := AlertSubscription{Alert: a.String()}
		switch sub := st.subscription(a); {
		case a.Kind == "sns":
			s.Status = "missing"
			if slices.ContainsFunc(st.targets, func(t ebtypes.Target) bool { return awssdk.ToString(t.Arn) == a.Target }) {
				s.Status = "target"
			}
		case st.topic == nil || sub == nil:
			s.Status = "missing"
			if st.topic != nil {
				add(Drift, st.topicARN, a.String()+" is not subscribed to the alert topic", fix)
			}
		case pending(sub):
			s.Status = "pending"
			add(Drift, st.topicARN, a.String()+" has not confirmed its subscription: it gets no alert until the recipient follows the link SNS sent",
				"ask the recipient to confirm; run provision again to send a new confirmation if the old one expired (after 3 days)")
		default:
			s.Status = "confirmed"
		}
		rep.Recipients = append(rep.Recipients, s)
	}
	for _, sub := range st.subs {
		a := Alert{Kind: awssdk.ToString(sub.Protocol), Target: awssdk.ToString(sub.Endpoint)}
		if !slices.Contains(spec.Alerts, a) {
			add(Warning, st.topicARN, "the alert topic also alerts "+a.String()+", which was not provisioned", "remove it (aws sns unsubscribe) unless it is meant to be there, then add it to --alert")
		}
	}
	return rep, nil
}

func checkResourceTags(add func(Severity, string, string, string), subject string, spec Spec, have map[string]string, fix string) {
	for _, k := range sortedKeys(spec.Tags()) {
		if have[k] != spec.Tags()[k] {
			add(Drift, subject, fmt.Sprintf("tag %s is %q, provisioned %q", k, have[k], spec.Tags()[k]), fix)
		}
	}
}

// AlertTest is what FireAlertTest published.
type AlertTest struct {
	Message   string
	Published []PublishedTest
}

// PublishedTest is the test message published to one topic.
type PublishedTest struct {
	TopicARN  string
	MessageID string // "" when Err is set
	Err       error
}

// FireAlertTest publishes a test message to the alert topic and to each
// sns: alert topic, as the rule would, and returns the message ids. SNS
// does not say whether a message reached its recipients: ask them (or, on
// the rehearsal server, read its delivery log).
func FireAlertTest(ctx context.Context, cfg awssdk.Config, spec Spec, now time.Time) (*AlertTest, error) {
	if len(spec.Alerts) == 0 {
		return nil, errors.New("aws: " + spec.Name + " has no alert (provision it with --alert)")
	}
	account, err := callerAccount(ctx, cfg, spec.AccountID)
	if err != nil {
		return nil, err
	}
	msg := fmt.Sprintf("breakglass %s: TEST of the alert path at %s (breakglass aws check --fire-test). No action needed; a real alert names the call, the key and the operator.",
		spec.Name, now.UTC().Format(time.RFC3339))
	res := &AlertTest{Message: msg}
	topics := []string{spec.AlertTopicARN(account)}
	for _, a := range spec.Alerts {
		if a.Kind == "sns" {
			topics = append(topics, a.Target)
		}
	}
	for _, t := range topics {
		region := spec.alertRegion()
		if a, err := arn.Parse(t); err == nil {
			region = a.Region
		}
		out, err := snsClient(cfg, region).Publish(ctx, &sns.PublishInput{TopicArn: awssdk.String(t), Subject: awssdk.String("breakglass " + spec.Name + ": alert test"), Message: &msg})
		pt := PublishedTest{TopicARN: t}
		if err != nil {
			pt.Err = classify("publish to "+t, err)
		} else {
			pt.MessageID = awssdk.ToString(out.MessageId)
		}
		res.Published = append(res.Published, pt)
	}
	return res, nil
}
