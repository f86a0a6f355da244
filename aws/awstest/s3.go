package awstest

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is the server's S3, as much as a trail's log files need: a
// bucket a trail delivers to ([Server.AddTrailBucket]), served with
// ListObjectsV2 and GetObject in path-style addressing
// (http://HOST/BUCKET?list-type=2, http://HOST/BUCKET/KEY), SigV4 signed
// as for the other services, with S3's XML shapes and errors (Amazon S3
// API Reference).
//
// The trail writes the server's recorded events (see cloudtrail.go) as
// CloudTrail does: per region, one gzip log file per five minutes of
// events, named
//
//	PREFIX/AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_YYYYMMDDTHHMMZ_UNIQUE.json.gz
//
// or, for an organization's trail, under AWSLogs/ORG-ID/ACCOUNT/CloudTrail/
//
// with the delivery time (the end of the five minutes) in the folder and
// the name, holding {"Records":[…]}. Unlike CloudTrail it delivers at once
// (a file grows until its five minutes are over), and it keeps no more
// events than LookupEvents has. Objects put with [Server.PutTrailObject]
// (another account's file, a tampered one) stand beside the delivered
// ones, or in their place. S3 calls are data events, which trails do not
// log by default: they are not recorded.

const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// trailFileInterval is how much time one delivered log file covers.
const trailFileInterval = 5 * time.Minute

// trailBucket is a bucket a trail delivers to.
type trailBucket struct {
	Prefix  string            `json:"prefix"`
	Org     string            `json:"org,omitempty"`     // an organization trail's id
	Objects map[string][]byte `json:"objects,omitempty"` // put by tests, by key
}

type s3Object struct {
	key      string
	body     []byte
	modified time.Time
}

// AddTrailBucket makes a bucket to which a trail delivers the server's
// events, under the key prefix (none: "").
func (s *Server) AddTrailBucket(bucket, prefix string) { s.AddOrgTrailBucket(bucket, prefix, "") }

// AddOrgTrailBucket is AddTrailBucket for the trail of the organization
// org (an id o-…), which delivers under AWSLogs/ORG/ACCOUNT/.
func (s *Server) AddOrgTrailBucket(bucket, prefix, org string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.TrailBuckets == nil {
		s.st.TrailBuckets = map[string]*trailBucket{}
	}
	if s.st.TrailBuckets[bucket] == nil {
		s.st.TrailBuckets[bucket] = &trailBucket{}
	}
	s.st.TrailBuckets[bucket].Prefix = strings.Trim(prefix, "/")
	s.st.TrailBuckets[bucket].Org = org
	s.persist()
}

// PutTrailObject puts an object with body into a trail's bucket, beside
// the log files the trail delivers (or in place of the one with that
// key).
func (s *Server) PutTrailObject(bucket, key string, body []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.st.TrailBuckets[bucket]
	if b == nil {
		return fmt.Errorf("awstest: no bucket %s", bucket)
	}
	if b.Objects == nil {
		b.Objects = map[string][]byte{}
	}
	b.Objects[key] = bytes.Clone(body)
	s.persist()
	return nil
}

// TrailObjectKeys are the keys of a trail bucket's objects, in order.
func (s *Server) TrailObjectKeys(bucket string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var keys []string
	for _, o := range s.bucketObjects(s.st.TrailBuckets[bucket]) {
		keys = append(keys, o.key)
	}
	return keys
}

// TrailLogKey is the key of the log file the trail of bucket delivers
// with the events of region recorded around t.
func (s *Server) TrailLogKey(bucket, region string, t time.Time) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.st.TrailBuckets[bucket]
	if b == nil {
		b = &trailBucket{}
	}
	return s.trailLogKey(b, region, t.UTC().Truncate(trailFileInterval).Add(trailFileInterval))
}

func (s *Server) trailLogKey(b *trailBucket, region string, delivered time.Time) string {
	sum := sha256.Sum256([]byte(region + delivered.Format(time.RFC3339) + s.st.Account))
	k := s.st.Account + "/CloudTrail/" + region + "/" + delivered.Format("2006/01/02") + "/" +
		s.st.Account + "_CloudTrail_" + region + "_" + delivered.Format("20060102T1504Z") + "_" + strings.ToUpper(hex.EncodeToString(sum[:8])) + ".json.gz"
	if b.Org != "" {
		k = b.Org + "/" + k
	}
	k = "AWSLogs/" + k
	if b.Prefix != "" {
		k = b.Prefix + "/" + k
	}
	return k
}

// bucketObjects are b's objects, sorted by key: the log files of the
// recorded events, and the objects put. Callers hold s.mu.
func (s *Server) bucketObjects(b *trailBucket) []s3Object {
	if b == nil {
		return nil
	}
	type file struct {
		delivered time.Time
		records   []json.RawMessage
	}
	files := map[string]*file{}
	for _, ev := range s.st.Events {
		delivered := ev.Time.UTC().Truncate(trailFileInterval).Add(trailFileInterval)
		k := s.trailLogKey(b, ev.Region, delivered)
		f := files[k]
		if f == nil {
			f = &file{delivered: delivered}
			files[k] = f
		}
		f.records = append(f.records, ev.Record)
	}
	var out []s3Object
	for k, f := range files {
		if _, ok := b.Objects[k]; ok {
			continue
		}
		body, _ := json.Marshal(struct {
			Records []json.RawMessage
		}{f.records})
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(body)
		zw.Close()
		out = append(out, s3Object{key: k, body: z.Bytes(), modified: f.delivered})
	}
	for k, body := range b.Objects {
		out = append(out, s3Object{key: k, body: body, modified: s.now()})
	}
	slices.SortFunc(out, func(a, b s3Object) int { return strings.Compare(a.key, b.key) })
	return out
}

// serveS3 answers path-style S3 requests: ListObjectsV2 on /BUCKET,
// GetObject on /BUCKET/KEY.
func (s *Server) serveS3(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	c := &call{r: r, requestID: requestID, params: r.URL.Query(), action: "GetObject"}
	if key == "" {
		c.action = "ListObjectsV2"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[c.action]++
	fail := func(e *apiError) {
		e = e.forService("s3")
		s.logCall(c, e)
		writeS3Error(w, requestID, bucket, key, e)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		fail(newError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource."))
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := s.authenticate(c, body); err != nil {
		fail(err)
		return
	}
	if c.service != "s3" {
		fail(errSignature(fmt.Sprintf("Credential should be scoped to correct service: 's3', not '%s'", c.service)))
		return
	}
	if f := s.faults[c.action]; f != nil {
		f.n--
		if f.n <= 0 {
			delete(s.faults, c.action)
		}
		fail(newError(statusForCode(f.code), f.code, "injected by awstest"))
		return
	}
	b := s.st.TrailBuckets[bucket]
	if c.action == "ListObjectsV2" {
		if err := s.authorize(c, "s3:ListBucket", "arn:aws:s3:::"+bucket, nil); err != nil {
			fail(err)
			return
		}
		if b == nil {
			fail(newError(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist"))
			return
		}
		if c.params.Get("list-type") != "2" {
			fail(newError(http.StatusNotImplemented, "NotImplemented", "only ListObjectsV2 (list-type=2) is served here"))
			return
		}
		res, aerr := s.listObjects(bucket, b, c.params)
		if aerr != nil {
			fail(aerr)
			return
		}
		s.logCall(c, nil)
		out, _ := xml.Marshal(res)
		w.Header().Set("Content-Type", "application/xml")
		w.Header().Set("X-Amz-Request-Id", requestID)
		io.WriteString(w, xml.Header)
		w.Write(out)
		return
	}
	if err := s.authorize(c, "s3:GetObject", "arn:aws:s3:::"+bucket+"/"+key, nil); err != nil {
		fail(err)
		return
	}
	if b == nil {
		fail(newError(http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist"))
		return
	}
	objects := s.bucketObjects(b)
	i := slices.IndexFunc(objects, func(o s3Object) bool { return o.key == key })
	if i < 0 {
		fail(newError(http.StatusNotFound, "NoSuchKey", "The specified key does not exist."))
		return
	}
	o := objects[i]
	s.logCall(c, nil)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(o.body)))
	w.Header().Set("ETag", etag(o.body))
	w.Header().Set("Last-Modified", o.modified.UTC().Format(http.TimeFormat))
	w.Header().Set("X-Amz-Request-Id", requestID)
	if r.Method == http.MethodHead {
		return
	}
	w.Write(o.body)
}

func etag(b []byte) string {
	sum := md5.Sum(b)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

type xListBucketResult struct {
	XMLName               xml.Name    `xml:"ListBucketResult"`
	Xmlns                 string      `xml:"xmlns,attr"`
	Name                  string      `xml:"Name"`
	Prefix                string      `xml:"Prefix"`
	KeyCount              int         `xml:"KeyCount"`
	MaxKeys               int         `xml:"MaxKeys"`
	IsTruncated           bool        `xml:"IsTruncated"`
	Contents              []xS3Object `xml:"Contents"`
	ContinuationToken     string      `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string      `xml:"NextContinuationToken,omitempty"`
	StartAfter            string      `xml:"StartAfter,omitempty"`
}

type xS3Object struct {
	Key          string `xml:"Key"`
	LastModified string `xml:"LastModified"`
	ETag         string `xml:"ETag"`
	Size         int    `xml:"Size"`
	StorageClass string `xml:"StorageClass"`
}

// listObjects is ListObjectsV2: prefix, start-after, max-keys (at most
// 1000) and continuation-token; no delimiter. Callers hold s.mu.
func (s *Server) listObjects(bucket string, b *trailBucket, q url.Values) (*xListBucketResult, *apiError) {
	if q.Get("delimiter") != "" {
		return nil, newError(http.StatusNotImplemented, "NotImplemented", "delimiter is not served here")
	}
	max := 1000
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, newError(http.StatusBadRequest, "InvalidArgument", "Provided max-keys not an integer or within integer range")
		}
		max = min(n, 1000)
	}
	res := &xListBucketResult{Xmlns: s3Namespace, Name: bucket, Prefix: q.Get("prefix"), MaxKeys: max,
		ContinuationToken: q.Get("continuation-token"), StartAfter: q.Get("start-after")}
	after := q.Get("start-after")
	if t := q.Get("continuation-token"); t != "" {
		k, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil {
			return nil, newError(http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect")
		}
		after = string(k)
	}
	for _, o := range s.bucketObjects(b) {
		if !strings.HasPrefix(o.key, res.Prefix) || o.key <= after {
			continue
		}
		if len(res.Contents) == max {
			res.IsTruncated = true
			res.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.Contents[max-1].Key))
			break
		}
		res.Contents = append(res.Contents, xS3Object{Key: o.key, LastModified: o.modified.UTC().Format("2006-01-02T15:04:05.000Z"),
			ETag: etag(o.body), Size: len(o.body), StorageClass: "STANDARD"})
	}
	res.KeyCount = len(res.Contents)
	return res, nil
}

type xS3Error struct {
	XMLName    xml.Name `xml:"Error"`
	Code       string   `xml:"Code"`
	Message    string   `xml:"Message"`
	BucketName string   `xml:"BucketName,omitempty"`
	Key        string   `xml:"Key,omitempty"`
	RequestID  string   `xml:"RequestId"`
}

func writeS3Error(w http.ResponseWriter, requestID, bucket, key string, e *apiError) {
	x := xS3Error{Code: e.Code, Message: e.Message, RequestID: requestID}
	switch e.Code {
	case "NoSuchBucket":
		x.BucketName = bucket
	case "NoSuchKey":
		x.Key = key
	}
	out, _ := xml.Marshal(x)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("X-Amz-Request-Id", requestID)
	w.WriteHeader(e.Status)
	io.WriteString(w, xml.Header)
	w.Write(out)
}
