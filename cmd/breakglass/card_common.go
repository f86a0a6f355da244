package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/internal/term"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
)

// Flags shared by the card commands.
var (
	readerFlag = &cli.StringFlag{Name: "reader", EnvVars: []string{"BREAKGLASS_READER"},
		Usage: "use only the PC/SC reader `NAME` (BREAKGLASS_READER works too)"}
	serialFlag = &cli.UintFlag{Name: "serial", Usage: "use the PIV card with serial number `N`"}
	moduleFlag = &cli.StringFlag{Name: "module", Usage: "PKCS#11 module `PATH` (overrides module-path in the URI)"}
)

// pivSelector builds the card selector from --serial and --reader.
func pivSelector(c *cli.Context) piv.Selector {
	return piv.Selector{Serial: uint32(c.Uint("serial")), Reader: c.String("reader")}
}

// chooseCard resolves a selector that matches several cards: asks on the
// terminal, or fails with a hint when there is none.
func chooseCard(sel piv.Selector) (piv.Selector, error) {
	found, err := piv.Find(sel)
	if err != nil {
		return sel, explainToken(err)
	}
	if len(found) == 1 {
		sel.Serial, sel.Reader = found[0].Serial, found[0].Reader
		return sel, nil
	}
	var opts []string
	for _, f := range found {
		opts = append(opts, fmt.Sprintf("card %d in %s", f.Serial, f.Reader))
	}
	if !term.Available() {
		return sel, withHints(&piv.ChoiceError{Cards: found}, "choose one with --serial N or --reader NAME")
	}
	i, err := term.Choose("several PIV cards are connected; which one?", opts)
	if err != nil {
		return sel, err
	}
	sel.Serial, sel.Reader = found[i].Serial, found[i].Reader
	return sel, nil
}

// secretSource reads a secret other than the PIN: from a file flag, an
// environment variable (tests and drills on virtual cards), or the
// terminal (asked twice when fresh is set, see newSecretSource).
func secretSource(c *cli.Context, fileFlag, env, what string, fresh bool) ([]byte, error) {
	return secretSourceContext(context.Background(), c, fileFlag, env, what, fresh)
}

// secretSourceContext is secretSource whose prompt for an existing secret
// also stops when ctx ends (Ctrl-C, the unseal window).
func secretSourceContext(ctx context.Context, c *cli.Context, fileFlag, env, what string, fresh bool) ([]byte, error) {
	if fresh && os.Getenv(env) == "" && c.String(fileFlag) == "" {
		return newSecretSource(c, fileFlag, env, what, nil)
	}
	if v := os.Getenv(env); v != "" {
		rememberTokenSecret([]byte(v)) // kept out of --exec children (execEnviron)
		return []byte(v), nil
	}
	if f := c.String(fileFlag); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("--%s: %v", fileFlag, unwrapPathError(err))
		}
		p := bytes.Clone(bytes.TrimRight(b, "\r\n"))
		secret.Wipe(b)
		rememberTokenSecret(p) // kept out of --exec children (execEnviron)
		return p, nil
	}
	b, err := term.ReadSecretContext(ctx, what+": ")
	return b, ttySecretErr(err, fileFlag, env, what)
}

// ttySecretErr explains a failed prompt for a secret.
func ttySecretErr(err error, fileFlag, env, what string) error {
	if errors.Is(err, term.ErrNoTerminal) {
		return withHints(fmt.Errorf("no terminal to ask for the %s on", what),
			fmt.Sprintf("use --%s FILE, or set %s (tests and drills on virtual cards only)", fileFlag, env))
	}
	return err
}

// newSecretTries bounds how often a new PIN or PUK is asked for.
const newSecretTries = 3

// newSecretSource reads a new secret (a PIN or PUK to set) as secretSource
// does, refused by check (nil accepts anything) wherever it comes from. On
// the terminal a refused secret is refused as soon as it is typed, with the
// rule, and a confirmation that differs asks for the pair again: up to 3
// times, without starting the command over.
func newSecretSource(c *cli.Context, fileFlag, env, what string, check func([]byte) error) ([]byte, error) {
	if os.Getenv(env) != "" || c.String(fileFlag) != "" {
		b, err := secretSource(c, fileFlag, env, what, false)
		if err != nil || check == nil {
			return b, err
		}
		if err := check(b); err != nil {
			secret.Wipe(b)
			from := env
			if os.Getenv(env) == "" {
				from = "--" + fileFlag
			}
			return nil, fmt.Errorf("%s: %w", from, err)
		}
		return b, nil
	}
	var last error
	for try := 1; try <= newSecretTries; try++ {
		if last != nil {
			infof("%v; type the new %s again (try %d of %d)", last, what, try, newSecretTries)
		}
		a, err := term.ReadSecret("new " + what + ": ")
		if err != nil {
			return nil, ttySecretErr(err, fileFlag, env, what)
		}
		if check != nil {
			if last = check(a); last != nil {
				secret.Wipe(a)
				continue
			}
		}
		b, err := term.ReadSecret("new " + what + " again: ")
		if err != nil {
			secret.Wipe(a)
			return nil, ttySecretErr(err, fileFlag, env, what)
		}
		same := bytes.Equal(a, b)
		secret.Wipe(b)
		if same {
			return a, nil
		}
		secret.Wipe(a)
		last = fmt.Errorf("the two %ss differ", what)
	}
	return nil, withHints(fmt.Errorf("%v, %d times; nothing was changed on the card", last, newSecretTries),
		"run the command again when you have settled on the new "+what)
}

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

// readRecord reads and parses a record file, naming the file in errors.
func readRecord(path string) (*token.Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, withHints(fmt.Errorf("cannot read enrollment record: %v", unwrapPathError(err)),
			"custodians make their record with breakglass card enroll; pass NAME.card.json")
	}
	r, err := token.ParseRecord(b)
	if err != nil {
		return nil, explainToken(fmt.Errorf("%s: %w", path, err))
	}
	return r, nil
}

// recordFileName is the default --out for a custodian.
func recordFileName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(name)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "custodian.card.json"
	}
	return b.String() + ".card.json"
}
