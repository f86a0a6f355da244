package aws_test

import (
	"testing"
	"time"

	bgaws "github.com/breakglass/breakglass/aws"
)

// Records in the shape the CloudTrail User Guide documents (AssumeRole by
// an IAM user with a source identity; a call by the role's session).
const (
	assumeRoleRecord = `{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/breakglass/breakglass-prod",` +
		`"accountId":"111122223333","accessKeyId":"AKIAIOSFODNN7EXAMPLE","userName":"breakglass-prod"},"eventTime":"2026-11-24T04:00:05Z","eventSource":"sts.amazonaws.com",` +
		`"eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.1","userAgent":"aws-sdk-go-v2",` +
		`"requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/breakglass/breakglass-prod","roleSessionName":"alice","durationSeconds":3600,"sourceIdentity":"alice"},` +
		`"responseElements":{"credentials":{"accessKeyId":"ASIAEXAMPLE","sessionToken":"x","expiration":"Nov 24, 2026, 5:00:05 AM"},` +
		`"assumedRoleUser":{"assumedRoleId":"AROAEXAMPLE:alice","arn":"arn:aws:sts::111122223333:assumed-role/breakglass-prod/alice"},"sourceIdentity":"alice"},` +
		`"requestID":"r","eventID":"e1","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}`
	sessionRecord = `{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROAEXAMPLE:alice","arn":"arn:aws:sts::111122223333:assumed-role/breakglass-prod/alice",` +
		`"accountId":"111122223333","accessKeyId":"ASIAEXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/breakglass/breakglass-prod"},` +
		`"attributes":{"creationDate":"2026-11-24T04:00:05Z","mfaAuthenticated":"false"},"sourceIdentity":"alice"}},"eventTime":"2026-11-24T04:03:00Z",` +
		`"eventSource":"ec2.amazonaws.com","eventName":"StopInstances","awsRegion":"eu-west-1","errorCode":"UnauthorizedOperation","eventID":"e2","readOnly":false}`
)

func TestParseTrailRecord(t *testing.T) {
	ev, err := bgaws.ParseTrailRecord([]byte(assumeRoleRecord))
	if err != nil {
		t.Fatal(err)
	}
	want := bgaws.TrailEvent{ID: "e1", Time: time.Date(2026, 11, 24, 4, 0, 5, 0, time.UTC), Name: "AssumeRole", Source: "sts.amazonaws.com", Region: "us-east-1",
		ReadOnly: true, IdentityType: "IAMUser", CallerARN: "arn:aws:iam::111122223333:user/breakglass/breakglass-prod", AccessKeyID: "AKIAIOSFODNN7EXAMPLE",
		SourceIdentity: "alice", RoleARN: "arn:aws:iam::111122223333:role/breakglass/breakglass-prod", SessionName: "alice", SessionKeyID: "ASIAEXAMPLE"}
	if *ev != want {
		t.Errorf("AssumeRole:\n%+v\nwant\n%+v", *ev, want)
	}
	ev, err = bgaws.ParseTrailRecord([]byte(sessionRecord))
	if err != nil || ev.IdentityType != "AssumedRole" || ev.SourceIdentity != "alice" || ev.AccessKeyID != "ASIAEXAMPLE" ||
		ev.ErrorCode != "UnauthorizedOperation" || ev.ReadOnly || ev.RoleARN != "" || ev.Region != "eu-west-1" {
		t.Errorf("session call: %+v, %v", ev, err)
	}
	for _, bad := range []string{"", "{}", "[]", `{"eventName":"X"}`, `{"eventName":"X","eventTime":"yesterday"}`} {
		if _, err := bgaws.ParseTrailRecord([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// FuzzParseTrailRecord: a record either parses, with a name, or is
// refused; never a panic.
func FuzzParseTrailRecord(f *testing.F) {
	f.Add([]byte(assumeRoleRecord))
	f.Add([]byte(sessionRecord))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := bgaws.ParseTrailRecord(b)
		if err == nil && ev.Name == "" {
			t.Fatalf("parsed without a name: %+v", ev)
		}
	})
}
