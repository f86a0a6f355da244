package drills

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/ceremony"
	"github.com/breakglass/breakglass/token"
)

func TestProblemOf(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&token.PINError{Token: "t", Retries: 2, Tried: true}, ProblemWrongPIN},
		{&token.PINError{Token: "t", Retries: 1, Tried: true}, ProblemLocked},
		{&token.PINError{Token: "t", Retries: 1}, ProblemLocked},
		{fmt.Errorf("piv 1: %w", token.ErrNotPresent), ProblemCardRemoved},
		{&ceremony.ReplacedError{Custodian: "bob"}, ProblemCardReplaced},
		{&ceremony.MnemonicError{From: "f", Err: seal.ErrUnknownMnemonic}, ProblemMnemonic},
		{&seal.ShareError{Index: 1, Err: seal.ErrBadShare}, ProblemShare},
		{errors.New("something else"), ProblemToken},
	} {
		if got := ProblemOf(tt.err); got != tt.want {
			t.Errorf("ProblemOf(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}

func TestResultsOf(t *testing.T) {
	enrolledAt := time.Date(2026, 3, 1, 15, 4, 5, 0, time.UTC)
	piv := token.Info{Kind: "piv", Serial: "15102349", Firmware: "5.7.1"}
	rs := []ceremony.Result{
		{Custodian: "alice", Index: 0, Tapped: true, Token: piv, PINRetries: 3},
		{Custodian: "bob", Index: 1, Token: piv, PINRetries: 2, Err: &token.PINError{Token: "t", Retries: 2, Tried: true}},
		{Custodian: "carol", Index: 2, PINRetries: -1, Err: errors.New("not\nthere")},
		{Custodian: "erin", Index: 3, Paper: true, Tapped: true, PINRetries: 5},
		{Custodian: "dave", Index: 4, Via: ceremony.ViaRemote, Tapped: true, PINRetries: -1},
	}
	got := ResultsOf(rs, []string{"carol"}, map[string]time.Time{"alice": enrolledAt, "erin": enrolledAt})
	want := []CustodianResult{
		{Place: 1, Name: "alice", Result: Proved, Token: piv.Name(), Firmware: "5.7.1", PINTries: 3, Enrolled: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{Place: 2, Name: "bob", Result: Failed, Problem: ProblemWrongPIN, Error: (&token.PINError{Token: "t", Retries: 2, Tried: true}).Error(), Token: piv.Name(), Firmware: "5.7.1", PINTries: 2},
		{Place: 3, Name: "carol", Result: Absent, PINTries: -1},
		{Place: 4, Name: "erin", Result: Proved, Token: "paper", PINTries: -1},
		{Place: 5, Name: "dave", Result: Proved, Token: "remote", PINTries: -1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("ResultsOf:\n got %+v\nwant %+v", got, want)
	}
}
