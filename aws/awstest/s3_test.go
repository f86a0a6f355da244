package awstest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func s3As(srv *Server, c Credentials) *s3.Client {
	return s3.NewFromConfig(sdkConfig(srv, c), func(o *s3.Options) { o.UsePathStyle = true })
}

// TestTrailBucket: the recorded events come back as CloudTrail log files
// in the trail's bucket, read with the SDK's S3 client.
func TestTrailBucket(t *testing.T) {
	srv := newServer(t)
	srv.AddTrailBucket("trail-logs", "org/")
	key, roleARN := account(t, srv, 3600)
	sess := assume(t, srv, key, roleARN, 900)
	must[*iam.ListUsersOutput](t)(iamAs(srv, sess).ListUsers(ctx, &iam.ListUsersInput{}))

	admin := s3As(srv, srv.AdminCredentials())
	prefix := "org/AWSLogs/" + srv.AccountID() + "/CloudTrail/us-east-1/" + srv.Now().UTC().Format("2006/01/02") + "/"
	list := must[*s3.ListObjectsV2Output](t)(admin.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: awssdk.String("trail-logs"), Prefix: &prefix}))
	if len(list.Contents) == 0 {
		t.Fatalf("no log file under %s", prefix)
	}
	k := awssdk.ToString(list.Contents[len(list.Contents)-1].Key)
	if want := srv.TrailLogKey("trail-logs", "us-east-1", srv.Now()); k != want {
		t.Errorf("key %s, want %s", k, want)
	}
	name := k[strings.LastIndex(k, "/")+1:]
	if !strings.HasPrefix(name, srv.AccountID()+"_CloudTrail_us-east-1_") || !strings.HasSuffix(name, ".json.gz") {
		t.Errorf("log file name %s", name)
	}
	obj := must[*s3.GetObjectOutput](t)(admin.GetObject(ctx, &s3.GetObjectInput{Bucket: awssdk.String("trail-logs"), Key: &k}))
	zr, err := gzip.NewReader(obj.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(zr)
	var file struct {
		Records []struct {
			EventName, EventID, RecipientAccountID string
			UserIdentity                           struct{ AccessKeyID string }
		}
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range file.Records {
		names[r.EventName] = true
		if r.RecipientAccountID != srv.AccountID() || r.EventID == "" {
			t.Errorf("record %+v", r)
		}
	}
	if !names["AssumeRole"] || !names["ListUsers"] {
		t.Errorf("the log file lacks AssumeRole or ListUsers: %s", b)
	}
	// S3 calls are data events: not in the trail.
	if names["ListObjectsV2"] || names["GetObject"] {
		t.Errorf("S3 calls recorded: %v", names)
	}

	// Pages.
	var keys []string
	p := s3.NewListObjectsV2Paginator(admin, &s3.ListObjectsV2Input{Bucket: awssdk.String("trail-logs"), MaxKeys: awssdk.Int32(1)})
	for p.HasMorePages() {
		page := must[*s3.ListObjectsV2Output](t)(p.NextPage(ctx))
		for _, o := range page.Contents {
			keys = append(keys, *o.Key)
		}
	}
	if got := srv.TrailObjectKeys("trail-logs"); strings.Join(keys, " ") != strings.Join(got, " ") || len(keys) == 0 {
		t.Errorf("paged %v, want %v", keys, got)
	}

	// An object put beside them, and one in place of a log file.
	if err := srv.PutTrailObject("trail-logs", "org/other.txt", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := srv.PutTrailObject("trail-logs", k, []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"org/other.txt": "hello", k: "garbage"} {
		o := must[*s3.GetObjectOutput](t)(admin.GetObject(ctx, &s3.GetObjectInput{Bucket: awssdk.String("trail-logs"), Key: awssdk.String(key)}))
		if b, _ := io.ReadAll(o.Body); !bytes.Equal(b, []byte(want)) {
			t.Errorf("%s: %q, want %q", key, b, want)
		}
	}

	// Errors, as S3 says them.
	_, err = admin.GetObject(ctx, &s3.GetObjectInput{Bucket: awssdk.String("trail-logs"), Key: awssdk.String("nope")})
	wantCode(t, err, "NoSuchKey")
	_, err = admin.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: awssdk.String("nope")})
	wantCode(t, err, "NoSuchBucket")
	bad := srv.AdminCredentials()
	bad.SecretAccessKey = strings.Repeat("x", 40)
	_, err = s3As(srv, bad).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: awssdk.String("trail-logs")})
	wantCode(t, err, "SignatureDoesNotMatch")
	bad.AccessKeyID = "AKIANOSUCHKEY0000000"
	_, err = s3As(srv, bad).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: awssdk.String("trail-logs")})
	wantCode(t, err, "InvalidAccessKeyId")
	// The break-glass user may only assume its role.
	_, err = s3As(srv, key).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: awssdk.String("trail-logs")})
	wantCode(t, err, "AccessDenied")
}
