package aws

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func testAWSRecord(t testing.TB) *Record {
	spec := Spec{Name: "prod", AccountID: "123456789012", RolePolicy: []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`),
		MaxSession: 2 * time.Hour, Owner: "sre", ExtraTags: map[string]string{"cleanup": "exempt"}}
	p := &Plan{Account: "123456789012", UserARN: spec.UserARN("123456789012"), RoleARN: spec.RoleARN("123456789012"),
		PolicyHashes: map[string]string{"user": "aa", "trust": "bb", "role": "cc"}}
	return NewRecord(spec, p, time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC))
}

func TestAWSRecordRoundTrip(t *testing.T) {
	r := testAWSRecord(t)
	b := r.Marshal()
	got, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Marshal(), b) {
		t.Fatalf("round trip changed the record:\n%s\n%s", b, got.Marshal())
	}
	spec, err := got.Spec()
	if err != nil {
		t.Fatal(err)
	}
	if spec.MaxSession != 2*time.Hour || spec.Owner != "sre" || spec.ExtraTags["cleanup"] != "exempt" {
		t.Fatalf("spec = %+v", spec)
	}
	if h1, _ := PolicyHash(spec.RolePolicy); h1 == "" {
		t.Fatal("role policy lost")
	}
}

// TestAWSRecordTamper edits one field at a time: each edit that makes the
// record inconsistent is refused.
func TestAWSRecordTamper(t *testing.T) {
	b := string(testAWSRecord(t).Marshal())
	tests := []struct{ name, old, new string }{
		{"name", `"name": "prod"`, `"name": "other"`},
		{"account", `"account": "123456789012"`, `"account": "210987654321"`},
		{"user arn", `user/breakglass/breakglass-prod"`, `user/breakglass/admin"`},
		{"role arn", `role/breakglass/breakglass-prod"`, `role/admin"`},
		{"max session", `"max_session": "2h0m0s"`, `"max_session": "24h0m0s"`},
		{"no owner", `"owner": "sre"`, `"owner": ""`},
		{"version", `"version": 1`, `"version": 2`},
		{"unknown field", `"version": 1,`, `"version": 1, "admin": true,`},
		{"trailing data", "}\n", "}{}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(b, tt.old) {
				t.Fatalf("test record lacks %q:\n%s", tt.old, b)
			}
			in := strings.Replace(b, tt.old, tt.new, 1)
			if _, err := ParseRecord([]byte(in)); err == nil {
				t.Fatalf("accepted:\n%s", in)
			}
		})
	}
}

func TestAWSRecordAlerts(t *testing.T) {
	spec := Spec{Name: "prod", AccountID: "123456789012", RolePolicyARN: "arn:aws:iam::aws:policy/ReadOnlyAccess", Owner: "sre",
		Alerts: []Alert{{"email", "oncall@example.com"}, {"sns", "arn:aws:sns:us-east-1:123456789012:sec"}}, AlertRegion: "eu-west-1"}
	p := &Plan{Account: "123456789012", UserARN: spec.UserARN("123456789012"), RoleARN: spec.RoleARN("123456789012")}
	b := NewRecord(spec, p, time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)).Marshal()
	r, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.Spec()
	if err != nil || len(got.Alerts) != 2 || got.Alerts[1] != spec.Alerts[1] || got.AlertTopicARN("123456789012") != "arn:aws:sns:eu-west-1:123456789012:breakglass-prod-alerts" {
		t.Fatalf("spec = %+v, %v", got, err)
	}
	for _, bad := range []string{`"email:nobody"`, `"pager:oncall"`} {
		if _, err := ParseRecord([]byte(strings.Replace(string(b), `"email:oncall@example.com"`, bad, 1))); err == nil {
			t.Errorf("accepted alert %s", bad)
		}
	}
}

func TestAWSRecordPolicyNotObject(t *testing.T) {
	r := testAWSRecord(t)
	r.RolePolicy = json.RawMessage(`["s3:*"]`)
	if _, err := ParseRecord(r.Marshal()); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add(testAWSRecord(f).Marshal())
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			return
		}
		// One encoding only: what parses is exactly what Marshal writes.
		if m := r.Marshal(); !bytes.Equal(m, b) {
			t.Fatalf("accepted a second encoding:\n%q\n%q", b, m)
		}
	})
}
