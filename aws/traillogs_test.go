package aws_test

import (
	"bytes"
	"compress/gzip"
	"slices"
	"strings"
	"testing"
	"time"

	bgaws "github.com/breakglass/breakglass/aws"
)

// recordOf is assumeRoleRecord with another event id and account.
func recordOf(id, account string) string {
	r := strings.Replace(assumeRoleRecord, `"eventID":"e1"`, `"eventID":"`+id+`"`, 1)
	return strings.Replace(r, `"recipientAccountId":"111122223333"`, `"recipientAccountId":"`+account+`"`, 1)
}

func TestParseTrailLog(t *testing.T) {
	good := `{"Records":[` + recordOf("e1", "111122223333") + `,` + recordOf("e2", "444455556666") + "]}\n"
	recs, err := bgaws.ParseTrailLog([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].ID != "e1" || recs[0].Name != "AssumeRole" || recs[0].Account != "111122223333" ||
		recs[0].RoleARN != "arn:aws:iam::111122223333:role/breakglass/breakglass-prod" || recs[1].Account != "444455556666" {
		t.Errorf("records %+v", recs)
	}
	if recs, err := bgaws.ParseTrailLog([]byte(`{"Records":[]}`)); err != nil || len(recs) != 0 {
		t.Errorf("an empty log file: %v %v", recs, err)
	}
	noID := strings.Replace(assumeRoleRecord, `"eventID":"e1",`, "", 1)
	for name, bad := range map[string]string{
		"not JSON":        "\x1f\x8b garbage",
		"empty":           "",
		"an array":        "[]",
		"another member":  `{"Records":[],"Digest":1}`,
		"lower case":      `{"records":[]}`,
		"null records":    `{"Records":null}`,
		"records object":  `{"Records":{}}`,
		"a string record": `{"Records":["x"]}`,
		"trailing data":   `{"Records":[]} {}`,
		"no eventID":      `{"Records":[` + noID + `]}`,
		"no eventTime":    `{"Records":[{"eventID":"x","eventName":"A","recipientAccountId":"111122223333"}]}`,
		"bad account":     `{"Records":[` + recordOf("e1", "1111") + `]}`,
	} {
		if recs, err := bgaws.ParseTrailLog([]byte(bad)); err == nil {
			t.Errorf("%s: parsed %+v", name, recs)
		}
	}
}

func FuzzParseTrailLog(f *testing.F) {
	f.Add([]byte(`{"Records":[` + recordOf("e1", "111122223333") + `]}`))
	f.Add([]byte(`{"Records":[]}`))
	f.Add([]byte(`{"Records":[{}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		recs, err := bgaws.ParseTrailLog(b)
		if err != nil {
			return
		}
		for _, r := range recs {
			if r.ID == "" || r.Name == "" || r.Time.IsZero() || len(r.Account) != 12 {
				t.Fatalf("parsed an incomplete record: %+v", r)
			}
		}
	})
}

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// TestTrailLogs reads the loopback trail's log files with the SDK's S3
// client and finds the same events as LookupEvents.
func TestTrailLogs(t *testing.T) {
	srv := newServer(t)
	srv.AddTrailBucket("trail", "logs")
	s := spec(srv)
	key := *provision(t, srv, s)
	sess, err := bgaws.Session(ctx, key, request(srv, s, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bgaws.Session(ctx, key, request(srv, s, "bob")); err != nil {
		t.Fatal(err)
	}
	now := srv.Now()
	window := []bgaws.TrailWindow{{From: now.Add(-time.Minute), To: now.Add(time.Minute)}}
	admin := adminConfig(srv)
	read := func() (*bgaws.TrailLogs, error) {
		tl, err := bgaws.NewTrailLogs(admin, bgaws.TrailBucket{Name: "trail", Prefix: "logs/"}, srv.AccountID(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return tl, tl.Read(ctx, window)
	}
	tl, err := read()
	if err != nil {
		t.Fatal(err)
	}
	if tl.Location() != "s3://trail/logs/AWSLogs/"+srv.AccountID()+"/CloudTrail/" || len(tl.Objects()) == 0 || tl.Days() < 1 || len(tl.Ignored()) != 0 {
		t.Errorf("read %s: %v, ignored %v, %d days", tl.Location(), tl.Objects(), tl.Ignored(), tl.Days())
	}
	ct := bgaws.NewCloudTrail(admin, nil, time.Time{})
	ids := func(evs []bgaws.TrailEvent, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range evs {
			out = append(out, e.ID)
		}
		slices.Sort(out)
		return out
	}
	role := s.RoleARN(srv.AccountID())
	for _, q := range []struct {
		what string
		logs []string
		api  []string
	}{
		{"the role's events", ids(tl.EventsOfResource(ctx, role)), ids(ct.EventsOfResource(ctx, role))},
		{"the long-term key's events", ids(tl.EventsOfKey(ctx, key.AccessKeyID)), ids(ct.EventsOfKey(ctx, key.AccessKeyID))},
		{"the session's events", ids(tl.EventsOfKey(ctx, sess.AccessKeyID)), ids(ct.EventsOfKey(ctx, sess.AccessKeyID))},
	} {
		if len(q.api) == 0 && q.what != "the session's events" || !slices.Equal(q.logs, q.api) {
			t.Errorf("%s: log files %v, LookupEvents %v", q.what, q.logs, q.api)
		}
	}
	if evs, _ := tl.EventsOfResource(ctx, role); len(evs) != 2 || evs[0].SourceIdentity != "alice" || evs[1].SourceIdentity != "bob" {
		t.Errorf("AssumeRoles %+v", evs)
	}

	// Another account's file in the folder, and another account's record
	// in a file of this account's name: left out.
	folder := "logs/AWSLogs/" + srv.AccountID() + "/CloudTrail/us-east-1/" + now.UTC().Format("2006/01/02") + "/"
	stamp := now.UTC().Format("20060102T1504Z")
	srv.PutTrailObject("trail", folder+"444455556666_CloudTrail_us-east-1_"+stamp+"_OTHER.json.gz", gz(t, `{"Records":[`+recordOf("x1", "444455556666")+`]}`))
	srv.PutTrailObject("trail", folder+srv.AccountID()+"_CloudTrail_us-east-1_"+stamp+"_MIXED.json.gz", gz(t, `{"Records":[`+recordOf("x2", "444455556666")+`]}`))
	tl, err = read()
	if err != nil {
		t.Fatal(err)
	}
	if ig := strings.Join(tl.Ignored(), "\n"); !strings.Contains(ig, "_OTHER.json.gz: not a log file name of account "+srv.AccountID()) ||
		!strings.Contains(ig, "_MIXED.json.gz: 1 record of another account") {
		t.Errorf("ignored:\n%s", ig)
	}
	if evs, _ := tl.EventsOfResource(ctx, "arn:aws:iam::111122223333:role/breakglass/breakglass-prod"); len(evs) != 0 {
		t.Errorf("another account's events read: %+v", evs)
	}

	// A damaged log file stops the reading, naming it.
	damaged := srv.TrailLogKey("trail", "us-east-1", now)
	for what, body := range map[string][]byte{
		"is not gzip":                    []byte("garbage"),
		"does not decompress":            gz(t, "{}")[:12],
		"not a CloudTrail log file":      gz(t, "hello"),
		`record 0: not a CloudTrail rec`: gz(t, `{"Records":[{"eventID":"x"}]}`),
	} {
		srv.PutTrailObject("trail", damaged, body)
		_, err := read()
		if err == nil || !strings.Contains(err.Error(), "s3://trail/"+damaged) || !strings.Contains(err.Error(), what) {
			t.Errorf("%s: %v", what, err)
		}
	}

	if _, err := bgaws.NewTrailLogs(admin, bgaws.TrailBucket{Name: "a/b"}, srv.AccountID(), nil); err == nil {
		t.Error("a bucket name with a slash")
	}
	if _, err := bgaws.NewTrailLogs(admin, bgaws.TrailBucket{Name: "trail"}, "12", nil); err == nil {
		t.Error("a short account id")
	}
	tl, _ = bgaws.NewTrailLogs(admin, bgaws.TrailBucket{Name: "nope"}, srv.AccountID(), nil)
	if err := tl.Read(ctx, window); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Errorf("no such bucket: %v", err)
	}
}

// TestTrailLogsOrganization: an organization's trail delivers every
// member account's files under AWSLogs/ORG/ACCOUNT/; TrailLogs finds the
// account's events there, and finds nothing where an account trail's
// files would be.
func TestTrailLogsOrganization(t *testing.T) {
	srv := newServer(t)
	srv.AddOrgTrailBucket("org-trail", "", "o-a1b2c3d4e5")
	s := spec(srv)
	key := *provision(t, srv, s)
	if _, err := bgaws.Session(ctx, key, request(srv, s, "alice")); err != nil {
		t.Fatal(err)
	}
	now := srv.Now()
	window := []bgaws.TrailWindow{{From: now.Add(-time.Minute), To: now.Add(time.Minute)}}
	admin := adminConfig(srv)
	role := s.RoleARN(srv.AccountID())
	for _, tt := range []struct {
		org  string
		want bool
	}{{"o-a1b2c3d4e5", true}, {"", false}} {
		tl, err := bgaws.NewTrailLogs(admin, bgaws.TrailBucket{Name: "org-trail", Organization: tt.org}, srv.AccountID(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := tl.Read(ctx, window); err != nil {
			t.Fatal(err)
		}
		evs, err := tl.EventsOfResource(ctx, role)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(evs) > 0; got != tt.want {
			t.Errorf("organization %q: %d events of the role in %s (objects %v)", tt.org, len(evs), tl.Location(), srv.TrailObjectKeys("org-trail"))
		}
	}
	if tl, _ := bgaws.NewTrailLogs(admin, bgaws.TrailBucket{Name: "org-trail", Organization: "o-a1b2c3d4e5"}, srv.AccountID(), nil); tl.Location() != "s3://org-trail/AWSLogs/o-a1b2c3d4e5/"+srv.AccountID()+"/CloudTrail/" {
		t.Errorf("location %s", tl.Location())
	}
	for _, bad := range []string{"o-short", "O-A1B2C3D4E5", "a1b2c3d4e5f6", "o-a1b2c3d4e5/x"} {
		if _, err := bgaws.NewTrailLogs(admin, bgaws.TrailBucket{Name: "org-trail", Organization: bad}, srv.AccountID(), nil); err == nil {
			t.Errorf("organization id %q accepted", bad)
		}
	}
}
