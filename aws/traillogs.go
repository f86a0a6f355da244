package aws

// CloudTrail evidence from a trail's log files in S3: the objects a trail
// delivers, AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/*.json.gz, each a
// gzip of {"Records":[…]} (CloudTrail User Guide, "CloudTrail log file
// examples" and "Finding your CloudTrail log files").

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// MaxTrailLog bounds a trail log file, uncompressed, that TrailLogs reads
// (CloudTrail delivers a file every five minutes or so; a busy account's
// are tens of MB).
const MaxTrailLog = 256 << 20

// TrailDeliveryDelay is how long after an event CloudTrail is taken to
// have delivered it (AWS: "typically within 5 minutes"): the folders of
// a window are read up to its end plus this.
const TrailDeliveryDelay = time.Hour

// A TrailRecord is one record of a trail log file: the event, and the
// ARNs its resources name (what LookupEvents' ResourceName matches).
type TrailRecord struct {
	TrailEvent
	Account   string   // recipientAccountId
	Resources []string // resources[].ARN
}

// ParseTrailLog reads a trail log file, uncompressed: a JSON object with
// one member, "Records", an array of CloudTrail records, each with an
// eventID, eventName, eventTime and a 12-digit recipientAccountId. It is
// strict: anything else (another member, a record that is not an object,
// trailing data) is an error, so that a file that was tampered with or is
// not a log file says so rather than yielding nothing.
func ParseTrailLog(b []byte) ([]TrailRecord, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	var top map[string]json.RawMessage
	if err := d.Decode(&top); err != nil {
		return nil, fmt.Errorf("not a CloudTrail log file: %v", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("not a CloudTrail log file: data after the JSON object")
	}
	raw, ok := top["Records"]
	if !ok || len(top) != 1 {
		return nil, errors.New(`not a CloudTrail log file: want an object with one member, "Records"`)
	}
	var records []json.RawMessage
	if err := json.Unmarshal(raw, &records); err != nil || records == nil {
		return nil, errors.New("not a CloudTrail log file: Records is not an array")
	}
	out := make([]TrailRecord, 0, len(records))
	for i, rec := range records {
		var r struct {
			EventID            string `json:"eventID"`
			RecipientAccountID string `json:"recipientAccountId"`
			Resources          []struct {
				ARN string `json:"ARN"`
			} `json:"resources"`
		}
		if len(rec) == 0 || rec[0] != '{' {
			return nil, fmt.Errorf("record %d: not a JSON object", i)
		}
		if err := json.Unmarshal(rec, &r); err != nil {
			return nil, fmt.Errorf("record %d: %v", i, err)
		}
		ev, err := ParseTrailRecord(rec)
		if err != nil {
			return nil, fmt.Errorf("record %d: %v", i, strings.TrimPrefix(err.Error(), "aws: "))
		}
		if r.EventID == "" {
			return nil, fmt.Errorf("record %d: no eventID", i)
		}
		if !accountID.MatchString(r.RecipientAccountID) {
			return nil, fmt.Errorf("record %d (event %s): recipientAccountId %q is not an account id", i, r.EventID, r.RecipientAccountID)
		}
		tr := TrailRecord{TrailEvent: *ev, Account: r.RecipientAccountID}
		for _, res := range r.Resources {
			if res.ARN != "" {
				tr.Resources = append(tr.Resources, res.ARN)
			}
		}
		out = append(out, tr)
	}
	return out, nil
}

var accountID = regexp.MustCompile(`^[0-9]{12}$`)

// A TrailWindow is a span of time whose events are wanted.
type TrailWindow struct{ From, To time.Time }

// TrailLogs reads a trail's log files in an S3 bucket for one account
// and some regions, for the days of some windows, and answers
// EventsOfKey and EventsOfResource (the interface of the audit's Trail)
// from what it read, as LookupEvents would.
type TrailLogs struct {
	cfg     awssdk.Config
	bucket  string
	prefix  string // the trail's S3 key prefix, without a trailing slash
	org     string // an organization trail's organization id, or ""
	account string
	regions []string

	events  []TrailRecord // oldest first, one per event id
	read    []string      // the objects read
	ignored []string      // objects listed and not read: "KEY: why"
	days    int
}

// A TrailBucket is where a trail delivers its log files: the S3 bucket,
// the trail's key prefix (none: ""), and for an organization's trail the
// organization's id (o-…), under which CloudTrail puts every member
// account's files: PREFIX/AWSLogs/ORG/ACCOUNT/CloudTrail/.
type TrailBucket struct {
	Name, Prefix, Organization string
}

// orgID is the form of an AWS Organizations id.
var orgID = regexp.MustCompile(`^o-[a-z0-9]{10,32}$`)

// NewTrailLogs reads the log files of account's trail in bucket b, in
// regions (none: us-east-1), with cfg's credentials (s3:ListBucket and
// s3:GetObject). A configuration with a custom endpoint
// (AWS_ENDPOINT_URL) addresses the bucket in the path, as S3-compatible
// servers and the loopback server want.
func NewTrailLogs(cfg awssdk.Config, b TrailBucket, account string, regions []string) (*TrailLogs, error) {
	if b.Name == "" || strings.ContainsAny(b.Name, "/ ") {
		return nil, fmt.Errorf("aws: %q is not an S3 bucket name", b.Name)
	}
	if b.Organization != "" && !orgID.MatchString(b.Organization) {
		return nil, fmt.Errorf("aws: %q is not an organization id (o- and 10 to 32 lowercase letters or digits)", b.Organization)
	}
	if !accountID.MatchString(account) {
		return nil, fmt.Errorf("aws: %q is not an account id", account)
	}
	if len(regions) == 0 {
		regions = []string{"us-east-1"}
	}
	return &TrailLogs{cfg: cfg, bucket: b.Name, prefix: strings.Trim(b.Prefix, "/"), org: b.Organization, account: account, regions: regions}, nil
}

// Location is where the log files are: s3://BUCKET/PREFIX/AWSLogs/[ORG/]ACCOUNT/CloudTrail/.
func (t *TrailLogs) Location() string { return "s3://" + t.bucket + "/" + t.folder("") }

// Read lists and reads the log files of the days the windows touch (a
// window's folders run to its end plus TrailDeliveryDelay), in every
// region, in place of what an earlier Read read. A file that is not gzip or not a CloudTrail log file stops it
// with an error naming the object. Objects whose names are not those of
// this account's log files (CloudTrail_REGION_…), and records of another
// account, are left out (Ignored).
func (t *TrailLogs) Read(ctx context.Context, windows []TrailWindow) error {
	t.events, t.read, t.ignored = nil, nil, nil
	days := map[string]bool{}
	for _, w := range windows {
		for d := w.From.UTC().Truncate(24 * time.Hour); !d.After(w.To.Add(TrailDeliveryDelay)); d = d.Add(24 * time.Hour) {
			days[d.Format("2006/01/02")] = true
		}
	}
	t.days = len(days)
	client := s3.NewFromConfig(t.cfg, func(o *s3.Options) {
		o.UsePathStyle = t.cfg.BaseEndpoint != nil
	})
	seen := map[string]bool{}
	for _, region := range t.regions {
		for _, day := range slices.Sorted(maps.Keys(days)) {
			prefix := t.folder(region + "/" + day + "/")
			name := regexp.MustCompile(`^` + regexp.QuoteMeta(prefix+t.account+"_CloudTrail_"+region+"_"+strings.ReplaceAll(day, "/", "")) + `T[0-9]{4}Z_[A-Za-z0-9]+\.json\.gz$`)
			pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: &t.bucket, Prefix: &prefix})
			for pages.HasMorePages() {
				page, err := pages.NextPage(ctx)
				if err != nil {
					return classify("list s3://"+t.bucket+"/"+prefix, err)
				}
				for _, o := range page.Contents {
					key := awssdk.ToString(o.Key)
					if !name.MatchString(key) {
						t.ignored = append(t.ignored, key+": not a log file name of account "+t.account+" in "+region)
						continue
					}
					if err := t.readObject(ctx, client, key, seen); err != nil {
						return err
					}
				}
			}
		}
	}
	slices.SortStableFunc(t.events, func(a, b TrailRecord) int { return a.Time.Compare(b.Time) })
	return nil
}

func (t *TrailLogs) folder(rest string) string {
	p := t.account + "/CloudTrail/" + rest
	if t.org != "" {
		p = t.org + "/" + p
	}
	p = "AWSLogs/" + p
	if t.prefix != "" {
		p = t.prefix + "/" + p
	}
	return p
}

func (t *TrailLogs) readObject(ctx context.Context, client *s3.Client, key string, seen map[string]bool) error {
	where := "s3://" + t.bucket + "/" + key
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &t.bucket, Key: &key})
	if err != nil {
		return classify("read "+where, err)
	}
	defer out.Body.Close()
	zr, err := gzip.NewReader(io.LimitReader(out.Body, MaxTrailLog))
	if err != nil {
		return fmt.Errorf("aws: trail log file %s is not gzip: %v", where, err)
	}
	b, err := io.ReadAll(io.LimitReader(zr, MaxTrailLog+1))
	if err != nil {
		return fmt.Errorf("aws: trail log file %s does not decompress: %v", where, err)
	}
	if len(b) > MaxTrailLog {
		return fmt.Errorf("aws: trail log file %s is larger than %d MiB uncompressed", where, MaxTrailLog>>20)
	}
	records, err := ParseTrailLog(b)
	if err != nil {
		return fmt.Errorf("aws: trail log file %s: %v", where, err)
	}
	other := 0
	for _, r := range records {
		switch {
		case r.Account != t.account:
			other++
		case !seen[r.ID]: // CloudTrail may deliver an event twice
			seen[r.ID] = true
			t.events = append(t.events, r)
		}
	}
	t.read = append(t.read, key)
	if other > 0 {
		what := "records"
		if other == 1 {
			what = "record"
		}
		t.ignored = append(t.ignored, fmt.Sprintf("%s: %d %s of another account", key, other, what))
	}
	return nil
}

// Objects are the log files read.
func (t *TrailLogs) Objects() []string { return slices.Clone(t.read) }

// Ignored are the objects (or their records) that were left out, and why.
func (t *TrailLogs) Ignored() []string { return slices.Clone(t.ignored) }

// Days is how many days of folders Read listed in each region.
func (t *TrailLogs) Days() int { return t.days }

// Regions are the regions read.
func (t *TrailLogs) Regions() []string { return slices.Clone(t.regions) }

// EventsOfKey are the events read of calls signed with the access key,
// oldest first.
func (t *TrailLogs) EventsOfKey(ctx context.Context, keyID string) ([]TrailEvent, error) {
	var out []TrailEvent
	for _, r := range t.events {
		if r.AccessKeyID == keyID {
			out = append(out, r.TrailEvent)
		}
	}
	return out, nil
}

// EventsOfResource are the events read that name the resource (a role's
// ARN: its AssumeRole events), oldest first.
func (t *TrailLogs) EventsOfResource(ctx context.Context, name string) ([]TrailEvent, error) {
	var out []TrailEvent
	for _, r := range t.events {
		if slices.Contains(r.Resources, name) || r.RoleARN == name {
			out = append(out, r.TrailEvent)
		}
	}
	return out, nil
}
