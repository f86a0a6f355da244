package drills

import (
	"errors"
	"slices"
	"time"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/ceremony"
	"github.com/breakglass/breakglass/token"
)

// ResultsOf turns a drill run's ceremony results (one per custodian, in
// roster order) into its entry's: proved, failed with the problem, or
// absent. A custodian named in absent, who said they would not come, is
// absent even if a try of theirs failed. enrolled gives, by custodian
// name, when their token was enrolled (the age of its key); a paper
// share has none, and no PIN tries.
func ResultsOf(rs []ceremony.Result, absent []string, enrolled map[string]time.Time) []CustodianResult {
	out := make([]CustodianResult, 0, len(rs))
	for _, r := range rs {
		cr := CustodianResult{Place: r.Index + 1, Name: r.Custodian, PINTries: r.PINRetries}
		switch {
		case r.Paper:
			cr.Token = "paper"
		case r.Via == ceremony.ViaRemote && r.Tapped:
			cr.Token = "remote"
		case r.Token.Kind != "":
			cr.Token = r.Token.Name()
			cr.Firmware = r.Token.Firmware
		}
		if !r.Paper {
			if t, ok := enrolled[r.Custodian]; ok && r.Token.Kind != "" {
				cr.Enrolled = t.UTC().Truncate(24 * time.Hour)
			}
		}
		switch {
		case r.Tapped:
			cr.Result = Proved
		case r.Err != nil && !slices.Contains(absent, r.Custodian):
			cr.Result, cr.Problem = Failed, ProblemOf(r.Err)
			cr.Error = logbook.OneLine(r.Err.Error())
		default:
			cr.Result = Absent
		}
		if r.Paper {
			cr.PINTries = -1
		}
		out = append(out, cr)
	}
	return out
}

// ProblemOf classifies why a custodian's tap failed (one of the Problem
// values).
func ProblemOf(err error) string {
	var (
		pe *token.PINError
		re *ceremony.ReplacedError
		me *ceremony.MnemonicError
	)
	switch {
	case errors.As(err, &re):
		return ProblemCardReplaced
	case errors.As(err, &me):
		return ProblemMnemonic
	case errors.As(err, &pe) && pe.Tried && pe.Retries > 1:
		return ProblemWrongPIN
	case errors.As(err, &pe):
		return ProblemLocked
	case errors.Is(err, token.ErrNotPresent):
		return ProblemCardRemoved
	case errors.Is(err, seal.ErrBadShare):
		return ProblemShare
	}
	return ProblemToken
}
