package slip39

import (
	cryptorand "crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"slices"
)

// A GroupSpec describes one group of a set: Threshold of its Count members
// recover the group's share.
type GroupSpec struct{ Threshold, Count int }

// Generate encrypts masterSecret with passphrase and splits it into shares:
// groupThreshold of the groups recover it, each group through Threshold of
// its Count members. The result holds one slice of shares per group, in the
// order of groups. New sets are extendable (ext = 1).
//
// masterSecret must be an even number of bytes, at least 16; passphrase may
// be empty and must be printable ASCII; iterationExp (0 to 15) sets the
// PBKDF2 work to 10000·2^iterationExp iterations. A group of threshold 1 must
// have a single member. rand nil means crypto/rand. Random bytes are read in
// a fixed order (identifier, then the group split, then each group's split in
// order), so a fixed reader gives fixed shares.
//
// The caller owns the shares and should [Share.Wipe] them after use.
func Generate(rand io.Reader, masterSecret, passphrase []byte, groupThreshold int, groups []GroupSpec, iterationExp uint8) ([][]Share, error) {
	if err := checkParameters(masterSecret, passphrase, groupThreshold, groups, iterationExp); err != nil {
		return nil, err
	}
	if rand == nil {
		rand = cryptoRand
	}
	var idBytes [2]byte
	if _, err := io.ReadFull(rand, idBytes[:]); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	id := (uint16(idBytes[0])<<8 | uint16(idBytes[1])) & maxID

	ems, err := encrypt(masterSecret, passphrase, iterationExp, id, true)
	if err != nil {
		return nil, err
	}
	defer wipe(ems)
	groupValues, err := splitSecret(rand, groupThreshold, len(groups), ems)
	if err != nil {
		return nil, err
	}
	defer wipeAll(groupValues)

	out := make([][]Share, len(groups))
	for gi, g := range groups {
		values, err := splitSecret(rand, g.Threshold, g.Count, groupValues[gi])
		if err != nil {
			for _, shares := range out {
				for _, s := range shares {
					s.Wipe()
				}
			}
			return nil, err
		}
		out[gi] = make([]Share, g.Count)
		for mi, v := range values {
			out[gi][mi] = Share{
				ID:              id,
				Extendable:      true,
				IterationExp:    iterationExp,
				GroupIndex:      uint8(gi),
				GroupThreshold:  uint8(groupThreshold),
				GroupCount:      uint8(len(groups)),
				MemberIndex:     uint8(mi),
				MemberThreshold: uint8(g.Threshold),
				Value:           v,
			}
		}
	}
	return out, nil
}

var cryptoRand = cryptorand.Reader

func checkParameters(masterSecret, passphrase []byte, groupThreshold int, groups []GroupSpec, iterationExp uint8) error {
	switch n := len(masterSecret); {
	case n < minSecretLen || n%2 != 0:
		return fmt.Errorf("%w: the master secret must be an even number of bytes, at least %d; it is %d",
			ErrParameters, minSecretLen, n)
	case n > maxValueLen:
		return fmt.Errorf("%w: a master secret of %d bytes is too long", ErrParameters, n)
	}
	for _, c := range passphrase {
		if c < 32 || c > 126 {
			return fmt.Errorf("%w: the passphrase must be printable ASCII", ErrParameters)
		}
	}
	if iterationExp > maxIterExp {
		return fmt.Errorf("%w: iteration exponent %d is above %d", ErrParameters, iterationExp, maxIterExp)
	}
	if len(groups) < 1 || len(groups) > maxShares {
		return fmt.Errorf("%w: %d groups; there must be 1 to %d", ErrParameters, len(groups), maxShares)
	}
	if groupThreshold < 1 || groupThreshold > len(groups) {
		return fmt.Errorf("%w: group threshold %d is not between 1 and the %d groups",
			ErrParameters, groupThreshold, len(groups))
	}
	for i, g := range groups {
		switch {
		case g.Count < 1 || g.Count > maxShares:
			return fmt.Errorf("%w: group %d has %d members; there must be 1 to %d",
				ErrParameters, i+1, g.Count, maxShares)
		case g.Threshold < 1 || g.Threshold > g.Count:
			return fmt.Errorf("%w: group %d threshold %d is not between 1 and its %d members",
				ErrParameters, i+1, g.Threshold, g.Count)
		case g.Threshold == 1 && g.Count > 1:
			return fmt.Errorf("%w: group %d: a threshold of 1 needs exactly 1 member "+
				"(several copies of one share add nothing; use one group per member instead)", ErrParameters, i+1)
		}
	}
	return nil
}

// Combine recovers the master secret from exactly the shares needed: shares
// of exactly GroupThreshold groups, and exactly MemberThreshold shares of
// each (use [Progress] to pick them from a larger collection). It checks that
// the shares belong together, and the digest of every group with a
// threshold above 1. A wrong passphrase is not detected: it yields a
// different secret.
//
// Errors wrap one of the sentinel errors; those about one share come as a
// *ShareError. The caller should wipe the returned secret after use.
func Combine(shares []Share, passphrase []byte) ([]byte, error) {
	if len(shares) == 0 {
		return nil, fmt.Errorf("%w: no shares given", ErrNotEnoughGroups)
	}
	st, err := Progress(shares)
	if err != nil {
		return nil, err
	}
	switch n := len(st.Groups); {
	case n < st.GroupThreshold:
		return nil, fmt.Errorf("%w: shares from %d of the %d groups needed", ErrNotEnoughGroups, n, st.GroupThreshold)
	case n > st.GroupThreshold:
		return nil, fmt.Errorf("%w: shares from %d groups, but exactly %d are needed", ErrTooManyShares, n, st.GroupThreshold)
	}
	for _, g := range st.Groups {
		switch n := len(g.Shares); {
		case n < g.Threshold:
			return nil, fmt.Errorf("%w: group %d has %d of the %d shares needed",
				ErrNotEnoughMembers, g.Index+1, n, g.Threshold)
		case n > g.Threshold:
			return nil, fmt.Errorf("%w: group %d has %d shares, but exactly %d are needed",
				ErrTooManyShares, g.Index+1, n, g.Threshold)
		}
	}

	groupPoints := make([]point, 0, len(st.Groups))
	defer func() {
		for _, p := range groupPoints {
			wipe(p.y)
		}
	}()
	for _, g := range st.Groups {
		points := make([]point, len(g.Shares))
		for k, i := range g.Shares {
			points[k] = point{shares[i].MemberIndex, shares[i].Value}
		}
		v, err := recoverSecret(g.Threshold, points)
		if err != nil {
			return nil, fmt.Errorf("group %d: %w", g.Index+1, err)
		}
		groupPoints = append(groupPoints, point{byte(g.Index), v})
	}
	ems, err := recoverSecret(st.GroupThreshold, groupPoints)
	if err != nil {
		return nil, fmt.Errorf("combining groups: %w", err)
	}
	defer wipe(ems)
	first := shares[0]
	return decrypt(ems, passphrase, first.IterationExp, first.ID, first.Extendable)
}

// Status reports how far a collection of shares is from recovering the
// secret.
type Status struct {
	GroupThreshold int           // groups needed; 0 when there are no shares
	GroupCount     int           // groups in the set
	Groups         []GroupStatus // the groups with at least one share, by group index
	CompleteGroups int           // groups with enough shares
	// Use, once CompleteGroups reaches GroupThreshold, lists the shares to
	// pass to Combine as indices into the collection, in ascending order:
	// the first shares of the complete groups with the lowest indices.
	Use []int
}

// Complete reports whether the collection holds enough shares for Combine.
func (s Status) Complete() bool { return s.Use != nil }

// GroupsNeeded returns how many more groups must be completed.
func (s Status) GroupsNeeded() int { return max(0, s.GroupThreshold-s.CompleteGroups) }

// GroupStatus reports on one group of a collection of shares.
type GroupStatus struct {
	Index     int   // group index, from 0
	Threshold int   // shares of this group needed
	Shares    []int // this group's shares, as indices into the collection
	Members   []int // their member indices, in the same order
}

// Complete reports whether the group has enough shares.
func (g GroupStatus) Complete() bool { return len(g.Shares) >= g.Threshold }

// Needed returns how many more shares the group needs.
func (g GroupStatus) Needed() int { return max(0, g.Threshold-len(g.Shares)) }

// Progress checks that shares belong together (same set, consistent
// thresholds, no share twice) and reports which groups are complete and how
// many more shares each needs. During an unseal, call it with each new share
// appended: an error means the new share does not fit (the *ShareError names
// it), a Complete status means Combine can run on the shares in Use.
func Progress(shares []Share) (Status, error) {
	if len(shares) == 0 {
		return Status{}, nil
	}
	first := shares[0]
	byGroup := map[uint8]*GroupStatus{}
	for i, s := range shares {
		if err := s.Validate(); err != nil {
			return Status{}, &ShareError{i, err}
		}
		if err := sameSet(first, s); err != nil {
			return Status{}, &ShareError{i, err}
		}
		g := byGroup[s.GroupIndex]
		if g == nil {
			g = &GroupStatus{Index: int(s.GroupIndex), Threshold: int(s.MemberThreshold)}
			byGroup[s.GroupIndex] = g
		}
		if s.MemberThreshold != uint8(g.Threshold) {
			return Status{}, &ShareError{i, fmt.Errorf("%w: member threshold %d, but share %d of the same group has %d",
				ErrMismatch, s.MemberThreshold, g.Shares[0]+1, g.Threshold)}
		}
		for _, j := range g.Shares {
			if shares[j].MemberIndex != s.MemberIndex {
				continue
			}
			if subtle.ConstantTimeCompare(shares[j].Value, s.Value) == 1 {
				return Status{}, &ShareError{i, fmt.Errorf("%w: the same share as share %d", ErrDuplicate, j+1)}
			}
			return Status{}, &ShareError{i, fmt.Errorf("%w: a different share with the same member index as share %d",
				ErrDuplicate, j+1)}
		}
		g.Shares = append(g.Shares, i)
		g.Members = append(g.Members, int(s.MemberIndex))
	}

	st := Status{GroupThreshold: int(first.GroupThreshold), GroupCount: int(first.GroupCount)}
	for _, g := range byGroup {
		st.Groups = append(st.Groups, *g)
		if g.Complete() {
			st.CompleteGroups++
		}
	}
	slices.SortFunc(st.Groups, func(a, b GroupStatus) int { return a.Index - b.Index })
	if st.CompleteGroups >= st.GroupThreshold {
		st.Use = []int{}
		taken := 0
		for _, g := range st.Groups {
			if !g.Complete() || taken == st.GroupThreshold {
				continue
			}
			st.Use = append(st.Use, g.Shares[:g.Threshold]...)
			taken++
		}
		slices.Sort(st.Use)
	}
	return st, nil
}

// sameSet reports how s differs from first in what all shares of a set
// share.
func sameSet(first, s Share) error {
	var what string
	switch {
	case s.ID != first.ID:
		what = "identifier"
	case s.Extendable != first.Extendable:
		what = "extendable flag"
	case s.IterationExp != first.IterationExp:
		what = "iteration exponent"
	case s.GroupThreshold != first.GroupThreshold:
		what = "group threshold"
	case s.GroupCount != first.GroupCount:
		what = "group count"
	case len(s.Value) != len(first.Value):
		what = "length"
	default:
		return nil
	}
	return fmt.Errorf("%w: a different %s from share 1", ErrMismatch, what)
}
