package main

import "github.com/urfave/cli/v2"

func cardCommand() *cli.Command {
	return &cli.Command{
		Name:  "card",
		Usage: "manage hardware tokens (PIV cards, PKCS#11 tokens) and virtual cards",
		Subcommands: []*cli.Command{
			cardListCommand(),
			cardEnrollCommand(),
			cardAdmitCommand(),
			cardRetireCommand(),
			cardVerifyCommand(),
			cardCheckCommand(),
			cardPINCommand(),
			cardVirtualCommand(),
		},
	}
}
