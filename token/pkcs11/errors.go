package pkcs11

import (
	"fmt"
	"strings"

	"github.com/breakglass/breakglass/token"
)

// A NoMatchError reports that no token in a module matches a URI. It lists
// the tokens that are there instead, so that callers can say whose token
// is in hand. It is a *token.NotPresentError (errors.As) and matches
// token.ErrNotPresent (errors.Is).
type NoMatchError struct {
	URI     *token.URI // without the PIN and module attributes
	Module  string
	Present []Slot
}

func (e *NoMatchError) Error() string {
	return fmt.Sprintf("no PKCS#11 token matches %s in %s", e.URI, e.Module)
}

// Unwrap gives the error as a *token.NotPresentError.
func (e *NoMatchError) Unwrap() error {
	return &token.NotPresentError{What: e.Error(), Reason: token.NoSuchToken}
}

// Name is how the token in the slot is named to people, as
// token.Info.Name names an open token: "pkcs11 SERIAL", or "pkcs11 LABEL"
// when the token has no serial number.
func (s Slot) Name() string {
	return token.Info{Kind: token.KindPKCS11, Serial: s.Info.SerialNumber, Label: s.Info.Label}.Name()
}

// OnReader reports whether the slot is the PC/SC reader named reader, as
// modules that front smart cards describe their slots: by the reader's
// name, cut to the 64 bytes of CK_SLOT_INFO.slotDescription.
func (s Slot) OnReader(reader string) bool {
	if len(reader) > 64 {
		reader = reader[:64]
	}
	reader = strings.TrimRight(reader, " \x00")
	return reader != "" && s.Description == reader
}
