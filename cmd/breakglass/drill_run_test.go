package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/breakglass/breakglass/logbook/drills"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/ceremony"
	"github.com/breakglass/breakglass/token"
)

func TestProblemOf(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want string
	}{
		{&token.PINError{Token: "t", Retries: 2, Tried: true}, drills.ProblemWrongPIN},
		{&token.PINError{Token: "t", Retries: 1, Tried: true}, drills.ProblemLocked},
		{&token.PINError{Token: "t", Retries: 1}, drills.ProblemLocked},
		{fmt.Errorf("piv 1: %w", token.ErrNotPresent), drills.ProblemCardRemoved},
		{&ceremony.ReplacedError{Custodian: "bob"}, drills.ProblemCardReplaced},
		{&ceremony.MnemonicError{From: "f", Err: seal.ErrUnknownMnemonic}, drills.ProblemMnemonic},
		{&seal.ShareError{Index: 1, Err: seal.ErrBadShare}, drills.ProblemShare},
		{errors.New("something else"), drills.ProblemToken},
	} {
		if got := problemOf(tt.err); got != tt.want {
			t.Errorf("problemOf(%v) = %s, want %s", tt.err, got, tt.want)
		}
	}
}
