package main

// The case directory, and recording steps in its logbook.
//
// A case is a directory, usually a git repository, holding everything about
// the break-glass secrets of one account or team (see docs/case.md):
//
//	CASE/
//	  *.card.json, custodians/*.card.json   enrollment records: the roster
//	  *.glass                               sealed secrets
//	  logbook/                              the logbook (breakglass log init)
//
// Commands find it with --case DIR, else $BREAKGLASS_CASE, else the current
// directory. When CASE/logbook exists, every state-changing command appends
// its entry and fails when it cannot (an unseal then releases nothing). When
// it does not, the command warns that the step is not recorded and goes on.
//
// The API other commands use is small:
//
//	cd, err := openCase(c)         // c has caseFlags() among its flags
//	recs, err := cd.Records()      // the roster, every record verified
//	l, err := cd.Log()             // the verified logbook, or nil, nil
//	ckpt, err := cd.record(e, actorRecord, tok.SigningKey())
//	ckpt, err := cd.recordAt(l.Size(), e, actorRecord, signer)  // check-then-append

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"github.com/urfave/cli/v2"
	"golang.org/x/mod/sumdb/note"

	"github.com/breakglass/breakglass/logbook"
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

// logbookDirName is the logbook's directory inside a case.
const logbookDirName = "logbook"

// custodiansDirName is the optional folder of enrollment records in a case.
const custodiansDirName = "custodians"

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

// A caseDir is an open case directory. Its methods load the roster and the
// logbook lazily, once.
type caseDir struct {
	Dir    string   // the case directory, as given
	Roster []string // extra enrollment records (--roster)

	records   []*token.Record
	paths     []string // where each record came from
	verifiers note.Verifiers
	log       *logbook.Log
	loaded    bool // log (possibly nil) is loaded

	// warnf reports that a step is not recorded; infof by default.
	warnf func(format string, args ...any)
}

// openCase opens the case the command line names: --case, else
// $BREAKGLASS_CASE (both through the flag), else the current directory.
func openCase(c *cli.Context) (*caseDir, error) {
	dir := c.String("case")
	if dir == "" {
		dir = "."
	}
	cd := &caseDir{Dir: dir, Roster: listValues(c, "roster", true), warnf: infof}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, withHints(fmt.Errorf("case directory %s: %v", dir, unwrapPath(err)),
			"pass the case directory with --case DIR (or set BREAKGLASS_CASE)")
	}
	if !fi.IsDir() {
		return nil, withHints(fmt.Errorf("case %s is not a directory", dir),
			"pass the case directory with --case DIR (or set BREAKGLASS_CASE)")
	}
	return cd, nil
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

// LogDir is where the case's logbook lives (or would live).
func (cd *caseDir) LogDir() string { return filepath.Join(cd.Dir, logbookDirName) }

// HasLog reports whether the case has a logbook (CASE/logbook exists).
func (cd *caseDir) HasLog() bool {
	_, err := os.Stat(cd.LogDir())
	return err == nil
}

// Records returns the case's roster: every *.card.json in the case and in
// its custodians folder, then the --roster files, each parsed and its
// self-signature verified. A record that does not verify is an error naming
// its file, never skipped. The same record found twice counts once.
//
// Attestation is not checked here: the roster's trust comes from the case's
// history (who committed which record), and seal checks attestation when it
// seals to a record.
func (cd *caseDir) Records() ([]*token.Record, error) {
	if cd.records != nil {
		return cd.records, nil
	}
	var files []string
	for _, pattern := range []string{
		filepath.Join(cd.Dir, "*.card.json"),
		filepath.Join(cd.Dir, custodiansDirName, "*.card.json"),
	} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	files = append(files, cd.Roster...)
	recs := []*token.Record{}
	var paths []string
	seen := map[string]string{} // canonical encoding -> first file
	for _, f := range files {
		r, err := readRecordFile(f)
		if err != nil {
			return nil, err
		}
		b, _ := r.Marshal()
		if _, dup := seen[string(b)]; dup {
			continue
		}
		seen[string(b)] = f
		recs = append(recs, r)
		paths = append(paths, f)
	}
	cd.records, cd.paths = recs, paths
	return recs, nil
}

// readRecordFile reads and verifies one enrollment record.
func readRecordFile(path string) (*token.Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, withHints(fmt.Errorf("cannot read enrollment record: %v", err),
			"custodians make their record with breakglass card enroll")
	}
	r, err := token.ParseRecord(b)
	if err == nil {
		err = r.Verify()
	}
	if err != nil {
		return nil, withHints(fmt.Errorf("enrollment record %s: %w", path, err),
			"the record was edited or damaged: restore it from the case's history (git log -p "+path+"), or have the custodian re-enroll")
	}
	return r, nil
}

// actorName is the name a custodian signs logbook entries with: the
// custodian's name, with each space replaced by '_' and each '+' by '-'
// (signed-note key names allow neither).
func actorName(r *token.Record) (string, error) {
	name := strings.Map(func(c rune) rune {
		switch {
		case unicode.IsSpace(c):
			return '_'
		case c == '+':
			return '-'
		}
		return c
	}, r.Custodian.Name)
	if name == "" || strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("custodian name %q cannot name a logbook signer", r.Custodian.Name)
	}
	return name, nil
}

// Verifiers returns the signature verifiers of the roster: one per record
// with keys (paper records sign nothing), named by actorName.
func (cd *caseDir) Verifiers() (note.Verifiers, error) {
	if cd.verifiers != nil {
		return cd.verifiers, nil
	}
	recs, err := cd.Records()
	if err != nil {
		return nil, err
	}
	var list []note.Verifier
	type nameHash struct {
		name string
		hash uint32
	}
	have := map[nameHash]string{}
	for i, r := range recs {
		if r.Keys == nil {
			continue
		}
		name, err := actorName(r)
		if err != nil {
			return nil, fmt.Errorf("enrollment record %s: %v", cd.paths[i], err)
		}
		pub, err := r.SigningPublicKey()
		if err != nil {
			return nil, fmt.Errorf("enrollment record %s: %w", cd.paths[i], err)
		}
		v, err := token.NewNoteVerifier(name, pub)
		if err != nil {
			return nil, fmt.Errorf("enrollment record %s: %v", cd.paths[i], err)
		}
		k := nameHash{v.Name(), v.KeyHash()}
		if prev, ok := have[k]; ok {
			// Same person, same key, in two different records (a
			// re-enrollment that kept the key): one verifier is enough.
			if prev == r.Keys.Signing.PublicKey {
				continue
			}
			return nil, fmt.Errorf("enrollment records of %s hold two different keys with the same key id %08x", name, k.hash)
		}
		have[k] = r.Keys.Signing.PublicKey
		list = append(list, v)
	}
	cd.verifiers = note.VerifierList(list...)
	return cd.verifiers, nil
}

// Log returns the case's logbook, verified against the roster, or nil and
// no error when the case has no logbook. A logbook that fails to verify is
// an error (a *logbook.VerifyError inside).
func (cd *caseDir) Log() (*logbook.Log, error) {
	if cd.loaded {
		return cd.log, nil
	}
	if _, err := os.Stat(cd.LogDir()); errors.Is(err, fs.ErrNotExist) {
		cd.loaded = true
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	vs, err := cd.Verifiers()
	if err != nil {
		return nil, err
	}
	l, err := logbook.Open(cd.LogDir(), vs)
	if err != nil {
		return nil, err
	}
	cd.log, cd.loaded = l, true
	return l, nil
}

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
	if errors.As(err, &ve) {
		return withHints(err,
			"the logbook does not verify: do not append to it; compare it with the case's history (git log -p logbook/) and with published checkpoints",
			"breakglass log show --unverified shows what the files say (not evidence)")
	}
	return err
}

// record appends e to the case's logbook, signed by signer, the signing key
// of actor's token (the token may ask for a touch, twice: the entry and the
// checkpoint). It fills in e.Actor and e.Key from actor. If another process
// appended first, it retries on top of the new entries.
//
// Without a logbook, record warns that the step is not recorded and returns
// a zero Checkpoint and no error. With one, an entry it cannot write is an
// error: the caller must not go on as if it had been recorded.
func (cd *caseDir) record(e logbook.Entry, actor *token.Record, signer crypto.Signer) (logbook.Checkpoint, error) {
	return cd.appendEntry(-1, e, actor, signer)
}

// recordAt is record for check-then-append: it appends e only if the
// logbook still holds size entries, the number the caller saw when it
// checked (for example that no release of the secret is open, see
// logbook.OpenReleases). Otherwise it returns the *logbook.ConflictError: the
// log is up to date, so check again and retry with its new Size.
func (cd *caseDir) recordAt(size int64, e logbook.Entry, actor *token.Record, signer crypto.Signer) (logbook.Checkpoint, error) {
	if size < 0 {
		return logbook.Checkpoint{}, fmt.Errorf("recordAt: negative size %d", size)
	}
	return cd.appendEntry(size, e, actor, signer)
}

// maxAppendTries bounds record's retries after losing a race.
const maxAppendTries = 8

func (cd *caseDir) appendEntry(size int64, e logbook.Entry, actor *token.Record, signer crypto.Signer) (logbook.Checkpoint, error) {
	l, err := cd.Log()
	if err != nil {
		return logbook.Checkpoint{}, logError(err)
	}
	if l == nil {
		cd.warnf("no logbook in %s; this step is not recorded", cd.Dir)
		return logbook.Checkpoint{}, nil
	}
	ns, err := cd.noteSigner(actor, signer)
	if err != nil {
		return logbook.Checkpoint{}, err
	}
	e.Actor, e.Key = ns.Name(), actor.Fingerprint()
	for try := 1; ; try++ {
		n := size
		if n < 0 {
			n = l.Size()
		}
		ckpt, err := l.Append(n, e, ns)
		var ce *logbook.ConflictError
		if errors.As(err, &ce) && size < 0 && try < maxAppendTries {
			continue
		}
		if err != nil {
			if errors.As(err, &ce) {
				return logbook.Checkpoint{}, err
			}
			return logbook.Checkpoint{}, fmt.Errorf("cannot record the %s in the logbook: %w", e.Kind, err)
		}
		return ckpt, nil
	}
}

// checkActor checks that actor can sign logbook entries of this case: a
// custodian with a signing key whose record is in the roster. Commands call
// it before they touch a token.
func (cd *caseDir) checkActor(actor *token.Record) error {
	if actor == nil || actor.Keys == nil {
		return errors.New("a logbook entry needs an actor with a signing key (paper custodians cannot sign)")
	}
	recs, err := cd.Records()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(recs, func(r *token.Record) bool {
		return r.Keys != nil && r.Keys.Signing.PublicKey == actor.Keys.Signing.PublicKey && r.Custodian.Name == actor.Custodian.Name
	}) {
		return withHints(fmt.Errorf("%s (key %s) is not in the roster of %s, so the logbook could not check their signature",
			actor.Custodian.Name, actor.Fingerprint(), cd.Dir),
			"add their enrollment record to the case: cp NAME.card.json "+filepath.Join(cd.Dir, custodiansDirName)+"/")
	}
	return nil
}

// noteSigner checks that actor is in the roster and that signer holds
// actor's signing key, and returns the note signer for actor's entries.
func (cd *caseDir) noteSigner(actor *token.Record, signer crypto.Signer) (note.Signer, error) {
	if err := cd.checkActor(actor); err != nil {
		return nil, err
	}
	want, err := actor.SigningPublicKey()
	if err != nil {
		return nil, err
	}
	if pub, ok := signer.Public().(*ecdsa.PublicKey); !ok || !pub.Equal(want) {
		return nil, withHints(fmt.Errorf("the token's signing key is not the one in %s's enrollment record (%s)",
			actor.Custodian.Name, actor.Fingerprint()),
			"insert "+actor.Custodian.Name+"'s own token")
	}
	name, err := actorName(actor)
	if err != nil {
		return nil, err
	}
	return token.NewNoteSigner(name, signer)
}

// unwrapPath drops the *fs.PathError wrapper when the message already names
// the file.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
