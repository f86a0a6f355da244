package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
)

func TestExplainToken(t *testing.T) {
	tests := []struct {
		err  error
		want string // a hint line
	}{
		{&token.PINError{Token: "piv 1", Retries: 1}, "hint: let another custodian tap instead"},
		{&token.PINError{Token: "piv 1", Retries: 0, Tried: true}, "hint: unblock it with the PUK: breakglass card pin unblock"},
		{&token.PINError{Token: "piv 1", Retries: 2, Tried: true}, "hint: check the PIN"},
		{&token.PINError{Token: "piv 1", Retries: 1, PUK: true}, "hint: one more wrong PUK would block the card"},
		{&token.NotPresentError{What: "PC/SC: the PC/SC daemon (pcscd) is not running", Reason: token.NoDaemon}, "hint: start the PC/SC daemon"},
		{&token.NotPresentError{What: "card 1: the card was removed", Reason: token.Removed}, "hint: put the card back"},
		{fmt.Errorf("alice: %w", &token.NotPresentError{What: "piv 1 is no longer in reader", Cause: &token.NotPresentError{What: "removed", Reason: token.Removed}}), "hint: put the card back"},
		{&token.NotPresentError{What: "card 1: another program is using the card", Reason: token.InUse}, "hint: close the other program"},
		{&token.NotPresentError{What: "no PKCS#11 token matches", Reason: token.NoSuchToken}, "hint: check the module path"},
		// The reason counts, not the words.
		{&token.NotPresentError{What: "the card was removed (pcscd)"}, "hint: plug in the card"},
		{&token.NotPresentError{What: "no smart card reader"}, "hint: plug in the card"},
		{&token.WrongTokenError{Token: "piv 2", Expected: "alice"}, "hint: hand the card back to its owner and use alice's card"},
		{fmt.Errorf("x: %w", token.ErrTouchTimeout), "hint: touch the card when it blinks"},
		{fmt.Errorf("x: %w", token.ErrSlotInUse), "hint: pass --force"},
		{&token.FieldError{Field: "custodian.name", Reason: "was changed"}, "hint: the record was changed after enrollment"},
		{&piv.ChoiceError{Cards: []piv.Found{{Reader: "a", Serial: 1}, {Reader: "b", Serial: 2}}}, "hint: choose one with --serial N or --reader NAME"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		code := reportError(&buf, explainToken(tt.err))
		if code != exitFailure || !strings.Contains(buf.String(), tt.want) {
			t.Errorf("%v: exit %d\n%s\nwant hint %q", tt.err, code, buf.String(), tt.want)
		}
	}
	plain := errors.New("plain")
	if explainToken(plain) != plain {
		t.Error("explainToken changed an unrelated error")
	}
}
