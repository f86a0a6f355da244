package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
)

const logRevokeHelp = `log revoke records that a released secret was made useless again, closing
its open releases: after an unseal of a database password, an API token or
any secret that is not an AWS key, rotate the secret where it lives, then
record it here, signed by your token. The next unseal of the secret no
longer needs --concurrent-release, and an auditor sees the release closed.

--text says what was done ("rotated the DB root password, INC-4711"). With
--key-id, only releases of that key id are closed; without, every open
release of the secret. It is refused when the secret has no open release.

For an AWS key, use breakglass aws revoke instead: it deactivates the key in
IAM, seals a new one and records the revoke itself.

EXAMPLES
   breakglass log show --secret prod-db --kind release
   breakglass log revoke --secret prod-db --as alice \
     --text "rotated the DB root password" --ticket INC-4711`

func logRevokeCommand() *cli.Command {
	return &cli.Command{
		Name:        "revoke",
		Usage:       "record that a released (non-AWS) secret was rotated, closing its release",
		ArgsUsage:   " ",
		Description: logRevokeHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "secret", Usage: "the sealed secret `NAME` whose release is closed"},
			&cli.StringFlag{Name: "text", Usage: "what was done to make the released secret useless, one line of `TEXT`"},
			&cli.StringFlag{Name: "key-id", Usage: "close only the releases of key `ID`"},
		}, signedEntryFlags()...),
		Action: runLogRevoke,
	}
}

func runLogRevoke(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c)
	}
	if err := requireFlags(c, "secret", "text", "as"); err != nil {
		return err
	}
	name, keyID := c.String("secret"), c.String("key-id")
	cd, l, err := openRequiredLog(c)
	if err != nil {
		return err
	}
	var closing []string
	for _, r := range logbook.OpenReleases(l.Entries(), name) {
		if keyID == "" || r.Details[logbook.DetailKeyID] == keyID {
			closing = append(closing, fmt.Sprintf("entry %d (%s, ticket %s)", r.Index, r.Details[logbook.DetailOperator], r.Ticket))
		}
	}
	if len(closing) == 0 {
		what := name
		if keyID != "" {
			what += " key " + keyID
		}
		return withHints(errors.New("no open release of "+what+" to revoke"),
			"see breakglass log show --secret "+name)
	}
	e := logbook.Entry{Kind: logbook.KindRevoke, Secret: name, Reason: c.String("text"), Ticket: c.String("ticket")}
	if keyID != "" {
		e.Details = map[string]string{logbook.DetailKeyID: keyID}
	}
	infof("closing the release of %s: %s", name, strings.Join(closing, "; "))
	return logPersonal(c, cd, l, e, c.String("as"))
}
