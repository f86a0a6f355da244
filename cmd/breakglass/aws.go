package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

func awsCommand() *cli.Command {
	return &cli.Command{
		Name:  "aws",
		Usage: "emergency AWS credentials: provision, personal sessions, revoke, check, audit",
		Subcommands: []*cli.Command{
			flagsAnywhere(awsProvisionCommand()),
			flagsAnywhere(awsSessionCommand()),
			flagsAnywhere(awsRevokeCommand()),
			flagsAnywhere(awsRotateCommand()),
			flagsAnywhere(awsCheckCommand()),
			flagsAnywhere(awsAuditCommand()),
			flagsAnywhere(awsCallerIdentityCommand()),
			awsRehearsalServerCommand(),
		},
	}
}

// flagsAnywhere lets flags follow the positional arguments, as in
// "breakglass aws session prod.glass --reason … --exec -- CMD": urfave/cli
// v2 stops parsing flags at the first argument. The returned command takes
// the arguments unparsed, moves the flags (up to a "--") in front, and runs
// cmd with them.
func flagsAnywhere(cmd *cli.Command) *cli.Command {
	return &cli.Command{
		Name: cmd.Name, Aliases: cmd.Aliases, Usage: cmd.Usage, ArgsUsage: cmd.ArgsUsage,
		Description: cmd.Description, Hidden: cmd.Hidden, HideHelp: true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			sub := cli.NewContext(c.App, nil, c)
			sub.Command = cmd
			if cmd.HelpName == "" {
				cmd.HelpName = c.Command.HelpName
			}
			return cmd.Run(sub, append([]string{cmd.Name}, flagsFirst(cmd.Flags, c.Args().Slice())...)...)
		},
	}
}

// flagsFirst reorders args so that the flags (with their values) come
// before the other arguments. A "--" and everything after it stay last.
func flagsFirst(flags []cli.Flag, args []string) []string {
	boolean := map[string]bool{"help": true, "h": true}
	for _, f := range flags {
		if _, ok := f.(*cli.BoolFlag); ok {
			for _, n := range f.Names() {
				boolean[n] = true
			}
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
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && !boolean[name] && i+1 < len(args) {
				i++
				fl = append(fl, args[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	return append(fl, pos...)
}
