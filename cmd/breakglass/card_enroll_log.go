package main

// The enroll entry of card enroll.
//
// In a case with a logbook the new record joins the case's roster (it must
// be written into CASE or CASE/custodians), and the enroll entry is signed
// by the token just enrolled: the check that the actor is in the roster
// runs after the record is written, so it accepts the record being
// enrolled. A paper custodian has no token: --as names the enrolled person
// who signs their entry. When the entry cannot be written the record is
// removed again, so the roster never holds an unrecorded enrollment.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/token"
)

type enrollLog struct {
	c       *cli.Context
	cd      *caseDir
	hasLog  bool
	paperBy *token.Record // who signs a paper custodian's entry (--as)
	resumed bool          // the token's keys come from an earlier run
}

// newEnrollLog opens the case; with a logbook it checks, before any token
// is touched, that the logbook verifies and, for a paper custodian, that
// --as names an enrolled person.
func newEnrollLog(c *cli.Context) (*enrollLog, error) {
	cd, err := openCase(c)
	if err != nil {
		return nil, err
	}
	el := &enrollLog{c: c, cd: cd, hasLog: cd.HasLog()}
	if !el.hasLog {
		return el, nil
	}
	// Verify with the roster as it is now, on a copy: the logbook that
	// records the entry is opened again once the new record is in place.
	check := newCaseDir(&casedir.Case{Dir: cd.Dir, Roster: cd.Roster})
	if _, err := check.Log(); err != nil {
		return nil, logError(err)
	}
	if c.Bool("paper") {
		as := c.String("as")
		if as == "" {
			return nil, withHints(fmt.Errorf("the case %s has a logbook: a paper custodian's enrollment is signed by an enrolled person, give --as NAME", cd.Dir),
				"NAME is the enrolled person running the enrollment (their token is at hand)")
		}
		r, err := check.person(as)
		if err != nil {
			return nil, err
		}
		if err := check.checkActor(r); err != nil {
			return nil, err
		}
		el.paperBy = r
	} else if c.IsSet("as") {
		return nil, usageError("--as is for --paper custodians: a token signs its own enroll entry")
	}
	return el, nil
}

// defaultOut is where the record goes without --out: with a logbook, into
// the case's custodians folder (or the case itself when it has none).
func (el *enrollLog) defaultOut(name string) string {
	if !el.hasLog {
		return name
	}
	if fi, err := os.Stat(filepath.Join(el.cd.Dir, casedir.CustodiansDir)); err == nil && fi.IsDir() {
		return filepath.Join(el.cd.Dir, casedir.CustodiansDir, name)
	}
	return filepath.Join(el.cd.Dir, name)
}

// checkOut makes sure that, with a logbook, the record lands in the roster.
func (el *enrollLog) checkOut(out string) error {
	if !el.hasLog {
		return nil
	}
	dir, err1 := filepath.Abs(filepath.Dir(out))
	caseAbs, err2 := filepath.Abs(el.cd.Dir)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("--out %s: %v", out, err1)
	}
	if !strings.HasSuffix(filepath.Base(out), ".card.json") || (dir != caseAbs && dir != filepath.Join(caseAbs, casedir.CustodiansDir)) {
		return withHints(fmt.Errorf("--out %s is not in the roster of %s, whose logbook must be able to check the enroll entry", out, el.cd.Dir),
			"write the record as "+filepath.Join(el.cd.Dir, casedir.CustodiansDir, "NAME.card.json")+" (the default), or enroll outside the case with --case DIR")
	}
	return nil
}

// logEnroll appends the enroll entry of rec (written to out), signed by tok
// (nil for a paper custodian: signed by --as). Without a logbook it warns.
func (el *enrollLog) logEnroll(rec *token.Record, tok token.Token, out string) error {
	if !el.hasLog {
		infof("no logbook in %s; this enrollment is not recorded", el.cd.Dir)
		return nil
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	e := casedir.EnrollEntry(rec, filepath.Base(out), b, el.resumed)
	// A fresh view of the case: its roster now holds the new record.
	cd := newCaseDir(&casedir.Case{Dir: el.cd.Dir, Roster: el.cd.Roster})
	if tok == nil {
		_, err = cd.logSigned(el.c, e, el.paperBy, -1)
		return err
	}
	infof("signing the enroll entry with the new token; touch it if it blinks")
	if _, err = cd.logEntry(e, rec, tok.SigningKey()); err != nil {
		return err
	}
	if cd.CheckAdmitted(rec) != nil {
		infof("the logbook decides who signs: %s signs nothing but this enroll entry until admitted: breakglass card admit %s --as ADMITTER", rec.Custodian.Name, rec.Custodian.Name)
	}
	return nil
}
