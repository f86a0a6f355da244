package logbook

// The admission entries: genesis, admit, retire (docs/format-logbook.md,
// "Admission"). Their details have fixed formats, checked by MarshalText
// (and so by ParseEntryText): an entry of these kinds that does not follow
// them has no canonical encoding.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Details of the admission entries.
const (
	DetailFounders     = "founders"      // genesis: "NAME+FINGERPRINT NAME+FINGERPRINT …"
	DetailAdmitSigners = "admit-signers" // genesis: how many admitted custodians sign an admit
	DetailMigration    = "migration"     // genesis after entry 0: "yes"
	DetailCustodian    = "custodian"     // admit, retire: the actor name admitted or retired
	DetailFingerprint  = "fingerprint"   // admit, retire: its signing key's fingerprint
	DetailEnroll       = "enroll"        // admit: the number of the token's enroll entry
	DetailReplaces     = "replaces"      // admit: the fingerprint of the name's key it retires
)

// A Member is a custodian as the logbook admits them: the actor name their
// entries carry and the fingerprint of their signing key ("7259 2171 d408
// e64e", as in an entry's key line).
type Member struct {
	Name        string
	Fingerprint string
}

func (m Member) String() string { return m.Name + " (" + m.Fingerprint + ")" }

// A Genesis is what a genesis entry says: the founding custodians, who are
// admitted by it, and the admission policy.
type Genesis struct {
	Founders []Member
	// AdmitSigners is how many admitted custodians must sign an admit entry
	// (1 ≤ AdmitSigners ≤ len(Founders)).
	AdmitSigners int
	// Migration: the genesis was added to a logbook that had entries
	// without one (its index is not 0).
	Migration bool
}

// An Admit is what an admit entry says.
type Admit struct {
	Member
	Enroll   int64  // the number of the admitted token's enroll entry
	Replaces string // the fingerprint of Name's admitted key it retires, or ""
}

// GenesisEntry returns the entry of g (its Kind and Details; the caller
// sets Reason and the rest).
func GenesisEntry(g Genesis) Entry {
	var fs []string
	for _, f := range g.Founders {
		fs = append(fs, f.Name+"+"+compactFingerprint(f.Fingerprint))
	}
	d := map[string]string{DetailFounders: strings.Join(fs, " "), DetailAdmitSigners: strconv.Itoa(g.AdmitSigners)}
	if g.Migration {
		d[DetailMigration] = "yes"
	}
	return Entry{Kind: KindGenesis, Details: d}
}

// AdmitEntry returns the entry of a (Kind and Details).
func AdmitEntry(a Admit) Entry {
	d := map[string]string{DetailCustodian: a.Name, DetailFingerprint: a.Fingerprint, DetailEnroll: strconv.FormatInt(a.Enroll, 10)}
	if a.Replaces != "" {
		d[DetailReplaces] = a.Replaces
	}
	return Entry{Kind: KindAdmit, Details: d}
}

// RetireEntry returns the entry retiring m (Kind and Details).
func RetireEntry(m Member) Entry {
	return Entry{Kind: KindRetire, Details: map[string]string{DetailCustodian: m.Name, DetailFingerprint: m.Fingerprint}}
}

// Genesis returns what the genesis entry e says.
func (e *Entry) Genesis() (*Genesis, error) {
	if e.Kind != KindGenesis {
		return nil, fmt.Errorf("entry %d is a %s, not a genesis", e.Index, e.Kind)
	}
	if err := checkDetails(e, DetailFounders, DetailAdmitSigners, DetailMigration); err != nil {
		return nil, err
	}
	g := &Genesis{}
	names, fps := map[string]bool{}, map[string]bool{}
	for _, f := range strings.Split(e.Details[DetailFounders], " ") {
		name, fp, ok := strings.Cut(f, "+")
		if !ok || checkName("founder", name) != nil || !validCompactFingerprint(fp) {
			return nil, fmt.Errorf("founder %q: want NAME+FINGERPRINT, the fingerprint as 16 lowercase hex digits", f)
		}
		m := Member{Name: name, Fingerprint: groupFingerprint(fp)}
		if names[m.Name] || fps[m.Fingerprint] {
			return nil, fmt.Errorf("founder %s is named twice (one name, one key)", f)
		}
		names[m.Name], fps[m.Fingerprint] = true, true
		g.Founders = append(g.Founders, m)
	}
	k, err := parseDecimal(e.Details[DetailAdmitSigners])
	if err != nil || k < 1 || k > int64(len(g.Founders)) {
		return nil, fmt.Errorf("admit-signers %q: want a number from 1 to the number of founders (%d)", e.Details[DetailAdmitSigners], len(g.Founders))
	}
	g.AdmitSigners = int(k)
	switch m, ok := e.Details[DetailMigration]; {
	case ok && m != "yes":
		return nil, fmt.Errorf("migration %q: want yes", m)
	case ok != (e.Index > 0):
		return nil, errors.New("a genesis after entry 0 has detail migration yes, and only such a genesis")
	}
	g.Migration = e.Index > 0
	if !slices.ContainsFunc(g.Founders, func(m Member) bool { return m.Name == e.Actor && m.Fingerprint == e.Key }) {
		return nil, fmt.Errorf("its actor %s (key %s) is not one of its founders", e.Actor, e.Key)
	}
	return g, nil
}

// Admit returns what the admit entry e says.
func (e *Entry) Admit() (*Admit, error) {
	if e.Kind != KindAdmit {
		return nil, fmt.Errorf("entry %d is a %s, not an admit", e.Index, e.Kind)
	}
	if err := checkDetails(e, DetailCustodian, DetailFingerprint, DetailEnroll, DetailReplaces); err != nil {
		return nil, err
	}
	m, err := memberOf(e)
	if err != nil {
		return nil, err
	}
	a := &Admit{Member: m, Replaces: e.Details[DetailReplaces]}
	if a.Enroll, err = parseDecimal(e.Details[DetailEnroll]); err != nil || a.Enroll >= e.Index {
		return nil, fmt.Errorf("enroll %q: want the number of an earlier entry", e.Details[DetailEnroll])
	}
	if _, ok := e.Details[DetailReplaces]; ok && (!validFingerprint(a.Replaces) || a.Replaces == a.Fingerprint) {
		return nil, fmt.Errorf("replaces %q: want the fingerprint of another key", a.Replaces)
	}
	return a, nil
}

// Retired returns the custodian the retire entry e retires.
func (e *Entry) Retired() (Member, error) {
	if e.Kind != KindRetire {
		return Member{}, fmt.Errorf("entry %d is a %s, not a retire", e.Index, e.Kind)
	}
	if err := checkDetails(e, DetailCustodian, DetailFingerprint); err != nil {
		return Member{}, err
	}
	return memberOf(e)
}

func memberOf(e *Entry) (Member, error) {
	m := Member{Name: e.Details[DetailCustodian], Fingerprint: e.Details[DetailFingerprint]}
	if err := checkName("custodian", m.Name); err != nil {
		return Member{}, err
	}
	if !validFingerprint(m.Fingerprint) {
		return Member{}, fmt.Errorf("fingerprint %q: want four groups of four lowercase hex digits", m.Fingerprint)
	}
	return m, nil
}

// checkDetails checks the fields an admission entry may have: reason and
// ticket, and the details named (the first ones required, in the order
// given, except the last optional ones: see required below).
func checkDetails(e *Entry, allowed ...string) error {
	a := "a"
	if e.Kind == KindAdmit {
		a = "an"
	}
	if e.Secret != "" || e.HeaderHash != nil || e.UseCase != "" {
		return fmt.Errorf("%s %s entry has no secret, header or use-case", a, e.Kind)
	}
	required := map[Kind]int{KindGenesis: 2, KindAdmit: 3, KindRetire: 2}[e.Kind]
	for i, d := range allowed[:required] {
		if _, ok := e.Details[d]; !ok {
			return fmt.Errorf("%s %s entry needs detail %s", a, e.Kind, allowed[i])
		}
	}
	for _, d := range slices.Sorted(maps.Keys(e.Details)) {
		if !slices.Contains(allowed, d) {
			return fmt.Errorf("%s %s entry has no detail %s", a, e.Kind, d)
		}
	}
	return nil
}

// checkAdmission checks the details of an admission entry (for MarshalText).
func (e *Entry) checkAdmission() error {
	var err error
	switch e.Kind {
	case KindGenesis:
		_, err = e.Genesis()
	case KindAdmit:
		_, err = e.Admit()
	case KindRetire:
		_, err = e.Retired()
	default:
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %v", e.Kind, err)
	}
	return nil
}

// compactFingerprint is "7259 2171 d408 e64e" without its spaces.
func compactFingerprint(fp string) string { return strings.ReplaceAll(fp, " ", "") }

func groupFingerprint(h string) string {
	return h[0:4] + " " + h[4:8] + " " + h[8:12] + " " + h[12:16]
}

func validCompactFingerprint(s string) bool {
	return len(s) == 16 && validFingerprint(groupFingerprint(s))
}
