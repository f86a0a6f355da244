package slip39

import (
	"errors"
	"fmt"
)

// Errors that callers may branch on. Returned errors wrap one of them (test
// with errors.Is) and add detail; errors about one share of several come
// wrapped in a *ShareError naming it. No error carries share values, words
// or other secret material.
var (
	// Reading a share.
	ErrUnknownWord  = errors.New("not a SLIP-39 word")
	ErrLength       = errors.New("wrong number of words")
	ErrChecksum     = errors.New("invalid checksum — a word is wrong or swapped")
	ErrPadding      = errors.New("invalid padding")
	ErrInvalidShare = errors.New("invalid share")

	// Combining shares.
	ErrMismatch         = errors.New("shares are not from the same set")
	ErrDuplicate        = errors.New("duplicate share")
	ErrNotEnoughGroups  = errors.New("not enough groups")
	ErrNotEnoughMembers = errors.New("not enough shares in a group")
	ErrTooManyShares    = errors.New("more shares than the threshold")
	ErrDigest           = errors.New("digest mismatch — a share is wrong, forged or from another set")

	// Generating shares.
	ErrParameters = errors.New("invalid sharing parameters")
)

// A ShareError is an error about one share of those passed to Combine or
// Progress.
type ShareError struct {
	Index int // position in the slice given, from 0
	Err   error
}

func (e *ShareError) Error() string { return fmt.Sprintf("share %d: %v", e.Index+1, e.Err) }

func (e *ShareError) Unwrap() error { return e.Err }
