package audit

// CloudTrail evidence: every AssumeRole of a break-glass role and every
// call made with a break-glass user's long-term key must be explained by a
// release in the logbook; per release, what its session did.

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/logbook"
)

// A Trail reads CloudTrail; *aws.CloudTrail is one.
type Trail interface {
	// EventsOfKey are the events of calls signed with the access key.
	EventsOfKey(ctx context.Context, keyID string) ([]aws.TrailEvent, error)
	// EventsOfResource are the events naming the resource (a role ARN:
	// its AssumeRole events).
	EventsOfResource(ctx context.Context, name string) ([]aws.TrailEvent, error)
}

// Trails reads several sources of CloudTrail events as one (LookupEvents
// and a trail's log files, say): an event that more than one has is
// returned once (by event id), oldest first.
func Trails(sources ...Trail) Trail { return trails(sources) }

type trails []Trail

func (ts trails) EventsOfKey(ctx context.Context, keyID string) ([]aws.TrailEvent, error) {
	return ts.merge(func(t Trail) ([]aws.TrailEvent, error) { return t.EventsOfKey(ctx, keyID) })
}

func (ts trails) EventsOfResource(ctx context.Context, name string) ([]aws.TrailEvent, error) {
	return ts.merge(func(t Trail) ([]aws.TrailEvent, error) { return t.EventsOfResource(ctx, name) })
}

func (ts trails) merge(get func(Trail) ([]aws.TrailEvent, error)) ([]aws.TrailEvent, error) {
	var out []aws.TrailEvent
	seen := map[string]bool{}
	for _, t := range ts {
		evs, err := get(t)
		if err != nil {
			return nil, err
		}
		for _, ev := range evs {
			if !seen[ev.ID] {
				seen[ev.ID] = true
				out = append(out, ev)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b aws.TrailEvent) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// MaxSession is the longest a release's session can last (STS's limit
// for a role session), for the window of a release whose expiry the
// logbook does not give.
const MaxSession = 12 * time.Hour

// Windows are the spans of time in which the releases' sessions can have
// made calls: from a little before each release (clocks differ) to its
// session's expiry, or MaxSession later when the logbook does not say (a
// presigned release: its request's validity and then a session).
func Windows(rep *Report) []aws.TrailWindow {
	var out []aws.TrailWindow
	for _, r := range rep.Releases {
		from := r.Time.Add(-presignWindow)
		to := r.Time.Add(presignWindow + MaxSession)
		if t, err := time.Parse(time.RFC3339, r.Expires); err == nil && r.Output != "presign" && t.After(r.Time) && t.Before(to) {
			to = t
		}
		out = append(out, aws.TrailWindow{From: from, To: to})
	}
	return out
}

// TrailLogsRead says which of a trail's log files the audit read.
type TrailLogsRead struct {
	Location string   `json:"location"`          // s3://BUCKET/PREFIX/AWSLogs/ACCOUNT/CloudTrail/
	Days     int      `json:"days"`              // days of folders listed per region
	Objects  int      `json:"objects"`           // log files read
	Ignored  []string `json:"ignored,omitempty"` // objects or records left out, and why
	// LookupEvents is whether LookupEvents was read too.
	LookupEvents bool `json:"lookup_events"`
}

// SessionTrail is what CloudTrail says about one release: the AssumeRole
// events it explains, and the calls of the sessions they made.
type SessionTrail struct {
	AssumeRoles []aws.TrailEvent `json:"assume_role"`
	SessionKeys []string         `json:"session_keys"`
	Events      int              `json:"events"`
	First       *time.Time       `json:"first,omitempty"`
	Last        *time.Time       `json:"last,omitempty"`
	Writes      []CallCount      `json:"write_calls,omitempty"`
	Errors      int              `json:"errors"`
	Note        string           `json:"note,omitempty"`
}

// CallCount is how often a call was made.
type CallCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// A TrailFinding is an AssumeRole or a call with a long-term key that no
// release explains.
type TrailFinding struct {
	Secret  string         `json:"secret"`
	Problem string         `json:"problem"`
	Event   aws.TrailEvent `json:"event"`
}

// CloudTrailRetention is how long LookupEvents can see back.
const CloudTrailRetention = 90 * 24 * time.Hour

// presignWindow is how long after signing AWS STS is reported to accept a
// presigned request, whatever its X-Amz-Expires says.
const presignWindow = 15 * time.Minute

// AddTrail matches CloudTrail to the logbook and adds the result to rep:
//
//   - every successful AssumeRole of a secret's role must be the session
//     of a release: its session key is the release's session-key-id, or,
//     for a presigned release (output presign), it is signed by the
//     release's key, with the operator as source identity, while the
//     request was valid. A presigned request redeemed more than once
//     explains only its first session;
//   - every other call signed with a long-term key of the secret (the
//     user may do nothing but assume the role) is a finding, except a
//     refused AssumeRole that a release or a recorded failed attempt
//     explains (UseSlack);
//   - a refused AssumeRole of the role by anyone else is a finding;
//   - per release of rep.Releases, the events of its sessions: count,
//     first and last, the calls that change something, errors.
//
// Events before since are not looked at; now dates CloudTrail's 90 days.
func AddTrail(ctx context.Context, rep *Report, entries []*logbook.Entry, since, now time.Time, trail Trail, regions []string) error {
	rep.TrailRegions = regions
	if rep.TrailFindings == nil {
		rep.TrailFindings = []TrailFinding{}
	}
	type secretInfo struct {
		role string
		keys []string
	}
	secrets := map[string]*secretInfo{}
	var releases []*logbook.Entry
	for _, e := range entries {
		role := e.Details["role-arn"]
		if role == "" {
			continue
		}
		s := secrets[e.Secret]
		if s == nil {
			s = &secretInfo{}
			secrets[e.Secret] = s
		}
		s.role = role
		for _, k := range []string{e.Details[logbook.DetailKeyID], e.Details["new-key-id"]} {
			if k != "" && !slices.Contains(s.keys, k) {
				s.keys = append(s.keys, k)
			}
		}
		if e.Kind == logbook.KindRelease {
			releases = append(releases, e)
		}
	}
	keyOwner := map[string]string{}
	for name, s := range secrets {
		for _, k := range s.keys {
			keyOwner[k] = name
		}
	}

	// Every event of the roles and of the long-term keys, once each,
	// oldest first (events of the same second in CloudTrail's order).
	var ordered []aws.TrailEvent
	seen := map[string]bool{}
	for _, name := range sortedNames(secrets) {
		s := secrets[name]
		evs, err := trail.EventsOfResource(ctx, s.role)
		if err != nil {
			return err
		}
		for _, k := range s.keys {
			more, err := trail.EventsOfKey(ctx, k)
			if err != nil {
				return err
			}
			evs = append(evs, more...)
		}
		for _, ev := range evs {
			if !ev.Time.Before(since) && !seen[ev.ID] {
				seen[ev.ID] = true
				ordered = append(ordered, ev)
			}
		}
	}
	slices.SortStableFunc(ordered, func(a, b aws.TrailEvent) int { return a.Time.Compare(b.Time) })

	// Match.
	explains := map[int64][]aws.TrailEvent{} // release index -> AssumeRoles
	roleSecret := func(arn string) string {
		for name, s := range secrets {
			if s.role == arn {
				return name
			}
		}
		return ""
	}
	find := func(secret, problem string, ev aws.TrailEvent) {
		rep.TrailFindings = append(rep.TrailFindings, TrailFinding{Secret: secret, Problem: problem, Event: ev})
	}
	for _, ev := range ordered {
		secret := roleSecret(ev.RoleARN)
		longTerm := keyOwner[ev.AccessKeyID]
		switch {
		case ev.Name == "AssumeRole" && secret != "" && ev.ErrorCode == "":
			r, again := matchRelease(releases, explains, secret, ev)
			switch {
			case r != nil && again:
				explains[r.Index] = append(explains[r.Index], ev)
				find(secret, fmt.Sprintf("the presigned request of release %d was redeemed again: session %s as %s is one more than the release made; if %s did not redeem it twice, someone else did",
					r.Index, ev.SessionKeyID, ev.SourceIdentity, r.Details[logbook.DetailOperator]), ev)
			case r != nil:
				explains[r.Index] = append(explains[r.Index], ev)
			default:
				find(secret, fmt.Sprintf("AssumeRole by %s (source identity %q) made session %s, and no release in the logbook explains it",
					ev.CallerARN, ev.SourceIdentity, ev.SessionKeyID), ev)
			}
		case ev.Name == "AssumeRole" && secret != "" && longTerm == "":
			find(secret, fmt.Sprintf("%s tried to assume the break-glass role and was refused (%s)", ev.CallerARN, ev.ErrorCode), ev)
		case longTerm != "" && ev.Name == "AssumeRole" && ev.ErrorCode == "":
			find(longTerm, fmt.Sprintf("the long-term key %s assumed another role, %s", ev.AccessKeyID, ev.RoleARN), ev)
		case longTerm != "" && ev.Name == "AssumeRole":
			if ExplainUse(entries, longTerm, ev.AccessKeyID, ev.Time) == nil {
				find(longTerm, fmt.Sprintf("a refused AssumeRole (%s) with the long-term key %s that no release or recorded attempt explains", ev.ErrorCode, ev.AccessKeyID), ev)
			}
		case longTerm != "":
			find(longTerm, fmt.Sprintf("%s was called with the long-term key %s: the break-glass user may only assume the role, so someone used the key itself", ev.Name, ev.AccessKeyID), ev)
		}
	}
	rep.UnexplainedCalls = len(rep.TrailFindings)

	// Per release: its sessions' calls.
	for i := range rep.Releases {
		r := &rep.Releases[i]
		st := &SessionTrail{AssumeRoles: explains[r.Entry], SessionKeys: []string{}}
		if st.AssumeRoles == nil {
			st.AssumeRoles = []aws.TrailEvent{}
		}
		if r.SessionKeyID != "" {
			st.SessionKeys = append(st.SessionKeys, r.SessionKeyID)
		}
		for _, ev := range st.AssumeRoles {
			if ev.SessionKeyID != "" && !slices.Contains(st.SessionKeys, ev.SessionKeyID) {
				st.SessionKeys = append(st.SessionKeys, ev.SessionKeyID)
			}
		}
		switch {
		case now.Sub(r.Time) > CloudTrailRetention && rep.TrailLogs == nil:
			st.Note = "older than CloudTrail's 90 days of event history: read the trail's log files (--trail-bucket)"
		case len(st.AssumeRoles) == 0 && now.Sub(r.Time) > CloudTrailRetention:
			st.Note = "no AssumeRole in the trail's log files read (in the regions read), and older than LookupEvents' 90 days"
		case len(st.AssumeRoles) == 0 && r.Output == "presign":
			st.Note = "no AssumeRole in CloudTrail: the presigned request was not redeemed (in the regions read)"
		case len(st.AssumeRoles) == 0:
			st.Note = "no AssumeRole in CloudTrail for this session (in the regions read): it was opened elsewhere, or the record is incomplete"
		}
		writes := map[string]int{}
		for _, k := range st.SessionKeys {
			evs, err := trail.EventsOfKey(ctx, k)
			if err != nil {
				return err
			}
			for _, ev := range evs {
				st.Events++
				t := ev.Time
				if st.First == nil || t.Before(*st.First) {
					st.First = &t
				}
				if st.Last == nil || t.After(*st.Last) {
					st.Last = &t
				}
				if ev.ErrorCode != "" {
					st.Errors++
				}
				if !ev.ReadOnly {
					writes[ev.Name]++
				}
			}
		}
		for _, name := range sortedNames(writes) {
			st.Writes = append(st.Writes, CallCount{Name: name, Count: writes[name]})
		}
		r.Trail = st
	}
	return nil
}

// matchRelease finds the release an AssumeRole of secret's role is the
// session of; again reports a presigned release that already explains an
// earlier AssumeRole.
func matchRelease(releases []*logbook.Entry, explains map[int64][]aws.TrailEvent, secret string, ev aws.TrailEvent) (r *logbook.Entry, again bool) {
	for _, e := range releases {
		if e.Secret == secret && ev.SessionKeyID != "" && e.Details["session-key-id"] == ev.SessionKeyID {
			return e, false
		}
	}
	for _, e := range releases {
		if e.Secret != secret || e.Details["output"] != "presign" || e.Details[logbook.DetailKeyID] != ev.AccessKeyID ||
			e.Details[logbook.DetailOperator] != ev.SourceIdentity {
			continue
		}
		signed, err1 := time.Parse(time.RFC3339, e.Details["request-signed"])
		expires, err2 := time.Parse(time.RFC3339, e.Details["request-expires"])
		if err1 != nil || err2 != nil {
			continue
		}
		end := expires
		if w := signed.Add(presignWindow); w.After(end) {
			end = w
		}
		if ev.Time.Before(signed.Add(-presignWindow)) || ev.Time.After(end.Add(time.Minute)) {
			continue
		}
		return e, len(explains[e.Index]) > 0
	}
	return nil, false
}

func sortedNames[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
