package awstest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func snsAs(srv *Server, c Credentials) *sns.Client { return sns.NewFromConfig(sdkConfig(srv, c)) }
func eventsAs(srv *Server, c Credentials) *eventbridge.Client {
	return eventbridge.NewFromConfig(sdkConfig(srv, c))
}
func trailAs(srv *Server, c Credentials) *cloudtrail.Client {
	return cloudtrail.NewFromConfig(sdkConfig(srv, c))
}

// presign builds a presigned STS GET request with the SDK's own signer.
func presign(t *testing.T, srv *Server, key Credentials, q url.Values, expires string, at time.Time) string {
	t.Helper()
	if expires != "" {
		q.Set("X-Amz-Expires", expires)
	}
	req, err := http.NewRequest(http.MethodGet, srv.URL()+"/?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	u, _, err := v4.NewSigner().PresignHTTP(ctx, awssdk.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey, SessionToken: key.SessionToken},
		req, hex.EncodeToString(sum[:]), "sts", "us-east-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func get(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestPresignedRequests(t *testing.T) {
	srv := newServer(t)
	key, roleARN := account(t, srv, 3600)
	assumeRole := func() url.Values {
		return url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {roleARN},
			"RoleSessionName": {"alice"}, "SourceIdentity": {"alice"}, "DurationSeconds": {"900"}}
	}
	u := presign(t, srv, key, assumeRole(), "300", time.Now())
	if strings.Contains(u, key.SecretAccessKey) {
		t.Fatal("the presigned URL holds the secret")
	}
	status, body := get(t, u)
	var ok struct {
		Result struct {
			Credentials    struct{ AccessKeyId, SessionToken string }
			SourceIdentity string
		} `xml:"AssumeRoleResult"`
	}
	if err := xml.Unmarshal(body, &ok); status != 200 || err != nil || !strings.HasPrefix(ok.Result.Credentials.AccessKeyId, "ASIA") || ok.Result.SourceIdentity != "alice" {
		t.Fatalf("presigned AssumeRole: %d %s", status, body)
	}
	// As in AWS, a presigned request can be replayed until it expires:
	// each use is another session.
	status, body = get(t, u)
	var again struct {
		Result struct{ Credentials struct{ AccessKeyId string } } `xml:"AssumeRoleResult"`
	}
	if xml.Unmarshal(body, &again); status != 200 || again.Result.Credentials.AccessKeyId == ok.Result.Credentials.AccessKeyId {
		t.Fatalf("replay: %d %s", status, body)
	}

	// Altered: any parameter changed after signing.
	for from, to := range map[string]string{"DurationSeconds=900": "DurationSeconds=3600", "SourceIdentity=alice": "SourceIdentity=mallory", "X-Amz-Expires=300": "X-Amz-Expires=3000"} {
		status, body = get(t, strings.Replace(u, from, to, 1))
		if status != 403 || !bytes.Contains(body, []byte("<Code>SignatureDoesNotMatch</Code>")) {
			t.Errorf("altered %s: %d %s", from, status, body)
		}
	}
	// Expired: X-Amz-Date plus X-Amz-Expires is past.
	srv.AdvanceSigningClock(301 * time.Second)
	status, body = get(t, u)
	if status != 403 || !bytes.Contains(body, []byte("Signature expired")) || !bytes.Contains(body, []byte("X-Amz-Expires")) {
		t.Errorf("expired: %d %s", status, body)
	}
	srv.AdvanceSigningClock(-301 * time.Second)
	// Signed for later than the clock allows.
	status, body = get(t, presign(t, srv, key, assumeRole(), "300", time.Now().Add(20*time.Minute)))
	if status != 403 || !bytes.Contains(body, []byte("Signature not yet current")) {
		t.Errorf("future: %d %s", status, body)
	}
	// X-Amz-Expires is required, and bounded.
	for _, exp := range []string{"", "0", "604801", "1e3"} {
		status, body = get(t, presign(t, srv, key, assumeRole(), exp, time.Now()))
		if status != 400 || !bytes.Contains(body, []byte("IncompleteSignature")) {
			t.Errorf("X-Amz-Expires %q: %d %s", exp, status, body)
		}
	}
	// A deleted key's presigned requests die with it.
	admin := iamAs(srv, srv.AdminCredentials())
	must[*iam.DeleteAccessKeyOutput](t)(admin.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: awssdk.String("bg"), AccessKeyId: &key.AccessKeyID}))
	status, body = get(t, u)
	if status != 403 || !bytes.Contains(body, []byte("InvalidClientTokenId")) {
		t.Errorf("deleted key: %d %s", status, body)
	}
}

func TestSNS(t *testing.T) {
	srv := newServer(t)
	admin := snsAs(srv, srv.AdminCredentials())
	tags := []snstypes.Tag{{Key: awssdk.String("breakglass:name"), Value: awssdk.String("prod")}}
	top := must[*sns.CreateTopicOutput](t)(admin.CreateTopic(ctx, &sns.CreateTopicInput{Name: awssdk.String("alerts"), Tags: tags}))
	arn := *top.TopicArn
	if arn != "arn:aws:sns:us-east-1:123456789012:alerts" {
		t.Fatalf("topic ARN %s", arn)
	}
	// Idempotent, unless the tags differ.
	again := must[*sns.CreateTopicOutput](t)(admin.CreateTopic(ctx, &sns.CreateTopicInput{Name: awssdk.String("alerts"), Tags: tags}))
	if *again.TopicArn != arn {
		t.Errorf("CreateTopic again: %s", *again.TopicArn)
	}
	_, err := admin.CreateTopic(ctx, &sns.CreateTopicInput{Name: awssdk.String("alerts"), Tags: []snstypes.Tag{{Key: awssdk.String("x"), Value: awssdk.String("y")}}})
	wantCode(t, err, "InvalidParameter")
	_, err = admin.CreateTopic(ctx, &sns.CreateTopicInput{Name: awssdk.String("bad name")})
	wantCode(t, err, "InvalidParameter")
	lt := must[*sns.ListTagsForResourceOutput](t)(admin.ListTagsForResource(ctx, &sns.ListTagsForResourceInput{ResourceArn: &arn}))
	if len(lt.Tags) != 1 || *lt.Tags[0].Key != "breakglass:name" {
		t.Errorf("tags %+v", lt.Tags)
	}
	must[*sns.TagResourceOutput](t)(admin.TagResource(ctx, &sns.TagResourceInput{ResourceArn: &arn, Tags: []snstypes.Tag{{Key: awssdk.String("owner"), Value: awssdk.String("sre")}}}))
	lt = must[*sns.ListTagsForResourceOutput](t)(admin.ListTagsForResource(ctx, &sns.ListTagsForResourceInput{ResourceArn: &arn}))
	if len(lt.Tags) != 2 {
		t.Errorf("tags after TagResource %+v", lt.Tags)
	}

	// An email subscription waits for its confirmation.
	sub := must[*sns.SubscribeOutput](t)(admin.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &arn, Protocol: awssdk.String("email"), Endpoint: awssdk.String("oncall@example.com")}))
	if *sub.SubscriptionArn != "pending confirmation" {
		t.Errorf("Subscribe = %s", *sub.SubscriptionArn)
	}
	_, err = admin.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &arn, Protocol: awssdk.String("https"), Endpoint: awssdk.String("http://example.com/")})
	wantCode(t, err, "InvalidParameter")
	subs := must[*sns.ListSubscriptionsByTopicOutput](t)(admin.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: &arn}))
	if len(subs.Subscriptions) != 1 || *subs.Subscriptions[0].SubscriptionArn != "PendingConfirmation" || *subs.Subscriptions[0].Endpoint != "oncall@example.com" {
		t.Fatalf("subscriptions %+v", subs.Subscriptions)
	}
	// Nothing reaches a pending subscription.
	must[*sns.PublishOutput](t)(admin.Publish(ctx, &sns.PublishInput{TopicArn: &arn, Message: awssdk.String("before")}))
	ds := srv.Deliveries()
	if len(ds) != 1 || ds[0].Type != "SubscriptionConfirmation" || ds[0].SubscribeURL == "" {
		t.Fatalf("deliveries %+v", ds)
	}
	if status, body := get(t, ds[0].SubscribeURL); status != 200 || !bytes.Contains(body, []byte("<SubscriptionArn>"+arn+":")) {
		t.Fatalf("SubscribeURL: %d %s", status, body)
	}
	subs = must[*sns.ListSubscriptionsByTopicOutput](t)(admin.ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: &arn}))
	if !strings.HasPrefix(*subs.Subscriptions[0].SubscriptionArn, arn+":") {
		t.Errorf("after confirmation: %+v", subs.Subscriptions[0])
	}
	attrs := must[*sns.GetTopicAttributesOutput](t)(admin.GetTopicAttributes(ctx, &sns.GetTopicAttributesInput{TopicArn: &arn}))
	if attrs.Attributes["SubscriptionsConfirmed"] != "1" || attrs.Attributes["SubscriptionsPending"] != "0" || !strings.Contains(attrs.Attributes["Policy"], "__default_policy_ID") {
		t.Errorf("attributes %v", attrs.Attributes)
	}
	pub := must[*sns.PublishOutput](t)(admin.Publish(ctx, &sns.PublishInput{TopicArn: &arn, Subject: awssdk.String("test"), Message: awssdk.String("hello")}))
	ds = srv.Deliveries()
	if last := ds[len(ds)-1]; last.Type != "Notification" || last.MessageID != *pub.MessageId || last.Message != "hello" || last.Endpoint != "oncall@example.com" {
		t.Errorf("notification %+v", last)
	}
	// The rehearsal view of the same.
	status, body := get(t, srv.URL()+"/_awstest/deliveries?messageId="+*pub.MessageId)
	if status != 200 || !bytes.Contains(body, []byte(`"message":"hello"`)) {
		t.Errorf("/_awstest/deliveries: %d %s", status, body)
	}
	if got, err := FetchDeliveries(ctx, srv.URL(), *pub.MessageId); err != nil || len(got) != 1 || got[0].Message != "hello" {
		t.Errorf("FetchDeliveries = %+v, %v", got, err)
	}
	if _, err := FetchDeliveries(ctx, srv.URL()+"/federation", "x"); !errors.Is(err, ErrNotRehearsal) {
		t.Errorf("FetchDeliveries elsewhere: %v", err)
	}

	_, err = admin.Publish(ctx, &sns.PublishInput{TopicArn: awssdk.String("arn:aws:sns:us-east-1:123456789012:ghost"), Message: awssdk.String("x")})
	wantCode(t, err, "NotFound")
	_, err = admin.Publish(ctx, &sns.PublishInput{TopicArn: &arn, Message: awssdk.String("")})
	wantCode(t, err, "InvalidParameter")
	// A user without SNS permissions.
	key, _ := account(t, srv, 3600)
	_, err = snsAs(srv, key).Publish(ctx, &sns.PublishInput{TopicArn: &arn, Message: awssdk.String("x")})
	wantCode(t, err, "AuthorizationError")
}

const ruleName = "breakglass-bg-alert"

// alertPath provisions what an alert needs: a topic EventBridge may
// publish to, with a confirmed email subscription, and a rule on the
// user's calls and on AssumeRole of the role.
func alertPath(t *testing.T, srv *Server, userARN, roleARN, state string) (eb *eventbridge.Client, topicARN string) {
	t.Helper()
	admin := srv.AdminCredentials()
	sc := snsAs(srv, admin)
	topicARN = *must[*sns.CreateTopicOutput](t)(sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: awssdk.String("bg-alerts"), Attributes: map[string]string{
		"Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"sns:Publish","Resource":"arn:aws:sns:us-east-1:123456789012:bg-alerts"}]}`,
	}})).TopicArn
	must[*sns.SubscribeOutput](t)(sc.Subscribe(ctx, &sns.SubscribeInput{TopicArn: &topicARN, Protocol: awssdk.String("email"), Endpoint: awssdk.String("oncall@example.com")}))
	for _, d := range srv.Deliveries() {
		if d.Type == "SubscriptionConfirmation" {
			get(t, d.SubscribeURL)
		}
	}
	eb = eventsAs(srv, admin)
	pattern := `{"detail-type":["AWS API Call via CloudTrail"],"$or":[` +
		`{"detail":{"userIdentity":{"arn":["` + userARN + `"]}}},` +
		`{"detail":{"eventName":["AssumeRole"],"requestParameters":{"roleArn":["` + roleARN + `"]}}}]}`
	must[*eventbridge.PutRuleOutput](t)(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: awssdk.String(ruleName), EventPattern: &pattern, State: ebtypes.RuleState(state)}))
	must[*eventbridge.PutTargetsOutput](t)(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: awssdk.String(ruleName), Targets: []ebtypes.Target{{
		Id: awssdk.String("topic"), Arn: &topicARN,
		InputTransformer: &ebtypes.InputTransformer{
			InputPathsMap: map[string]string{"call": "$.detail.eventName", "by": "$.detail.userIdentity.arn", "as": "$.detail.requestParameters.sourceIdentity", "key": "$.detail.userIdentity.accessKeyId"},
			InputTemplate: awssdk.String(`"<call> by <by> with <key> as <as>"`),
		},
	}}}))
	return eb, topicARN
}

func TestEventBridge(t *testing.T) {
	srv := newServer(t)
	eb := eventsAs(srv, srv.AdminCredentials())
	_, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: awssdk.String("ghost")})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: awssdk.String("r")})
	wantCode(t, err, "ValidationException")
	for _, bad := range []string{`[]`, `{"source":"aws.iam"}`, `{"source":[]}`, `{"n":[{"numeric":[">",1]}]}`, `{"$or":[{"a":["b"]}]}`} {
		_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: awssdk.String("r"), EventPattern: awssdk.String(bad)})
		wantCode(t, err, "InvalidEventPatternException")
	}
	pattern := `{"source":["aws.sts"]}`
	out := must[*eventbridge.PutRuleOutput](t)(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: awssdk.String("r"), EventPattern: &pattern,
		Description: awssdk.String("d"), Tags: []ebtypes.Tag{{Key: awssdk.String("k"), Value: awssdk.String("v")}}}))
	if *out.RuleArn != "arn:aws:events:us-east-1:123456789012:rule/r" {
		t.Errorf("RuleArn %s", *out.RuleArn)
	}
	d := must[*eventbridge.DescribeRuleOutput](t)(eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: awssdk.String("r")}))
	if *d.EventPattern != pattern || d.State != ebtypes.RuleStateEnabled || *d.Arn != *out.RuleArn || *d.EventBusName != "default" {
		t.Errorf("DescribeRule %+v", d)
	}
	tags := must[*eventbridge.ListTagsForResourceOutput](t)(eb.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: out.RuleArn}))
	if len(tags.Tags) != 1 || *tags.Tags[0].Key != "k" {
		t.Errorf("tags %+v", tags.Tags)
	}
	_, err = eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: awssdk.String("ghost"), Targets: []ebtypes.Target{{Id: awssdk.String("a"), Arn: awssdk.String("arn:aws:sns:us-east-1:123456789012:t")}}})
	wantCode(t, err, "ResourceNotFoundException")
	_, err = eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: awssdk.String("r"), Targets: []ebtypes.Target{{Id: awssdk.String("a"), Arn: awssdk.String("arn:x"), Input: awssdk.String("{}"), InputPath: awssdk.String("$.detail")}}})
	wantCode(t, err, "ValidationException")
	var six []ebtypes.Target
	for _, id := range []string{"a", "b", "c", "d", "e", "f"} {
		six = append(six, ebtypes.Target{Id: awssdk.String(id), Arn: awssdk.String("arn:aws:sns:us-east-1:123456789012:" + id)})
	}
	_, err = eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: awssdk.String("r"), Targets: six})
	wantCode(t, err, "LimitExceededException")
	must[*eventbridge.PutTargetsOutput](t)(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: awssdk.String("r"), Targets: six[:2]}))
	lt := must[*eventbridge.ListTargetsByRuleOutput](t)(eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: awssdk.String("r")}))
	if len(lt.Targets) != 2 || *lt.Targets[1].Arn != "arn:aws:sns:us-east-1:123456789012:b" {
		t.Errorf("targets %+v", lt.Targets)
	}
	_, err = eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: awssdk.String("r")})
	wantCode(t, err, "ValidationException")
	rm := must[*eventbridge.RemoveTargetsOutput](t)(eb.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: awssdk.String("r"), Ids: []string{"a", "b", "z"}}))
	if rm.FailedEntryCount != 1 || *rm.FailedEntries[0].TargetId != "z" {
		t.Errorf("RemoveTargets %+v", rm)
	}
	must[*eventbridge.DeleteRuleOutput](t)(eb.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: awssdk.String("r")}))
	_, err = eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: awssdk.String("r")})
	wantCode(t, err, "ResourceNotFoundException")

	// Errors of the signature, as the JSON services name them.
	bad := srv.AdminCredentials()
	bad.SecretAccessKey = strings.Repeat("x", 40)
	_, err = eventsAs(srv, bad).DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: awssdk.String("r")})
	wantCode(t, err, "InvalidSignatureException")
	_, err = eventsAs(srv, Credentials{AccessKeyID: "AKIAAAAAAAAAAAAAAAAA", SecretAccessKey: bad.SecretAccessKey}).DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: awssdk.String("r")})
	wantCode(t, err, "UnrecognizedClientException")
	key, _ := account(t, srv, 3600)
	_, err = eventsAs(srv, key).DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: awssdk.String("r")})
	wantCode(t, err, "AccessDeniedException")
}

func TestRulesFire(t *testing.T) {
	srv := newServer(t)
	key, roleARN := account(t, srv, 3600)
	userARN := "arn:aws:iam::123456789012:user/breakglass/bg"
	eb, topicARN := alertPath(t, srv, userARN, roleARN, "ENABLED")
	notifications := func() []Delivery {
		var out []Delivery
		for _, d := range srv.Deliveries() {
			if d.Type == "Notification" {
				out = append(out, d)
			}
		}
		return out
	}

	// The user's AssumeRole fires the alert, naming the operator.
	assume(t, srv, key, roleARN, 900)
	n := notifications()
	if len(n) != 1 || n[0].TopicARN != topicARN || n[0].Rule != "arn:aws:events:us-east-1:123456789012:rule/"+ruleName {
		t.Fatalf("after AssumeRole: %+v", n)
	}
	if want := `"AssumeRole by ` + userARN + ` with ` + key.AccessKeyID + ` as alice"`; n[0].Message != want {
		t.Errorf("alert message %s, want %s", n[0].Message, want)
	}
	// A read-only call reaches only a rule that asks for read-only
	// management events.
	must[*sts.GetCallerIdentityOutput](t)(stsAs(srv, key).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if len(notifications()) != 1 {
		t.Errorf("a read-only call fired an ENABLED rule")
	}
	must[*eventbridge.PutRuleOutput](t)(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: awssdk.String(ruleName), State: ebtypes.RuleStateEnabledWithAllCloudtrailManagementEvents,
		EventPattern: must[*eventbridge.DescribeRuleOutput](t)(eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: awssdk.String(ruleName)})).EventPattern}))
	must[*sts.GetCallerIdentityOutput](t)(stsAs(srv, key).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}))
	if n := notifications(); len(n) != 2 || !strings.HasPrefix(n[1].Message, `"GetCallerIdentity by `+userARN) {
		t.Errorf("read-only call with ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS: %+v", n)
	}
	// Other principals' calls do not match.
	must[*iam.ListUsersOutput](t)(iamAs(srv, srv.AdminCredentials()).ListUsers(ctx, &iam.ListUsersInput{}))
	if len(notifications()) != 2 {
		t.Errorf("an admin call fired the rule")
	}
	// A topic whose policy does not let EventBridge publish: the rule
	// fires, the invocation fails, nobody hears.
	sc := snsAs(srv, srv.AdminCredentials())
	must[*sns.SetTopicAttributesOutput](t)(sc.SetTopicAttributes(ctx, &sns.SetTopicAttributesInput{TopicArn: &topicARN, AttributeName: awssdk.String("Policy"),
		AttributeValue: awssdk.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sns:Publish","Resource":"*"}]}`)}))
	assume(t, srv, key, roleARN, 900)
	if inv, failed := srv.RuleInvocations("us-east-1", ruleName); len(notifications()) != 2 || inv != 3 || failed != 1 {
		t.Errorf("without the topic policy: %d notifications, %d invocations, %d failed", len(notifications()), inv, failed)
	}
	// A disabled rule does not fire.
	must[*eventbridge.PutRuleOutput](t)(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: awssdk.String(ruleName), State: ebtypes.RuleStateDisabled, EventPattern: awssdk.String(`{"source":["aws.sts"]}`)}))
	assume(t, srv, key, roleARN, 900)
	if inv, _ := srv.RuleInvocations("us-east-1", ruleName); inv != 3 {
		t.Errorf("disabled rule fired: %d", inv)
	}
}

func TestPatterns(t *testing.T) {
	event := map[string]any{}
	json.Unmarshal([]byte(`{"source":"aws.sts","detail":{"eventName":"AssumeRole","userIdentity":{"arn":"arn:aws:iam::1:user/bg","type":"IAMUser"},"requestParameters":{"roleArn":"arn:aws:iam::1:role/r"},"tags":["a","b"],"n":5}}`), &event)
	tests := []struct {
		pattern string
		want    bool
	}{
		{`{"source":["aws.sts"]}`, true},
		{`{"source":["aws.iam"]}`, false},
		{`{"source":["aws.iam","aws.sts"]}`, true},
		{`{"detail":{"eventName":["AssumeRole"]}}`, true},
		{`{"detail":{"eventName":[{"prefix":"Assume"}]}}`, true},
		{`{"detail":{"eventName":[{"suffix":"Role"}]}}`, true},
		{`{"detail":{"eventName":[{"anything-but":"AssumeRole"}]}}`, false},
		{`{"detail":{"eventName":[{"anything-but":["GetUser"]}]}}`, true},
		{`{"detail":{"errorCode":[{"exists":false}]}}`, true},
		{`{"detail":{"errorCode":[{"exists":true}]}}`, false},
		{`{"detail":{"errorCode":["x"]}}`, false},
		{`{"detail":{"userIdentity":{"type":[{"equals-ignore-case":"iamuser"}]}}}`, true},
		{`{"detail":{"userIdentity":{"arn":[{"wildcard":"arn:aws:iam::1:user/*"}]}}}`, true},
		{`{"detail":{"tags":["b"]}}`, true},
		{`{"detail":{"n":[5]}}`, true},
		{`{"detail":{"n":["5"]}}`, false},
		{`{"detail":{"missing":{"x":["y"]}}}`, false},
		{`{"$or":[{"source":["aws.iam"]},{"detail":{"eventName":["AssumeRole"]}}]}`, true},
		{`{"$or":[{"source":["aws.iam"]},{"detail":{"eventName":["GetUser"]}}]}`, false},
		{`{"source":["aws.sts"],"$or":[{"source":["aws.iam"]},{"detail":{"n":[5]}}]}`, true},
	}
	for _, tt := range tests {
		p, err := parsePattern(tt.pattern)
		if err != nil {
			t.Errorf("%s: %v", tt.pattern, err)
			continue
		}
		if got := p.matches(event); got != tt.want {
			t.Errorf("%s matches = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

func TestCloudTrail(t *testing.T) {
	srv := newServer(t)
	key, roleARN := account(t, srv, 3600)
	sess := assume(t, srv, key, roleARN, 900)
	must[*iam.ListUsersOutput](t)(iamAs(srv, sess).ListUsers(ctx, &iam.ListUsersInput{}))
	_, err := iamAs(srv, sess).DeleteUser(ctx, &iam.DeleteUserInput{UserName: awssdk.String("ghost")})
	wantCode(t, err, "NoSuchEntity")

	ct := trailAs(srv, srv.AdminCredentials())
	lookup := func(key cttypes.LookupAttributeKey, value string) []cttypes.Event {
		t.Helper()
		var out []cttypes.Event
		in := &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: key, AttributeValue: &value}}, MaxResults: awssdk.Int32(1)}
		p := cloudtrail.NewLookupEventsPaginator(ct, in)
		for p.HasMorePages() {
			page := must[*cloudtrail.LookupEventsOutput](t)(p.NextPage(ctx))
			out = append(out, page.Events...)
		}
		return out
	}
	type record struct {
		UserIdentity struct {
			Type, Arn, AccessKeyId, UserName string
			SessionContext                   struct {
				SourceIdentity string
				SessionIssuer  struct{ Arn string }
			}
		}
		EventName, ErrorCode string
		RequestParameters    struct {
			SourceIdentity, RoleArn string
			DurationSeconds         int
		}
		ResponseElements struct {
			Credentials    struct{ AccessKeyId, Expiration string }
			SourceIdentity string
		}
		ReadOnly bool
	}
	decode := func(e cttypes.Event) record {
		var r record
		if err := json.Unmarshal([]byte(*e.CloudTrailEvent), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}

	// The long-term key: one AssumeRole, which names the operator and the
	// session's key.
	byKey := lookup(cttypes.LookupAttributeKeyAccessKeyId, key.AccessKeyID)
	if len(byKey) != 1 || *byKey[0].EventName != "AssumeRole" || *byKey[0].Username != "bg" || *byKey[0].ReadOnly != "false" {
		t.Fatalf("events of the long-term key: %+v", byKey)
	}
	r := decode(byKey[0])
	if r.UserIdentity.Type != "IAMUser" || r.UserIdentity.AccessKeyId != key.AccessKeyID || r.RequestParameters.SourceIdentity != "alice" ||
		r.RequestParameters.RoleArn != roleARN || r.RequestParameters.DurationSeconds != 900 ||
		r.ResponseElements.Credentials.AccessKeyId != sess.AccessKeyID || r.ResponseElements.SourceIdentity != "alice" {
		t.Errorf("AssumeRole record %+v", r)
	}
	// The session: its calls carry the source identity, failures too.
	bySession := lookup(cttypes.LookupAttributeKeyAccessKeyId, sess.AccessKeyID)
	if len(bySession) != 2 || *bySession[0].EventName != "DeleteUser" || *bySession[1].EventName != "ListUsers" {
		t.Fatalf("events of the session (newest first): %+v", bySession)
	}
	r = decode(bySession[0])
	if r.UserIdentity.Type != "AssumedRole" || r.UserIdentity.SessionContext.SourceIdentity != "alice" ||
		r.UserIdentity.SessionContext.SessionIssuer.Arn != roleARN || r.ErrorCode != "NoSuchEntity" {
		t.Errorf("session record %+v", r)
	}
	if got := lookup(cttypes.LookupAttributeKeyUsername, "alice"); len(got) != 2 {
		t.Errorf("by user name alice: %d events", len(got))
	}
	if got := lookup(cttypes.LookupAttributeKeyResourceName, roleARN); len(got) != 1 || *got[0].EventName != "AssumeRole" {
		t.Errorf("by role: %+v", got)
	}

	_, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{
		{AttributeKey: cttypes.LookupAttributeKeyUsername, AttributeValue: awssdk.String("a")},
		{AttributeKey: cttypes.LookupAttributeKeyEventName, AttributeValue: awssdk.String("b")}}})
	wantCode(t, err, "InvalidLookupAttributesException")
	_, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{StartTime: awssdk.Time(time.Now()), EndTime: awssdk.Time(time.Now().Add(-time.Hour))})
	wantCode(t, err, "InvalidTimeRangeException")
	_, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{MaxResults: awssdk.Int32(51)})
	wantCode(t, err, "InvalidMaxResultsException")
	_, err = ct.LookupEvents(ctx, &cloudtrail.LookupEventsInput{NextToken: awssdk.String("bogus")})
	wantCode(t, err, "InvalidNextTokenException")
	// Events of another region are not there.
	other := sdkConfig(srv, srv.AdminCredentials())
	other.Region = "eu-west-1"
	out := must[*cloudtrail.LookupEventsOutput](t)(cloudtrail.NewFromConfig(other).LookupEvents(ctx, &cloudtrail.LookupEventsInput{}))
	if len(out.Events) != 0 {
		t.Errorf("eu-west-1 has %d events", len(out.Events))
	}
	// The break-glass user may not read CloudTrail.
	_, err = trailAs(srv, key).LookupEvents(ctx, &cloudtrail.LookupEventsInput{})
	wantCode(t, err, "AccessDeniedException")
}
