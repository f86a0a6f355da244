package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/pkcs11"
)

const cardListHelp = `Lists every connected token: for PIV cards the reader, serial, firmware,
PIN and PUK tries left, which retired slots hold keys (and which of them are
breakglass keys), and whether the card still has its factory PIN, PUK or
management key. With --module, the tokens of that PKCS#11 module are listed
too. Nothing here costs a PIN try.

EXAMPLES
   breakglass card list
   breakglass card list --json
   breakglass card list --module /usr/lib/softhsm/libsofthsm2.so
   breakglass card list --reader "Virtual PCD 00 00"     # one virtual card`

func cardListCommand() *cli.Command {
	return &cli.Command{
		Name:        "list",
		Usage:       "list connected tokens and their state",
		Description: cardListHelp,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"},
			readerFlag,
			&cli.StringSliceFlag{Name: "module", Usage: "also list the tokens of PKCS#11 module `PATH`"},
		},
		Action: runCardList,
	}
}

type pkcs11Listing struct {
	Module string `json:"module"`
	Label  string `json:"label"`
	Serial string `json:"serial"`
	Model  string `json:"model"`
}

func runCardList(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("card list takes no arguments")
	}
	cards, err := piv.List(piv.Selector{Reader: c.String("reader")})
	if err != nil {
		return explainToken(err)
	}
	var toks []pkcs11Listing
	for _, m := range c.StringSlice("module") {
		slots, err := pkcs11.Tokens(m)
		if err != nil {
			return explainToken(err)
		}
		for _, s := range slots {
			toks = append(toks, pkcs11Listing{Module: m, Label: s.Info.Label, Serial: s.Info.SerialNumber, Model: s.Info.Model})
		}
	}
	if c.Bool("json") {
		out := struct {
			PIV    []piv.Status    `json:"piv"`
			PKCS11 []pkcs11Listing `json:"pkcs11"`
		}{cards, toks}
		if out.PIV == nil {
			out.PIV = []piv.Status{}
		}
		if out.PKCS11 == nil {
			out.PKCS11 = []pkcs11Listing{}
		}
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(cards) == 0 && len(toks) == 0 {
		infof("no token found")
		return nil
	}
	for _, s := range cards {
		fmt.Printf("piv %d  firmware %s  reader %q\n", s.Serial, s.Firmware, s.Reader)
		fmt.Printf("  PIN tries left %d, PUK tries left %d\n", s.PINRetries, s.PUKRetries)
		var defs []string
		if s.Defaults.PIN {
			defs = append(defs, "PIN")
		}
		if s.Defaults.PUK {
			defs = append(defs, "PUK")
		}
		if s.Defaults.ManagementKey {
			defs = append(defs, "management key")
		}
		if len(defs) > 0 {
			fmt.Printf("  factory default: %s (breakglass card enroll replaces them)\n", strings.Join(defs, ", "))
		} else if s.MgmtKeyProtected {
			fmt.Printf("  no factory default credential; management key PIN-protected\n")
		} else {
			fmt.Printf("  no factory default credential\n")
		}
		for _, sl := range s.Slots {
			bg := ""
			if sl.Breakglass != "" {
				bg = "  breakglass " + sl.Breakglass
			}
			fmt.Printf("  slot %s: P-256, PIN %s, touch %s%s\n", sl.Slot, sl.PINPolicy, sl.TouchPolicy, bg)
		}
	}
	for _, t := range toks {
		fmt.Printf("pkcs11 %q serial %s (%s) module %s\n", t.Label, t.Serial, t.Model, t.Module)
	}
	return nil
}
