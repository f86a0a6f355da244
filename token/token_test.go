package token

import (
	"errors"
	"fmt"
	"testing"
)

func TestWhyNotPresent(t *testing.T) {
	removed := &NotPresentError{What: "card removed", Reason: Removed}
	daemon := &NotPresentError{What: "pcscd is not running", Reason: NoDaemon}
	for _, tc := range []struct {
		err  error
		want NotPresentReason
	}{
		{nil, NotPresentUnknown},
		{errors.New("the card was removed"), NotPresentUnknown}, // words are not read
		{&NotPresentError{What: "no reader"}, NotPresentUnknown},
		{fmt.Errorf("alice (card 1): %w", removed), Removed},
		// The reason of a cause counts, and the most basic one wins.
		{&NotPresentError{What: "piv 1 is no longer in reader", Cause: removed}, Removed},
		{&NotPresentError{What: "gone", Cause: daemon, Reason: Removed}, NoDaemon},
		{errors.Join(&NotPresentError{Reason: InUse}, fmt.Errorf("x: %w", &NotPresentError{Reason: NoSuchToken})), InUse},
	} {
		if got := WhyNotPresent(tc.err); got != tc.want {
			t.Errorf("WhyNotPresent(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}
