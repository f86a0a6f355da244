package piv

import (
	"errors"
	"strconv"

	"github.com/breakglass/breakglass/token"
	"github.com/go-piv/piv-go/v2/piv"
)

// Status describes a connected PIV card for `breakglass card list`.
type Status struct {
	Reader     string       `json:"reader"`
	Serial     uint32       `json:"serial"`
	Firmware   string       `json:"firmware"`
	PINRetries int          `json:"pin-retries"`
	PUKRetries int          `json:"puk-retries"`
	Defaults   Defaults     `json:"factory-defaults"`
	Slots      []SlotStatus `json:"slots,omitempty"`
	// MgmtKeyProtected is true when the management key is stored
	// PIN-protected on the card.
	MgmtKeyProtected bool `json:"management-key-pin-protected"`
}

// Defaults says which factory credentials a card still has.
type Defaults struct {
	PIN           bool `json:"pin"`
	PUK           bool `json:"puk"`
	ManagementKey bool `json:"management-key"`
}

// SlotStatus describes one retired slot that holds a key.
type SlotStatus struct {
	Slot        string `json:"slot"`
	PINPolicy   string `json:"pin-policy"`
	TouchPolicy string `json:"touch-policy"`
	// Breakglass is "key-agreement" or "signing" for slots labelled by
	// breakglass enrollment, "" otherwise.
	Breakglass string `json:"breakglass,omitempty"`
}

// List describes every card the selector matches. It costs no PIN try.
func List(sel Selector) ([]Status, error) {
	found, err := Find(sel)
	if errors.Is(err, token.ErrNotPresent) && sel.Serial == 0 && sel.Reader == "" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Status
	for _, f := range found {
		s, err := status(f)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func status(f Found) (Status, error) {
	name := "card " + strconv.FormatUint(uint64(f.Serial), 10)
	s := Status{Reader: f.Reader, Serial: f.Serial}
	yk, err := piv.Open(f.Reader)
	if err != nil {
		return s, translate(name, err)
	}
	s.Firmware = versionString(yk.Version())
	kx, sig, err := labelledSlots(yk)
	if err != nil {
		yk.Close()
		return s, err
	}
	for n := uint32(FirstRetiredSlot); n <= LastRetiredSlot; n++ {
		slot, _ := piv.RetiredKeyManagementSlot(n)
		ki, err := yk.KeyInfo(slot)
		if errors.Is(err, piv.ErrNotFound) {
			continue
		}
		if err != nil {
			yk.Close()
			return s, translate(name, err)
		}
		ss := SlotStatus{Slot: strconv.FormatUint(uint64(n), 16), PINPolicy: PINPolicyName(ki.PINPolicy), TouchPolicy: TouchPolicyName(ki.TouchPolicy)}
		switch n {
		case kx:
			ss.Breakglass = "key-agreement"
		case sig:
			ss.Breakglass = "signing"
		}
		s.Slots = append(s.Slots, ss)
	}
	yk.Close()
	c, err := ReadCredentials(f.Reader)
	if err != nil {
		return s, translate(name, err)
	}
	s.PINRetries, s.PUKRetries = c.PINRetries, c.PUKRetries
	s.Defaults = Defaults{PIN: c.PINDefault, PUK: c.PUKDefault, ManagementKey: c.MgmtKeyDefault}
	s.MgmtKeyProtected = c.MgmtKeyProtected
	return s, nil
}

// ChangePIN changes the PIN of the card sel matches, never on its last try.
func ChangePIN(sel Selector, oldPIN, newPIN []byte) error {
	return withCard(sel, func(yk *piv.YubiKey, name string) error {
		if err := checkSecret("PIN", newPIN, piv.DefaultPIN); err != nil {
			return err
		}
		r, err := yk.Retries()
		if err != nil && !isAlreadyVerified(err) {
			return translate(name, err)
		}
		if err == nil && !token.SafeToTry(r) {
			return &token.PINError{Token: name, Retries: r}
		}
		if err := yk.SetPIN(string(oldPIN), string(newPIN)); err != nil {
			return translate(name, err)
		}
		return nil
	})
}

// Unblock sets a new PIN with the PUK, never on the PUK's last try.
func Unblock(sel Selector, puk, newPIN []byte) error {
	if err := checkSecret("PIN", newPIN, piv.DefaultPIN); err != nil {
		return err
	}
	found, err := Find(sel)
	if err != nil {
		return err
	}
	if len(found) > 1 {
		return &ChoiceError{Cards: found}
	}
	f := found[0]
	name := "card " + strconv.FormatUint(uint64(f.Serial), 10)
	c, err := ReadCredentials(f.Reader)
	if err != nil {
		return translate(name, err)
	}
	if !token.SafeToTry(c.PUKRetries) {
		return &token.PINError{Token: name, Retries: c.PUKRetries, PUK: true}
	}
	yk, err := piv.Open(f.Reader)
	if err != nil {
		return translate(name, err)
	}
	defer yk.Close()
	if err := yk.Unblock(string(puk), string(newPIN)); err != nil {
		var auth piv.AuthErr
		if errors.As(err, &auth) {
			return &token.PINError{Token: name, Retries: auth.Retries, Tried: true, PUK: true}
		}
		return translate(name, err)
	}
	return nil
}

func isAlreadyVerified(err error) bool {
	return err != nil && err.Error() == "expected error code from empty pin"
}

// withCard opens the one card sel matches and runs f.
func withCard(sel Selector, f func(yk *piv.YubiKey, name string) error) error {
	yk, found, err := openOne(sel)
	if err != nil {
		return err
	}
	defer yk.Close()
	return f(yk, "card "+strconv.FormatUint(uint64(found.Serial), 10))
}
