package aws

// CloudTrail evidence: the events of an access key, or of the emergency
// role, read with LookupEvents and parsed from the CloudTrail records.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	cttypes "github.com/aws/aws-sdk-go-v2/service/cloudtrail/types"
)

// A TrailEvent is one CloudTrail management event, with what the audit
// matches on taken from its record.
type TrailEvent struct {
	ID       string    `json:"event_id"`
	Time     time.Time `json:"time"`
	Name     string    `json:"name"`   // e.g. "AssumeRole"
	Source   string    `json:"source"` // e.g. "sts.amazonaws.com"
	Region   string    `json:"region"`
	ReadOnly bool      `json:"read_only"`
	// The caller: userIdentity's type (IAMUser, AssumedRole, Root, …),
	// ARN and the access key that signed the call.
	IdentityType string `json:"identity_type"`
	CallerARN    string `json:"caller_arn"`
	AccessKeyID  string `json:"access_key_id,omitempty"`
	// SourceIdentity: the caller's session's (sessionContext), or for
	// AssumeRole the one asked for (requestParameters).
	SourceIdentity string `json:"source_identity,omitempty"`
	ErrorCode      string `json:"error_code,omitempty"`
	// AssumeRole only: the role, the session name, and the new session's
	// access key (responseElements).
	RoleARN      string `json:"role_arn,omitempty"`
	SessionName  string `json:"session_name,omitempty"`
	SessionKeyID string `json:"session_key_id,omitempty"`
}

// ParseTrailRecord reads the fields of a TrailEvent from a CloudTrail
// record (LookupEvents' CloudTrailEvent, or one record of a trail's log
// file).
func ParseTrailRecord(record []byte) (*TrailEvent, error) {
	var r struct {
		EventID, EventName, EventSource, AWSRegion, ErrorCode, EventTime string
		ReadOnly                                                         any
		UserIdentity                                                     struct {
			Type, Arn, AccessKeyId string
			SessionContext         struct{ SourceIdentity string }
		}
		RequestParameters map[string]any
		ResponseElements  map[string]any
	}
	if err := json.Unmarshal(record, &r); err != nil {
		return nil, fmt.Errorf("aws: not a CloudTrail record: %v", err)
	}
	t, err := time.Parse(time.RFC3339, r.EventTime)
	if err != nil || r.EventName == "" {
		return nil, fmt.Errorf("aws: not a CloudTrail record: no eventName or eventTime")
	}
	ev := &TrailEvent{ID: r.EventID, Time: t.UTC(), Name: r.EventName, Source: r.EventSource, Region: r.AWSRegion,
		IdentityType: r.UserIdentity.Type, CallerARN: r.UserIdentity.Arn, AccessKeyID: r.UserIdentity.AccessKeyId,
		SourceIdentity: r.UserIdentity.SessionContext.SourceIdentity, ErrorCode: r.ErrorCode}
	switch v := r.ReadOnly.(type) {
	case bool:
		ev.ReadOnly = v
	case string:
		ev.ReadOnly = v == "true"
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	if ev.Name == "AssumeRole" {
		ev.RoleARN, ev.SessionName = str(r.RequestParameters, "roleArn"), str(r.RequestParameters, "roleSessionName")
		if si := str(r.RequestParameters, "sourceIdentity"); si != "" {
			ev.SourceIdentity = si
		}
		if c, ok := r.ResponseElements["credentials"].(map[string]any); ok {
			ev.SessionKeyID = str(c, "accessKeyId")
		}
	}
	return ev, nil
}

// A CloudTrail reads events with LookupEvents in some regions (CloudTrail
// is regional: IAM's events, and those of the global and us-east-1 STS
// endpoints, are in us-east-1) from Start on (CloudTrail keeps 90 days).
type CloudTrail struct {
	cfg     awssdk.Config
	regions []string
	start   time.Time
}

// NewCloudTrail reads with cfg's credentials in regions (none: us-east-1)
// from start (zero: 90 days back).
func NewCloudTrail(cfg awssdk.Config, regions []string, start time.Time) *CloudTrail {
	if len(regions) == 0 {
		regions = []string{"us-east-1"}
	}
	return &CloudTrail{cfg: cfg, regions: regions, start: start}
}

// Regions are the regions read.
func (c *CloudTrail) Regions() []string { return slices.Clone(c.regions) }

// EventsOfKey are the events of calls signed with the access key, oldest
// first.
func (c *CloudTrail) EventsOfKey(ctx context.Context, keyID string) ([]TrailEvent, error) {
	return c.lookup(ctx, cttypes.LookupAttributeKeyAccessKeyId, keyID)
}

// EventsOfResource are the events that name the resource (for a role's
// ARN: its AssumeRole events), oldest first.
func (c *CloudTrail) EventsOfResource(ctx context.Context, name string) ([]TrailEvent, error) {
	return c.lookup(ctx, cttypes.LookupAttributeKeyResourceName, name)
}

func (c *CloudTrail) lookup(ctx context.Context, key cttypes.LookupAttributeKey, value string) ([]TrailEvent, error) {
	var out []TrailEvent
	seen := map[string]bool{}
	for _, region := range c.regions {
		client := cloudtrail.NewFromConfig(c.cfg, func(o *cloudtrail.Options) { o.Region = region })
		in := &cloudtrail.LookupEventsInput{LookupAttributes: []cttypes.LookupAttribute{{AttributeKey: key, AttributeValue: awssdk.String(value)}}}
		if !c.start.IsZero() {
			in.StartTime = awssdk.Time(c.start)
		}
		var newestFirst []TrailEvent
		pages := cloudtrail.NewLookupEventsPaginator(client, in)
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, classify("look up CloudTrail events of "+value+" in "+region, err)
			}
			for _, e := range page.Events {
				ev, err := ParseTrailRecord([]byte(awssdk.ToString(e.CloudTrailEvent)))
				if err != nil {
					return nil, fmt.Errorf("aws: CloudTrail event %s in %s: %w", awssdk.ToString(e.EventId), region, err)
				}
				if ev.ID == "" {
					ev.ID = awssdk.ToString(e.EventId)
				}
				if !seen[ev.ID] {
					seen[ev.ID] = true
					newestFirst = append(newestFirst, *ev)
				}
			}
		}
		slices.Reverse(newestFirst)
		out = append(out, newestFirst...)
	}
	// Oldest first; events of the same second stay in CloudTrail's order.
	slices.SortStableFunc(out, func(a, b TrailEvent) int { return a.Time.Compare(b.Time) })
	return out, nil
}
