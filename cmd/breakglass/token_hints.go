package main

// What to do about a token error: the hints the CLI adds to the typed
// errors of packages token, piv and pkcs11.

import (
	"errors"

	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
)

// unknownTriesHints explain a wrong PIN on a token that cannot say how
// many tries are left (PKCS#11), or the refusal to try again.
func unknownTriesHints(pe *token.PINError) []string {
	if pe.Tried {
		return []string{"check the PIN: the token does not say how many tries are left, so breakglass will ask before the next try"}
	}
	return []string{"if you are sure of the PIN: run the command again on a terminal and type yes when asked, or add --pin-tries-unknown-ok",
		"a successful login resets the token's count of wrong PINs"}
}

// explainToken turns token errors into messages with hints.
func explainToken(err error) error {
	if err == nil {
		return nil
	}
	var (
		he *hintError
		pe *token.PINError
		np *token.NotPresentError
		wt *token.WrongTokenError
		fe *token.FieldError
		ce *piv.ChoiceError
	)
	switch {
	case errors.As(err, &he):
		return err
	case errors.As(err, &pe) && pe.PUK && pe.Retries == 0:
		return withHints(err, "the PUK is blocked too: the card can only be reset, which destroys its keys",
			"let another custodian tap instead, and re-enroll this card after a reset")
	case errors.As(err, &pe) && pe.PUK && !pe.Tried:
		return withHints(err, "one more wrong PUK would block the card for good",
			"if you are sure of the PUK, use ykman piv access unblock-pin; otherwise let another custodian tap")
	case errors.As(err, &pe) && pe.PUK:
		return withHints(err, "check the PUK and try again")
	case errors.As(err, &pe) && pe.Retries < 0 && !pe.PUK:
		return withHints(err, unknownTriesHints(pe)...)
	case errors.As(err, &pe) && pe.Retries == 0:
		return withHints(err, "unblock it with the PUK: breakglass card pin unblock",
			"or let another custodian tap instead")
	case errors.As(err, &pe) && !pe.Tried:
		return withHints(err, "unblock it with the PUK (breakglass card pin unblock, or ykman piv access unblock-pin), or",
			"let another custodian tap instead")
	case errors.As(err, &pe):
		return withHints(err, "check the PIN and try again; breakglass stops before the last try")
	case errors.As(err, &np):
		switch token.WhyNotPresent(err) {
		case token.NoDaemon:
			return withHints(err, "start the PC/SC daemon: sudo systemctl start pcscd (or scripts/pcscd.sh start), then try again")
		case token.Removed:
			return withHints(err, "put the card back and run the command again; an interrupted operation changes nothing")
		case token.InUse:
			return withHints(err, "close the other program using the card (ykman, a browser, gpg-agent) and try again")
		case token.NoSuchToken:
			return withHints(err, "check the module path and the token URI; list tokens with breakglass card list (--module PATH for a module p11-kit does not know)")
		}
		return withHints(err, "plug in the card, then check with: breakglass card list")
	case errors.As(err, &wt):
		return withHints(err, "hand the card back to its owner and use "+wt.Expected+"'s card")
	case errors.Is(err, token.ErrTouchTimeout):
		return withHints(err, "touch the card when it blinks (within 15 seconds) and try again")
	case errors.Is(err, token.ErrSlotInUse):
		return withHints(err, "pass --force to replace the keys (their shares can no longer be opened), or choose other slots with --slot")
	case errors.Is(err, token.ErrNotEnrolled):
		return withHints(err, "enroll the card first: breakglass card enroll --name NAME --piv")
	case errors.Is(err, piv.ErrDefaultCredentials):
		return withHints(err, "choose a new PIN and PUK (6 to 8 characters) when asked, or use --new-pin-file and --new-puk-file")
	case errors.As(err, &fe):
		return withHints(err, "the record was changed after enrollment: get an unmodified copy from the case repository, or re-enroll")
	case errors.As(err, &ce):
		return withHints(err, "choose one with --serial N or --reader NAME")
	}
	return err
}
