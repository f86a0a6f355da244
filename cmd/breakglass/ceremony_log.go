package main

// Recording a tap ceremony (unseal, drill verify, reseal) in the case's
// logbook (caselog.go), and the checks a logbook makes possible before
// anyone taps:
//
//   - the .glass header hash must be the one the logbook's latest seal or
//     reseal entry of that secret names (a forged header that is consistent
//     in itself is caught before a single share is used);
//   - the person who acts (the operator of an unseal, the sealer) must be
//     enrolled in the case, and their token signs their entries;
//   - one person at a time: while a release of the secret is open, a second
//     one needs --concurrent-release REASON, and both are recorded.
//
// Without a logbook none of this applies and each step warns once that it
// is not recorded.

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/logbook/session"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/enrolled"
)

// concurrentReleaseFlag is the override of the one-person-at-a-time rule,
// shared by unseal and aws session.
var concurrentReleaseFlag = &cli.StringFlag{Name: "concurrent-release",
	Usage: "go ahead although a release of this secret is still open, because of `REASON` (recorded)"}

// person finds the enrolled record of name (casedir.Case.Person), with
// the custodians who could be meant as a hint.
func (cd *caseDir) person(name string) (*token.Record, error) {
	r, err := cd.Person(name)
	var ne *casedir.NotEnrolledError
	if !errors.As(err, &ne) {
		return r, recordError(err)
	}
	hint := "the case has no enrollment records with a token: put NAME.card.json files in " + cd.Dir + " (or its custodians folder)"
	if len(ne.Names) > 0 {
		hint = "custodians with a token in the roster: " + strings.Join(ne.Names, ", ")
	}
	return nil, withHints(err, hint)
}

// logSigned opens actor's token, appends e signed by it, and closes the
// token. size >= 0 appends only on top of size entries (logEntryAt). Without a
// logbook it warns and returns a zero Checkpoint.
func (cd *caseDir) logSigned(c *cli.Context, e logbook.Entry, actor *token.Record, size int64) (logbook.Checkpoint, error) {
	l, err := cd.Log()
	if err != nil {
		return logbook.Checkpoint{}, logError(err)
	}
	if l == nil {
		return cd.logEntry(e, actor, nil)
	}
	if actor == nil {
		return logbook.Checkpoint{}, withHints(errors.New("no enrolled person to sign the logbook entry"),
			"name yourself with --as NAME (an enrolled person whose token is at hand)")
	}
	if err := cd.checkActor(actor); err != nil {
		return logbook.Checkpoint{}, err
	}
	tok, err := openActorToken(c, cd.Dir, actor, e)
	if err != nil {
		return logbook.Checkpoint{}, err
	}
	defer tok.Close()
	var ck logbook.Checkpoint
	if size >= 0 {
		ck, err = cd.logEntryAt(size, e, actor, tok.SigningKey())
	} else {
		ck, err = cd.logEntry(e, actor, tok.SigningKey())
	}
	return ck, err
}

// latestSeal is casedir.LatestSeal.
func latestSeal(l *logbook.Log, name string) *logbook.Entry { return casedir.LatestSeal(l, name) }

// checkLoggedHeader compares the sealed file's header hash with the latest
// seal or reseal entry of its secret. A mismatch is always an error. A
// secret with no such entry (sealed before the case had a logbook) is an
// error when missingOK is false, else a warning.
func checkLoggedHeader(l *logbook.Log, f *seal.File, path string, missingOK bool) error {
	return checkLoggedHeaderThen(l, f, path, missingOK, "nothing was tapped")
}

// checkLoggedHeaderThen is checkLoggedHeader with the words that say what
// a refusal left undone ("nothing was tapped", "nothing was changed").
func checkLoggedHeaderThen(l *logbook.Log, f *seal.File, path string, missingOK bool, nothing string) error {
	var he *casedir.HeaderError
	if err := casedir.CheckLoggedHeader(l, f); !errors.As(err, &he) {
		return err
	}
	name := f.Header.Name
	if he.Entry == nil {
		msg := fmt.Sprintf("the logbook has no seal or reseal entry of %s, so its header hash %s cannot be checked", name, hex.EncodeToString(he.Hash[:8]))
		if missingOK {
			infof("warning: %s", msg)
			return nil
		}
		return withHints(errors.New(msg+"; "+nothing),
			"a secret sealed before the case had a logbook: reseal it (breakglass reseal "+path+" --as NAME …), which records it",
			"otherwise the file may be forged: compare it with the case's history (git log -p "+path+")")
	}
	e := he.Entry
	return withHints(fmt.Errorf("the header of %s (hash %s) is not the one the logbook recorded for %s in entry %d (%s, hash %s); %s",
		path, hex.EncodeToString(he.Hash[:8]), name, e.Index, e.Kind, hex.EncodeToString(e.HeaderHash[:min(8, len(e.HeaderHash))]), nothing),
		"the file was replaced or forged: restore it from the case's history (git log -p "+path+") and do not tap for it",
		"a legitimate reseal records its new header: check breakglass log show --secret "+name)
}

// checkOpenReleases applies the one-person-at-a-time rule to the secret
// name: with a release open it returns an error, unless --concurrent-release
// gives a reason, which it returns (and warns). Without an open release it
// returns "". The hint names the command that closes the release: aws
// revoke for a key made by aws provision, log revoke for anything else.
func checkOpenReleases(c *cli.Context, entries []*logbook.Entry, h *seal.Header, path string) (string, error) {
	name := h.Name
	var oe *session.OpenReleaseError
	if err := session.CheckOpenRelease(entries, name); !errors.As(err, &oe) {
		return "", err
	}
	if why := strings.TrimSpace(c.String("concurrent-release")); why != "" {
		infof("warning: %v; going ahead because of --concurrent-release (recorded)", oe)
		return logbook.OneLine(why), nil
	}
	if c.IsSet("concurrent-release") {
		return "", usageError("--concurrent-release needs a reason")
	}
	closeWith := "breakglass log revoke --secret " + name + " --as NAME --text \"what was done\""
	if awsGlassHeader(path, h) == nil {
		closeWith = "breakglass aws revoke " + path + " --as NAME"
	}
	return "", withHints(oe,
		"one person at a time: ask "+oe.Who+" to finish, then close the release with "+closeWith,
		`if a second person really must act now, add --concurrent-release "REASON" (it is recorded)`)
}

// A ceremonyLog records one tap ceremony: who runs it (the operator, whose
// token signs the start and the end), and a tap entry per tap, signed by
// the custodian's token right after the tap when their record is in the
// case, else by the operator's token at the end.
type ceremonyLog struct {
	// Session builds the entries: Operator is the operator's logbook name
	// (or the --operator text), ID joins the entries.
	*session.Session
	c        *cli.Context
	cd       *caseDir
	log      *logbook.Log  // nil: no logbook, nothing is recorded
	operator *token.Record // the operator's enrollment record (with a logbook)
	logged   map[*approval.Approval]bool

	// The unseal session (unseal_session.go): started once its
	// unseal-start is in, closed once its release (or what else ended it)
	// is; running is held meanwhile, so that other commands leave it open.
	started, closed bool
	startIndex      int64 // the unseal-start entry's number
	running         *session.Lock
}

// newCeremonyLog opens the case and resolves who acts: name (--operator,
// or --as), else $BREAKGLASS_OPERATOR or $USER. With a logbook the operator must be
// enrolled in the case; without one any name will do.
func newCeremonyLog(c *cli.Context, f *seal.File, name string) (*ceremonyLog, error) {
	cd, l, err := openCaseLog(c)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = currentUser()
	}
	if l == nil {
		return ceremonyLogOf(c, cd, nil, f, name, nil), nil
	}
	r, err := cd.person(name)
	if err != nil {
		return nil, withHints(fmt.Errorf("the operator must be enrolled in a case with a logbook: %w", err),
			"name yourself with --operator NAME: your card signs the unseal-start and release entries")
	}
	if err := cd.checkActor(r); err != nil {
		return nil, err
	}
	if name, err = actorName(r); err != nil {
		return nil, err
	}
	return ceremonyLogOf(c, cd, l, f, name, r), nil
}

// ceremonyLogOf is the ceremonyLog of an operator already resolved: name
// is their logbook name, and r their record (nil without a logbook).
func ceremonyLogOf(c *cli.Context, cd *caseDir, l *logbook.Log, f *seal.File, name string, r *token.Record) *ceremonyLog {
	h := f.HeaderHash()
	return &ceremonyLog{Session: session.New(name, f.Header.Name, h[:]), c: c, cd: cd, log: l, operator: r,
		logged: map[*approval.Approval]bool{}}
}

// entries returns the logbook's verified entries (none without one).
func (cl *ceremonyLog) entries() []*logbook.Entry {
	if cl.log == nil {
		return nil
	}
	return cl.log.Entries()
}

// logOperator appends e signed by the operator's token. size >= 0 is
// check-then-append (logEntryAt).
func (cl *ceremonyLog) logOperator(e logbook.Entry, size int64) error {
	if cl.log == nil {
		if e.Kind == logbook.KindUnsealStart || e.Kind == logbook.KindDrill {
			infof("no logbook in %s; this %s is not recorded", cl.cd.Dir, map[logbook.Kind]string{logbook.KindUnsealStart: "unseal", logbook.KindDrill: "drill"}[e.Kind])
		}
		return nil
	}
	if e.Kind == logbook.KindUnsealStart {
		return cl.startSession(e, size)
	}
	_, err := cl.cd.logSigned(cl.c, e, cl.operator, size)
	return err
}

// onTap records a tap right after it, signed by the custodian's own token
// when their enrollment record is in the case. A custodian the case does
// not know is recorded at the end, signed by the operator (logTaps).
func (cl *ceremonyLog) onTap(tok token.Token, a *approval.Approval) error {
	if cl.log == nil {
		return nil
	}
	recs, err := cl.cd.Records()
	if err != nil {
		return err
	}
	var actor *token.Record
	for _, r := range recs {
		if r.Keys != nil && r.Matches(tok) == nil {
			actor = r
			break
		}
	}
	if actor == nil || cl.cd.checkActor(actor) != nil {
		return nil
	}
	if _, err := cl.cd.logEntry(cl.Tap(a), actor, tok.SigningKey()); err != nil {
		return err
	}
	cl.logged[a] = true
	return nil
}

// logTaps appends, signed by the operator, the taps onTap did not:
// paper shares, remote responses, custodians not in the case.
func (cl *ceremonyLog) logTaps(approvals []*approval.Approval) error {
	if cl.log == nil {
		return nil
	}
	for _, a := range approvals {
		if cl.logged[a] {
			continue
		}
		if err := cl.logOperator(cl.Tap(a), -1); err != nil {
			return err
		}
		cl.logged[a] = true
	}
	return nil
}

// logRelease appends the release entry e, signed by the operator,
// re-checking the one-person-at-a-time rule against the logbook as it is
// now (another release may have landed during the taps) and appending only
// on top of what it checked. With concurrent, an open release does not
// stop it. Without a logbook it does nothing (the start warned).
func (cl *ceremonyLog) logRelease(e logbook.Entry, concurrent bool) error {
	if cl.log == nil {
		return nil
	}
	err := cl.cd.logRelease(cl.c, e, cl.operator, concurrent)
	cl.closed = cl.closed || err == nil
	return err
}

// logRelease is the check-then-append of a release entry (see
// ceremonyLog.logRelease), for unseal and aws session.
func (cd *caseDir) logRelease(c *cli.Context, e logbook.Entry, actor *token.Record, concurrent bool) error {
	l, err := cd.Log()
	if err != nil || l == nil {
		return logError(err)
	}
	var appendErr error
	err = session.AppendRelease(l, e.Secret, concurrent, func(size int64) error {
		_, appendErr = cd.logSigned(c, e, actor, size)
		return appendErr
	})
	var re *session.RaceError
	switch {
	case errors.As(err, &re):
		return withHints(err,
			`one person at a time: see breakglass log show --secret `+e.Secret+`; add --concurrent-release "REASON" if you must go ahead`)
	case err != nil && err != appendErr:
		return logError(err) // refreshing the logbook failed
	}
	return err
}

// outputFailed records, as best it can, that a recorded release did not
// reach the operator (the entry says what went wrong).
func (cl *ceremonyLog) outputFailed(cause error) {
	if cl.log == nil {
		return
	}
	if err := cl.logOperator(cl.OutputFailed(cause), -1); err != nil {
		reportError(os.Stderr, fmt.Errorf("the failed output could not be recorded either: %w", err))
	}
}

// openActorToken opens actor's token to sign e: the PIN first (its prompt
// says what it is for), then the note that a touch follows.
func openActorToken(c *cli.Context, dir string, actor *token.Record, e logbook.Entry) (token.Token, error) {
	purpose := signPurpose(e)
	tok, err := openRecordToken(c, actor, dir, purpose)
	if err != nil {
		return nil, withHints(fmt.Errorf("cannot open %s's token to sign the %s entry: %w", actor.Custodian.Name, e.Kind, err),
			"insert "+actor.Custodian.Name+"'s token (enrolled as "+actor.Fingerprint()+")")
	}
	if err := token.VerifyPIN(tok); err != nil {
		tok.Close()
		return nil, fmt.Errorf("%s %s: %w", enrolled.Label(actor), purpose, err)
	}
	tokenOpener(c).Proven(actor)
	touchNote(actor, purpose)
	return tok, nil
}
