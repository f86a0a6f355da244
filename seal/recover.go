package seal

import (
	"errors"
	"fmt"
	"strings"

	"github.com/breakglass/breakglass/seal/internal/slip39"
)

// RecoverStatus reports how far a set of mnemonics is from recovering the
// split identity, for the emergency path that has no .glass file at hand.
type RecoverStatus struct {
	Complete bool // enough shares to recover
	// GroupsNeeded is how many more groups must be completed; MembersNeeded
	// lists, for each started but incomplete group, how many more of its
	// shares are needed (group number from 1 → count).
	GroupsNeeded  int
	MembersNeeded map[int]int
}

// normalizeMnemonics lower-cases each mnemonic, collapses white space and
// drops exact duplicates (the custodians of a 1-of-n group hold the same
// share). The result must be wiped by the caller; it never aliases input.
func normalizeMnemonics(mnemonics []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range mnemonics {
		n := strings.Join(strings.Fields(strings.ToLower(m)), " ")
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

func parseRecoverShares(mnemonics []string) ([]slip39.Share, error) {
	ms := normalizeMnemonics(mnemonics)
	if len(ms) == 0 {
		return nil, fmt.Errorf("%w: no mnemonic given", ErrNotEnoughShares)
	}
	shares := make([]slip39.Share, 0, len(ms))
	for i, m := range ms {
		s, err := slip39.ParseMnemonic(m)
		if err != nil {
			wipeShares(shares)
			return nil, fmt.Errorf("mnemonic %d: %w", i+1, err)
		}
		shares = append(shares, s)
	}
	return shares, nil
}

func wipeShares(ss []slip39.Share) {
	for _, s := range ss {
		s.Wipe()
	}
}

// CheckMnemonics reports whether mnemonics (SLIP-0039 shares of one split
// identity, in any order, duplicates allowed) are enough for [Recover], and
// what is missing. An error names a mnemonic that is malformed or does not
// belong with the others.
func CheckMnemonics(mnemonics []string) (RecoverStatus, error) {
	shares, err := parseRecoverShares(mnemonics)
	if err != nil {
		return RecoverStatus{}, err
	}
	defer wipeShares(shares)
	st, err := slip39.Progress(shares)
	if err != nil {
		return RecoverStatus{}, err
	}
	rs := RecoverStatus{Complete: st.Complete(), GroupsNeeded: st.GroupsNeeded(), MembersNeeded: map[int]int{}}
	for _, g := range st.Groups {
		if n := g.Needed(); n > 0 {
			rs.MembersNeeded[g.Index+1] = n
		}
	}
	return rs, nil
}

// Recover combines SLIP-0039 mnemonics into the split identity's 32-byte
// scalar, without a .glass file: this is the emergency path of
// docs/recovery.md. Extra shares beyond what the thresholds need are
// ignored. Pass the result to [IdentityString] for `age -d -i`, and wipe
// it. Recover cannot tell a wrong set of shares from the right one (that
// needs the header's recipient): stock age reports a wrong identity as "no
// identity matched".
func Recover(mnemonics []string) ([]byte, error) {
	shares, err := parseRecoverShares(mnemonics)
	if err != nil {
		return nil, err
	}
	defer wipeShares(shares)
	st, err := slip39.Progress(shares)
	if err != nil {
		return nil, err
	}
	if !st.Complete() {
		return nil, fmt.Errorf("%w: %d more group(s) needed", ErrNotEnoughShares, st.GroupsNeeded())
	}
	use := make([]slip39.Share, 0, len(st.Use))
	for _, i := range st.Use {
		use = append(use, shares[i])
	}
	scalar, err := slip39.Combine(use, nil)
	if err != nil {
		return nil, err
	}
	if len(scalar) != 32 {
		clear(scalar)
		return nil, errors.New("seal: the shares hold a secret that is not a 32-byte age identity")
	}
	return scalar, nil
}

// ShareMnemonic returns the mnemonic in a decrypted token share (what
// `age -d` prints for a share block) and the custodian index it is marked
// for. The caller wipes the result.
func ShareMnemonic(plaintext []byte) (mnemonic []byte, index int, err error) {
	s, err := parseSharePlaintext(plaintext)
	if err != nil {
		return nil, -1, err
	}
	return s.mnemonic, s.index, nil
}

// ParseShare reads a decrypted token share completely: the header hash of
// the sealed file it was made for, the custodian index it is marked for,
// and its mnemonic (the caller wipes it). A share that crossed an air gap
// (a remote tap) is checked with it against the file being unsealed.
func ParseShare(plaintext []byte) (headerHash [32]byte, index int, mnemonic []byte, err error) {
	s, err := parseSharePlaintext(plaintext)
	if err != nil {
		return headerHash, -1, nil, err
	}
	return s.headerHash, s.index, s.mnemonic, nil
}
