package main

// The one wording of a command line with the wrong number of arguments:
//
//	breakglass: error: breakglass log init takes no arguments (got "x")
//	breakglass: error: breakglass aws check takes one NAME.glass (got 2 arguments)

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// noArgs fails when the command got arguments; hints say what was probably
// meant.
func noArgs(c *cli.Context, hints ...string) error {
	if c.NArg() == 0 {
		return nil
	}
	return usageHints(fmt.Errorf("%s takes no arguments (got %q)", commandName(c), c.Args().First()), hints)
}

// oneArg fails unless the command got exactly one argument, what (e.g.
// "NAME.glass").
func oneArg(c *cli.Context, what string, hints ...string) error {
	switch c.NArg() {
	case 1:
		return nil
	case 0:
		return usageHints(fmt.Errorf("%s takes one %s (got none)", commandName(c), what), hints)
	}
	return usageHints(fmt.Errorf("%s takes one %s (got %d arguments)", commandName(c), what, c.NArg()), hints)
}

// commandName is the command as typed: "breakglass log init".
func commandName(c *cli.Context) string {
	if c.Command != nil && c.Command.HelpName != "" {
		return c.Command.HelpName
	}
	return "breakglass"
}

// usageHints is a usage error with hints before the pointer to --help.
func usageHints(err error, hints []string) error {
	return &hintError{err: err, code: exitUsage, hints: append(hints, "see --help for usage and examples")}
}
