package main

// The aws commands' view of the case and its logbook (caselog.go): who
// acts (an enrolled person, whose token signs the entry), the verified
// entries (releases, revokes, seals), and appending one entry.
//
// Without a logbook in the case the commands warn that nothing is recorded
// and go on, as every other command does. With one, a step that cannot be
// recorded fails: for a session, nothing is released.

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/token"
)

// awsCase is an open case for an aws command.
type awsCase struct {
	c   *cli.Context
	cd  *caseDir
	log *logbook.Log // nil: the case has no logbook
}

func openAWSCase(c *cli.Context) (*awsCase, error) {
	cd, l, err := openCaseLog(c)
	if err != nil {
		return nil, err
	}
	return &awsCase{c: c, cd: cd, log: l}, nil
}

// entries are the logbook's verified entries (none without a logbook).
func (a *awsCase) entries() []*logbook.Entry {
	if a.log == nil {
		return nil
	}
	return a.log.Entries()
}

// person finds the enrolled record of name (see caseDir.person). With
// required, a person who is not enrolled is an error; otherwise nil, nil.
func (a *awsCase) person(name string, required bool) (*token.Record, error) {
	r, err := a.cd.person(name)
	var ne *casedir.NotEnrolledError
	if errors.As(err, &ne) {
		if !required {
			return nil, nil
		}
		return nil, withHints(err,
			"name an enrolled person with --operator NAME (or NAME.card.json); their card signs the logbook entry",
			"enroll with breakglass card enroll, and add the record to the case")
	}
	return r, err
}

// logEntry appends e signed by actor's token. size >= 0 appends only if the
// logbook still holds size entries. Without a logbook it warns and returns.
func (a *awsCase) logEntry(e logbook.Entry, actor *token.Record, size int64) error {
	if a.log == nil {
		what := string(e.Kind)
		if e.Kind == logbook.KindNote {
			what = "failed attempt"
		}
		infof("no logbook in %s; the %s of %s is not recorded", a.cd.Dir, what, e.Secret)
		return nil
	}
	_, err := a.cd.logSigned(a.c, e, actor, size)
	return err
}

// awsActor is the enrolled person who runs an admin command (--as, else
// $BREAKGLASS_OPERATOR, else $USER). It is needed only with a logbook.
func (a *awsCase) awsActor() (*token.Record, error) {
	if a.log == nil {
		return nil, nil
	}
	name := a.c.String("as")
	if name == "" {
		name = currentUser()
	}
	r, err := a.person(name, true)
	if err != nil {
		return nil, withHints(err, "name yourself with --as NAME: an enrolled person whose card signs the logbook entry")
	}
	return r, nil
}

// awsActorFlags name who acts in admin commands, and the case.
func awsActorFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "as", Usage: "the enrolled `NAME` (or NAME.card.json) who acts; their card signs the logbook entry (default $USER)"},
		pinFileFlag, pinTriesUnknownFlag,
	}, caseFlags()...)
}
