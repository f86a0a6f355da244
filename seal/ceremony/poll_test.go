package ceremony

import (
	"reflect"
	"testing"

	"github.com/breakglass/breakglass/token"
)

// TestWatch: a card is handled once while it stays in its reader, again
// when it is put back; a card not handled is looked at again; stop ends a
// look without forgetting anything.
func TestWatch(t *testing.T) {
	a := Card{Kind: token.KindPIV, Reader: "r1", Serial: 1}
	b := Card{Kind: token.KindPIV, Reader: "r2", Serial: 2}
	p := Card{Kind: token.KindPKCS11, URI: "pkcs11:token=x"}
	r := &readers{}
	w := &Watch{Finder: r}
	look := func(cards []Card, notReady string, stopAt string) []string {
		r.cards = cards
		var got []string
		if err := w.Look(func(c Card) (bool, bool) {
			got = append(got, c.Label())
			return c.Label() != notReady, c.Label() == stopAt
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	for i, tc := range []struct {
		cards    []Card
		notReady string
		stopAt   string
		want     []string
	}{
		{[]Card{a, p}, "card 1", "", []string{"card 1", "PKCS#11 token pkcs11:token=x"}},
		{[]Card{a, p}, "", "", []string{"card 1"}}, // not ready the first time
		{[]Card{a, b, p}, "", "card 2", []string{"card 2"}},
		{[]Card{p}, "", "", nil},                                // a and b pulled out
		{[]Card{a, b, p}, "", "", []string{"card 1", "card 2"}}, // put back
	} {
		if got := look(tc.cards, tc.notReady, tc.stopAt); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("look %d handled %q, want %q", i, got, tc.want)
		}
	}
}
