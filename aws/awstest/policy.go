package awstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// This file holds the small IAM policy language the server understands:
// enough of the grammar to validate what IAM validates for the policies
// breakglass writes, and an evaluator with IAM's precedence rule (an
// explicit Deny beats any Allow; no Allow means an implicit deny).
//
// Deliberately unsupported: NotPrincipal, policy variables, set operators
// (ForAnyValue/ForAllValues), numeric and IP operators. A policy that uses
// an unsupported condition operator is rejected as malformed rather than
// evaluated wrongly.

// policyKind says where a document is used: identity policies need
// Resource and forbid Principal; trust policies need Principal and forbid
// Resource, as IAM enforces.
type policyKind int

const (
	identityPolicy policyKind = iota
	trustPolicy
)

type policyDoc struct {
	Statements []statement
}

type statement struct {
	Sid         string
	Effect      string // "Allow" or "Deny"
	Principals  []string
	Actions     []string
	NotActions  []string
	Resources   []string
	NotResource []string
	Conditions  []condition
}

type condition struct {
	Op       string // as written, e.g. "StringLike" or "DateLessThanIfExists"
	Key      string
	Values   []string
	base     string // operator without the IfExists suffix
	ifExists bool
}

var conditionOperators = map[string]bool{
	"StringEquals": true, "StringNotEquals": true,
	"StringEqualsIgnoreCase": true, "StringNotEqualsIgnoreCase": true,
	"StringLike": true, "StringNotLike": true,
	"ArnEquals": true, "ArnLike": true, "ArnNotEquals": true, "ArnNotLike": true,
	"DateEquals": true, "DateNotEquals": true,
	"DateLessThan": true, "DateLessThanEquals": true,
	"DateGreaterThan": true, "DateGreaterThanEquals": true,
	"Bool": true, "Null": true,
}

// errMalformed is wrapped by every parsePolicy error.
var errMalformed = errors.New("malformed policy document")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// parsePolicy parses and validates a policy document.
func parsePolicy(doc string, kind policyKind) (*policyDoc, error) {
	if len(doc) > 10240 {
		return nil, malformed("document larger than 10240 characters")
	}
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		return nil, malformed("Syntax errors in policy.")
	}
	if dec.More() {
		return nil, malformed("Syntax errors in policy.")
	}
	if top == nil {
		return nil, malformed("Syntax errors in policy.")
	}
	for k := range top {
		switch k {
		case "Version", "Id", "Statement":
		default:
			return nil, malformed("Unknown field %s", k)
		}
	}
	if v, ok := top["Version"]; ok {
		if s, _ := v.(string); s != "2012-10-17" && s != "2008-10-17" {
			return nil, malformed("The policy failed legacy parsing")
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, malformed("Missing required field Statement")
	}
	var stmts []any
	switch v := raw.(type) {
	case []any:
		stmts = v
	case map[string]any:
		stmts = []any{v}
	default:
		return nil, malformed("Statement must be an object or a list")
	}
	if len(stmts) == 0 {
		return nil, malformed("Missing required field Statement")
	}
	p := &policyDoc{}
	for _, r := range stmts {
		m, ok := r.(map[string]any)
		if !ok {
			return nil, malformed("Statement must be an object")
		}
		st, err := parseStatement(m, kind)
		if err != nil {
			return nil, err
		}
		p.Statements = append(p.Statements, st)
	}
	return p, nil
}

func parseStatement(m map[string]any, kind policyKind) (statement, error) {
	var st statement
	var err error
	for k, v := range m {
		switch k {
		case "Sid":
			s, ok := v.(string)
			if !ok {
				return st, malformed("Sid must be a string")
			}
			st.Sid = s
		case "Effect":
			s, _ := v.(string)
			if s != "Allow" && s != "Deny" {
				return st, malformed("Invalid effect: %v", v)
			}
			st.Effect = s
		case "Principal":
			if kind == identityPolicy {
				return st, malformed("Policy document should not specify a principal.")
			}
			st.Principals, err = parsePrincipal(v)
		case "Action":
			st.Actions, err = stringList(k, v)
		case "NotAction":
			st.NotActions, err = stringList(k, v)
		case "Resource":
			if kind == trustPolicy {
				return st, malformed("Has prohibited field Resource")
			}
			st.Resources, err = stringList(k, v)
		case "NotResource":
			if kind == trustPolicy {
				return st, malformed("Has prohibited field NotResource")
			}
			st.NotResource, err = stringList(k, v)
		case "Condition":
			st.Conditions, err = parseConditions(v)
		default:
			return st, malformed("Unsupported field %s", k)
		}
		if err != nil {
			return st, err
		}
	}
	if st.Effect == "" {
		return st, malformed("Missing required field Effect")
	}
	if len(st.Actions) == 0 && len(st.NotActions) == 0 {
		return st, malformed("Missing required field Action")
	}
	for _, a := range append(append([]string{}, st.Actions...), st.NotActions...) {
		if a != "*" && !strings.Contains(a, ":") {
			return st, malformed("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
		}
	}
	if kind == identityPolicy && len(st.Resources) == 0 && len(st.NotResource) == 0 {
		return st, malformed("Policy statement must contain resources.")
	}
	if kind == trustPolicy && st.Principals == nil {
		return st, malformed("Missing required field Principal")
	}
	return st, nil
}

// parsePrincipal keeps only AWS principals ("*", account ids and ARNs);
// service and federated principals never match a caller of this server.
func parsePrincipal(v any) ([]string, error) {
	if s, ok := v.(string); ok {
		if s != "*" {
			return nil, malformed("Invalid principal in policy")
		}
		return []string{"*"}, nil
	}
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 {
		return nil, malformed("Invalid principal in policy")
	}
	out := []string{}
	for k, val := range m {
		list, err := stringList("Principal", val)
		if err != nil {
			return nil, err
		}
		switch k {
		case "AWS":
			out = append(out, list...)
		case "Service", "Federated", "CanonicalUser":
		default:
			return nil, malformed("Invalid principal in policy")
		}
	}
	return out, nil
}

func parseConditions(v any) ([]condition, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, malformed("Condition must be an object")
	}
	var out []condition
	for op, block := range m {
		base, ifExists := strings.CutSuffix(op, "IfExists")
		if !conditionOperators[base] || (ifExists && base == "Null") {
			return nil, malformed("Unsupported condition operator %s (the loopback server implements only a subset)", op)
		}
		keys, ok := block.(map[string]any)
		if !ok {
			return nil, malformed("Condition %s must be an object", op)
		}
		for key, vals := range keys {
			list, err := conditionValues(vals)
			if err != nil {
				return nil, err
			}
			if strings.HasPrefix(base, "Date") {
				for _, s := range list {
					if _, err := parseDate(s); err != nil {
						return nil, malformed("Invalid date %q for %s", s, op)
					}
				}
			}
			if base == "Null" || base == "Bool" {
				for _, s := range list {
					if s != "true" && s != "false" {
						return nil, malformed("Invalid value %q for %s", s, op)
					}
				}
			}
			out = append(out, condition{Op: op, Key: key, Values: list, base: base, ifExists: ifExists})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Op != out[j].Op {
			return out[i].Op < out[j].Op
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

func conditionValues(v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case bool:
		return []string{fmt.Sprint(x)}, nil
	case json.Number:
		return []string{x.String()}, nil
	case []any:
		var out []string
		for _, e := range x {
			l, err := conditionValues(e)
			if err != nil || len(l) != 1 {
				return nil, malformed("Invalid condition value")
			}
			out = append(out, l[0])
		}
		if len(out) == 0 {
			return nil, malformed("Empty condition value list")
		}
		return out, nil
	}
	return nil, malformed("Invalid condition value")
}

func stringList(field string, v any) ([]string, error) {
	switch x := v.(type) {
	case string:
		return []string{x}, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, malformed("%s must be a string or a list of strings", field)
			}
			out = append(out, s)
		}
		if len(out) == 0 {
			return nil, malformed("%s must not be empty", field)
		}
		return out, nil
	}
	return nil, malformed("%s must be a string or a list of strings", field)
}

// parseDate accepts the forms IAM accepts in date conditions: ISO 8601
// date-times (with or without seconds fraction), plain dates, and epoch
// seconds.
func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	var secs int64
	if _, err := fmt.Sscanf(s, "%d", &secs); err == nil && fmt.Sprint(secs) == s {
		return time.Unix(secs, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("not a date: %q", s)
}

// request is what the evaluator sees: one action on one resource, with
// the context keys the caller and the request supply.
type request struct {
	Principal string            // caller ARN, for trust policies
	Account   string            // caller's account
	Action    string            // e.g. "sts:AssumeRole"
	Resource  string            // ARN
	Context   map[string]string // condition keys, lower-cased
}

type decision int

const (
	implicitDeny decision = iota
	allowed
	explicitDeny
)

// evaluate applies IAM's rule over a set of policies: explicit deny wins,
// then any allow, else implicit deny. With trust set, statements are
// matched on Principal instead of Resource.
func evaluate(policies []*policyDoc, req request, trust bool) decision {
	result := implicitDeny
	for _, p := range policies {
		for _, st := range p.Statements {
			if !st.matches(req, trust) {
				continue
			}
			if st.Effect == "Deny" {
				return explicitDeny
			}
			result = allowed
		}
	}
	return result
}

func (st statement) matches(req request, trust bool) bool {
	if len(st.Actions) > 0 && !anyMatch(st.Actions, req.Action, true) {
		return false
	}
	if len(st.NotActions) > 0 && anyMatch(st.NotActions, req.Action, true) {
		return false
	}
	if trust {
		if !principalMatches(st.Principals, req) {
			return false
		}
	} else {
		if len(st.Resources) > 0 && !anyMatch(st.Resources, req.Resource, false) {
			return false
		}
		if len(st.NotResource) > 0 && anyMatch(st.NotResource, req.Resource, false) {
			return false
		}
	}
	for _, c := range st.Conditions {
		if !c.holds(req.Context) {
			return false
		}
	}
	return true
}

func principalMatches(principals []string, req request) bool {
	for _, p := range principals {
		switch {
		case p == "*":
			return true
		case p == req.Account, p == "arn:aws:iam::"+req.Account+":root":
			return true
		case p == req.Principal:
			return true
		}
	}
	return false
}

func anyMatch(patterns []string, value string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			if glob(strings.ToLower(p), strings.ToLower(value)) {
				return true
			}
		} else if glob(p, value) {
			return true
		}
	}
	return false
}

// glob matches value against pattern, where * matches any run of
// characters and ? any one character.
func glob(pattern, value string) bool {
	// Iterative matcher with single-star backtracking: linear in practice
	// and free of recursion blow-ups on hostile patterns.
	p, v := 0, 0
	starP, starV := -1, 0
	for v < len(value) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == value[v]):
			p++
			v++
		case p < len(pattern) && pattern[p] == '*':
			starP, starV = p, v
			p++
		case starP >= 0:
			p = starP + 1
			starV++
			v = starV
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func (c condition) holds(ctx map[string]string) bool {
	val, present := ctx[strings.ToLower(c.Key)]
	if c.base == "Null" {
		want := c.Values[0] == "true" // Null takes one value in practice
		return want == !present
	}
	if !present {
		// Negated operators hold when the key is absent, as in IAM;
		// IfExists makes any operator hold.
		return c.ifExists || strings.Contains(c.base, "Not")
	}
	neg := strings.Contains(c.base, "Not")
	base := strings.Replace(c.base, "Not", "", 1)
	hit := false
	for _, want := range c.Values {
		if compare(base, val, want) {
			hit = true
			break
		}
	}
	return hit != neg
}

func compare(op, have, want string) bool {
	switch op {
	case "StringEquals", "ArnEquals":
		return have == want
	case "StringEqualsIgnoreCase":
		return strings.EqualFold(have, want)
	case "StringLike", "ArnLike":
		return glob(want, have)
	case "Bool":
		return have == want
	}
	if strings.HasPrefix(op, "Date") {
		h, err1 := parseDate(have)
		w, err2 := parseDate(want)
		if err1 != nil || err2 != nil {
			return false
		}
		switch op {
		case "DateEquals":
			return h.Equal(w)
		case "DateLessThan":
			return h.Before(w)
		case "DateLessThanEquals":
			return !h.After(w)
		case "DateGreaterThan":
			return h.After(w)
		case "DateGreaterThanEquals":
			return !h.Before(w)
		}
	}
	return false
}
