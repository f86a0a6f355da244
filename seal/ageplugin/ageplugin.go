// Package ageplugin is age-plugin-breakglass: it lets stock age decrypt a
// custodian's share with their card, so that nothing a custodian holds
// depends on breakglass itself:
//
//	breakglass plugin identity alice.card.json > alice.identity
//	breakglass share export prod-aws.glass --custodian alice > alice.age
//	age -d -i alice.identity alice.age
//
// The identity, AGE-PLUGIN-BREAKGLASS-1…, encodes only where the card is
// (its piv: or pkcs11: URI, with the PIV slots pinned); the key never leaves
// the card. Unwrapping is the p256tag identity of package seal, with the
// ECDH on the card. The PIN comes from $BREAKGLASS_PIN or, through age, from
// the user; a token with one PIN try left is never tried.
package ageplugin

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/plugin"

	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/pkcs11"
)

// Name is the plugin's name: age runs age-plugin-breakglass.
const Name = "breakglass"

// Main runs the age plugin protocol on the process's standard input and
// output (age starts the plugin with --age-plugin=…) and returns the exit
// status.
func Main(args []string) int {
	p, err := plugin.New(Name)
	if err != nil {
		fmt.Fprintf(os.Stderr, "age-plugin-breakglass: %v\n", err)
		return 1
	}
	fs := flag.NewFlagSet("age-plugin-"+Name, flag.ContinueOnError)
	p.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	p.HandleIdentity(func(data []byte) (age.Identity, error) {
		return newCardIdentity(p, string(data))
	})
	return p.Main()
}

// cardIdentity is the age identity of a card, opened only when a stanza
// needs it.
type cardIdentity struct {
	p   *plugin.Plugin
	uri string
}

func newCardIdentity(p *plugin.Plugin, uri string) (*cardIdentity, error) {
	u, err := token.ParseURI(uri)
	if err != nil {
		return nil, fmt.Errorf("breakglass identity: %v", err)
	}
	if u.Scheme != token.SchemePIV && u.Scheme != token.SchemePKCS11 {
		return nil, fmt.Errorf("breakglass identity: unknown token URI scheme %q", u.Scheme)
	}
	return &cardIdentity{p: p, uri: uri}, nil
}

func (i *cardIdentity) pin() ([]byte, error) {
	if s := os.Getenv("BREAKGLASS_PIN"); s != "" {
		return []byte(s), nil
	}
	s, err := i.p.RequestValue("PIN for "+i.uri+": ", true)
	if err != nil {
		return nil, err
	}
	return []byte(s), nil
}

func (i *cardIdentity) open() (token.Token, error) {
	if strings.HasPrefix(i.uri, token.SchemePIV+":") {
		o, err := piv.ParseURI(i.uri)
		if err != nil {
			return nil, err
		}
		o.PIN = i.pin
		return piv.Open(o)
	}
	return pkcs11.Open(i.uri, pkcs11.Options{PIN: i.pin, ConfirmUnknownTries: i.confirmUnknownTries})
}

// confirmUnknownTries asks through age (the plugin protocol's confirm)
// before a PIN goes to a PKCS#11 token that cannot say how many tries are
// left after a wrong PIN.
func (i *cardIdentity) confirmUnknownTries(info token.Info) bool {
	if i.p == nil {
		return false
	}
	ok, err := i.p.Confirm("token "+info.Name()+": a wrong PIN was entered since its last successful login, and the token "+
		"does not say how many tries are left: one more wrong PIN may block it. Send the PIN anyway?", "send the PIN", "stop")
	return err == nil && ok
}

// Unwrap opens the card, checks that some stanza is a p256tag one, and
// lets seal's p256tag identity do the rest (ECDH on the card).
func (i *cardIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	any := false
	for _, s := range stanzas {
		any = any || s.Type == "p256tag"
	}
	if !any {
		return nil, age.ErrIncorrectIdentity
	}
	tok, err := i.open()
	if err != nil {
		return nil, err
	}
	defer tok.Close()
	if r, err := tok.PINRetries(); err == nil && r >= 0 && !token.SafeToTry(r) {
		return nil, &token.PINError{Token: tok.Info().Name(), Retries: r}
	}
	id, err := seal.NewTagIdentity(tok.KeyAgreementKey())
	if err != nil {
		return nil, err
	}
	return id.Unwrap(stanzas)
}

// Identity returns the AGE-PLUGIN-BREAKGLASS-1… identity of an enrolled
// card: where the card is (its piv: or pkcs11: URI), never a key.
func Identity(r *token.Record) (string, error) {
	if r.Token.Kind == token.KindPaper || r.Keys == nil {
		return "", fmt.Errorf("%s holds a paper share: there is no card to decrypt with", r.Custodian.Name)
	}
	uri := r.Token.URI
	if r.Token.Kind == token.KindPIV {
		// Pin the slots, so the identity does not depend on labels.
		u, err := token.ParseURI(uri)
		if err != nil || uri == "" {
			return "", fmt.Errorf("%s's record has no usable token URI", r.Custodian.Name)
		}
		u.Set("slot", r.Keys.KeyAgreement.ID)
		u.Set("sign-slot", r.Keys.Signing.ID)
		uri = u.String()
	}
	if uri == "" {
		return "", fmt.Errorf("%s's record has no token URI", r.Custodian.Name)
	}
	return strings.ToUpper(plugin.EncodeIdentity(Name, []byte(uri))), nil
}
