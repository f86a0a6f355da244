package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/token/enrolled"
)

// newApp builds the command tree. Each command has its own file and
// constructor; this list is the only place that names them all.
func newApp() *cli.App {
	app := &cli.App{
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
			replayCommand(),
		},
		HideHelpCommand:        true,
		UseShortOptionHandling: true,
		ExitErrHandler:         func(*cli.Context, error) {}, // run() reports errors
	}
	app.OnUsageError = onUsageError
	typeUsageErrors(app.Commands)
	return app
}

// typeUsageErrors makes urfave/cli's own complaints about a command line
// usage errors (exit status 2, the --help hint), as typed errors rather
// than text to match. A flag that does not parse goes through
// OnUsageError. A missing required flag is checked here, in Before, with
// urfave/cli's wording: its own check returns an error of an unexported
// type.
func typeUsageErrors(cmds []*cli.Command) {
	for _, cmd := range cmds {
		cmd.OnUsageError = onUsageError
		var required []string
		for _, f := range cmd.Flags {
			if sf, ok := f.(*cli.StringFlag); ok && sf.Required {
				sf.Required = false
				required = append(required, sf.Name)
			}
		}
		if len(required) > 0 {
			before := cmd.Before
			cmd.Before = func(c *cli.Context) error {
				var missing []string
				for _, name := range required {
					if !c.IsSet(name) {
						missing = append(missing, name)
					}
				}
				if len(missing) > 0 { // the command's help, as urfave/cli shows it
					tmpl := c.Command.CustomHelpTemplate
					if tmpl == "" {
						tmpl = cli.CommandHelpTemplate
					}
					cli.HelpPrinter(c.App.Writer, tmpl, c.Command)
				}
				switch len(missing) {
				case 0:
				case 1:
					return usageError("Required flag %q not set", missing[0])
				default:
					return usageError("Required flags %q not set", strings.Join(missing, ", "))
				}
				if before != nil {
					return before(c)
				}
				return nil
			}
		}
		typeUsageErrors(cmd.Subcommands)
	}
}

// onUsageError says what urfave/cli says of a command line it cannot
// parse, and returns it as a usage error.
func onUsageError(c *cli.Context, err error, isSubcommand bool) error {
	fmt.Fprintf(c.App.Writer, "Incorrect Usage: %s\n\n", err)
	if isSubcommand {
		cli.ShowSubcommandHelp(c)
	} else {
		cli.ShowAppHelp(c)
	}
	return &hintError{err: err, code: exitUsage, hints: []string{"see --help for usage and examples"}}
}

// run executes the CLI and returns the process exit status.
func run(args []string) int {
	defer forgetTokenSecrets()
	app := newApp()
	opener := &enrolled.Opener{}
	defer opener.Forget()
	app.Metadata = map[string]any{openerKey: opener}
	if err := app.Run(flagsAnywhere(app, args)); err != nil {
		return reportError(app.ErrWriter, err)
	}
	return 0
}

// flagsAnywhere lets flags follow the positional arguments, as in
// `breakglass unseal F.glass --reason … --exec -- CMD` (urfave/cli v2 stops
// parsing flags at the first argument). It finds the command args names
// (args[0] is the program) and moves that command's flags in front of its
// other arguments with flagsFirst. It is the one place that does this, for
// every command; commands that parse their own arguments (SkipFlagParsing)
// are left alone.
func flagsAnywhere(app *cli.App, args []string) []string {
	var cmd *cli.Command
	cmds := app.Commands
	i := 1
	for ; i < len(args); i++ {
		next := findCommand(cmds, args[i])
		if next == nil {
			break
		}
		cmd, cmds = next, next.Subcommands
	}
	if cmd == nil || cmd.SkipFlagParsing || cmd.Action == nil {
		return args
	}
	return append(append([]string{}, args[:i]...), flagsFirst(cmd.Flags, args[i:])...)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// flagsFirst reorders args so that the flags (with their values) come
// before the other arguments, keeping the order within each. A "--" and
// everything after it stay last, and a lone "-" is an argument. A flag of
// flags takes the next argument as its value unless it is a boolean, is
// given as --name=value, or is unknown (the command then reports it).
func flagsFirst(flags []cli.Flag, args []string) []string {
	takes := map[string]bool{}
	for _, f := range flags {
		v, ok := f.(cli.DocGenerationFlag)
		for _, n := range f.Names() {
			takes[n] = ok && v.TakesValue()
		}
	}
	var fl, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return append(append(fl, pos...), args[i:]...)
		case len(a) > 1 && a[0] == '-':
			fl = append(fl, a)
			name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
			if takes[name] && !hasValue && i+1 < len(args) {
				i++
				fl = append(fl, args[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	return append(fl, pos...)
}
