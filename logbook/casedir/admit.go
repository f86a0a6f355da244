package casedir

// Requests to change who may sign: the checks made before a genesis, an
// admit or a retire is signed, so that a request the rules refuse costs
// nobody a tap. Replaying the logbook (Replay) enforces the same rules on
// what is in it.

import (
	"fmt"
	"slices"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/token"
)

// A DuplicateFounderError is two founders' records with one logbook name.
type DuplicateFounderError struct{ Name string }

func (e *DuplicateFounderError) Error() string {
	return fmt.Sprintf("two founders' records carry the name %s: one name, one key", e.Name)
}

// A PolicyRangeError is an admit-signers policy outside 1 to the number of
// founders.
type PolicyRangeError struct{ Policy, Founders int }

func (e *PolicyRangeError) Error() string {
	return fmt.Sprintf("an admit-signers policy of %d: must be between 1 and the %d founders", e.Policy, e.Founders)
}

// NewGenesis is the genesis naming founders (each under its ActorName, one
// key a name), with admitSigners as the policy of admits; migration when
// the logbook has entries already.
func NewGenesis(founders []*token.Record, admitSigners int, migration bool) (logbook.Genesis, error) {
	g := logbook.Genesis{AdmitSigners: admitSigners, Migration: migration}
	for _, r := range founders {
		name, err := ActorName(r)
		if err != nil {
			return g, err
		}
		if slices.ContainsFunc(g.Founders, func(m logbook.Member) bool { return m.Name == name }) {
			return g, &DuplicateFounderError{Name: name}
		}
		g.Founders = append(g.Founders, logbook.Member{Name: name, Fingerprint: r.Fingerprint()})
	}
	if g.AdmitSigners < 1 || g.AdmitSigners > len(g.Founders) {
		return g, &PolicyRangeError{Policy: g.AdmitSigners, Founders: len(g.Founders)}
	}
	return g, nil
}

// Waiting returns the records of recs with a token that answer to name
// (their custodian's name or their logbook name) and that a has not
// admitted: the tokens of name waiting to be admitted.
func (a *Admission) Waiting(recs []*token.Record, name string) []*token.Record {
	var found []*token.Record
	for _, r := range recs {
		n, _ := ActorName(r)
		if r.Keys != nil && (r.Custodian.Name == name || n == name) && !a.Admitted(n, r.Fingerprint()) {
			found = append(found, r)
		}
	}
	return found
}

// An AdmittedError is an admit of a token the logbook admitted already, in
// entry Since.
type AdmittedError struct {
	Member logbook.Member
	Since  int64
}

func (e *AdmittedError) Error() string {
	return fmt.Sprintf("%s is admitted already (entry %d)", e.Member, e.Since)
}

// A NoEnrollError is an admit of a token whose own enroll entry (its
// request to be admitted) is not in the logbook.
type NoEnrollError struct{ Member logbook.Member }

func (e *NoEnrollError) Error() string {
	return fmt.Sprintf("the logbook has no enroll entry of %s signed by its token", e.Member)
}

// Admit is the admit of r's token: the entry number of its enroll entry,
// and the admitted key of the same name it replaces (one name, one key).
// A token admitted already is an *AdmittedError; one that did not enroll
// into the logbook a *NoEnrollError.
func (a *Admission) Admit(r *token.Record) (logbook.Admit, error) {
	name, err := ActorName(r)
	if err != nil {
		return logbook.Admit{}, err
	}
	m := logbook.Member{Name: name, Fingerprint: r.Fingerprint()}
	if i, ok := a.Since(m.Fingerprint); ok {
		return logbook.Admit{}, &AdmittedError{Member: m, Since: i}
	}
	enroll, ok := a.EnrollEntry(name, m.Fingerprint)
	if !ok {
		return logbook.Admit{}, &NoEnrollError{Member: m}
	}
	ad := logbook.Admit{Member: m, Enroll: enroll}
	if old, ok := a.KeyOf(name); ok {
		ad.Replaces = old
	}
	return ad, nil
}

// A NotRetirableError is a retire of a token that is not admitted: retired
// in entry RetiredAt, or (RetiredAt < 0) never admitted.
type NotRetirableError struct {
	Member    logbook.Member
	RetiredAt int64
}

func (e *NotRetirableError) Error() string {
	if e.RetiredAt >= 0 {
		return fmt.Sprintf("%s was retired already (entry %d)", e.Member, e.RetiredAt)
	}
	return fmt.Sprintf("%s is not admitted: there is nothing to retire", e.Member)
}

// A TooFewLeftError is a retire that would leave fewer admitted custodians
// than an admit needs: nobody could admit a successor.
type TooFewLeftError struct {
	Member       logbook.Member
	Left, Policy int
}

func (e *TooFewLeftError) Error() string {
	return fmt.Sprintf("retiring %s would leave %d admitted custodians, fewer than the %d an admit needs", e.Member, e.Left, e.Policy)
}

// CheckRetire checks that m may be retired: it is admitted (else a
// *NotRetirableError), and enough admitted custodians are left to admit
// another (else a *TooFewLeftError).
func (a *Admission) CheckRetire(m logbook.Member) error {
	if !a.Admitted(m.Name, m.Fingerprint) {
		at, ok := a.RetiredAt(m.Fingerprint)
		if !ok {
			at = -1
		}
		return &NotRetirableError{Member: m, RetiredAt: at}
	}
	if left := len(a.Members()) - 1; left < a.Policy {
		return &TooFewLeftError{Member: m, Left: left, Policy: a.Policy}
	}
	return nil
}
