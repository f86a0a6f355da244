package main

// The aws commands' view of the case and its logbook (caselog.go): who
// acts (an enrolled person, whose token signs the entry), the verified
// entries (releases, revokes, seals), and appending one entry.
//
// Without a logbook in the case the commands warn that nothing is recorded
// and go on, as every other command does. With one, a step that cannot be
// recorded fails: for a session, nothing is released.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/pkcs11"
)

// awsCase is an open case for an aws command.
type awsCase struct {
	c   *cli.Context
	cd  *caseDir
	log *logbook.Log // nil: the case has no logbook
}

func openAWSCase(c *cli.Context) (*awsCase, error) {
	cd, err := openCase(c)
	if err != nil {
		return nil, err
	}
	l, err := cd.Log()
	if err != nil {
		return nil, logError(err)
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

// person finds the enrolled record of name (a custodian name, its logbook
// form, or a NAME.card.json path). With required, a person who is not
// enrolled is an error; otherwise nil, nil.
func (a *awsCase) person(name string, required bool) (*token.Record, error) {
	if strings.HasSuffix(name, ".card.json") {
		return readRecordFile(name)
	}
	recs, err := a.cd.Records()
	if err != nil {
		return nil, err
	}
	for _, r := range recs {
		an, _ := actorName(r)
		if r.Keys != nil && (r.Custodian.Name == name || an == name) {
			return r, nil
		}
	}
	if !required {
		return nil, nil
	}
	return nil, withHints(fmt.Errorf("%s is not enrolled in the case %s", name, a.cd.Dir),
		"name an enrolled person with --operator NAME (or NAME.card.json); their card signs the logbook entry",
		"enroll with breakglass card enroll, and add the record to the case")
}

// record appends e signed by actor's token. size >= 0 appends only if the
// logbook still holds size entries. Without a logbook it warns and returns.
func (a *awsCase) record(e logbook.Entry, actor *token.Record, size int64) error {
	if a.log == nil {
		what := string(e.Kind)
		if e.Kind == logbook.KindNote {
			what = "failed attempt"
		}
		infof("no logbook in %s; the %s of %s is not recorded", a.cd.Dir, what, e.Secret)
		return nil
	}
	if actor == nil {
		return withHints(errors.New("no enrolled person to sign the logbook entry"),
			"name yourself with --as NAME (an enrolled person whose card is at hand)")
	}
	tok, err := awsOpenSigner(a.c, actor)
	if err != nil {
		return withHints(fmt.Errorf("cannot open %s's token to sign the logbook entry: %w", actor.Custodian.Name, err),
			"insert "+actor.Custodian.Name+"'s card (the one enrolled in "+actor.Fingerprint()+")")
	}
	defer tok.Close()
	if size >= 0 {
		_, err = a.cd.recordAt(size, e, actor, tok.SigningKey())
	} else {
		_, err = a.cd.record(e, actor, tok.SigningKey())
	}
	return err
}

// awsOpenSigner opens the token an enrollment record describes, on any
// reader, with the command's PIN source, for its signing key.
func awsOpenSigner(c *cli.Context, r *token.Record) (token.Token, error) {
	if r.Keys == nil {
		return nil, fmt.Errorf("%s is a paper custodian: there is no token to sign with", r.Custodian.Name)
	}
	pin := pinSource(c, r.Custodian.Name+"'s card")
	switch r.Token.Kind {
	case token.KindPIV:
		return piv.OpenRecord(r, piv.Selector{}, pin)
	case token.KindPKCS11:
		kx, err1 := hex.DecodeString(r.Keys.KeyAgreement.ID)
		sig, err2 := hex.DecodeString(r.Keys.Signing.ID)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("%s's record: key ids are not hex", r.Custodian.Name)
		}
		return pkcs11.Open(r.Token.URI, pkcs11.Options{PIN: pin, KeyAgreementID: kx, SigningID: sig})
	}
	return nil, fmt.Errorf("%s's token kind %q cannot sign", r.Custodian.Name, r.Token.Kind)
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
		pinFileFlag,
	}, caseFlags()...)
}
