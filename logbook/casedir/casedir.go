// Package casedir is a case: the directory, usually a git repository, that
// holds the break-glass secrets of one account or team, and the rules that
// tie its parts together (docs/case.md):
//
//	CASE/
//	  *.card.json, custodians/*.card.json   enrollment records: the roster
//	  *.glass                               sealed secrets
//	  logbook/                              the logbook (breakglass log init)
//
// # The roster and who signs
//
// [Case.Records] reads every enrollment record of the case (and any extra
// ones named by the caller), each verified by its self-signature: a record
// that does not verify is an error naming its file, never skipped. The
// roster's records with keys are the logbook's signers ([Case.Verifiers]),
// each under its [ActorName].
//
// # Admission
//
// When the logbook has a genesis entry, it alone decides who may sign
// ([Replay], [Case.Admission]): the founders the genesis names, then each
// token admitted by an admit entry (signed by as many admitted custodians
// as the genesis's policy asks) until a retire entry or a replacing admit
// retires it. [Case.CheckActor], [Case.Person] and [Case.CheckAdmitted]
// use the admitted set; a record in the directory that the logbook never
// admitted is reported ([Case.NotAdmitted]) and never trusted. A logbook
// whose entry breaks the rules does not open (an *[AdmissionError] naming
// the entry). Without a genesis (a logbook from before admission), every
// record of the directory signs, as before.
//
// # Appending
//
// [Case.Append] appends an entry signed by an actor's token: the actor must
// be in the roster and the signer must hold the actor's enrolled signing
// key. It can append on top of a size the caller checked (check-then-
// append), or retry on top of whatever landed first.
//
// # What vouches for a sealed file
//
// A .glass header's MAC can be checked only after k taps, and anyone who can
// write to the case can write a header that is consistent in itself. So:
//
//   - [CheckLoggedHeader]: with a logbook, the header hash must be the one
//     the latest seal, reseal, rotate or revoke entry of the secret recorded
//     ([LatestSeal]);
//   - [Case.CheckEnrolledRoster]: without one, every custodian the header
//     names must be an enrollment record of the case that verifies, matched
//     by fingerprint and equal in name, kind and key (weaker: whoever can add
//     a record can add themselves).
//
// Errors are typed, so that a user interface can say what to do next; none
// carries a hint.
package casedir

import (
	"bytes"
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

	"golang.org/x/mod/sumdb/note"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
)

const (
	// LogbookDir is the logbook's directory inside a case.
	LogbookDir = "logbook"
	// CustodiansDir is the optional folder of enrollment records.
	CustodiansDir = "custodians"
)

// A Case is an open case directory. Its methods load the roster and the
// logbook lazily, once. It is not safe for concurrent use.
type Case struct {
	Dir    string   // the case directory, as given
	Roster []string // extra enrollment record files that count as the case's

	records   []*token.Record
	paths     []string // where each record came from
	verifiers note.Verifiers
	log       *logbook.Log
	loaded    bool // log (possibly nil) is loaded
	admission *Admission
}

// ErrNotDir: the case path is not a directory.
var ErrNotDir = errors.New("not a directory")

// Open opens the case at dir; roster names extra enrollment record files.
// It returns a *fs.PathError when dir cannot be read, or ErrNotDir.
func Open(dir string, roster []string) (*Case, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("case %s: %w", dir, ErrNotDir)
	}
	return &Case{Dir: dir, Roster: roster}, nil
}

// LogDir is where the case's logbook lives (or would live).
func (c *Case) LogDir() string { return filepath.Join(c.Dir, LogbookDir) }

// HasLog reports whether the case has a logbook.
func (c *Case) HasLog() bool {
	_, err := os.Stat(c.LogDir())
	return err == nil
}

// A RecordError is an enrollment record that cannot be read or does not
// verify.
type RecordError struct {
	Path string
	Err  error
	Read bool // the file could not be read (otherwise: it does not verify)
}

func (e *RecordError) Error() string {
	if e.Read {
		return fmt.Sprintf("cannot read enrollment record: %v", e.Err)
	}
	return fmt.Sprintf("enrollment record %s: %v", e.Path, e.Err)
}
func (e *RecordError) Unwrap() error { return e.Err }

// ReadRecord reads one enrollment record and verifies its self-signature.
// Errors are *RecordError.
func ReadRecord(path string) (*token.Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &RecordError{Path: path, Err: err, Read: true}
	}
	r, err := token.ParseRecord(b)
	if err == nil {
		err = r.Verify()
	}
	if err != nil {
		return nil, &RecordError{Path: path, Err: err}
	}
	return r, nil
}

// Records returns the case's roster: every *.card.json in the case and in
// its custodians folder, then the Roster files, each read with ReadRecord.
// The same record found twice counts once.
func (c *Case) Records() ([]*token.Record, error) {
	if c.records != nil {
		return c.records, nil
	}
	var files []string
	for _, pattern := range []string{
		filepath.Join(c.Dir, "*.card.json"),
		filepath.Join(c.Dir, CustodiansDir, "*.card.json"),
	} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	files = append(files, c.Roster...)
	recs := []*token.Record{}
	var paths []string
	seen := map[string]bool{} // canonical encodings
	for _, f := range files {
		r, err := ReadRecord(f)
		if err != nil {
			return nil, err
		}
		b, _ := r.Marshal()
		if seen[string(b)] {
			continue
		}
		seen[string(b)] = true
		recs = append(recs, r)
		paths = append(paths, f)
	}
	c.records, c.paths = recs, paths
	return recs, nil
}

// RecordPath is the file record i of Records came from.
func (c *Case) RecordPath(i int) string { return c.paths[i] }

// ActorName is the name a custodian signs logbook entries with: the
// custodian's name, with each white-space character replaced by '_' and
// each '+' by '-' (signed-note key names allow neither).
func ActorName(r *token.Record) (string, error) {
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
// with keys (paper records sign nothing), named by ActorName.
func (c *Case) Verifiers() (note.Verifiers, error) {
	if c.verifiers != nil {
		return c.verifiers, nil
	}
	recs, err := c.Records()
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
		name, err := ActorName(r)
		if err != nil {
			return nil, &RecordError{Path: c.paths[i], Err: err}
		}
		pub, err := r.SigningPublicKey()
		if err != nil {
			return nil, &RecordError{Path: c.paths[i], Err: err}
		}
		v, err := token.NewNoteVerifier(name, pub)
		if err != nil {
			return nil, &RecordError{Path: c.paths[i], Err: err}
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
	c.verifiers = note.VerifierList(list...)
	return c.verifiers, nil
}

// Log returns the case's logbook, verified against the roster, or nil and
// no error when the case has no logbook. A logbook that fails to verify is
// an error (a *logbook.VerifyError inside).
func (c *Case) Log() (*logbook.Log, error) {
	if c.loaded {
		return c.log, nil
	}
	if _, err := os.Stat(c.LogDir()); errors.Is(err, fs.ErrNotExist) {
		c.loaded = true
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	vs, err := c.Verifiers()
	if err != nil {
		return nil, err
	}
	l, err := logbook.Open(c.LogDir(), vs)
	if err != nil {
		return nil, err
	}
	return l, c.adopt(l)
}

// Verify is Log, with the logbook also checked for consistency with
// published checkpoints (logbook.Verify).
func (c *Case) Verify(checkpoints ...[]byte) (*logbook.Log, error) {
	if !c.HasLog() {
		return nil, nil
	}
	vs, err := c.Verifiers()
	if err != nil {
		return nil, err
	}
	l, err := logbook.Verify(c.LogDir(), vs, checkpoints...)
	if err != nil {
		return nil, err
	}
	return l, c.adopt(l)
}

// adopt replays l's admission (an *AdmissionError when an entry breaks its
// rules) and makes l the case's logbook, whose appends are vetted by the
// same rules.
func (c *Case) adopt(l *logbook.Log) error {
	recs, err := c.Records()
	if err != nil {
		return err
	}
	a, err := Replay(l.Entries(), recs)
	if err != nil {
		return err
	}
	keys := newKeyIndex(recs)
	l.SetAppendCheck(func(prior []*logbook.Entry, e *logbook.Entry) error {
		b, err := c.admissionAt(prior)
		if err != nil {
			return err
		}
		b = b.clone()
		return b.apply(e, keys, append(prior[:len(prior):len(prior)], e))
	})
	c.log, c.loaded, c.admission = l, true, a
	return nil
}

// admissionAt is the admission after entries (the case's logbook's
// entries, possibly more than when it was last replayed).
func (c *Case) admissionAt(entries []*logbook.Entry) (*Admission, error) {
	if c.admission != nil && c.admission.Size == int64(len(entries)) {
		return c.admission, nil
	}
	recs, err := c.Records()
	if err != nil {
		return nil, err
	}
	a, err := Replay(entries, recs)
	if err != nil {
		return nil, err
	}
	c.admission = a
	return a, nil
}

// Admission returns who may sign the case's logbook (replayed from its
// genesis), or nil when the case has no logbook. An Admission without
// Genesis is a logbook from before admission: every record signs.
func (c *Case) Admission() (*Admission, error) {
	l, err := c.Log()
	if err != nil || l == nil {
		return nil, err
	}
	return c.admissionAt(l.Entries())
}

// Admitting reports whether the case's logbook decides who may sign (it
// has a genesis).
func (c *Case) Admitting() (bool, error) {
	a, err := c.Admission()
	return a != nil && a.Genesis != nil, err
}

// NotAdmitted returns the indexes (in Records) of the records with keys
// that the logbook has not admitted, when it decides who signs: copies in
// the directory that are never trusted.
func (c *Case) NotAdmitted() ([]int, error) {
	a, err := c.Admission()
	if err != nil || a == nil || a.Genesis == nil {
		return nil, err
	}
	recs, err := c.Records()
	if err != nil {
		return nil, err
	}
	var out []int
	for i, r := range recs {
		if r.Keys == nil {
			continue
		}
		name, err := ActorName(r)
		if err != nil || !a.Admitted(name, r.Fingerprint()) {
			out = append(out, i)
		}
	}
	return out, nil
}

// A NotAdmittedError is a person whose key the case's logbook has not
// admitted (or has retired), so they cannot sign or be sealed to.
type NotAdmittedError struct {
	Name, Fingerprint, Dir string
	RetiredAt              int64 // the retire or admit entry that retired the key, or -1
	Enrolled               bool  // their enroll entry is in the logbook
}

func (e *NotAdmittedError) Error() string {
	if e.RetiredAt >= 0 {
		return fmt.Sprintf("%s (key %s) was retired in entry %d of the logbook of %s", e.Name, e.Fingerprint, e.RetiredAt, e.Dir)
	}
	return fmt.Sprintf("%s (key %s) is not admitted by the logbook of %s", e.Name, e.Fingerprint, e.Dir)
}

// CheckAdmitted checks that r is admitted when the case's logbook decides
// who signs (always true without a genesis or a logbook): for seal --to and
// the like. Paper records are not checked (they sign nothing; their enroll
// entry is signed by an admitted custodian).
func (c *Case) CheckAdmitted(r *token.Record) error {
	if r == nil || r.Keys == nil {
		return nil
	}
	a, err := c.Admission()
	if err != nil || a == nil || a.Genesis == nil {
		return err
	}
	name, err := ActorName(r)
	if err != nil {
		return err
	}
	if a.Admitted(name, r.Fingerprint()) {
		return nil
	}
	ne := &NotAdmittedError{Name: r.Custodian.Name, Fingerprint: r.Fingerprint(), Dir: c.Dir, RetiredAt: -1}
	if i, ok := a.RetiredAt(r.Fingerprint()); ok {
		ne.RetiredAt = i
	}
	_, ne.Enrolled = a.EnrollEntry(name, r.Fingerprint())
	return ne
}

// ErrNoLogbook: the case has no logbook.
var ErrNoLogbook = errors.New("no logbook")

// A NotInRosterError is an actor whose record is not in the case's roster,
// so the logbook could not check their signature.
type NotInRosterError struct {
	Name, Fingerprint, Dir string
}

func (e *NotInRosterError) Error() string {
	return fmt.Sprintf("%s (key %s) is not in the roster of %s, so the logbook could not check their signature", e.Name, e.Fingerprint, e.Dir)
}

// ErrNoSigner: a logbook entry needs an actor with a signing key.
var ErrNoSigner = errors.New("a logbook entry needs an actor with a signing key (paper custodians cannot sign)")

// CheckActor checks that actor can sign logbook entries of this case: a
// custodian with a signing key whose record is in the roster and, when the
// logbook decides who signs, admitted (a *NotAdmittedError otherwise).
// Check it before touching a token.
func (c *Case) CheckActor(actor *token.Record) error {
	return c.checkActorFor("", actor)
}

// checkActorFor is CheckActor for an entry of kind: a token's own enroll
// entry needs no admission (it is the request to be admitted).
func (c *Case) checkActorFor(kind logbook.Kind, actor *token.Record) error {
	if actor == nil || actor.Keys == nil {
		return ErrNoSigner
	}
	if err := c.inRoster(actor); err != nil {
		return err
	}
	if kind == logbook.KindEnroll {
		return nil
	}
	return c.CheckAdmitted(actor)
}

func (c *Case) inRoster(actor *token.Record) error {
	recs, err := c.Records()
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(recs, func(r *token.Record) bool {
		return r.Keys != nil && r.Keys.Signing.PublicKey == actor.Keys.Signing.PublicKey && r.Custodian.Name == actor.Custodian.Name
	}) {
		return &NotInRosterError{Name: actor.Custodian.Name, Fingerprint: actor.Fingerprint(), Dir: c.Dir}
	}
	return nil
}

// A WrongTokenError: the signer does not hold the actor's enrolled key.
type WrongTokenError struct {
	Name, Fingerprint string
}

func (e *WrongTokenError) Error() string {
	return fmt.Sprintf("the token's signing key is not the one in %s's enrollment record (%s)", e.Name, e.Fingerprint)
}

// NoteSigner checks that actor is in the roster and that signer holds
// actor's signing key, and returns the note signer for actor's entries.
func (c *Case) NoteSigner(actor *token.Record, signer crypto.Signer) (note.Signer, error) {
	return c.noteSignerFor("", actor, signer)
}

func (c *Case) noteSignerFor(kind logbook.Kind, actor *token.Record, signer crypto.Signer) (note.Signer, error) {
	if err := c.checkActorFor(kind, actor); err != nil {
		return nil, err
	}
	want, err := actor.SigningPublicKey()
	if err != nil {
		return nil, err
	}
	if pub, ok := signer.Public().(*ecdsa.PublicKey); !ok || !pub.Equal(want) {
		return nil, &WrongTokenError{Name: actor.Custodian.Name, Fingerprint: actor.Fingerprint()}
	}
	name, err := ActorName(actor)
	if err != nil {
		return nil, err
	}
	return token.NewNoteSigner(name, signer)
}

// maxAppendTries bounds Append's retries after losing a race.
const maxAppendTries = 8

// Append appends e to the case's logbook, signed by signer, the signing key
// of actor's token (the token may ask for a touch, twice: the entry and the
// checkpoint). It fills in e.Actor and e.Key from actor. With size >= 0 it
// appends only if the logbook still holds size entries, the number the
// caller saw when it checked (check-then-append), and otherwise returns the
// *logbook.ConflictError; with size < 0 it retries on top of whatever
// another process appended first. Without a logbook it returns
// ErrNoLogbook.
func (c *Case) Append(size int64, e logbook.Entry, actor *token.Record, signer crypto.Signer) (logbook.Checkpoint, error) {
	return c.AppendCosigned(size, e, actor, signer)
}

// A Cosigner is a custodian who signs an entry beside its actor: another
// founder of a genesis, another admitted custodian of an admit.
type Cosigner struct {
	Record *token.Record
	Signer crypto.Signer // the record's signing key (may open its token only when it signs)
}

// AppendCosigned is Append with cosigners, who sign the entry after the
// actor (not the checkpoint). An entry that breaks the admission rules
// (docs/format-logbook.md, "Admission") is refused with an
// *AdmissionError before it is written.
func (c *Case) AppendCosigned(size int64, e logbook.Entry, actor *token.Record, signer crypto.Signer, cosigners ...Cosigner) (logbook.Checkpoint, error) {
	l, err := c.Log()
	if err != nil {
		return logbook.Checkpoint{}, err
	}
	if l == nil {
		return logbook.Checkpoint{}, ErrNoLogbook
	}
	// A genesis admits its founders: before it, nobody is admitted.
	kind := e.Kind
	if kind == logbook.KindGenesis {
		kind = logbook.KindEnroll
	}
	ns, err := c.noteSignerFor(kind, actor, signer)
	if err != nil {
		return logbook.Checkpoint{}, err
	}
	var cos []note.Signer
	for _, co := range cosigners {
		s, err := c.noteSignerFor(logbook.KindEnroll, co.Record, co.Signer)
		if err != nil {
			return logbook.Checkpoint{}, err
		}
		cos = append(cos, s)
	}
	e.Actor, e.Key = ns.Name(), actor.Fingerprint()
	for try := 1; ; try++ {
		n := size
		if n < 0 {
			n = l.Size()
		}
		ckpt, err := l.Append(n, e, ns, cos...)
		var ce *logbook.ConflictError
		if errors.As(err, &ce) && size < 0 && try < maxAppendTries {
			continue
		}
		if err != nil {
			var ae *AdmissionError
			if errors.As(err, &ce) || errors.As(err, &ae) {
				return logbook.Checkpoint{}, err
			}
			return logbook.Checkpoint{}, fmt.Errorf("cannot append the %s to the logbook: %w", e.Kind, err)
		}
		return ckpt, nil
	}
}

// A NotEnrolledError is a name that is neither an enrollment record file
// nor an enrolled custodian with a token. Names lists the custodians with a
// token the case has.
type NotEnrolledError struct {
	Name, Dir string
	Names     []string
}

func (e *NotEnrolledError) Error() string {
	return fmt.Sprintf("%s is not enrolled in the case %s: no such enrollment record file, and no custodian of that name in %s", e.Name, e.Dir, e.Dir)
}

// Person finds the enrolled record of name: an enrollment record file (a
// path that exists or ends in .json), else a custodian in the roster, by
// name or by its ActorName. Paper records do not count: a person who acts
// signs with a token. When the logbook decides who signs, the record of
// name it admitted comes first; a record it did not admit is returned only
// when there is no other, and CheckActor refuses it.
func (c *Case) Person(name string) (*token.Record, error) {
	if _, err := os.Stat(name); err == nil || strings.HasSuffix(name, ".json") {
		return ReadRecord(name)
	}
	recs, err := c.Records()
	if err != nil {
		return nil, err
	}
	a, err := c.Admission()
	if err != nil {
		return nil, err
	}
	admitting := a != nil && a.Genesis != nil
	var names []string
	var found *token.Record
	for _, r := range recs {
		if r.Keys == nil {
			continue
		}
		n, _ := ActorName(r)
		ok := admitting && a.Admitted(n, r.Fingerprint())
		if r.Custodian.Name == name || n == name {
			// When the logbook decides, its admitted record; else the
			// first (CheckActor then says it is not admitted).
			if !admitting || ok {
				return r, nil
			}
			if found == nil {
				found = r
			}
		}
		if !admitting || ok {
			names = append(names, r.Custodian.Name)
		}
	}
	if found != nil {
		return found, nil
	}
	return nil, &NotEnrolledError{Name: name, Dir: c.Dir, Names: names}
}

// LatestSeal returns the latest entry of the secret name that records a
// new sealed file, or nil: a seal or reseal entry, or a rotate or revoke
// entry that sealed a new key (they name the previous header in their
// details).
func LatestSeal(l *logbook.Log, name string) *logbook.Entry {
	var last *logbook.Entry
	for _, e := range logbook.Select(l.Entries(), logbook.Filter{Secret: name}) {
		switch e.Kind {
		case logbook.KindSeal, logbook.KindReseal:
			last = e
		case logbook.KindRotate, logbook.KindRevoke:
			if len(e.HeaderHash) > 0 && e.Details["previous-header-hash"] != "" {
				last = e
			}
		}
	}
	return last
}

// A HeaderError is a sealed file whose header the logbook does not vouch
// for: Entry is the latest seal entry of Secret, or nil when the logbook
// has none (a secret sealed before the case had a logbook).
type HeaderError struct {
	Secret string
	Hash   [32]byte
	Entry  *logbook.Entry
}

func (e *HeaderError) Error() string {
	if e.Entry == nil {
		return fmt.Sprintf("the logbook has no seal or reseal entry of %s, so its header hash %x cannot be checked", e.Secret, e.Hash[:8])
	}
	return fmt.Sprintf("the header (hash %x) is not the one the logbook recorded for %s in entry %d (%s, hash %x)",
		e.Hash[:8], e.Secret, e.Entry.Index, e.Entry.Kind, e.Entry.HeaderHash[:min(8, len(e.Entry.HeaderHash))])
}

// CheckLoggedHeader compares f's header hash with the latest seal entry of
// its secret in l (LatestSeal). It returns nil or a *HeaderError; nil when
// l is nil (no logbook, nothing to compare with).
func CheckLoggedHeader(l *logbook.Log, f *seal.File) error {
	if l == nil {
		return nil
	}
	h := f.HeaderHash()
	e := LatestSeal(l, f.Header.Name)
	if e == nil || !bytes.Equal(e.HeaderHash, h[:]) {
		return &HeaderError{Secret: f.Header.Name, Hash: h, Entry: e}
	}
	return nil
}

// A RosterError is a custodian of a sealed header that no enrollment
// record of the case vouches for.
type RosterError struct {
	Custodian   string
	Fingerprint string
	Record      string // the record with that fingerprint, when one differs
	Problem     string
}

func (e *RosterError) Error() string {
	return fmt.Sprintf("custodian %s %s", e.Custodian, e.Problem)
}

// CheckEnrolledRoster checks that every custodian h names is an enrollment
// record of the case that verifies, with the fingerprint, name, token kind
// and key the header gives. attest checks a matched record's attestation
// (PIV cards); its error is returned as is.
func (c *Case) CheckEnrolledRoster(h *seal.Header, attest func(r *token.Record, path string) error) error {
	recs, err := c.Records()
	if err != nil {
		return err
	}
	byFP := map[string]int{}
	for i, r := range recs {
		byFP[strings.ReplaceAll(r.Fingerprint(), " ", "")] = i
	}
	for _, cu := range h.Custodians() {
		if cu.Fingerprint == "" {
			return &RosterError{Custodian: cu.Name, Problem: "has no enrollment fingerprint in the header, so no record vouches for them"}
		}
		i, ok := byFP[cu.Fingerprint]
		if !ok {
			return &RosterError{Custodian: cu.Name, Fingerprint: cu.Fingerprint,
				Problem: fmt.Sprintf("(%s) matches no enrollment record of the case", cu.Fingerprint)}
		}
		want, err := seal.CustodianOf(recs[i])
		if err != nil {
			return &RecordError{Path: c.paths[i], Err: err}
		}
		if want.Name != cu.Name || want.Kind != cu.Kind || want.Recipient != cu.Recipient {
			return &RosterError{Custodian: cu.Name, Fingerprint: cu.Fingerprint, Record: c.paths[i],
				Problem: fmt.Sprintf("does not match the enrollment record %s with that fingerprint (%s %s)", c.paths[i], want.Kind, want.Name)}
		}
		if attest != nil {
			if err := attest(recs[i], c.paths[i]); err != nil {
				return err
			}
		}
	}
	return nil
}
