package main

// The case directory (package casedir) as the commands see it: --case and
// --roster, hints for the typed errors of package casedir, and appending
// entries signed by a token (package caselog), saying what goes on around
// each append (caseVoice).
//
// Commands find the case with --case DIR, else $BREAKGLASS_CASE, else the
// current directory. When CASE/logbook exists, every state-changing command
// appends its entry and fails when it cannot (an unseal then releases
// nothing). When it does not, the command warns that the step is not
// recorded and goes on.
//
//	cd, err := openCase(c)         // c has caseFlags() among its flags
//	recs, err := cd.Records()      // the roster, every record verified
//	l, err := cd.Log()             // the verified logbook, or nil, nil
//	ckpt, err := cd.logEntry(e, actorRecord, tok.SigningKey())
//	ckpt, err := cd.logEntryAt(l.Size(), e, actorRecord, signer)  // check-then-append

import (
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/mod/sumdb/note"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/logbook/caselog"
	"github.com/breakglass/breakglass/logbook/session"
	"github.com/breakglass/breakglass/token"
)

func init() { logbook.LockWait = lockWaitNotice }

// lockWaitNotice says what a command waits for when another process has
// held a logbook's lock for a second (a writer holds it only while it
// writes, never while a token waits for a person).
func lockWaitNotice(dir string, holders []int) {
	who := "another process"
	if len(holders) > 0 {
		var names []string
		for _, pid := range holders {
			n := fmt.Sprintf("PID %d", pid)
			if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
				n += " (" + strings.TrimSpace(string(comm)) + ")"
			}
			names = append(names, n)
		}
		who = strings.Join(names, ", ")
	}
	infof("waiting for the logbook lock in %s, held by %s", dir, who)
}

// caseFlags are the flags of every command that works on a case: --case
// and --roster. Commands that need them append caseFlags()... to their flags.
func caseFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "case", EnvVars: []string{"BREAKGLASS_CASE"},
			Usage: "the case `DIR`: enrollment records, sealed secrets, logbook (default: the current directory)"},
		&cli.GenericFlag{Name: "roster", Value: &listFlag{},
			Usage: "also trust the enrollment record `FILE` when checking signatures (repeatable, comma-separated)"},
	}
}

// A caseDir is an open case (casedir.Case) with the command's voice; its
// appends go through a caselog.Appender, which closes killed sessions,
// notes unended recordings and has the witnesses cosign (caseVoice says
// so).
type caseDir struct {
	*casedir.Case
	appender *caselog.Appender

	// warnf reports that a step is not recorded or not witnessed; infof by
	// default.
	warnf func(format string, args ...any)
}

// newCaseDir gives cs the command's voice.
func newCaseDir(cs *casedir.Case) *caseDir {
	cd := &caseDir{Case: cs, warnf: infof}
	cd.appender = caselog.New(cs, caseVoice{cd})
	return cd
}

// openCase opens the case the command line names: --case, else
// $BREAKGLASS_CASE (both through the flag), else the current directory.
func openCase(c *cli.Context) (*caseDir, error) {
	dir := c.String("case")
	if dir == "" {
		dir = "."
	}
	cs, err := casedir.Open(dir, listValues(c, "roster", true))
	switch {
	case errors.Is(err, casedir.ErrNotDir):
		return nil, withHints(fmt.Errorf("case %s is not a directory", dir),
			"pass the case directory with --case DIR (or set BREAKGLASS_CASE)")
	case err != nil:
		return nil, withHints(fmt.Errorf("case directory %s: %v", dir, atomicfile.UnwrapPath(err)),
			"pass the case directory with --case DIR (or set BREAKGLASS_CASE)")
	}
	return newCaseDir(cs), nil
}

// openCaseLog opens the case and its verified logbook (nil when the case
// has none).
func openCaseLog(c *cli.Context) (*caseDir, *logbook.Log, error) {
	cd, err := openCase(c)
	if err != nil {
		return nil, nil, err
	}
	l, err := cd.Log()
	if err != nil {
		return nil, nil, logError(err)
	}
	return cd, l, nil
}

// Records is the case's roster (casedir.Case.Records), with hints.
func (cd *caseDir) Records() ([]*token.Record, error) {
	recs, err := cd.Case.Records()
	return recs, recordError(err)
}

// Verifiers are the roster's signature verifiers, with hints.
func (cd *caseDir) Verifiers() (note.Verifiers, error) {
	vs, err := cd.Case.Verifiers()
	return vs, recordError(err)
}

// Log is the case's verified logbook, or nil without one, with hints. The
// first time, it also looks for recorded sessions that ended without their
// end in the logbook, and warns (caselog.Appender.Log).
func (cd *caseDir) Log() (*logbook.Log, error) {
	l, err := cd.appender.Log()
	return l, recordError(err)
}

// recordError adds hints to a *casedir.RecordError.
func recordError(err error) error {
	var re *casedir.RecordError
	switch {
	case !errors.As(err, &re):
		return err
	case re.Read:
		return withHints(err, "custodians make their record with breakglass card enroll")
	}
	return withHints(err, "the record was edited or damaged: restore it from the case's history (git log -p "+re.Path+"), or have the custodian re-enroll")
}

// actorName is casedir.ActorName.
func actorName(r *token.Record) (string, error) { return casedir.ActorName(r) }

// requireLog is Log for commands that make no sense without a logbook: no
// logbook is an error with a hint to create one.
// openRequiredLog opens the case (openCase) and its logbook, which must
// exist: the start of the commands that read or write the logbook alone.
func openRequiredLog(c *cli.Context) (*caseDir, *logbook.Log, error) {
	cd, err := openCase(c)
	if err != nil {
		return nil, nil, err
	}
	l, err := cd.requireLog()
	if err != nil {
		return nil, nil, err
	}
	return cd, l, nil
}

func (cd *caseDir) requireLog() (*logbook.Log, error) {
	l, err := cd.Log()
	if err != nil {
		return nil, logError(err)
	}
	if l == nil {
		return nil, cd.noLogbook()
	}
	return l, nil
}

// noLogbook is the error of a command that needs a logbook in a case
// without one.
func (cd *caseDir) noLogbook() error {
	return withHints(fmt.Errorf("no logbook in %s", cd.Dir),
		"create one with: breakglass log init --case "+cd.Dir+" --origin breakglass.example.com/ORG/CASE",
		"or point at another case with --case DIR (or BREAKGLASS_CASE)")
}

// logError adds hints to an error from opening or verifying a logbook.
func logError(err error) error {
	var ve *logbook.VerifyError
	var ae *casedir.AdmissionError
	if errors.As(err, &ae) {
		return withHints(err,
			"the logbook decides who may sign, and this entry breaks its rules: do not append; compare the logbook with the case's history (git log -p logbook/) and ask who wrote the entry",
			"breakglass log show --unverified shows what the files say (not evidence)")
	}
	if errors.As(err, &ve) {
		return withHints(err,
			"the logbook does not verify: do not append to it; compare it with the case's history (git log -p logbook/) and with published checkpoints",
			"breakglass log show --unverified shows what the files say (not evidence)")
	}
	return err
}

// logEntry appends e to the case's logbook, signed by signer, the signing key
// of actor's token (the token may ask for a touch, twice: the entry and the
// checkpoint). It fills in e.Actor and e.Key from actor. If another process
// appended first, it retries on top of the new entries.
//
// Without a logbook, logEntry warns that the step is not recorded and returns
// a zero Checkpoint and no error. With one, an entry it cannot write is an
// error: the caller must not go on as if it had been recorded.
func (cd *caseDir) logEntry(e logbook.Entry, actor *token.Record, signer crypto.Signer) (logbook.Checkpoint, error) {
	return cd.appendEntry(-1, e, actor, signer)
}

// logEntryAt is logEntry for check-then-append: it appends e only if the
// logbook still holds size entries, the number the caller saw when it
// checked (for example that no release of the secret is open, see
// logbook.OpenReleases). Otherwise it returns the *logbook.ConflictError: the
// log is up to date, so check again and retry with its new Size.
func (cd *caseDir) logEntryAt(size int64, e logbook.Entry, actor *token.Record, signer crypto.Signer) (logbook.Checkpoint, error) {
	if size < 0 {
		return logbook.Checkpoint{}, fmt.Errorf("logEntryAt: negative size %d", size)
	}
	return cd.appendEntry(size, e, actor, signer)
}

func (cd *caseDir) appendEntry(size int64, e logbook.Entry, actor *token.Record, signer crypto.Signer) (logbook.Checkpoint, error) {
	ck, err := cd.appender.Append(size, e, actor, signer)
	if err != nil {
		return ck, actorError(logError(recordError(err)))
	}
	return ck, nil
}

// caseVoice says what a caseDir's appender does besides appending
// (caselog.Observer).
type caseVoice struct{ cd *caseDir }

func (v caseVoice) NotRecorded() {
	v.cd.warnf("no logbook in %s; this step is not recorded", v.cd.Dir)
}

func (v caseVoice) FoundUnended(us []casedir.UnendedSession, err error) {
	if err != nil {
		v.cd.warnf("warning: cannot check the case's recorded sessions: %v", err)
		return
	}
	for _, u := range us {
		r := u.Release
		v.cd.warnf("warning: the recorded session %s of %s (released to %s at %s) ended without breakglass recording its end (killed, or a card missing); the next entry signed on this case notes it as unterminated",
			u.Name, r.Secret, r.Details[logbook.DetailOperator], r.Time.UTC().Format(time.RFC3339))
	}
}

func (v caseVoice) ClosingUnterminated(st *logbook.Entry) {
	v.cd.warnf("the unseal of %s that %s started in entry %d (session %s) was never closed: its process ended; recording its abort",
		st.Secret, session.Starter(st), st.Index, st.Details[logbook.DetailSession])
}

func (v caseVoice) NotedUnended(u casedir.UnendedSession, err error) {
	if err != nil {
		v.cd.warnf("warning: could not note the unterminated session %s: %v", u.Name, err)
		return
	}
	v.cd.warnf("noted the unterminated session %s in the logbook (%d bytes of recording survived)", u.Name, u.Size)
}

// checkActor checks that actor can sign logbook entries of this case (see
// casedir.Case.CheckActor). Commands call it before they touch a token.
func (cd *caseDir) checkActor(actor *token.Record) error {
	return actorError(recordError(cd.CheckActor(actor)))
}

// actorError adds hints to the errors of an actor who cannot sign.
func actorError(err error) error {
	var nr *casedir.NotInRosterError
	var wt *casedir.WrongTokenError
	switch {
	case errors.As(err, &nr):
		return withHints(err, "add their enrollment record to the case: cp NAME.card.json "+filepath.Join(nr.Dir, casedir.CustodiansDir)+"/")
	case errors.As(err, &wt):
		return withHints(err, "insert "+wt.Name+"'s own token")
	}
	return notAdmittedHints(err)
}
