package seal

import (
	"errors"
	"slices"
	"testing"
)

func TestCheckUseCase(t *testing.T) {
	sealed := []string{"SSO is down", "MFA lost"}
	for _, c := range []struct {
		name     string
		useCases []string
		given    string
		wantErr  string // "" for none
	}{
		{"no use cases, none given", nil, "", ""},
		{"no use cases, any given", nil, "curiosity", ""},
		{"a permitted one", sealed, "MFA lost", ""},
		{"the first", sealed, "SSO is down", ""},
		{"not sealed", sealed, "curiosity", `use case "curiosity" is not one sealed in demo`},
		{"only exactly", sealed, "sso is down", `use case "sso is down" is not one sealed in demo`},
		{"no prefix", sealed, "SSO", `use case "SSO" is not one sealed in demo`},
		{"none given", sealed, "", "a use case is required: demo permits only SSO is down; MFA lost"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := &Header{Name: "demo", UseCases: slices.Clone(c.useCases)}
			err := h.CheckUseCase(c.given)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckUseCase(%q) = %v, want nil", c.given, err)
				}
				return
			}
			var ue *UseCaseError
			if !errors.As(err, &ue) {
				t.Fatalf("CheckUseCase(%q) = %v, want a *UseCaseError", c.given, err)
			}
			if err.Error() != c.wantErr {
				t.Errorf("error %q, want %q", err, c.wantErr)
			}
			if ue.Secret != "demo" || ue.Given != c.given || !slices.Equal(ue.UseCases, c.useCases) {
				t.Errorf("error %+v does not name the secret, the given use case and the permitted ones", ue)
			}
			// The error holds its own copy of the list.
			ue.UseCases[0] = "changed"
			if h.UseCases[0] != c.useCases[0] {
				t.Error("changing the error's use cases changed the header's")
			}
		})
	}
}
