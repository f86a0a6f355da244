package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/logbook"
)

const testSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

func TestSealedKeyRoundTrip(t *testing.T) {
	k := &aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: []byte(testSecretKey)}
	b, err := marshalSealedKey(k)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"` + testSecretKey + `"}`
	if string(b) != want {
		t.Fatalf("marshal = %s, want %s", b, want)
	}
	// It is the credential_process shape any AWS client reads.
	var cp struct {
		Version         int
		AccessKeyId     string
		SecretAccessKey string
	}
	if err := json.Unmarshal(b, &cp); err != nil || cp.Version != 1 || cp.AccessKeyId != k.AccessKeyID || cp.SecretAccessKey != testSecretKey {
		t.Fatalf("not credential_process JSON: %+v, %v", cp, err)
	}
	got, err := parseSealedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessKeyID != k.AccessKeyID || string(got.SecretAccessKey) != testSecretKey {
		t.Fatalf("parse = %s", got.AccessKeyID)
	}
	// The parsed secret is a copy: wiping the plaintext leaves it intact,
	// and Wipe clears it.
	clear(b)
	if string(got.SecretAccessKey) != testSecretKey {
		t.Fatal("the parsed secret aliases the plaintext")
	}
	got.Wipe()
	if !bytes.Equal(got.SecretAccessKey, make([]byte, len(testSecretKey))) {
		t.Fatal("Wipe left the secret")
	}
}

func TestParseSealedKeyRejects(t *testing.T) {
	good := `{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"` + testSecretKey + `"}`
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"trailing newline", good + "\n"},
		{"spaces", strings.Replace(good, `,"Secret`, `, "Secret`, 1)},
		{"version 2", strings.Replace(good, `"Version":1`, `"Version":2`, 1)},
		{"lower-case key id", strings.Replace(good, "AKIAIOSFODNN7EXAMPLE", "akiaiosfodnn7example", 1)},
		{"short secret", strings.Replace(good, testSecretKey, "abc", 1)},
		{"quote in secret", strings.Replace(good, testSecretKey, testSecretKey+`","X":"`, 1)},
		{"session token", strings.Replace(good, `"}`, `","SessionToken":"x"}`, 1)},
		{"other secret", "correct horse battery staple"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := parseSealedKey([]byte(tt.in))
			if err == nil || k != nil {
				t.Fatalf("accepted %q", tt.in)
			}
			if strings.Contains(err.Error(), testSecretKey) {
				t.Fatal("the error quotes the secret")
			}
		})
	}
}

func FuzzParseSealedKey(f *testing.F) {
	f.Add([]byte(`{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"` + testSecretKey + `"}`))
	f.Add([]byte(`{"Version":1,"AccessKeyId":"A","SecretAccessKey":"B"}`))
	f.Add([]byte(`{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"","SecretAccessKey":"` + testSecretKey + `"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseSealedKey(b)
		if err != nil {
			return
		}
		// One encoding only: what parses marshals back to the input.
		out, err := marshalSealedKey(k)
		if err != nil {
			t.Fatalf("parsed key does not marshal: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("accepted a second encoding: %q → %q", b, out)
		}
		// And it means the same to a JSON reader.
		var cp struct{ AccessKeyId, SecretAccessKey string }
		if err := json.Unmarshal(b, &cp); err != nil || cp.AccessKeyId != k.AccessKeyID || cp.SecretAccessKey != string(k.SecretAccessKey) {
			t.Fatalf("JSON reads %q differently: %+v %v", b, cp, err)
		}
	})
}

func testAWSRecord(t testing.TB) *awsRecord {
	spec := aws.Spec{Name: "prod", AccountID: "123456789012", RolePolicy: []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`),
		MaxSession: 2 * time.Hour, Owner: "sre", ExtraTags: map[string]string{"cleanup": "exempt"}}
	p := &aws.Plan{Account: "123456789012", UserARN: spec.UserARN("123456789012"), RoleARN: spec.RoleARN("123456789012"),
		PolicyHashes: map[string]string{"user": "aa", "trust": "bb", "role": "cc"}}
	return newAWSRecord(spec, p, time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC))
}

func TestAWSRecordRoundTrip(t *testing.T) {
	r := testAWSRecord(t)
	b := r.marshal()
	got, err := parseAWSRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.marshal(), b) {
		t.Fatalf("round trip changed the record:\n%s\n%s", b, got.marshal())
	}
	spec, err := got.spec()
	if err != nil {
		t.Fatal(err)
	}
	if spec.MaxSession != 2*time.Hour || spec.Owner != "sre" || spec.ExtraTags["cleanup"] != "exempt" {
		t.Fatalf("spec = %+v", spec)
	}
	if h1, _ := aws.PolicyHash(spec.RolePolicy); h1 == "" {
		t.Fatal("role policy lost")
	}
}

// TestAWSRecordTamper edits one field at a time: each edit that makes the
// record inconsistent is refused.
func TestAWSRecordTamper(t *testing.T) {
	b := string(testAWSRecord(t).marshal())
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
			if _, err := parseAWSRecord([]byte(in)); err == nil {
				t.Fatalf("accepted:\n%s", in)
			}
		})
	}
}

func TestAWSRecordPolicyNotObject(t *testing.T) {
	r := testAWSRecord(t)
	r.RolePolicy = json.RawMessage(`["s3:*"]`)
	if _, err := parseAWSRecord(r.marshal()); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseAWSRecord(f *testing.F) {
	f.Add(testAWSRecord(f).marshal())
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseAWSRecord(b)
		if err != nil {
			return
		}
		// What parses re-encodes to a record that parses to the same.
		m := r.marshal()
		r2, err := parseAWSRecord(m)
		if err != nil {
			t.Fatalf("re-encoded record does not parse: %v\n%s", err, m)
		}
		if !bytes.Equal(r2.marshal(), m) {
			t.Fatalf("not stable:\n%s\n%s", m, r2.marshal())
		}
	})
}

func TestFlagsFirst(t *testing.T) {
	flags := []cli.Flag{&cli.BoolFlag{Name: "exec"}, &cli.BoolFlag{Name: "json", Aliases: []string{"j"}}, &cli.StringFlag{Name: "reason"}}
	tests := []struct{ in, want string }{
		{"a.glass --reason r --exec", "--reason r --exec a.glass"},
		{"a.glass --reason r --exec -- sh -c x", "--reason r --exec a.glass -- sh -c x"},
		{"--reason=r a.glass -j", "--reason=r -j a.glass"},
		{"a.glass -- --reason r", "a.glass -- --reason r"},
		{"a.glass --reason", "--reason a.glass"},
		{"a.glass --help", "--help a.glass"},
		{"", ""},
	}
	for _, tt := range tests {
		got := strings.Join(flagsFirst(flags, strings.Fields(tt.in)), " ")
		if got != tt.want {
			t.Errorf("flagsFirst(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestExplainUse(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)
	entries := awsTestEntries(t0)
	tests := []struct {
		name string
		key  string
		at   time.Time
		want int64 // -1: unexplained
	}{
		{"at the release", "AKIA1", t0.Add(-2 * time.Second), 1},
		{"failed attempt", "AKIA1", t0.Add(time.Hour), 2},
		{"much later", "AKIA1", t0.Add(5 * time.Hour), -1},
		{"other key", "AKIA2", t0, -1},
	}
	for _, tt := range tests {
		e := explainUse(entries, "prod", tt.key, tt.at)
		got := int64(-1)
		if e != nil {
			got = e.Index
		}
		if got != tt.want {
			t.Errorf("%s: explained by %d, want %d", tt.name, got, tt.want)
		}
	}
	if got := awsSecrets(entries); !slices.Equal([]string{got["prod"]}, []string{"AKIA3"}) {
		t.Errorf("current keys = %v, want prod: AKIA3", got)
	}
}

func awsTestEntries(t0 time.Time) []*logbook.Entry {
	d := func(kv ...string) map[string]string {
		m := map[string]string{"role-arn": "arn:aws:iam::123456789012:role/breakglass/breakglass-prod"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	return []*logbook.Entry{
		{Index: 0, Kind: logbook.KindSeal, Secret: "prod", Time: t0.Add(-time.Hour), Details: d(logbook.DetailKeyID, "AKIA1")},
		{Index: 1, Kind: logbook.KindRelease, Secret: "prod", Time: t0, Details: d(logbook.DetailKeyID, "AKIA1", logbook.DetailOperator, "alice")},
		{Index: 2, Kind: logbook.KindNote, Secret: "prod", Time: t0.Add(time.Hour), Details: d(logbook.DetailKeyID, "AKIA1", "action", "aws-session")},
		{Index: 3, Kind: logbook.KindRevoke, Secret: "prod", Time: t0.Add(2 * time.Hour), Details: d(logbook.DetailKeyID, "AKIA1", "new-key-id", "AKIA3")},
	}
}
