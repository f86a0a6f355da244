package casedir

// Requests to change who may sign: the checks made before a genesis, an
// admit or a retire is signed, so that a request the rules refuse costs
// nobody a tap. Replaying the logbook (Replay) enforces the same rules on
// what is in it.

import (
	"errors"
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

// Founders returns the founders of a genesis: the records of names, each
// found by person (a record named twice counts once), or, without names,
// every record of the roster with a token (paper custodians sign nothing).
func (c *Case) Founders(names []string, person func(name string) (*token.Record, error)) ([]*token.Record, error) {
	var out []*token.Record
	if len(names) == 0 {
		recs, err := c.Records()
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if r.Keys != nil {
				out = append(out, r)
			}
		}
		return out, nil
	}
	for _, n := range names {
		r, err := person(n)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// ErrNewGenesisSigners: signers were chosen for the genesis of a new
// logbook, which every founder signs.
var ErrNewGenesisSigners = errors.New("the genesis of a new logbook is signed by every founder")

// A NotFounderError is a signer chosen for a migration genesis who is not
// one of its founders: only founders sign the genesis.
type NotFounderError struct{ Name string }

func (e *NotFounderError) Error() string {
	return fmt.Sprintf("%s: only founders sign the genesis", e.Name)
}

// A TooFewSignersError is a migration genesis (or an admit) signed by fewer
// custodians than the admit-signers policy asks.
type TooFewSignersError struct{ Need, Have int }

func (e *TooFewSignersError) Error() string {
	return fmt.Sprintf("signed by %d, but at least %d must sign", e.Have, e.Need)
}

// GenesisSigners returns who signs the genesis g of founders, in the order
// they sign (the first signs the checkpoint too):
//
//   - the genesis of a new logbook (entry 0) is signed by every founder:
//     naming signers is ErrNewGenesisSigners;
//   - a migration (the logbook has entries already) is signed by the
//     founders names names, each found by person (a name found twice
//     counts once), at least g.AdmitSigners of them (else a
//     *TooFewSignersError), none but founders (else a *NotFounderError);
//     without names, by every founder.
//
// Replaying the logbook enforces the same rules; checking them first costs
// nobody a tap.
func GenesisSigners(g logbook.Genesis, founders []*token.Record, names []string, person func(name string) (*token.Record, error)) ([]*token.Record, error) {
	if len(names) == 0 {
		return founders, nil
	}
	if !g.Migration {
		return nil, ErrNewGenesisSigners
	}
	var signers []*token.Record
	for _, n := range names {
		r, err := person(n)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(founders, r) {
			return nil, &NotFounderError{Name: n}
		}
		if !slices.Contains(signers, r) {
			signers = append(signers, r)
		}
	}
	if len(signers) < g.AdmitSigners {
		return nil, &TooFewSignersError{Need: g.AdmitSigners, Have: len(signers)}
	}
	return signers, nil
}

// GenesisReason is the reason a genesis records when the people who sign
// it give none: size is the number of entries before it (a migration's
// reason says how many were signed before the logbook decided who signs).
func GenesisReason(g logbook.Genesis, size int64) string {
	if !g.Migration {
		return "the founding custodians of the case"
	}
	entries := fmt.Sprintf("%d entries", size)
	if size == 1 {
		entries = "1 entry"
	}
	return fmt.Sprintf("migration: what came before (%s) was signed by whoever had a record in the case; from here on the logbook decides who signs", entries)
}

// AdmitReason is the reason an admit records when its signers give none.
func AdmitReason(ad logbook.Admit) string { return "admit " + ad.Name }

// CheckAdmitters checks that admitters, the admitted custodians who sign
// an admit, are as many as a's policy asks (else a *TooFewSignersError).
// Each must be admitted, which appending checks (Case.CheckActor before).
func (a *Admission) CheckAdmitters(admitters []*token.Record) error {
	if len(admitters) < a.Policy {
		return &TooFewSignersError{Need: a.Policy, Have: len(admitters)}
	}
	return nil
}
