package casedir

// Admission: the logbook decides who may sign (docs/format-logbook.md,
// "Admission"), never the enrollment records present in the directory.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/token"
)

// An Admission is who may sign a case's logbook, as replaying it from its
// genesis says.
type Admission struct {
	// Genesis is the logbook's genesis entry; nil when it has none (a
	// logbook from before admission: every record in the case signs, as
	// before, until a genesis is appended).
	Genesis *logbook.Entry
	// Policy is how many admitted custodians must sign an admit.
	Policy int
	// Size is the number of entries replayed.
	Size int64

	admitted map[string]admitted // by fingerprint
	byName   map[string]string   // actor name → fingerprint
	retired  map[string]int64    // fingerprint → the entry that retired it
	enrolled map[string]int64    // "name+fingerprint" → its latest enroll entry
}

type admitted struct {
	logbook.Member
	Since int64 // the genesis or admit entry
}

// Admitted reports whether the key with fingerprint fp may sign as name.
// Without a genesis, nothing is admitted.
func (a *Admission) Admitted(name, fp string) bool {
	if a == nil {
		return false
	}
	m, ok := a.admitted[fp]
	return ok && m.Name == name
}

// Members returns the admitted custodians, by name.
func (a *Admission) Members() []logbook.Member {
	var out []logbook.Member
	for _, m := range a.admitted {
		out = append(out, m.Member)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Since returns the entry that admitted fp, if it is admitted.
func (a *Admission) Since(fp string) (int64, bool) {
	m, ok := a.admitted[fp]
	return m.Since, ok
}

// RetiredAt returns the entry that retired fp, if one did.
func (a *Admission) RetiredAt(fp string) (int64, bool) {
	i, ok := a.retired[fp]
	return i, ok
}

// KeyOf returns the fingerprint of name's admitted key.
func (a *Admission) KeyOf(name string) (string, bool) {
	fp, ok := a.byName[name]
	return fp, ok
}

// EnrollEntry returns the number of the latest enroll entry of name signed
// by the key fp.
func (a *Admission) EnrollEntry(name, fp string) (int64, bool) {
	i, ok := a.enrolled[name+"+"+fp]
	return i, ok
}

// NotAdmittedReason says why the key fp does not sign: "retired in entry
// N", or "never admitted".
func (a *Admission) NotAdmittedReason(fp string) string {
	if at, ok := a.RetiredAt(fp); ok {
		return fmt.Sprintf("retired in entry %d", at)
	}
	return "never admitted"
}

// An AdmissionError is an entry that breaks the admission rules: signed by
// a key the logbook did not admit (or retired), or a genesis, admit or
// retire that does not hold.
type AdmissionError struct {
	Index int64
	Msg   string // a predicate following "entry N"
}

func (e *AdmissionError) Error() string {
	return fmt.Sprintf("logbook: entry %d %s", e.Index, e.Msg)
}

// Replay replays entries from the start and returns who may sign after
// them. recs are the enrollment records that can tell whose the extra
// signatures of a genesis or admit are (the case's records); a signature by
// a key without a record does not count. The error is an *AdmissionError
// naming the first entry that breaks a rule.
func Replay(entries []*logbook.Entry, recs []*token.Record) (*Admission, error) {
	a := &Admission{admitted: map[string]admitted{}, byName: map[string]string{}, retired: map[string]int64{}, enrolled: map[string]int64{}}
	keys := newKeyIndex(recs)
	for _, e := range entries {
		if err := a.apply(e, keys, entries); err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (a *Admission) clone() *Admission {
	b := *a
	b.admitted, b.byName, b.retired, b.enrolled = maps.Clone(a.admitted), maps.Clone(a.byName), maps.Clone(a.retired), maps.Clone(a.enrolled)
	return &b
}

// apply replays entry e (number a.Size); all is the log up to at least e.
func (a *Admission) apply(e *logbook.Entry, keys *keyIndex, all []*logbook.Entry) error {
	bad := func(format string, args ...any) error {
		return &AdmissionError{Index: e.Index, Msg: fmt.Sprintf(format, args...)}
	}
	defer func() { a.Size = e.Index + 1 }()
	if a.Genesis == nil {
		switch e.Kind {
		case logbook.KindGenesis:
			return a.genesis(e, keys, bad)
		case logbook.KindAdmit, logbook.KindRetire:
			return bad("is a %s before the logbook's genesis (nobody is admitted yet)", e.Kind)
		case logbook.KindEnroll:
			a.enrolled[e.Actor+"+"+e.Key] = e.Index
		}
		return nil
	}
	if e.Kind == logbook.KindGenesis {
		return bad("is a second genesis (the logbook's genesis is entry %d)", a.Genesis.Index)
	}
	if e.Kind == logbook.KindEnroll {
		// A token's own enroll entry is its request to be admitted: any
		// key may sign it.
		a.enrolled[e.Actor+"+"+e.Key] = e.Index
		return nil
	}
	if !a.Admitted(e.Actor, e.Key) {
		return bad("%s", a.notAdmitted(e.Actor, e.Key))
	}
	switch e.Kind {
	case logbook.KindAdmit:
		ad, err := e.Admit()
		if err != nil {
			return bad("is malformed: %v", err)
		}
		if i, ok := a.Since(ad.Fingerprint); ok {
			return bad("admits %s, already admitted in entry %d", ad.Member, i)
		}
		if ad.Enroll >= int64(len(all)) || all[ad.Enroll].Kind != logbook.KindEnroll || all[ad.Enroll].Actor != ad.Name || all[ad.Enroll].Key != ad.Fingerprint {
			return bad("admits %s, but entry %d is not the enroll entry of %s signed by that key", ad.Member, ad.Enroll, ad.Name)
		}
		old, has := a.byName[ad.Name]
		switch {
		case has && ad.Replaces != old:
			return bad("admits a second key for %s, whose key %s is admitted (one name, one key: an admit of a new card names the old key in replaces, which retires it)", ad.Name, old)
		case !has && ad.Replaces != "":
			return bad("replaces key %s, but %s has no admitted key", ad.Replaces, ad.Name)
		}
		signers, err := keys.signers(e, func(name, fp string) bool { return a.Admitted(name, fp) })
		if err != nil {
			return bad("%v", err)
		}
		if len(signers) < a.Policy {
			return bad("admits %s with %s, but an admit needs %d admitted custodians (the genesis's admit-signers)", ad.Member, signedByPhrase(signers), a.Policy)
		}
		if has {
			a.retire(old, e.Index)
		}
		a.admit(ad.Member, e.Index)
	case logbook.KindRetire:
		m, err := e.Retired()
		if err != nil {
			return bad("is malformed: %v", err)
		}
		if !a.Admitted(m.Name, m.Fingerprint) {
			return bad("retires %s, who is not admitted", m)
		}
		if len(a.admitted)-1 < a.Policy {
			return bad("retires %s, which would leave %d admitted custodians, fewer than the %d an admit needs", m, len(a.admitted)-1, a.Policy)
		}
		a.retire(m.Fingerprint, e.Index)
	}
	return nil
}

func (a *Admission) genesis(e *logbook.Entry, keys *keyIndex, bad func(string, ...any) error) error {
	g, err := e.Genesis()
	if err != nil {
		return bad("is malformed: %v", err)
	}
	founder := func(name, fp string) bool {
		return slices.Contains(g.Founders, logbook.Member{Name: name, Fingerprint: fp})
	}
	signers, err := keys.signers(e, founder)
	if err != nil {
		return bad("%v", err)
	}
	if !g.Migration {
		var missing []string
		for _, f := range g.Founders {
			if !slices.Contains(signers, f) {
				missing = append(missing, f.String())
			}
		}
		if len(missing) > 0 {
			return bad("is a genesis not signed by its founders %s (each founder signs the genesis; a founder's signature counts only with their enrollment record in the case)", strings.Join(missing, ", "))
		}
	} else if len(signers) < g.AdmitSigners {
		return bad("is a migration genesis with %s, but it needs %d of its founders", signedByPhrase(signers), g.AdmitSigners)
	}
	a.Genesis, a.Policy = e, g.AdmitSigners
	for _, f := range g.Founders {
		a.admit(f, e.Index)
	}
	return nil
}

func (a *Admission) admit(m logbook.Member, at int64) {
	a.admitted[m.Fingerprint] = admitted{Member: m, Since: at}
	a.byName[m.Name] = m.Fingerprint
	delete(a.retired, m.Fingerprint)
}

func (a *Admission) retire(fp string, at int64) {
	m := a.admitted[fp]
	delete(a.admitted, fp)
	if a.byName[m.Name] == fp {
		delete(a.byName, m.Name)
	}
	a.retired[fp] = at
}

// notAdmitted says why name with key fp may not sign: a predicate
// following "entry N".
func (a *Admission) notAdmitted(name, fp string) string {
	if i, ok := a.retired[fp]; ok {
		return fmt.Sprintf("is signed by %s (key %s), whose key was retired in entry %d", name, fp, i)
	}
	if m, ok := a.admitted[fp]; ok {
		return fmt.Sprintf("is signed as %s with key %s, which the logbook admitted for %s", name, fp, m.Name)
	}
	if old, ok := a.byName[name]; ok {
		return fmt.Sprintf("is signed by %s with key %s, but the key the logbook admitted for %s is %s", name, fp, name, old)
	}
	return fmt.Sprintf("is signed by %s (key %s), who is not admitted", name, fp)
}

func signedByPhrase(ms []logbook.Member) string {
	if len(ms) == 0 {
		return "no signature that counts"
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
	}
	return fmt.Sprintf("the signatures of %d (%s)", len(ms), strings.Join(names, ", "))
}

// A keyIndex finds the record of a signature line: by key name and key
// hash, among the records with keys.
type keyIndex struct {
	vs []keyEntry
}

type keyEntry struct {
	v  note.Verifier
	fp string
}

func newKeyIndex(recs []*token.Record) *keyIndex {
	k := &keyIndex{}
	for _, r := range recs {
		if r.Keys == nil {
			continue
		}
		name, err := ActorName(r)
		if err != nil {
			continue
		}
		pub, err := r.SigningPublicKey()
		if err != nil {
			continue
		}
		v, err := token.NewNoteVerifier(name, pub)
		if err != nil {
			continue
		}
		k.vs = append(k.vs, keyEntry{v, r.Fingerprint()})
	}
	return k
}

// signers returns the members whose signature lines on e verify, among the
// keys allow accepts (one per key; lines by other keys are ignored).
func (k *keyIndex) signers(e *logbook.Entry, allow func(name, fp string) bool) ([]logbook.Member, error) {
	vs := &allowedVerifiers{k: k, allow: allow}
	n, err := note.Open(e.Signed, vs)
	var unverified *note.UnverifiedNoteError
	if errors.As(err, &unverified) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("has a signature that does not verify: %v", err)
	}
	var out []logbook.Member
	for _, s := range n.Sigs {
		for _, ke := range k.vs {
			if ke.v.Name() == s.Name && ke.v.KeyHash() == s.Hash && allow(s.Name, ke.fp) {
				m := logbook.Member{Name: s.Name, Fingerprint: ke.fp}
				if !slices.Contains(out, m) {
					out = append(out, m)
				}
				break
			}
		}
	}
	return out, nil
}

type allowedVerifiers struct {
	k     *keyIndex
	allow func(name, fp string) bool
}

func (av *allowedVerifiers) Verifier(name string, hash uint32) (note.Verifier, error) {
	for _, ke := range av.k.vs {
		if ke.v.Name() == name && ke.v.KeyHash() == hash && av.allow(name, ke.fp) {
			return ke.v, nil
		}
	}
	return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
}
