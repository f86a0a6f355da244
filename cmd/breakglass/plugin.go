package main

// breakglass doubles as age-plugin-breakglass (package seal/ageplugin), so
// that stock age decrypts a custodian's share with their card; and share
// export cuts a custodian's share block out of a .glass for it.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/ageplugin"
)

// Run as age-plugin-breakglass (a link to this binary on $PATH), the binary
// speaks the age plugin protocol and nothing else.
func init() {
	if filepath.Base(os.Args[0]) == "age-plugin-"+ageplugin.Name {
		os.Exit(ageplugin.Main(os.Args[1:]))
	}
}

// runAgePlugin is the plugin's entry point.
func runAgePlugin(args []string) int { return ageplugin.Main(args) }

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
					return oneArg(c, "enrollment record, FILE.card.json")
				}
				roots, err := loadRoots(c.String("roots"))
				if err != nil {
					return err
				}
				r, err := loadRecord(c.Args().First(), c.Bool("allow-virtual"), roots)
				if err != nil {
					return err
				}
				id, err := ageplugin.Identity(r)
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

Nobody taps here, so the file must be vouched for first: in a case with a
logbook, its header must be the one the logbook recorded; without one, every
custodian in it must be an enrollment record of the case (--case, --roster;
--allow-virtual for rehearsal cards).

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
		return oneArg(c, "sealed secret, NAME.glass")
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
	block, err := f.CustodianShareFile(name)
	var ue *seal.UnknownCustodianError
	switch {
	case errors.Is(err, seal.ErrPaperCustodian):
		return withHints(fmt.Errorf("%s holds a paper share; it is not in the file", name),
			"a paper custodian's share is the mnemonic they keep")
	case errors.As(err, &ue):
		return withHints(ue, "the custodians are: "+strings.Join(ue.Custodians, ", "))
	case err != nil:
		return err
	}
	_, err = os.Stdout.Write(block)
	return err
}
