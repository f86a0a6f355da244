package main

// breakglass doubles as age-plugin-breakglass, so that stock age decrypts a
// custodian's share with their card:
//
//	breakglass plugin identity alice.card.json > alice.identity
//	breakglass share export prod-aws.glass --custodian alice > alice.age
//	age -d -i alice.identity alice.age
//
// The identity, AGE-PLUGIN-BREAKGLASS-1…, encodes only where the card is
// (its piv: or pkcs11: URI); the key never leaves the card.

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"filippo.io/age"
	"filippo.io/age/plugin"
	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/pkcs11"
)

const pluginName = "breakglass"

// Run as age-plugin-breakglass (a link to this binary on $PATH), the binary
// speaks the age plugin protocol and nothing else.
func init() {
	if filepath.Base(os.Args[0]) == "age-plugin-"+pluginName {
		os.Exit(runAgePlugin(os.Args[1:]))
	}
}

func runAgePlugin(args []string) int {
	p, err := plugin.New(pluginName)
	if err != nil {
		fmt.Fprintf(os.Stderr, "age-plugin-breakglass: %v\n", err)
		return 1
	}
	fs := flag.NewFlagSet("age-plugin-"+pluginName, flag.ContinueOnError)
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

// pluginIdentity returns the AGE-PLUGIN-BREAKGLASS-1… identity of an
// enrolled card.
func pluginIdentity(r *token.Record) (string, error) {
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
	return strings.ToUpper(plugin.EncodeIdentity(pluginName, []byte(uri))), nil
}

const pluginHelp = `breakglass is also an age plugin. Linked or copied as age-plugin-breakglass
on $PATH, it lets stock age (1.1 or later) decrypt a custodian's share with
their card, through the identity that plugin identity prints:

   ln -s "$(command -v breakglass)" ~/bin/age-plugin-breakglass
   breakglass plugin identity alice.card.json > alice.identity
   breakglass share export prod-aws.glass --custodian alice > alice.age
   age -d -i alice.identity alice.age

The identity only says where the card is (its piv: or pkcs11: URI, with the
key slots); it is not secret. The PIN is asked through age, or taken from
BREAKGLASS_PIN.

EXAMPLES
   # a YubiKey (PIV)
   breakglass plugin identity alice.card.json
   # a PKCS#11 token: the URI in the record, with module-path
   breakglass plugin identity hsm-ops.card.json
   # a virtual card in a rehearsal
   BREAKGLASS_PIN=123456 age -d -i <(breakglass plugin identity a.card.json) a.age`

func pluginCommand() *cli.Command {
	return &cli.Command{
		Name:        "plugin",
		Usage:       "use breakglass as an age plugin (age-plugin-breakglass)",
		Description: pluginHelp,
		Subcommands: []*cli.Command{{
			Name:      "identity",
			Usage:     "print the AGE-PLUGIN-BREAKGLASS-1… identity of an enrolled card",
			ArgsUsage: "FILE.card.json",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "allow-virtual", Usage: "accept virtual cards (test CA)"},
				&cli.StringFlag{Name: "roots", Usage: "extra attestation roots, PEM `FILE`"},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() != 1 {
					return usageError("want one enrollment record: breakglass plugin identity FILE.card.json")
				}
				roots, err := loadRoots(c.String("roots"))
				if err != nil {
					return err
				}
				r, err := loadRecord(c.Args().First(), c.Bool("allow-virtual"), roots)
				if err != nil {
					return err
				}
				id, err := pluginIdentity(r)
				if err != nil {
					return withHints(err)
				}
				fmt.Fprintf(os.Stdout, "# custodian: %s (%s %s)\n%s\n", r.Custodian.Name, r.Token.Kind, r.Token.Serial, id)
				return nil
			},
		}},
	}
}

// agePluginCommand is the hidden `breakglass age-plugin --age-plugin=…`
// entry point, for when the binary cannot be linked under the plugin name.
func agePluginCommand() *cli.Command {
	return &cli.Command{
		Name:            "age-plugin",
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			if code := runAgePlugin(c.Args().Slice()); code != 0 {
				return &hintError{err: fmt.Errorf("age plugin exited with status %d", code), code: code}
			}
			return nil
		},
	}
}

const shareExportHelp = `share export prints one token custodian's share block of a sealed secret as a
standalone age file, which stock age decrypts with the custodian's card and
the breakglass plugin (see breakglass plugin --help). The output is not
secret: only the card opens it. The same block can be cut out of the .glass
with a text editor: it is the armored age file after the "share: N" line.

EXAMPLES
   # a YubiKey or PKCS#11 custodian
   breakglass share export prod-aws.glass --custodian alice > alice.age
   age -d -i alice.identity alice.age

   # virtual card
   BREAKGLASS_PIN=123456 age -d -i a.identity a.age`

func shareCommand() *cli.Command {
	return &cli.Command{
		Name:  "share",
		Usage: "work with the custodians' shares in a sealed secret",
		Subcommands: []*cli.Command{{
			Name:        "export",
			Usage:       "print a custodian's share as a standalone age file",
			ArgsUsage:   "NAME.glass",
			Description: shareExportHelp,
			Flags: slices.Concat([]cli.Flag{
				&cli.StringFlag{Name: "custodian", Usage: "the custodian's `NAME`"},
			}, attestTrustFlags(), caseFlags()),
			Action: runShareExport,
		}},
	}
}

func runShareExport(c *cli.Context) error {
	if err := requireFlags(c, "custodian"); err != nil {
		return err
	}
	if c.NArg() != 1 {
		return usageError("want one sealed secret: breakglass share export NAME.glass --custodian NAME")
	}
	path := c.Args().First()
	f, file, err := readGlass(path)
	if err != nil {
		return err
	}
	file.Close()
	// Nobody taps here, so the header is anchored in the logbook (or in
	// the case's enrollment records) before a share of it is handed out.
	cd, l, err := openCaseLog(c)
	if err != nil {
		return err
	}
	trust, err := attestTrustOf(c)
	if err != nil {
		return err
	}
	if err := cd.anchorHeader(l, f, path, trust); err != nil {
		return err
	}
	name := c.String("custodian")
	idx := -1
	var names []string
	for i, cu := range f.Header.Custodians() {
		names = append(names, cu.Name)
		if cu.Name == name {
			idx = i
			if cu.Paper() {
				return withHints(fmt.Errorf("%s holds a paper share; it is not in the file", name),
					"a paper custodian's share is the mnemonic they keep")
			}
		}
	}
	if idx < 0 {
		return withHints(fmt.Errorf("%s is not in the roster of %s", name, f.Header.Name), "the custodians are: "+strings.Join(names, ", "))
	}
	block, err := shareBlock(path, idx)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(block)
	return err
}

// shareBlock cuts the armored age file of custodian idx out of a .glass
// file that seal.Parse accepted.
func shareBlock(path string, idx int) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	end := strings.Index(string(b), "\n-----END BREAKGLASS SEALED SECRET-----\n")
	if end < 0 {
		return nil, errors.New("no sealed block")
	}
	lines := strings.Split(string(b[:end]), "\n")
	for i, l := range lines {
		if l != fmt.Sprintf("share: %d", idx) {
			continue
		}
		var out strings.Builder
		for _, a := range lines[i+1:] {
			out.WriteString(a + "\n")
			if a == "-----END AGE ENCRYPTED FILE-----" {
				return []byte(out.String()), nil
			}
		}
	}
	return nil, fmt.Errorf("share %d not found", idx)
}
