package aws_test

import (
	"net/http"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	bgaws "github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/aws/awstest"
)

func mustAlert(t *testing.T, s string) bgaws.Alert {
	t.Helper()
	a, err := bgaws.ParseAlert(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// confirmAll follows every confirmation link the server delivered.
func confirmAll(t *testing.T, srv *awstest.Server) {
	t.Helper()
	for _, d := range srv.Deliveries() {
		if d.Type == "SubscriptionConfirmation" {
			resp, err := http.Get(d.SubscribeURL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
	}
}

func notificationsTo(srv *awstest.Server, endpoint string) []awstest.Delivery {
	var out []awstest.Delivery
	for _, d := range srv.Deliveries() {
		if d.Type == "Notification" && d.Endpoint == endpoint {
			out = append(out, d)
		}
	}
	return out
}

func findings(r *bgaws.CheckReport) string {
	var b strings.Builder
	for _, f := range r.Findings {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

func TestAlerts(t *testing.T) {
	srv := newServer(t)
	admin := adminConfig(srv)
	sc := sns.NewFromConfig(admin)
	// The organisation's own security topic, which lets EventBridge
	// publish, with a queue subscribed.
	org := *mustDo(t)(sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: awssdk.String("org-security"), Attributes: map[string]string{
		"Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sns:Publish","Resource":"*"}]}`}})).(*sns.CreateTopicOutput).TopicArn
	mustDo(t)(sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &org, Protocol: awssdk.String("sqs"), Endpoint: awssdk.String("arn:aws:sqs:us-east-1:123456789012:soc")}))

	s := spec(srv)
	s.Alerts = []bgaws.Alert{mustAlert(t, "email:oncall@example.com"), mustAlert(t, "https:https://hooks.example.com/bg"), mustAlert(t, "sns:"+org)}
	plan, err := bgaws.PlanProvision(ctx, admin, s)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, st := range plan.Steps {
		steps = append(steps, st.Do)
	}
	all := strings.Join(steps, "\n")
	for _, want := range []string{"create SNS topic breakglass-prod-alerts", "subscribe email:oncall@example.com", "subscribe https:https://hooks.example.com/bg",
		"create EventBridge rule breakglass-prod-alert", "point rule breakglass-prod-alert at arn:aws:sns:us-east-1:123456789012:breakglass-prod-alerts, " + org} {
		if !strings.Contains(all, want) {
			t.Errorf("plan lacks %q:\n%s", want, all)
		}
	}
	if strings.Index(all, "create EventBridge rule") > strings.Index(all, "create an access key") {
		t.Errorf("the key comes before the alert:\n%s", all)
	}
	res, err := plan.Apply(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := res.AccessKey
	if res.AlertRuleARN != "arn:aws:events:us-east-1:123456789012:rule/breakglass-prod-alert" || len(res.PolicyHashes["alert-pattern"]) != 64 {
		t.Errorf("plan: %s %v", res.AlertRuleARN, res.PolicyHashes)
	}

	// Until the recipients confirm, check says so.
	rep, err := bgaws.Check(ctx, admin, s, key.AccessKeyID, bgaws.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f := findings(rep); strings.Count(f, "has not confirmed its subscription") != 2 || strings.Count(f, "drift") != 2 {
		t.Errorf("before confirmation:\n%s", f)
	}
	confirmAll(t, srv)
	rep, err = bgaws.Check(ctx, admin, s, key.AccessKeyID, bgaws.CheckOptions{})
	if err != nil || len(rep.Findings) != 0 {
		t.Fatalf("after confirmation: %v\n%s", err, findings(rep))
	}
	if a := rep.Alert; a == nil || a.RuleState != "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" || a.PatternHash != res.PolicyHashes["alert-pattern"] ||
		len(a.Recipients) != 3 || a.Recipients[0].Status != "confirmed" || a.Recipients[2].Status != "target" {
		t.Errorf("alert report %+v", rep.Alert)
	}
	// Idempotent.
	if again, err := bgaws.PlanProvision(ctx, admin, s); err != nil || len(again.Steps) != 0 {
		t.Errorf("second plan: %v %v", err, again.Steps)
	}

	// A session is loud: the operator, the key, the session's key.
	sess, err := bgaws.Session(ctx, *key, request(srv, s, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	mail := notificationsTo(srv, "oncall@example.com")
	if len(mail) != 1 || len(notificationsTo(srv, "https://hooks.example.com/bg")) != 1 || len(notificationsTo(srv, "arn:aws:sqs:us-east-1:123456789012:soc")) != 1 {
		t.Fatalf("alerts after a session: %+v", srv.Deliveries())
	}
	for _, want := range []string{"breakglass prod: AssumeRole at ", "by arn:aws:iam::123456789012:user/breakglass/breakglass-prod", "with key " + key.AccessKeyID,
		"source identity (operator) alice", "new session key " + sess.AccessKeyID, "#/events?AccessKeyId=" + sess.AccessKeyID} {
		if !strings.Contains(mail[0].Message, want) {
			t.Errorf("the alert lacks %q: %s", want, mail[0].Message)
		}
	}

	// The test message reaches every recipient.
	test, err := bgaws.FireAlertTest(ctx, admin, s, srv.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(test.Published) != 2 || test.Published[0].MessageID == "" || test.Published[1].TopicARN != org || test.Published[1].Err != nil {
		t.Fatalf("FireAlertTest %+v", test)
	}
	if m := notificationsTo(srv, "oncall@example.com"); len(m) != 2 || m[1].MessageID != test.Published[0].MessageID || !strings.Contains(m[1].Message, "TEST of the alert path") {
		t.Errorf("test message: %+v", m)
	}

	// Drift: each way the path can break, then provision repairs all.
	eb := eventbridge.NewFromConfig(admin)
	mustDo(t)(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: awssdk.String("breakglass-prod-alert"), State: ebtypes.RuleStateDisabled,
		EventPattern: awssdk.String(`{"source":["aws.sts"]}`)}))
	mustDo(t)(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: awssdk.String("breakglass-prod-alert"), Targets: []ebtypes.Target{{Id: awssdk.String("x"), Arn: awssdk.String("arn:aws:sns:us-east-1:123456789012:elsewhere")}}}))
	mustDo(t)(eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: awssdk.String("breakglass-prod-alert"), Ids: []string{"breakglass-alert-topic"}}))
	topic := "arn:aws:sns:us-east-1:123456789012:breakglass-prod-alerts"
	mustDo(t)(sc.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: &topic, AttributeName: awssdk.String("Policy"), AttributeValue: awssdk.String(`{"Version":"2012-10-17","Statement":[]}`)}))
	mustDo(t)(sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &topic, Protocol: awssdk.String("sqs"), Endpoint: awssdk.String("arn:aws:sqs:us-east-1:123456789012:x")}))
	rep, err = bgaws.Check(ctx, admin, s, key.AccessKeyID, bgaws.CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f := findings(rep)
	for _, want := range []string{"the alert rule is disabled", "event pattern differs", "target arn:aws:sns:us-east-1:123456789012:breakglass-prod-alerts is missing",
		"a target breakglass did not provision: arn:aws:sns:us-east-1:123456789012:elsewhere", "the alert topic's policy differs", "warning: " + topic + ": the alert topic also alerts sqs:"} {
		if !strings.Contains(f, want) {
			t.Errorf("check lacks %q:\n%s", want, f)
		}
	}
	if _, err := bgaws.Provision(ctx, admin, s); err != nil {
		t.Fatal(err)
	}
	rep, err = bgaws.Check(ctx, admin, s, key.AccessKeyID, bgaws.CheckOptions{})
	if err != nil || rep.Drifted() {
		t.Errorf("after provision: %v\n%s", err, findings(rep))
	}
	// Without --alert, provision leaves the path alone and says so.
	s2 := s
	s2.Alerts = nil
	if p, err := bgaws.PlanProvision(ctx, admin, s2); err != nil || !strings.Contains(strings.Join(p.Notes, "\n"), "no --alert was given") {
		t.Errorf("without alerts: %v %v", err, p.Notes)
	}
	// The rule deleted: check says uses go unnoticed.
	mustDo(t)(eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: awssdk.String("breakglass-prod-alert"), Ids: []string{"breakglass-alert-topic", "breakglass-alert-sns-1"}}))
	mustDo(t)(eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: awssdk.String("breakglass-prod-alert")}))
	rep, err = bgaws.Check(ctx, admin, s, key.AccessKeyID, bgaws.CheckOptions{})
	if err != nil || !strings.Contains(findings(rep), "the alert rule does not exist") {
		t.Errorf("without the rule: %v\n%s", err, findings(rep))
	}
}

func TestParseAlert(t *testing.T) {
	for in, want := range map[string]string{
		"email:oncall@example.com":                   "email:oncall@example.com",
		"https:https://hooks.example.com/":           "https:https://hooks.example.com/",
		"https://hooks.example.com/x?y=1":            "https:https://hooks.example.com/x?y=1",
		"sns:arn:aws:sns:eu-west-1:123456789012:sec": "sns:arn:aws:sns:eu-west-1:123456789012:sec",
	} {
		if a, err := bgaws.ParseAlert(in); err != nil || a.String() != want {
			t.Errorf("ParseAlert(%q) = %v, %v", in, a, err)
		}
	}
	for _, in := range []string{"", "email:", "email:Bob <bob@example.com>", "email:nobody", "https:http://x.example.com/", "http:https://x/",
		"sns:arn:aws:sqs:us-east-1:123456789012:q", "sns:topic", "sms:+15555550100", "oncall@example.com"} {
		if _, err := bgaws.ParseAlert(in); err == nil {
			t.Errorf("ParseAlert accepted %q", in)
		}
	}
	srv := newServer(t)
	s := spec(srv)
	s.Alerts = []bgaws.Alert{mustAlert(t, "email:a@example.com"), mustAlert(t, "email:a@example.com")}
	if err := s.Validate(); err == nil {
		t.Error("Validate accepted an alert twice")
	}
	s.Alerts = s.Alerts[:1]
	s.Name = strings.Repeat("n", 48)
	if err := s.Validate(); err == nil {
		t.Error("Validate accepted a rule name over 64 characters")
	}
	s.Name, s.AlertRegion = "prod", "mars"
	if err := s.Validate(); err == nil {
		t.Error("Validate accepted region mars")
	}
}
