package approval

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	req := Request{Action: "unseal", Operator: "op", Reason: "SSO outage", Ticket: "T-1", UseCase: "SSO is down"}
	for _, r := range []Request{req, {Action: "unseal (remote tap)", Operator: "op", RequestID: "9f1c"}, {Action: "drill"}} {
		m := Message("prod", testHash, r, "alice", testTime)
		p, err := Parse(m)
		if err != nil {
			t.Fatalf("Parse(%q): %v", m, err)
		}
		if p.Request != r || p.Secret != "prod" || p.HeaderHash != testHash || p.Custodian != "alice" || !p.Time.Equal(testTime) {
			t.Errorf("Parse(%q) = %+v", m, p)
		}
	}
	good := string(Message("prod", testHash, req, "alice", testTime))
	for name, bad := range map[string]string{
		"empty":            "",
		"other version":    strings.Replace(good, "v1", "v2", 1),
		"cut short":        good[:len(good)-10],
		"no final newline": strings.TrimSuffix(good, "\n"),
		"trailing text":    good + "extra\n",
		"fields reordered": strings.Replace(strings.Replace(good, "ticket: T-1\n", "", 1), "use-case: SSO is down\n", "use-case: SSO is down\nticket: T-1\n", 1),
		"uppercase hash":   strings.Replace(good, "header-hash: 0102", "header-hash: 0A02", 1),
		"short hash":       strings.Replace(good, "header-hash: 0102", "header-hash: 02", 1),
		"local time":       strings.Replace(good, "2026-11-24T04:00:00Z", "2026-11-24T05:00:00+01:00", 1),
		"empty request":    strings.Replace(good, "\ntime:", "\nrequest: \ntime:", 1),
		"missing operator": strings.Replace(good, "operator: op\n", "", 1),
	} {
		if _, err := Parse([]byte(bad)); !errors.Is(err, ErrNotApproval) {
			t.Errorf("%s: Parse = %v, want ErrNotApproval", name, err)
		}
	}
}

// FuzzParse: whatever Parse accepts, Message writes back byte for byte
// (one encoding); and whatever Message writes, Parse reads.
func FuzzParse(f *testing.F) {
	f.Add(Message("prod", testHash, Request{Action: "unseal", Operator: "op", Reason: "r", Ticket: "T", UseCase: "u"}, "alice", testTime))
	f.Add(Message("p", testHash, Request{Action: "x", RequestID: "9f"}, "b", testTime))
	f.Add([]byte(Version + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		if again := Message(p.Secret, p.HeaderHash, p.Request, p.Custodian, p.Time); !bytes.Equal(again, b) {
			t.Fatalf("Parse(%q) then Message = %q", b, again)
		}
	})
}
