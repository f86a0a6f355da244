package audit

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

func TestCheckLogbook(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	seal := &logbook.Entry{Index: 0, Kind: logbook.KindSeal, Secret: "prod", Reason: "aws provision prod",
		Details: map[string]string{"policy-role-sha256": "aaaa", logbook.DetailKeyID: "AKIAOLD"}}
	rep := &aws.CheckReport{UserARN: "arn:aws:iam::123456789012:user/breakglass/breakglass-prod"}
	rep.SealedKey.LastUsed = at
	rep.SealedKey.LastUsedService = "sts"

	lc := CheckLogbook([]*logbook.Entry{seal}, true, "prod", "AKIAOLD", "prod.glass", map[string]string{"role": "bbbb"}, rep, at)
	if len(lc.Findings) != 2 || lc.Explained != nil ||
		lc.Findings[0].Severity != aws.Drift || !strings.Contains(lc.Findings[0].Problem, "the role policy hash differs from the logbook's seal entry 0") ||
		lc.Findings[1].Severity != aws.Drift || !strings.Contains(lc.Findings[1].Problem, "no release in the logbook explains it") {
		t.Fatalf("changed policy, unexplained use: %+v", lc)
	}
	rel := &logbook.Entry{Index: 1, Kind: logbook.KindRelease, Secret: "prod", Time: at.Add(-time.Minute),
		Details: map[string]string{logbook.DetailKeyID: "AKIAOLD"}}
	lc = CheckLogbook([]*logbook.Entry{seal, rel}, true, "prod", "AKIAOLD", "prod.glass", map[string]string{"role": "aaaa"}, rep, at)
	if len(lc.Findings) != 0 || lc.Explained != rel {
		t.Fatalf("a release explains the use: %+v", lc)
	}
	lc = CheckLogbook(nil, false, "prod", "AKIAOLD", "prod.glass", map[string]string{"role": "bbbb"}, rep, at)
	if len(lc.Findings) != 1 || lc.Findings[0].Severity != aws.Warning || !strings.Contains(lc.Findings[0].Problem, "no logbook") {
		t.Fatalf("no logbook: %+v", lc)
	}
}
