package seal_test

import (
	"bytes"
	"crypto/ecdh"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/breakglass/breakglass/seal"
)

// Seal a secret to 2 of 3 custodians, then unseal it with two taps. The
// tokens are software keys here; a PIV card or PKCS#11 token implements the
// same crypto/ecdh.KeyExchanger.
func Example() {
	var tokens []*ecdh.PrivateKey
	var roster []seal.Custodian
	for _, name := range []string{"alice", "bob", "carol"} {
		k, err := ecdh.P256().GenerateKey(nil)
		if err != nil {
			log.Fatal(err)
		}
		r, err := seal.TagRecipient(k.PublicKey())
		if err != nil {
			log.Fatal(err)
		}
		tokens = append(tokens, k)
		roster = append(roster, seal.Custodian{Name: name, Kind: seal.KindPIV, Recipient: r.String()})
	}
	var file bytes.Buffer
	_, err := seal.Seal(&file, strings.NewReader("AKIA…/secret"), seal.Params{
		Name: "prod-aws", UseCases: []string{"SSO is down"}, SealedBy: "alice",
		Custodians: roster, Threshold: 2,
	}, nil)
	if err != nil {
		log.Fatal(err)
	}

	f, err := seal.Parse(&file)
	if err != nil {
		log.Fatal(err)
	}
	u := f.NewUnseal()
	for _, k := range []*ecdh.PrivateKey{tokens[2], tokens[0]} {
		idx, err := u.Tap(k)
		if err != nil {
			log.Fatal(err)
		}
		p := u.Progress()
		fmt.Printf("%s tapped: %d of %d, complete: %v\n", roster[idx].Name, p.Groups[0].Have, p.Groups[0].Threshold, p.Complete)
	}
	r, err := u.Open()
	if err != nil {
		log.Fatal(err)
	}
	secret, _ := io.ReadAll(r)
	fmt.Printf("%s\n", secret)
	// Output:
	// carol tapped: 1 of 2, complete: false
	// alice tapped: 2 of 2, complete: true
	// AKIA…/secret
}
