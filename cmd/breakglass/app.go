package main

import (
	"github.com/urfave/cli/v2"
)

// newApp builds the command tree. Each command has its own file and
// constructor; this list is the only place that names them all.
func newApp() *cli.App {
	return &cli.App{
		Name:    "breakglass",
		Usage:   "emergency access to cloud accounts, sealed to k of n hardware tokens",
		Version: version,
		Description: `breakglass keeps break-glass secrets (typically the access key of an
emergency AWS IAM user) encrypted to the hardware tokens of custodians. A
threshold of card taps (PIN + touch) unseals them, and every step is appended
to a signed, tamper-evident logbook.

See docs/ for the runbooks: the operator at 4 am, custodians, drills, auditors.`,
		Commands: []*cli.Command{
			cardCommand(),
			awsCommand(),
			sealCommand(),
			unsealCommand(),
			drillCommand(),
			resealCommand(),
			recoverCommand(),
			tapCommand(),
			shareCommand(),
			pluginCommand(),
			agePluginCommand(),
			logCommand(),
		},
		HideHelpCommand:        true,
		UseShortOptionHandling: true,
		ExitErrHandler:         func(*cli.Context, error) {}, // run() reports errors
	}
}

// run executes the CLI and returns the process exit status.
func run(args []string) int {
	app := newApp()
	if err := app.Run(args); err != nil {
		return reportError(app.ErrWriter, err)
	}
	return 0
}
