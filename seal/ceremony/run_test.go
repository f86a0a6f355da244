package ceremony

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/token"
)

// fakeToken is a software token that asks for its PIN when it signs, as
// a PIV card does, and counts wrong PINs. Unlike a real token it spends
// its last try when asked to.
type fakeToken struct {
	name    string
	kx      *ecdh.PrivateKey
	sig     *ecdsa.PrivateKey
	pin     string
	retries int
	signs   int // signatures attempted with a PIN sent
	open    token.PINFunc
}

func newFakeToken(t *testing.T, name string) *fakeToken {
	t.Helper()
	kx, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeToken{name: name, kx: kx, sig: sig, pin: "123456", retries: 3}
}

func (f *fakeToken) Info() token.Info {
	return token.Info{Kind: token.KindPIV, Serial: f.name, Firmware: "5.7.1"}
}
func (f *fakeToken) KeyAgreementKey() ecdh.KeyExchanger { return f.kx }
func (f *fakeToken) SigningKey() crypto.Signer          { return fakeSigner{f} }
func (f *fakeToken) PINRetries() (int, error)           { return f.retries, nil }
func (f *fakeToken) Close() error                       { return nil }

type fakeSigner struct{ f *fakeToken }

func (s fakeSigner) Public() crypto.PublicKey { return s.f.sig.Public() }
func (s fakeSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	f := s.f // no check of the tries left: the ceremony makes it
	p, err := f.open()
	if err != nil {
		return nil, err
	}
	f.signs++
	if string(p) != f.pin {
		f.retries--
		return nil, &token.PINError{Token: f.name, Retries: f.retries, Tried: true}
	}
	f.retries = 3
	return f.sig.Sign(r, d, o)
}

// card puts tok in a reader.
func card(tok *fakeToken, reader string) Card {
	return FakeCard(token.KindPIV, reader+"/"+tok.name, func(pin token.PINFunc, _ func(token.Info) bool) (token.Token, error) {
		tok.open = pin
		return tok, nil
	})
}

// readers is a Finder whose cards the test changes between looks.
type readers struct {
	mu    sync.Mutex
	cards []Card
	looks int
	// next, when set, runs before each look (after the first).
	next func(look int) []Card
}

func (r *readers) Find() ([]Card, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.looks++
	if r.next != nil {
		if c := r.next(r.looks); c != nil {
			r.cards = c
		}
	}
	return r.cards, nil
}

// prompter gives PINs from a list (the last one again when it runs out).
type prompter struct {
	pins   []string
	asked  int
	err    error
	labels []string
}

func (p *prompter) PIN(_ context.Context, label string) ([]byte, error) {
	p.labels = append(p.labels, label)
	if p.err != nil {
		return nil, p.err
	}
	i := min(p.asked, len(p.pins)-1)
	p.asked++
	return []byte(p.pins[i]), nil
}
func (p *prompter) Mnemonic(context.Context) ([]byte, error) { return nil, nil }
func (p *prompter) ConfirmUnknownTries(token.Info) bool      { return false }

// events records what the ceremony told.
type events []Event

func (e *events) Event(ev Event) { *e = append(*e, ev) }

func (e events) of(k EventKind) []Event {
	var out []Event
	for _, ev := range e {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// sealTo seals a secret to the tokens, k of them needed.
func sealTo(t *testing.T, k int, toks ...*fakeToken) *seal.File {
	t.Helper()
	var roster []seal.Custodian
	for _, tok := range toks {
		r, err := seal.TagRecipient(tok.kx.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		fp, err := token.Fingerprint(tok.sig.Public())
		if err != nil {
			t.Fatal(err)
		}
		roster = append(roster, seal.Custodian{Name: tok.name, Kind: seal.KindPIV, Recipient: r.String(),
			Fingerprint: strings.ReplaceAll(fp, " ", "")})
	}
	var b bytes.Buffer
	if _, err := seal.Seal(&b, strings.NewReader("the secret"), seal.Params{Name: "prod", UseCases: []string{"drill"},
		SealedBy: "test", Custodians: roster, Threshold: k}, nil); err != nil {
		t.Fatal(err)
	}
	f, err := seal.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var req = approval.Request{Action: "unseal", Operator: "olivia", Reason: "test", Ticket: "T-1"}

func TestRunPolicyMet(t *testing.T) {
	alice, bob, carol := newFakeToken(t, "alice"), newFakeToken(t, "bob"), newFakeToken(t, "carol")
	f := sealTo(t, 2, alice, bob, carol)
	var ev events
	p := &prompter{pins: []string{"123456"}}
	var onTap []string
	cm := New(f, req, Options{Window: 5 * time.Second, Finder: &readers{cards: []Card{card(carol, "r1"), card(alice, "r2"), card(bob, "r3")}},
		Prompter: p, Observer: &ev, OnTap: func(_ token.Token, a *approval.Approval) error {
			onTap = append(onTap, a.Custodian)
			return nil
		}})
	if err := cm.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(onTap, ","); got != "carol,alice" {
		t.Errorf("OnTap ran for %s, want carol,alice (bob is not needed)", got)
	}
	if bob.signs != 0 {
		t.Error("bob's card was asked to sign after the policy was met")
	}
	tapped := ev.of(Tapped)
	if len(tapped) != 2 || tapped[0].Tap != 1 || tapped[0].Of != 2 || tapped[1].Tap != 2 || tapped[1].Of != 2 {
		t.Errorf("tapped events %+v", tapped)
	}
	if len(ev.of(Approve)) != 2 {
		t.Errorf("want 2 touch prompts, got %+v", ev.of(Approve))
	}
	if p.labels[0] != "carol (card 0) to approve the unseal of prod (T-1)" {
		t.Errorf("PIN label %q", p.labels[0])
	}
	for _, a := range cm.Approvals() {
		if err := approval.Verify(&[]*ecdsa.PrivateKey{alice.sig, carol.sig}[map[string]int{"alice": 0, "carol": 1}[a.Custodian]].PublicKey, a.Message, a.Signature); err != nil {
			t.Errorf("approval of %s: %v", a.Custodian, err)
		}
	}
	r, err := cm.Unseal().Open()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	if string(b) != "the secret" {
		t.Errorf("opened %q", b)
	}
}

func TestRunDuplicateCustodianAndWindow(t *testing.T) {
	alice, bob := newFakeToken(t, "alice"), newFakeToken(t, "bob")
	f := sealTo(t, 2, alice, bob)
	var ev events
	// alice's card shows up in two readers (it is pulled out and put in
	// elsewhere): her second tap is not taken.
	cm := New(f, req, Options{Window: 600 * time.Millisecond, Finder: &readers{cards: []Card{card(alice, "r1"), card(alice, "r2")}},
		Prompter: &prompter{pins: []string{"123456"}}, Observer: &ev})
	err := cm.Run(context.Background())
	var se *StopError
	if !errors.As(err, &se) || se.Interrupted || se.Tapped != 1 || se.Needed != 2 || se.Still != "1 more of bob" {
		t.Fatalf("Run = %#v, want the window to run out with 1 tap of 2", err)
	}
	if errors.Is(err, ErrInterrupted) {
		t.Error("a window that ran out matches ErrInterrupted")
	}
	if alice.signs != 1 || len(ev.of(Tapped)) != 1 {
		t.Errorf("alice signed %d times, %d taps", alice.signs, len(ev.of(Tapped)))
	}
	if _, err := cm.Unseal().Open(); !errors.Is(err, seal.ErrWiped) {
		t.Errorf("after the window the unseal is not wiped: %v", err)
	}
}

func TestRunWrongCard(t *testing.T) {
	alice, bob, mallory := newFakeToken(t, "alice"), newFakeToken(t, "bob"), newFakeToken(t, "mallory")
	f := sealTo(t, 1, alice, bob)
	// A card with bob's key-agreement key but another signing key.
	forged := newFakeToken(t, "bob")
	forged.kx = bob.kx
	var ev events
	cm := New(f, req, Options{Window: 600 * time.Millisecond, Finder: &readers{cards: []Card{card(mallory, "r1"), card(forged, "r2")}},
		Prompter: &prompter{pins: []string{"123456"}}, Observer: &ev})
	if err := cm.Run(context.Background()); !errors.As(err, new(*StopError)) {
		t.Fatalf("Run = %v, want the window to run out", err)
	}
	if nc := ev.of(NotCustodian); len(nc) != 1 || nc[0].Token != "card 0" {
		t.Errorf("NotCustodian events %+v", nc)
	}
	if w := ev.of(WrongSigningKey); len(w) != 1 || w[0].Custodian != "bob" {
		t.Errorf("WrongSigningKey events %+v", w)
	}
	if mallory.signs+forged.signs != 0 {
		t.Error("a card that is not the custodian's was asked for its PIN")
	}
	if res := cm.Results(); res[1].Tapped || res[1].Err == nil {
		t.Errorf("bob's result %+v", res[1])
	}
}

func TestRunPINRefusedThenRetried(t *testing.T) {
	alice, bob := newFakeToken(t, "alice"), newFakeToken(t, "bob")
	f := sealTo(t, 1, alice, bob)
	var ev events
	var res []Result
	r := &readers{cards: []Card{card(alice, "r1")}}
	r.next = func(look int) []Card {
		switch look {
		case 2: // pulled out after the wrong PIN …
			res = nil
			return []Card{}
		case 3: // … and put back
			return []Card{card(alice, "r1")}
		}
		return nil
	}
	p := &prompter{pins: []string{"000000", "123456"}}
	cm := New(f, req, Options{Window: 5 * time.Second, Finder: r, Prompter: p, Observer: &ev,
		CollectAll: false})
	if err := cm.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	failed := ev.of(Failed)
	var pe *token.PINError
	if len(failed) != 1 || !errors.As(failed[0].Err, &pe) || !pe.Tried || pe.Retries != 2 || failed[0].Custodian != "alice" {
		t.Fatalf("failed events %+v", failed)
	}
	res = cm.Results()
	if !res[0].Tapped || res[0].Err != nil || res[0].Token.Firmware != "5.7.1" {
		t.Errorf("alice's result %+v", res[0])
	}
	if alice.signs != 2 {
		t.Errorf("alice's card got %d PINs, want 2", alice.signs)
	}
}

func TestRunLastRetryNeverSpent(t *testing.T) {
	alice, bob := newFakeToken(t, "alice"), newFakeToken(t, "bob")
	alice.retries = 1
	f := sealTo(t, 1, alice, bob)
	var ev events
	p := &prompter{pins: []string{"123456"}}
	cm := New(f, req, Options{Window: 600 * time.Millisecond, Finder: &readers{cards: []Card{card(alice, "r1")}}, Prompter: p, Observer: &ev})
	if err := cm.Run(context.Background()); !errors.As(err, new(*StopError)) {
		t.Fatalf("Run = %v", err)
	}
	var pe *token.PINError
	if f := ev.of(Failed); len(f) != 1 || !errors.As(f[0].Err, &pe) || pe.Tried || pe.Retries != 1 {
		t.Fatalf("failed events %+v", f)
	}
	if p.asked != 0 || alice.signs != 0 || alice.retries != 1 {
		t.Errorf("the last try was spent: %d PINs asked, %d sent", p.asked, alice.signs)
	}
	if r := cm.Results()[0]; r.PINRetries != 1 || r.Tapped {
		t.Errorf("alice's result %+v", r)
	}
}

func TestRunInterrupted(t *testing.T) {
	alice, bob, carol := newFakeToken(t, "alice"), newFakeToken(t, "bob"), newFakeToken(t, "carol")
	f := sealTo(t, 2, alice, bob, carol)

	// Ctrl-C at the PIN prompt of the second card: the first tap is wiped.
	r := &readers{cards: []Card{card(alice, "r1")}}
	r.next = func(look int) []Card {
		if look == 2 {
			return []Card{card(alice, "r1"), card(bob, "r2")}
		}
		return nil
	}
	p := &prompter{pins: []string{"123456"}}
	var ev events
	cm := New(f, req, Options{Window: 5 * time.Second, Finder: r, Prompter: p,
		Observer: ObserverFunc(func(e Event) {
			ev.Event(e)
			if e.Kind == Tapped {
				p.err = ErrInterrupted
			}
		})})
	err := cm.Run(context.Background())
	var se *StopError
	if !errors.As(err, &se) || !se.Interrupted || !errors.Is(err, ErrInterrupted) || se.Tapped != 1 {
		t.Fatalf("Run = %v, want interrupted with 1 tap", err)
	}
	if err.Error() != "interrupted with 1 tap of 2: the 1 share gathered was wiped" {
		t.Errorf("message %q", err)
	}
	if len(ev.of(Failed)) != 0 {
		t.Errorf("an interruption was told as a failed tap: %+v", ev.of(Failed))
	}
	if _, err := cm.Unseal().Open(); !errors.Is(err, seal.ErrWiped) {
		t.Errorf("not wiped: %v", err)
	}

	// The context ends while the ceremony waits for cards.
	ctx, cancel := context.WithCancel(context.Background())
	cm = New(f, req, Options{Window: 5 * time.Second, Finder: &readers{}, Prompter: p,
		Observer: ObserverFunc(func(e Event) {
			if e.Kind == Waiting {
				cancel()
			}
		})})
	err = cm.Run(ctx)
	if !errors.As(err, &se) || !se.Interrupted || se.Tapped != 0 || se.Still != "2 more of alice, bob, carol" {
		t.Fatalf("Run = %#v", err)
	}
}

func TestRunCollectAll(t *testing.T) {
	alice, bob, carol := newFakeToken(t, "alice"), newFakeToken(t, "bob"), newFakeToken(t, "carol")
	f := sealTo(t, 2, alice, bob, carol)
	var ev events
	var onTap int
	cm := New(f, req, Options{Window: 5 * time.Second, CollectAll: true,
		Finder:   &readers{cards: []Card{card(alice, "r1"), card(bob, "r2"), card(carol, "r3")}},
		Prompter: &prompter{pins: []string{"123456"}}, Observer: &ev,
		OnTap: func(token.Token, *approval.Approval) error { onTap++; return nil }})
	if err := cm.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(cm.Approvals()) != 2 || onTap != 3 {
		t.Errorf("%d approvals kept, %d recorded; want the 2 the policy uses kept and all 3 recorded", len(cm.Approvals()), onTap)
	}
	for _, r := range cm.Results() {
		if !r.Tapped || r.Approval == nil || r.PINRetries != 3 {
			t.Errorf("result %+v", r)
		}
	}
	if r := cm.Results()[2]; !r.Extra {
		t.Errorf("carol's tap is not marked extra: %+v", r)
	}
	if tapped := ev.of(Tapped); len(tapped) != 3 || !tapped[2].Extra {
		t.Errorf("tapped events %+v", tapped)
	}
	if err := cm.Unseal().Drill(); err != nil {
		t.Errorf("drill: %v", err)
	}
}

func TestRunOnTapFails(t *testing.T) {
	alice, bob := newFakeToken(t, "alice"), newFakeToken(t, "bob")
	f := sealTo(t, 2, alice, bob)
	cm := New(f, req, Options{Window: 5 * time.Second, Finder: &readers{cards: []Card{card(alice, "r1"), card(bob, "r2")}},
		Prompter: &prompter{pins: []string{"123456"}},
		OnTap:    func(token.Token, *approval.Approval) error { return errors.New("logbook full") }})
	err := cm.Run(context.Background())
	var re *RecordError
	if !errors.As(err, &re) || re.Custodian != "alice" || bob.signs != 0 {
		t.Fatalf("Run = %v (bob signed %d)", err, bob.signs)
	}
	if _, err := cm.Unseal().Open(); !errors.Is(err, seal.ErrWiped) {
		t.Errorf("not wiped: %v", err)
	}
}

// TestRunCollectAllAbsent: a drill does not wait for a custodian known to
// be absent, and once the policy is met the window's end finishes it
// well, with who did not come untapped; before the policy is met it is a
// StopError as ever.
func TestRunCollectAllAbsent(t *testing.T) {
	alice, bob, carol, dave := newFakeToken(t, "alice"), newFakeToken(t, "bob"), newFakeToken(t, "carol"), newFakeToken(t, "dave")
	f := sealTo(t, 2, alice, bob, carol, dave)
	cm := New(f, req, Options{Window: 5 * time.Second, CollectAll: true, Absent: []string{"carol", "dave"},
		Finder:   &readers{cards: []Card{card(alice, "r1"), card(bob, "r2")}},
		Prompter: &prompter{pins: []string{"123456"}}})
	start := time.Now()
	if err := cm.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 4*time.Second {
		t.Error("the ceremony waited for the absent custodians")
	}
	res := cm.Results()
	if !res[0].Tapped || !res[1].Tapped || res[2].Tapped || res[3].Tapped {
		t.Errorf("results %+v", res)
	}
	cm.Unseal().Wipe()

	// dave does not come and nobody said so: the window ends the drill,
	// which passes with the policy met.
	cm = New(f, req, Options{Window: 800 * time.Millisecond, CollectAll: true, Absent: []string{"carol"},
		Finder:   &readers{cards: []Card{card(alice, "r1"), card(bob, "r2")}},
		Prompter: &prompter{pins: []string{"123456"}}})
	if err := cm.Run(context.Background()); err != nil {
		t.Fatalf("window after the policy: %v", err)
	}
	if err := cm.Unseal().Drill(); err != nil {
		t.Errorf("drill: %v", err)
	}

	// Only alice comes: the policy is not met when the window ends.
	cm = New(f, req, Options{Window: 800 * time.Millisecond, CollectAll: true,
		Finder:   &readers{cards: []Card{card(alice, "r1")}},
		Prompter: &prompter{pins: []string{"123456"}}})
	if err := cm.Run(context.Background()); !errors.As(err, new(*StopError)) {
		t.Fatalf("Run = %v, want a StopError", err)
	}
}

// TestRunCollectAllExhausted: when every custodian had their turn and the
// policy is not met, a drill ends at once, not when the window runs out.
func TestRunCollectAllExhausted(t *testing.T) {
	alice, bob := newFakeToken(t, "alice"), newFakeToken(t, "bob")
	f := sealTo(t, 2, alice, bob)
	cm := New(f, req, Options{Window: 30 * time.Second, CollectAll: true,
		Finder:   &readers{cards: []Card{card(alice, "r1"), card(bob, "r2")}},
		Prompter: &prompter{pins: []string{"123456", "000000"}}})
	start := time.Now()
	var se *StopError
	if err := cm.Run(context.Background()); !errors.As(err, &se) || !se.Exhausted || se.Interrupted || errors.Is(err, ErrInterrupted) {
		t.Fatalf("Run = %v, want an exhausted StopError", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Error("the ceremony waited for the window")
	}
	if res := cm.Results(); !res[0].Tapped || res[1].Tapped || res[1].Err == nil || res[1].PINRetries != 2 {
		t.Errorf("results %+v", res)
	}
}

// recordOf is an (unsigned) enrollment record of tok for name: enough for
// the ceremony to name a card's owner.
func recordOf(t *testing.T, name string, tok *fakeToken) *token.Record {
	t.Helper()
	kx, err := x509.MarshalPKIXPublicKey(tok.kx.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	sig, err := x509.MarshalPKIXPublicKey(tok.sig.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &token.Record{Custodian: token.Custodian{Name: name}, Keys: &token.RecordKeys{
		KeyAgreement: token.RecordKey{PublicKey: base64.StdEncoding.EncodeToString(kx)},
		Signing:      token.RecordKey{PublicKey: base64.StdEncoding.EncodeToString(sig)}}}
}

// TestRunCollectAllReplacedCard: bob comes with a new card, enrolled in the
// case but not the one the secret was sealed to: a drill records it as
// bob's failure and does not wait for him.
func TestRunCollectAllReplacedCard(t *testing.T) {
	alice, bob, newBob := newFakeToken(t, "alice"), newFakeToken(t, "bob"), newFakeToken(t, "bob-new")
	f := sealTo(t, 1, alice, bob)
	var ev events
	cm := New(f, req, Options{Window: 20 * time.Second, CollectAll: true, Observer: &ev,
		Finder:   &readers{cards: []Card{card(alice, "r1"), card(newBob, "r2")}},
		Prompter: &prompter{pins: []string{"123456"}},
		Records:  func() []*token.Record { return []*token.Record{recordOf(t, "bob", newBob)} }})
	if err := cm.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var re *ReplacedError
	if res := cm.Results(); !res[0].Tapped || res[1].Tapped || !errors.As(res[1].Err, &re) || re.Custodian != "bob" {
		t.Errorf("results %+v", res)
	}
	if nc := ev.of(NotCustodian); len(nc) != 1 || nc[0].Owner != "bob" {
		t.Errorf("NotCustodian events %+v", nc)
	}
	if newBob.signs != 0 {
		t.Error("the replaced card was asked for its PIN")
	}
}
