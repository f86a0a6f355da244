package main

// Who seals, and the seal and reseal entries of the logbook.

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
)

// sealerFlags name who seals (seal, reseal), and the case.
func sealerFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "as", Usage: "who seals: an enrolled `NAME` (or NAME.card.json) whose token signs the logbook entry; required when the case has a logbook"},
		&cli.StringFlag{Name: "sealed-by", Usage: "who seals, when the case has no logbook (default --as, else $USER)"},
	}, caseFlags()...)
}

// sealer reads the roster flags into p (rosterFromFlags) and resolves who
// seals into p.SealedBy, returning the case and, with a logbook, the
// sealer's record. With a logbook, --as must name an enrolled
// person (their logbook name goes into the header's sealed-by, and their
// token signs the entry); --sealed-by, if given, must agree. Without one,
// --sealed-by, else --as, else $USER is only written into the header.
func sealer(c *cli.Context, p *seal.Params) (*caseDir, *token.Record, error) {
	if err := rosterFromFlags(c, p); err != nil {
		return nil, nil, err
	}
	cd, r, by, err := sealerRecord(c)
	if err != nil {
		return nil, nil, err
	}
	p.SealedBy = by
	return cd, r, nil
}

func sealerRecord(c *cli.Context) (*caseDir, *token.Record, string, error) {
	cd, err := openCase(c)
	if err != nil {
		return nil, nil, "", err
	}
	as, by := c.String("as"), c.String("sealed-by")
	if !cd.HasLog() {
		switch {
		case by != "":
		case as != "":
			by = as
		default:
			by = currentUser()
		}
		return cd, nil, by, nil
	}
	if _, err := cd.Log(); err != nil {
		return nil, nil, "", logError(err)
	}
	if as == "" {
		return nil, nil, "", withHints(fmt.Errorf("the case %s has a logbook, so who seals must sign the %s entry: give --as NAME", cd.Dir, c.Command.Name),
			"NAME is an enrolled person of the case (or NAME.card.json) whose token is at hand")
	}
	r, err := cd.person(as)
	if err != nil {
		return nil, nil, "", err
	}
	if err := cd.checkActor(r); err != nil {
		return nil, nil, "", err
	}
	name, err := actorName(r)
	if err != nil {
		return nil, nil, "", err
	}
	if by != "" && by != name && by != r.Custodian.Name {
		return nil, nil, "", usageError("--sealed-by %s and --as %s disagree: with a logbook, who seals is the person whose token signs (drop --sealed-by)", by, as)
	}
	return cd, r, name, nil
}

// sealRecorded wraps a seal (seal.Seal or seal.Reseal, writing into the
// new file) so that its logbook entry is appended before the file is put in
// place: an entry that cannot be written leaves no file behind.
func sealRecorded(c *cli.Context, cd *caseDir, actor *token.Record, kind logbook.Kind, reason string, extra map[string]string,
	do func(io.Writer) (*seal.Sealed, error)) func(io.Writer) (*seal.Sealed, error) {
	return func(w io.Writer) (*seal.Sealed, error) {
		s, err := do(w)
		if err != nil {
			return nil, err
		}
		if _, err := cd.logSigned(c, casedir.SealEntry(kind, s, reason, extra), actor, -1); err != nil {
			return nil, err
		}
		return s, nil
	}
}
