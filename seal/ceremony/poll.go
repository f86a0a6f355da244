package ceremony

import (
	"errors"
	"fmt"
	"time"

	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/pkcs11"
)

// A Card is a token a [Finder] found: a PIV card in a PC/SC reader, or a
// PKCS#11 token named by its URI (which is "found" every time: only
// opening it tells whether it is there).
type Card struct {
	Kind   token.Kind // token.KindPIV or token.KindPKCS11
	Reader string     // PIV: the reader
	Serial uint32     // PIV: the serial number
	URI    string     // PKCS#11: the token's URI

	// open opens the card; nil opens it with package piv or pkcs11.
	open func(pin token.PINFunc, confirm func(token.Info) bool) (token.Token, error)
}

// FakeCard is a card whose Open calls open: for tests and for drivers that
// find tokens some other way.
func FakeCard(kind token.Kind, key string, open func(pin token.PINFunc, confirm func(token.Info) bool) (token.Token, error)) Card {
	return Card{Kind: kind, Reader: key, URI: key, open: open}
}

// Key names the card while it stays where it is: a card pulled out and put
// back (or moved to another reader) is a new card.
func (c Card) Key() string {
	if c.Kind == token.KindPKCS11 {
		return "pkcs11|" + c.URI
	}
	return fmt.Sprintf("%s|%d", c.Reader, c.Serial)
}

// Label names the card before it is open: "card 1234", "PKCS#11 token URI".
func (c Card) Label() string {
	if c.Kind == token.KindPKCS11 {
		return "PKCS#11 token " + c.URI
	}
	return fmt.Sprintf("card %d", c.Serial)
}

// Open opens the card. pin supplies the PIN when the token needs it;
// confirm is asked before a PIN is sent to a PKCS#11 token that cannot say
// how many tries are left.
func (c Card) Open(pin token.PINFunc, confirm func(token.Info) bool) (token.Token, error) {
	if c.open != nil {
		return c.open(pin, confirm)
	}
	if c.Kind == token.KindPKCS11 {
		return pkcs11.Open(c.URI, pkcs11.Options{PIN: pin, ConfirmUnknownTries: confirm})
	}
	return piv.Open(piv.Options{Selector: piv.Selector{Serial: c.Serial, Reader: c.Reader}, PIN: pin})
}

// A Finder finds the tokens at hand, once per call. err reports that the
// readers could not be looked at (the cards found anyway are returned).
type Finder interface {
	Find() ([]Card, error)
}

// Poller is the [Finder] of the breakglass commands: it looks at PC/SC
// readers for PIV cards and lists the PKCS#11 tokens it was given.
type Poller struct {
	// Readers are the PC/SC readers to look at; with none, AllReaders
	// says whether to look at every reader.
	Readers    []string
	AllReaders bool
	// PKCS11 are URIs of PKCS#11 tokens to try.
	PKCS11 []string
}

// Find looks once at the readers and lists the PKCS#11 tokens. It returns
// an error only when every reader was to be looked at and that failed.
func (p *Poller) Find() ([]Card, error) {
	var cards []Card
	var ferr error
	if len(p.Readers) == 0 && p.AllReaders {
		found, err := piv.Find(piv.Selector{})
		ferr = err
		for _, f := range found {
			cards = append(cards, Card{Kind: token.KindPIV, Reader: f.Reader, Serial: f.Serial})
		}
	}
	for _, r := range p.Readers {
		found, err := piv.Find(piv.Selector{Reader: r})
		if err != nil {
			continue
		}
		for _, f := range found {
			cards = append(cards, Card{Kind: token.KindPIV, Reader: f.Reader, Serial: f.Serial})
		}
	}
	for _, u := range p.PKCS11 {
		cards = append(cards, Card{Kind: token.KindPKCS11, URI: u})
	}
	return cards, ferr
}

// Watch tells, look after look, which cards are new: a card is handled
// once while it stays where it is, and again when it is put back.
type Watch struct {
	Finder Finder
	seen   map[string]bool
}

// Look looks once and calls handle for each card not handled yet, in the
// order found, until handle says to stop. handle reports whether the card
// was handled (false: look at it again next time, e.g. it was not ready).
// Cards that are gone are forgotten. Look returns Find's error.
func (w *Watch) Look(handle func(Card) (handled, stop bool)) error {
	if w.seen == nil {
		w.seen = map[string]bool{}
	}
	cards, err := w.Finder.Find()
	present := map[string]bool{}
	for _, c := range cards {
		present[c.Key()] = true
	}
	stopped := false
	for _, c := range cards {
		k := c.Key()
		if w.seen[k] {
			continue
		}
		handled, stop := handle(c)
		if handled {
			w.seen[k] = true
		}
		if stop {
			stopped = true
			break
		}
	}
	if !stopped {
		for k := range w.seen {
			if !present[k] {
				delete(w.seen, k) // pulled out: handle it again when it is back
			}
		}
	}
	return err
}

// ErrNoCustodianCard: no card of a custodian appeared in time.
var ErrNoCustodianCard = errors.New("no card of a custodian appeared")

// FindCustodian waits until deadline for the card of a custodian of f,
// looking at w's cards every interval (a card is opened once while it stays
// in its reader). open opens a card; one that does not open is looked at
// again. A token that is not one of f's custodians is passed to ignored and
// closed. waiting is called once before the first wait, unless ignored was
// called before. It returns the custodian's open token and their index in
// the roster, or ErrNoCustodianCard.
func FindCustodian(w *Watch, f *seal.File, deadline time.Time, interval time.Duration,
	open func(Card) (token.Token, error), ignored func(token.Token), waiting func()) (token.Token, int, error) {
	var (
		found          token.Token
		idx            int
		told, waitSaid bool
	)
	for {
		_ = w.Look(func(card Card) (handled, stop bool) {
			tok, err := open(card)
			if err != nil {
				return false, false // look again
			}
			i, err := f.Custodian(tok.KeyAgreementKey().PublicKey())
			if err != nil {
				ignored(tok)
				told = true
				tok.Close()
				return true, false
			}
			found, idx = tok, i
			return true, true
		})
		if found != nil {
			return found, idx, nil
		}
		if time.Now().After(deadline) {
			return nil, 0, ErrNoCustodianCard
		}
		if !told && !waitSaid {
			waitSaid = true
			waiting()
		}
		time.Sleep(interval)
	}
}
