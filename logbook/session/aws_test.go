package session

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal/approval"
)

// awsSession is a session of carol on prod-aws with a fixed id, as aws
// session starts it.
func awsSession() *Session {
	s := New("carol", "prod-aws", make([]byte, 32))
	s.ID = "7f3a0c1d2e3b4a59"
	s.SetRequest(approval.Request{Reason: "SSO outage", Ticket: "INC-4711", UseCase: "SSO is down"})
	return s
}

// entryText is e's note text as entry 1 of a logbook, signed by carol.
func entryText(t *testing.T, e logbook.Entry) string {
	t.Helper()
	e.Origin, e.Index, e.Actor, e.Key = "breakglass.example/test/case", 1, "carol", "7259 2171 d408 e64e"
	e.Time = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	b, err := e.MarshalText()
	if err != nil {
		t.Fatalf("%s entry does not encode: %v", e.Kind, err)
	}
	// From the kind line to the last detail (without origin, number, time
	// and prev).
	lines := strings.Split(string(b), "\n")
	return strings.Join(lines[3:len(lines)-2], "\n") + "\n"
}

const awsHead = `actor carol
key 7259 2171 d408 e64e
secret prod-aws
header 0000000000000000000000000000000000000000000000000000000000000000
reason SSO outage
ticket INC-4711
use-case SSO is down
`

func TestAWSEntries(t *testing.T) {
	signed := time.Date(2026, 3, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	for _, c := range []struct {
		name string
		e    logbook.Entry
		want string
	}{{
		name: "STS session",
		e: awsSession().AWSRelease(AWSRelease{KeyID: "AKIAEXAMPLE", RoleARN: "arn:aws:iam::123456789012:role/breakglass",
			Output: "exec", Tapped: "alice,bob", SessionKeyID: "ASIAEXAMPLE",
			AssumedRoleARN: "arn:aws:sts::123456789012:assumed-role/breakglass/carol", Expires: signed.Add(time.Hour)}),
		want: "kind release\n" + awsHead + `detail assumed-role-arn arn:aws:sts::123456789012:assumed-role/breakglass/carol
detail expires 2026-03-01T10:00:00Z
detail key-id AKIAEXAMPLE
detail operator carol
detail output exec
detail role-arn arn:aws:iam::123456789012:role/breakglass
detail session 7f3a0c1d2e3b4a59
detail session-key-id ASIAEXAMPLE
detail tapped alice,bob
`,
	}, {
		name: "presigned request, concurrent",
		e: awsSession().AWSRelease(AWSRelease{KeyID: "AKIAEXAMPLE", RoleARN: "arn:aws:iam::123456789012:role/breakglass",
			Output: "presign", Tapped: "alice", Concurrent: "bob is stuck",
			RequestSHA256: strings.Repeat("ab", 32), RequestSigned: signed, RequestExpires: signed.Add(5 * time.Minute),
			Expires: signed.Add(5*time.Minute + time.Hour)}),
		want: "kind release\n" + awsHead + `detail concurrent-release bob is stuck
detail expires 2026-03-01T10:05:00Z
detail key-id AKIAEXAMPLE
detail operator carol
detail output presign
detail presigned-request-sha256 ` + strings.Repeat("ab", 32) + `
detail request-expires 2026-03-01T09:05:00Z
detail request-signed 2026-03-01T09:00:00Z
detail role-arn arn:aws:iam::123456789012:role/breakglass
detail session 7f3a0c1d2e3b4a59
detail tapped alice
`,
	}, {
		name: "failed",
		e:    awsSession().AWSFailed("AKIAEXAMPLE", "alice,bob", errors.New("STS: AccessDenied:\n  the key is deactivated ")),
		want: "kind note\n" + awsHead + `detail action aws-session
detail error STS: AccessDenied:   the key is deactivated
detail key-id AKIAEXAMPLE
detail operator carol
detail result failed
detail session 7f3a0c1d2e3b4a59
detail tapped alice,bob
`,
	}} {
		t.Run(c.name, func(t *testing.T) {
			if got := entryText(t, c.e); got != c.want {
				t.Errorf("entry text\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestAWSEntriesCloseTheSession(t *testing.T) {
	s := awsSession()
	start := s.Entry(logbook.KindUnsealStart, nil)
	start.Index = 0
	for _, e := range []logbook.Entry{
		s.AWSRelease(AWSRelease{KeyID: "AKIAEXAMPLE", Output: "json", Expires: time.Now()}),
		s.AWSFailed("AKIAEXAMPLE", "alice", errors.New("throttled")),
	} {
		e.Index = 1
		if open := logbook.OpenSessions([]*logbook.Entry{&start, &e}); len(open) != 0 {
			t.Errorf("a %s entry leaves its session open: %v", e.Kind, open)
		}
	}
	if r := Result(new(s.AWSFailed("AKIAEXAMPLE", "alice", errors.New("throttled")))); r != "failed, tapped alice: throttled" {
		t.Errorf("log show shows the failed note as %q", r)
	}
}
