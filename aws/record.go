package aws

// The provisioning record, which check, revoke and rotate read instead of
// unsealing anything.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Record is the provisioning record, NAME.aws.json next to NAME.glass:
// the Spec that check, revoke and rotate need without unsealing anything.
// It holds no secret. Its policy hashes are also in the logbook's seal
// entry, so an edited record shows up as drift against the logbook.
type Record struct {
	Version       int               `json:"version"`
	Name          string            `json:"name"`
	Account       string            `json:"account"`
	UserARN       string            `json:"user_arn"`
	RoleARN       string            `json:"role_arn"`
	RolePolicyARN string            `json:"role_policy_arn,omitempty"`
	RolePolicy    json.RawMessage   `json:"role_policy,omitempty"`
	MaxSession    string            `json:"max_session"`
	Owner         string            `json:"owner"`
	ExtraTags     map[string]string `json:"extra_tags,omitempty"`
	PolicyHashes  map[string]string `json:"policy_hashes,omitempty"`
	Provisioned   time.Time         `json:"provisioned"`
	// Alerts are the alert destinations (Alert.String), AlertRegion where
	// the rule and topic live; absent without alerts.
	Alerts      []string `json:"alerts,omitempty"`
	AlertRegion string   `json:"alert_region,omitempty"`
}

// maxRecord bounds a provisioning record.
const maxRecord = 256 << 10

// RecordPath is the provisioning record's path for a .glass path.
func RecordPath(glass string) string {
	return strings.TrimSuffix(glass, ".glass") + ".aws.json"
}

// NewRecord is the record of spec as p provisioned it at the time at.
func NewRecord(spec Spec, p *Plan, at time.Time) *Record {
	r := &Record{
		Version: 1, Name: spec.Name, Account: p.Account, UserARN: p.UserARN, RoleARN: p.RoleARN,
		RolePolicyARN: spec.RolePolicyARN, MaxSession: spec.MaxSession.String(), Owner: spec.Owner,
		ExtraTags: spec.ExtraTags, PolicyHashes: p.PolicyHashes, Provisioned: at.UTC().Truncate(time.Second),
	}
	if len(spec.RolePolicy) > 0 {
		if c, err := CanonicalPolicy(spec.RolePolicy); err == nil {
			r.RolePolicy = c
		}
	}
	if spec.MaxSession == 0 {
		r.MaxSession = time.Hour.String()
	}
	for _, a := range spec.Alerts {
		r.Alerts = append(r.Alerts, a.String())
	}
	if len(spec.Alerts) > 0 {
		r.AlertRegion = spec.alertRegion()
	}
	return r
}

// ParseRecord parses and validates a provisioning record. It accepts only
// the encoding Marshal writes, so a record has one form and any edit shows
// in a diff as what it is.
func ParseRecord(b []byte) (*Record, error) {
	if len(b) > maxRecord {
		return nil, errors.New("too large for a provisioning record")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var r Record
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("not a provisioning record: %v", err)
	}
	if dec.More() {
		return nil, errors.New("not a provisioning record: trailing data")
	}
	if r.Version != 1 {
		return nil, fmt.Errorf("provisioning record version %d is not supported", r.Version)
	}
	spec, err := r.Spec()
	if err != nil {
		return nil, err
	}
	if r.Account == "" || r.UserARN != spec.UserARN(r.Account) || r.RoleARN != spec.RoleARN(r.Account) {
		return nil, errors.New("provisioning record: the account and ARNs do not match the name")
	}
	if !bytes.Equal(r.Marshal(), b) {
		return nil, errors.New("provisioning record: not in its canonical form (as breakglass aws provision writes it)")
	}
	return &r, nil
}

// Marshal encodes r canonically: indented JSON, fields in order, one
// final newline.
func (r *Record) Marshal() []byte {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		panic(err) // only plain fields and canonical JSON
	}
	return append(b, '\n')
}

// Spec is the Spec the record describes.
func (r *Record) Spec() (Spec, error) {
	d, err := time.ParseDuration(r.MaxSession)
	if err != nil {
		return Spec{}, fmt.Errorf("provisioning record: max_session: %v", err)
	}
	s := Spec{Name: r.Name, AccountID: r.Account, RolePolicyARN: r.RolePolicyARN,
		MaxSession: d, Owner: r.Owner, ExtraTags: r.ExtraTags}
	if len(r.RolePolicy) > 0 {
		s.RolePolicy = []byte(r.RolePolicy)
	}
	for _, a := range r.Alerts {
		al, err := ParseAlert(a)
		if err != nil {
			return Spec{}, fmt.Errorf("provisioning record: %w", err)
		}
		s.Alerts = append(s.Alerts, al)
	}
	if len(s.Alerts) > 0 {
		s.AlertRegion = r.AlertRegion
	}
	if err := s.Validate(); err != nil {
		return Spec{}, fmt.Errorf("provisioning record: %w", err)
	}
	return s, nil
}
