package ceremony

import (
	"errors"
	"testing"
	"time"

	"github.com/breakglass/breakglass/token"
)

// TestFindCustodian: a stranger's card is ignored once while it stays in
// its reader, a card that does not open is tried again, and the
// custodian's card is returned with their place in the roster.
func TestFindCustodian(t *testing.T) {
	alice, bob, mallory := newFakeToken(t, "alice"), newFakeToken(t, "bob"), newFakeToken(t, "mallory")
	f := sealTo(t, 1, alice, bob)
	flaky := 0
	shy := FakeCard(token.KindPIV, "r3/bob", func(token.PINFunc, func(token.Info) bool) (token.Token, error) {
		if flaky++; flaky < 2 {
			return nil, errors.New("not ready")
		}
		return bob, nil
	})
	r := &readers{cards: []Card{card(mallory, "r1")}, next: func(look int) []Card {
		if look == 3 {
			return []Card{card(mallory, "r1"), shy}
		}
		return nil
	}}
	var ignored []string
	waited := 0
	tok, idx, err := FindCustodian(&Watch{Finder: r}, f, time.Now().Add(time.Minute), time.Millisecond,
		func(c Card) (token.Token, error) { return c.Open(nil, nil) },
		func(tok token.Token) { ignored = append(ignored, tok.Info().Serial) },
		func() { waited++ })
	if err != nil || tok != bob || idx != 1 {
		t.Fatalf("FindCustodian = %v, %d, %v; want bob at 1", tok, idx, err)
	}
	if len(ignored) != 1 || ignored[0] != "mallory" || waited != 0 || flaky != 2 || r.looks != 4 {
		t.Fatalf("ignored %v, waited %d, opens of bob %d, looks %d", ignored, waited, flaky, r.looks)
	}

	// Nobody comes: the deadline ends the wait, which was said once.
	r = &readers{}
	_, _, err = FindCustodian(&Watch{Finder: r}, f, time.Now().Add(20*time.Millisecond), time.Millisecond,
		func(c Card) (token.Token, error) { return c.Open(nil, nil) }, func(token.Token) {}, func() { waited++ })
	if !errors.Is(err, ErrNoCustodianCard) || waited != 1 || r.looks < 2 {
		t.Fatalf("nobody: %v, waited %d, looks %d", err, waited, r.looks)
	}
}
