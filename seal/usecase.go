package seal

import (
	"fmt"
	"slices"
	"strings"
)

// A UseCaseError is a use case the sealed secret does not permit: Given is
// not one of the header's UseCases, or none was given ("") while the
// header names use cases, so one must be chosen.
type UseCaseError struct {
	Secret string // the secret's name
	Given  string // "" when none was given
	// UseCases are the permitted ones, in the header's order.
	UseCases []string
}

func (e *UseCaseError) Error() string {
	if e.Given == "" {
		return fmt.Sprintf("a use case is required: %s permits only %s", e.Secret, strings.Join(e.UseCases, "; "))
	}
	return fmt.Sprintf("use case %q is not one sealed in %s", e.Given, e.Secret)
}

// CheckUseCase applies the header's use cases to the one invoked, uc: a
// header without use cases permits any (and none); otherwise uc must be one
// of them, exactly. Else it returns a *[UseCaseError] listing the permitted
// ones.
func (h *Header) CheckUseCase(uc string) error {
	if len(h.UseCases) == 0 || slices.Contains(h.UseCases, uc) {
		return nil
	}
	return &UseCaseError{Secret: h.Name, Given: uc, UseCases: slices.Clone(h.UseCases)}
}
