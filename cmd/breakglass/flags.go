package main

// Flag helpers shared by the commands: repeatable flags, flags that must
// be given, and the flags a person at a terminal may answer instead.

import (
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/term"
)

// listFlag is a repeatable string flag that keeps each value as given:
// --group values contain commas, which cli.StringSliceFlag would split.
type listFlag []string

func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
func (l *listFlag) String() string     { return strings.Join(*l, " ") }

// listValues returns a repeatable flag's values; commaSplit also splits each
// value at commas (--to a,b --to c).
func listValues(c *cli.Context, name string, commaSplit bool) []string {
	l, _ := c.Generic(name).(*listFlag)
	if l == nil {
		return nil
	}
	var out []string
	for _, v := range *l {
		if !commaSplit {
			out = append(out, v)
			continue
		}
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// lookupFlag finds the flag called name (or one of its aliases) in fs.
func lookupFlag(fs []cli.Flag, name string) cli.Flag {
	for _, f := range fs {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// requireFlags reports flags that must be given, with breakglass's usage
// message (urfave/cli's Required gives its own).
func requireFlags(c *cli.Context, names ...string) error {
	var missing []string
	for _, n := range names {
		if !c.IsSet(n) || c.String(n) == "" {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usageError("missing %s", strings.Join(missing, " and "))
	}
	return nil
}

// flagQuestions are the questions askFlags asks for flags a person at a
// terminal may answer instead of giving them.
var flagQuestions = map[string]string{
	"reason": "reason (why access is needed; recorded): ",
	"ticket": "incident or ticket ID (recorded): ",
}

// canAsk reports whether a missing --reason or --ticket can be asked for:
// as for --use-case, only when standard input is a terminal.
func canAsk() bool { return isTerminal(os.Stdin) && term.Available() }

// requireFlagsOrAsk is requireFlags for flags askFlags can ask for later:
// with a terminal to ask on, a missing one is no error yet.
func requireFlagsOrAsk(c *cli.Context, names ...string) error {
	if canAsk() {
		return nil
	}
	return requireFlags(c, names...)
}

// askFlags asks on the terminal for each of names not given on the command
// line, the way a missing --use-case is chosen there, and sets it. An empty
// answer asks again (3 times); without a terminal a missing flag is the
// usage error of requireFlags.
func askFlags(c *cli.Context, names ...string) error {
	for _, n := range names {
		if c.String(n) != "" {
			continue
		}
		if !canAsk() {
			return requireFlags(c, names...)
		}
		v := ""
		for try := 0; v == "" && try < 3; try++ {
			a, err := term.Ask(flagQuestions[n])
			if err != nil {
				return withHints(fmt.Errorf("no --%s given", n), "give --"+n+" on the command line")
			}
			v = a
		}
		if v == "" {
			return withHints(fmt.Errorf("no --%s given", n), "give --"+n+" on the command line")
		}
		if err := c.Set(n, v); err != nil {
			return err
		}
	}
	return nil
}
