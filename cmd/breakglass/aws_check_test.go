package main

import (
	"strings"
	"testing"
	"time"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/logbook"
)

func TestRevokeKept(t *testing.T) {
	cutoff := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	rev := &logbook.Entry{Index: 7, Kind: logbook.KindRevoke, Secret: "prod", Details: map[string]string{"sessions-before": cutoff.Format(time.RFC3339)}}
	tests := []struct {
		name    string
		rev     *logbook.Entry
		iam     time.Time // what IAM denies on both sides
		now     time.Time
		want    aws.Severity // "" for no finding
		problem string
	}{
		{"no revoke in the logbook", nil, time.Time{}, cutoff, "", ""},
		{"IAM denies what the logbook says", rev, cutoff, cutoff, "", ""},
		{"IAM denies more (a later revoke)", rev, cutoff.Add(time.Hour), cutoff, "", ""},
		{"deny gone while old sessions may live", rev, time.Time{}, cutoff.Add(35 * time.Hour), aws.Drift, "entry 7 denied sessions issued before 2026-05-01T12:00:00Z"},
		{"deny weakened", rev, cutoff.Add(-time.Hour), cutoff, aws.Drift, "can assume the role again"},
		{"deny gone after every old session expired", rev, time.Time{}, cutoff.Add(37 * time.Hour), aws.Warning, "harmless now"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := revokeKept(tt.rev, &aws.CheckReport{UserARN: "arn:aws:iam::123456789012:user/breakglass/breakglass-prod", SessionsRevokedBefore: tt.iam}, "prod.glass", tt.now)
			switch {
			case tt.want == "" && f != nil:
				t.Fatalf("unexpected finding %v", f)
			case tt.want == "":
			case f == nil:
				t.Fatal("no finding")
			case f.Severity != tt.want || !strings.Contains(f.Problem, tt.problem) || f.Fix == "":
				t.Errorf("finding %v, want %s with %q", f, tt.want, tt.problem)
			}
		})
	}
}
