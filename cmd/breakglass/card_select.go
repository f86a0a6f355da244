package main

// Choosing the card a card command works on: --serial, --reader, or a
// question on the terminal.

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/term"
	"github.com/breakglass/breakglass/token/piv"
)

// Flags shared by the card commands.
var (
	readerFlag = &cli.StringFlag{Name: "reader", EnvVars: []string{"BREAKGLASS_READER"},
		Usage: "use only the PC/SC reader `NAME` (BREAKGLASS_READER works too)"}
	serialFlag = &cli.UintFlag{Name: "serial", Usage: "use the PIV card with serial number `N`"}
	moduleFlag = &cli.StringFlag{Name: "module", Usage: "PKCS#11 module `PATH` (overrides module-path in the URI)"}
)

// pivSelector builds the card selector from --serial and --reader.
func pivSelector(c *cli.Context) piv.Selector {
	return piv.Selector{Serial: uint32(c.Uint("serial")), Reader: c.String("reader")}
}

// chooseCard resolves a selector that matches several cards: asks on the
// terminal, or fails with a hint when there is none.
func chooseCard(sel piv.Selector) (piv.Selector, error) {
	found, err := piv.Find(sel)
	if err != nil {
		return sel, explainToken(err)
	}
	if len(found) == 1 {
		sel.Serial, sel.Reader = found[0].Serial, found[0].Reader
		return sel, nil
	}
	var opts []string
	for _, f := range found {
		opts = append(opts, fmt.Sprintf("card %d in %s", f.Serial, f.Reader))
	}
	if !term.Available() {
		return sel, withHints(&piv.ChoiceError{Cards: found}, "choose one with --serial N or --reader NAME")
	}
	i, err := term.Choose("several PIV cards are connected; which one?", opts)
	if err != nil {
		return sel, err
	}
	sel.Serial, sel.Reader = found[i].Serial, found[i].Reader
	return sel, nil
}
