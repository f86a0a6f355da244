package audit

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/logbook"
)

func TestExplainUse(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)
	entries := awsTestEntries(t0)
	tests := []struct {
		name string
		key  string
		at   time.Time
		want int64 // -1: unexplained
	}{
		{"at the release", "AKIA1", t0.Add(-2 * time.Second), 1},
		{"failed attempt", "AKIA1", t0.Add(time.Hour), 2},
		{"much later", "AKIA1", t0.Add(5 * time.Hour), -1},
		{"other key", "AKIA2", t0, -1},
	}
	for _, tt := range tests {
		e := ExplainUse(entries, "prod", tt.key, tt.at)
		got := int64(-1)
		if e != nil {
			got = e.Index
		}
		if got != tt.want {
			t.Errorf("%s: explained by %d, want %d", tt.name, got, tt.want)
		}
	}
	if got := Secrets(entries); !slices.Equal([]string{got["prod"]}, []string{"AKIA3"}) {
		t.Errorf("current keys = %v, want prod: AKIA3", got)
	}
}

func awsTestEntries(t0 time.Time) []*logbook.Entry {
	d := func(kv ...string) map[string]string {
		m := map[string]string{"role-arn": "arn:aws:iam::123456789012:role/breakglass/breakglass-prod"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	return []*logbook.Entry{
		{Index: 0, Kind: logbook.KindSeal, Secret: "prod", Time: t0.Add(-time.Hour), Details: d(logbook.DetailKeyID, "AKIA1")},
		{Index: 1, Kind: logbook.KindRelease, Secret: "prod", Time: t0, Details: d(logbook.DetailKeyID, "AKIA1", logbook.DetailOperator, "alice")},
		{Index: 2, Kind: logbook.KindNote, Secret: "prod", Time: t0.Add(time.Hour), Details: d(logbook.DetailKeyID, "AKIA1", "action", "aws-session")},
		{Index: 3, Kind: logbook.KindRevoke, Secret: "prod", Time: t0.Add(2 * time.Hour), Details: d(logbook.DetailKeyID, "AKIA1", "new-key-id", "AKIA3")},
	}
}

// TestBuild: a release followed by a revoke and a deleted key is proven; a
// release whose key IAM still has active is not; the current key's use
// right after the release is explained, a later one is not.
func TestBuild(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)
	entries := awsTestEntries(t0)
	states := map[string]*aws.KeyState{
		"AKIA1": {KeyID: "AKIA1", Status: aws.KeyDeleted},
		"AKIA3": {KeyID: "AKIA3", Status: aws.KeyActive, LastUsed: t0.Add(3 * time.Hour), LastUsedService: "sts"},
	}
	calls := 0
	ks := func(_ context.Context, secret, keyID string) (*aws.KeyState, error) {
		calls++
		if secret != "prod" {
			t.Fatalf("secret %q", secret)
		}
		return states[keyID], nil
	}
	rep, err := Build(context.Background(), entries, time.Time{}, ks)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Releases) != 1 || !rep.Releases[0].Revoked || rep.NotRevoked != 0 {
		t.Fatalf("releases %+v", rep.Releases)
	}
	if len(rep.Uses) != 1 || rep.Uses[0].Explained != nil || rep.Unexplained != 1 || rep.Proven() {
		t.Fatalf("uses %+v", rep.Uses)
	}
	if calls != 2 {
		t.Errorf("%d IAM reads, want one per key", calls)
	}
	var b strings.Builder
	rep.WriteMarkdown(&b)
	for _, want := range []string{"| 1 | prod |", "entry 3, 2026-11-24 06:00", "**explained by no release**", "0 releases not proven revoked, 1 key use unexplained."} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, b.String())
		}
	}

	// The key still active after the revoke entry: not proven.
	states["AKIA1"] = &aws.KeyState{KeyID: "AKIA1", Status: aws.KeyActive}
	states["AKIA3"].LastUsed = t0.Add(2 * time.Hour)
	rep, _ = Build(context.Background(), entries, time.Time{}, ks)
	if rep.NotRevoked != 1 || !strings.Contains(rep.Releases[0].Problem, "still active") {
		t.Fatalf("active key: %+v", rep.Releases[0])
	}
	// IAM unreadable: a *KeyError naming the key.
	boom := errors.New("throttled")
	_, err = Build(context.Background(), entries, time.Time{}, func(context.Context, string, string) (*aws.KeyState, error) { return nil, boom })
	var ke *KeyError
	if !errors.As(err, &ke) || ke.KeyID != "AKIA1" || !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
}
