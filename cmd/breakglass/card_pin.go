package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/token/piv"
)

const cardPINHelp = `Changes the PIN of a PIV card, or sets a new one with the PUK after the PIN
was blocked. Like every breakglass command, it never spends a last try: with
one PIN (or PUK) try left it stops and explains what to do instead.

The current PIN comes from the terminal, --pin-file or BREAKGLASS_PIN; the PUK
from the terminal, --puk-file or BREAKGLASS_PUK; the new PIN from the
terminal (asked twice), --new-pin-file or BREAKGLASS_NEW_PIN. The variables are
meant for tests and drills on virtual cards.

EXAMPLES
   breakglass card pin change
   breakglass card pin unblock --serial 18392011`

func cardPINCommand() *cli.Command {
	flags := []cli.Flag{serialFlag, readerFlag,
		&cli.StringFlag{Name: "new-pin-file", Usage: "read the new PIN from `FILE`"}}
	return &cli.Command{
		Name:        "pin",
		Usage:       "change or unblock the PIN of a PIV card",
		Description: cardPINHelp,
		Subcommands: []*cli.Command{
			{
				Name:        "change",
				Usage:       "change the PIN",
				Description: cardPINHelp,
				Flags:       append(flags, pinFileFlag),
				Action:      runCardPINChange,
			},
			{
				Name:        "unblock",
				Usage:       "set a new PIN with the PUK",
				Description: cardPINHelp,
				Flags:       append(flags, &cli.StringFlag{Name: "puk-file", Usage: "read the PUK from `FILE`"}),
				Action:      runCardPINUnblock,
			},
		},
	}
}

func runCardPINChange(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c)
	}
	sel, err := chooseCard(pivSelector(c))
	if err != nil {
		return err
	}
	old, err := pinSource(c, fmt.Sprintf("card %d", sel.Serial))()
	if err != nil {
		return err
	}
	defer secret.Wipe(old)
	next, err := newSecretSource(c, "new-pin-file", "BREAKGLASS_NEW_PIN", "PIN", piv.CheckNewPIN)
	if err != nil {
		return err
	}
	defer secret.Wipe(next)
	if err := piv.ChangePIN(sel, old, next); err != nil {
		return explainToken(err)
	}
	infof("card %d: PIN changed", sel.Serial)
	return nil
}

func runCardPINUnblock(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c)
	}
	sel, err := chooseCard(pivSelector(c))
	if err != nil {
		return err
	}
	puk, err := secretSource(c, "puk-file", "BREAKGLASS_PUK", "PUK", false)
	if err != nil {
		return err
	}
	defer secret.Wipe(puk)
	next, err := newSecretSource(c, "new-pin-file", "BREAKGLASS_NEW_PIN", "PIN", piv.CheckNewPIN)
	if err != nil {
		return err
	}
	defer secret.Wipe(next)
	if err := piv.Unblock(sel, puk, next); err != nil {
		return explainToken(err)
	}
	infof("card %d: PIN unblocked and set", sel.Serial)
	return nil
}
