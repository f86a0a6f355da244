package seal

import (
	"errors"
	"fmt"
)

// A FormatError reports a .glass file, or a share inside one, that is not
// well formed or not canonical. Line is 1-based, 0 when unknown. It never
// contains secret material.
type FormatError struct {
	Line int
	Msg  string
}

func (e *FormatError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("malformed sealed secret: line %d: %s", e.Line, e.Msg)
	}
	return "malformed sealed secret: " + e.Msg
}

// Errors a caller can branch on with [errors.Is]. Most arrive wrapped in a
// [*ShareError] that names the custodian.
var (
	// ErrDamaged: the file's digest does not match its content. Nothing
	// was decrypted and no token was used.
	ErrDamaged = errors.New("the sealed secret is damaged (its digest does not match)")
	// ErrNotInRoster: the token's key is not any custodian's.
	ErrNotInRoster = errors.New("this token is not in the roster")
	// ErrPaperCustodian: a token was offered for a custodian who holds paper.
	ErrPaperCustodian = errors.New("this custodian holds a paper share, not a token")
	// ErrAlreadyTapped: this custodian's share is already in.
	ErrAlreadyTapped = errors.New("this custodian has already tapped")
	// ErrWrongToken: the token is the custodian's by its public key, but
	// it cannot open the share.
	ErrWrongToken = errors.New("the token cannot open this custodian's share")
	// ErrOtherFile: the share was made for a different sealed secret.
	ErrOtherFile = errors.New("the share belongs to a different sealed secret")
	// ErrBeforeReseal: the share was made for the file this one reseals.
	ErrBeforeReseal = errors.New("the share is from before this secret was resealed")
	// ErrBadShare: the share does not match its commitment in the header.
	ErrBadShare = errors.New("the share does not match its commitment (wrong or corrupted share)")
	// ErrUnknownMnemonic: a mnemonic matched no custodian's commitment.
	ErrUnknownMnemonic = errors.New("the mnemonic is not a share of this sealed secret")
	// ErrGroupComplete: the custodian's group has all the shares it needs.
	ErrGroupComplete = errors.New("this custodian's group already has enough shares")
	// ErrNotEnoughShares: Open or Drill was called before enough taps.
	ErrNotEnoughShares = errors.New("not enough shares yet")
	// ErrWrongIdentity: the shares combined into an identity that is not
	// the one in the header (a wrong share or a forged header).
	ErrWrongIdentity = errors.New("the shares do not reconstruct the sealed identity")
	// ErrHeaderMAC: the header was altered after sealing.
	ErrHeaderMAC = errors.New("the header does not match its MAC: it was altered after sealing")
	// ErrWiped: the unseal was wiped or already opened.
	ErrWiped = errors.New("this unseal was wiped")
	// ErrEmptySecret: Seal was given an empty secret.
	ErrEmptySecret = errors.New("the secret is empty")
)

// A ShareError names the custodian whose share or tap failed.
type ShareError struct {
	Index     int    // custodian index in the roster, -1 when unknown
	Custodian string // custodian name, "" when unknown
	Err       error
}

func (e *ShareError) Error() string {
	if e.Custodian == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("custodian %s: %v", e.Custodian, e.Err)
}

func (e *ShareError) Unwrap() error { return e.Err }

// An UnknownCustodianError is a custodian name the roster of the sealed
// secret Secret does not hold.
type UnknownCustodianError struct {
	Name, Secret string
	// Custodians are the names the roster holds, in roster order.
	Custodians []string
}

func (e *UnknownCustodianError) Error() string {
	return fmt.Sprintf("%s is not in the roster of %s", e.Name, e.Secret)
}
