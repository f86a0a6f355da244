package awstest

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"*", "", true},
		{"*", "anything", true},
		{"iam:*", "iam:CreateUser", true},
		{"iam:Get*", "iam:ListUsers", false},
		{"arn:aws:iam::*:role/breakglass/*", "arn:aws:iam::123456789012:role/breakglass/emergency", true},
		{"arn:aws:iam::*:role/breakglass/*", "arn:aws:iam::123456789012:role/other", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"*a*b*c*", "xxaxxbxxcxx", true},
		{"*a*b*c", "xxaxxbxxcxx", false},
		{"", "", true},
		{"", "x", false},
	}
	for _, tt := range tests {
		if got := glob(tt.pattern, tt.value); got != tt.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/emergency"
	tests := []struct {
		name   string
		policy string
		req    request
		trust  bool
		want   decision
	}{
		{"allow", `{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"` + role + `"}}`,
			request{Action: "sts:AssumeRole", Resource: role}, false, allowed},
		{"actions are case-insensitive", `{"Statement":{"Effect":"Allow","Action":"STS:assumerole","Resource":"*"}}`,
			request{Action: "sts:AssumeRole", Resource: role}, false, allowed},
		{"resources are case-sensitive", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"arn:aws:iam::123456789012:role/EMERGENCY"}}`,
			request{Action: "sts:AssumeRole", Resource: role}, false, implicitDeny},
		{"other resource", `{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::123456789012:role/x"}}`,
			request{Action: "sts:AssumeRole", Resource: role}, false, implicitDeny},
		{"deny wins", `{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}]}`,
			request{Action: "iam:ListUsers", Resource: "x"}, false, explicitDeny},
		{"NotAction", `{"Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}`,
			request{Action: "iam:ListUsers", Resource: "x"}, false, implicitDeny},
		{"NotResource", `{"Statement":{"Effect":"Allow","Action":"*","NotResource":"arn:x"}}`,
			request{Action: "iam:ListUsers", Resource: "arn:y"}, false, allowed},
		{"source identity present", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"sts:SourceIdentity":"*"}}}}`,
			request{Action: "sts:AssumeRole", Resource: role, Context: map[string]string{"sts:sourceidentity": "alice"}}, false, allowed},
		{"source identity absent", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLike":{"sts:SourceIdentity":"*"}}}}`,
			request{Action: "sts:AssumeRole", Resource: role}, false, implicitDeny},
		{"StringEquals list", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"sts:SourceIdentity":["bob","alice"]}}}}`,
			request{Action: "sts:AssumeRole", Resource: role, Context: map[string]string{"sts:sourceidentity": "alice"}}, false, allowed},
		{"StringNotEquals absent key holds", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:SourceIdentity":"alice"}}}}`,
			request{Action: "x:y", Resource: role}, false, explicitDeny},
		{"Null true", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"sts:SourceIdentity":"true"}}}}`,
			request{Action: "sts:AssumeRole", Resource: role}, false, explicitDeny},
		{"Null true, key present", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"sts:SourceIdentity":"true"}}}}`,
			request{Action: "sts:AssumeRole", Resource: role, Context: map[string]string{"sts:sourceidentity": "a"}}, false, implicitDeny},
		{"revoked session", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-01-02T00:00:00Z"}}}}`,
			request{Action: "s3:GetObject", Resource: "x", Context: map[string]string{"aws:tokenissuetime": "2026-01-01T23:59:59Z"}}, false, explicitDeny},
		{"newer session", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-01-02T00:00:00Z"}}}}`,
			request{Action: "s3:GetObject", Resource: "x", Context: map[string]string{"aws:tokenissuetime": "2026-01-02T00:00:00Z"}}, false, implicitDeny},
		{"long-term keys have no token issue time", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-01-02T00:00:00Z"}}}}`,
			request{Action: "s3:GetObject", Resource: "x"}, false, implicitDeny},
		{"IfExists", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualsIfExists":{"aws:SourceIdentity":"alice"}}}}`,
			request{Action: "x:y", Resource: "x"}, false, allowed},
		{"DateGreaterThan epoch", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"1767225600"}}}}`,
			request{Action: "x:y", Resource: "x", Context: map[string]string{"aws:currenttime": "2026-01-01T00:00:01Z"}}, false, allowed},
		{"DateLessThanEquals", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThanEquals":{"aws:CurrentTime":"2026-01-01"}}}}`,
			request{Action: "x:y", Resource: "x", Context: map[string]string{"aws:currenttime": "2026-01-01T00:00:00Z"}}, false, allowed},
		{"Bool", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}}`,
			request{Action: "x:y", Resource: "x", Context: map[string]string{"aws:securetransport": "false"}}, false, explicitDeny},
		{"StringEqualsIgnoreCase", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEqualsIgnoreCase":{"aws:username":"BG"}}}}`,
			request{Action: "x:y", Resource: "x", Context: map[string]string{"aws:username": "bg"}}, false, allowed},
		{"ArnNotLike", `{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:user/breakglass/*"}}}}`,
			request{Action: "x:y", Resource: "x", Context: map[string]string{"aws:principalarn": "arn:aws:iam::1:user/breakglass/bg"}}, false, implicitDeny},
		{"trust: named user", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/bg"},"Action":"sts:AssumeRole"}}`,
			request{Principal: "arn:aws:iam::123456789012:user/bg", Account: "123456789012", Action: "sts:AssumeRole"}, true, allowed},
		{"trust: other user", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:user/bg"},"Action":"sts:AssumeRole"}}`,
			request{Principal: "arn:aws:iam::123456789012:user/x", Account: "123456789012", Action: "sts:AssumeRole"}, true, implicitDeny},
		{"trust: account", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}}`,
			request{Principal: "arn:aws:iam::123456789012:user/x", Account: "123456789012", Action: "sts:AssumeRole"}, true, allowed},
		{"trust: service principal never matches", `{"Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`,
			request{Principal: "arn:aws:iam::123456789012:user/x", Account: "123456789012", Action: "sts:AssumeRole"}, true, implicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kind := identityPolicy
			if tt.trust {
				kind = trustPolicy
			}
			p, err := parsePolicy(tt.policy, kind)
			if err != nil {
				t.Fatal(err)
			}
			if got := evaluate([]*policyDoc{p}, tt.req, tt.trust); got != tt.want {
				t.Errorf("evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParsePolicyErrors(t *testing.T) {
	bad := []struct {
		doc  string
		kind policyKind
		want string
	}{
		{`[]`, identityPolicy, "Syntax errors"},
		{`{} {}`, identityPolicy, "Syntax errors"},
		{`{"Version":"2001-01-01","Statement":[]}`, identityPolicy, "legacy parsing"},
		{`{"Statement":[]}`, identityPolicy, "Missing required field Statement"},
		{`{"Statement":[{"Effect":"Allow","Action":"AssumeRole","Resource":"*"}]}`, identityPolicy, "prefaced by a vendor"},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`, trustPolicy, "prohibited field Resource"},
		{`{"Statement":[{"Effect":"Allow","Action":"*"}]}`, trustPolicy, "Missing required field Principal"},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Principal":"someone"}]}`, trustPolicy, "Invalid principal"},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:TokenIssueTime":"yesterday"}}}]}`, identityPolicy, "Invalid date"},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Null":{"a:b":"maybe"}}}]}`, identityPolicy, "Invalid value"},
		{`{"Statement":[{"Effect":"Allow","Action":[],"Resource":"*"}]}`, identityPolicy, "must not be empty"},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Extra":1}]}`, identityPolicy, "Unsupported field"},
		{`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}],"Bogus":1}`, identityPolicy, "Unknown field"},
	}
	for _, tt := range bad {
		_, err := parsePolicy(tt.doc, tt.kind)
		if !errors.Is(err, errMalformed) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parsePolicy(%s) = %v, want an error containing %q", tt.doc, err, tt.want)
		}
	}
}

// canonical re-encodes a parsed policy as JSON, always with lists.
func canonical(p *policyDoc) string {
	var stmts []map[string]any
	for _, st := range p.Statements {
		m := map[string]any{"Effect": st.Effect}
		if st.Sid != "" {
			m["Sid"] = st.Sid
		}
		if st.Principals != nil {
			if len(st.Principals) == 0 {
				m["Principal"] = map[string]any{"Service": "ec2.amazonaws.com"}
			} else {
				m["Principal"] = map[string]any{"AWS": st.Principals}
			}
		}
		for k, v := range map[string][]string{"Action": st.Actions, "NotAction": st.NotActions, "Resource": st.Resources, "NotResource": st.NotResource} {
			if len(v) > 0 {
				m[k] = v
			}
		}
		if len(st.Conditions) > 0 {
			cond := map[string]map[string][]string{}
			for _, c := range st.Conditions {
				if cond[c.Op] == nil {
					cond[c.Op] = map[string][]string{}
				}
				cond[c.Op][c.Key] = c.Values
			}
			m["Condition"] = cond
		}
		stmts = append(stmts, m)
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": stmts})
	return string(b)
}

func FuzzParsePolicy(f *testing.F) {
	f.Add(allowListUsers, false)
	f.Add(`{"Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}}`, true)
	f.Add(trustDoc("arn:aws:iam::123456789012:user/bg", true), true)
	f.Add(`{"Statement":{"Effect":"Deny","Action":["*"],"Resource":["*"],"Condition":{"DateLessThan":{"aws:TokenIssueTime":"2026-01-02T00:00:00Z"}}}}`, false)
	f.Add(`{"Statement":[{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"*","Condition":{"Null":{"sts:SourceIdentity":"true"}}}]}`, false)
	f.Fuzz(func(t *testing.T, doc string, trust bool) {
		kind := identityPolicy
		if trust {
			kind = trustPolicy
		}
		p, err := parsePolicy(doc, kind)
		if err != nil {
			if p != nil || !errors.Is(err, errMalformed) {
				t.Fatalf("failed parse returned %v, %v", p, err)
			}
			return
		}
		// Accepted documents mean the same after a canonical re-encoding.
		again, err := parsePolicy(canonical(p), kind)
		if err != nil {
			t.Fatalf("canonical form %s rejected: %v", canonical(p), err)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("canonical form changed the policy:\n%+v\n%+v", p, again)
		}
		req := request{Principal: "arn:aws:iam::123456789012:user/bg", Account: "123456789012", Action: "sts:AssumeRole",
			Resource: "arn:aws:iam::123456789012:role/r", Context: map[string]string{"aws:tokenissuetime": "2026-01-01T00:00:00Z"}}
		evaluate([]*policyDoc{p}, req, trust)
	})
}

func FuzzParseAuthHeader(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + strings.Repeat("ab", 32))
	f.Add("AWS4-HMAC-SHA256 Credential=A/20260101/r/s/aws4_request,SignedHeaders=host,Signature=" + strings.Repeat("0", 64))
	f.Fuzz(func(t *testing.T, h string) {
		a, err := parseAuthHeader(h)
		if err != nil {
			return
		}
		b, err := parseAuthHeader(a.String())
		if err != nil {
			t.Fatalf("formatted header %q rejected: %v", a.String(), err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round trip changed the header: %+v vs %+v", a, b)
		}
	})
}
