package main

// PINs, PUKs and other token secrets: from BREAKGLASS_PIN (tests and
// drills on virtual cards), a file flag, or a hidden prompt; new ones asked
// twice; and the confirmation before a PKCS#11 token that cannot say how
// many tries it has left is sent a PIN.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/internal/term"
	"github.com/breakglass/breakglass/token"
)

// pinSource returns how a command gets a token's PIN: the BREAKGLASS_PIN
// environment variable (tests, drills on virtual cards), --pin-file, or a
// hidden prompt on the terminal, as the card commands do. label names the
// token in the prompt.
func pinSource(c *cli.Context, label string) token.PINFunc {
	return pinSourceContext(context.Background(), c, label)
}

// pinSourceContext is pinSource whose prompt also stops (term.ErrInterrupted)
// when ctx ends.
func pinSourceContext(ctx context.Context, c *cli.Context, label string) token.PINFunc {
	return func() ([]byte, error) {
		return secretSourceContext(ctx, c, "pin-file", "BREAKGLASS_PIN", "PIN for "+label, false)
	}
}

var pinFileFlag = &cli.StringFlag{Name: "pin-file", Usage: "read token PINs from `FILE` (automation; BREAKGLASS_PIN works too)"}

// pinTriesUnknownFlag goes with pinFileFlag: see confirmUnknownTries.
var pinTriesUnknownFlag = &cli.BoolFlag{Name: "pin-tries-unknown-ok",
	Usage: "after a wrong PIN, send the PIN to a PKCS#11 token that cannot say how many tries are left without asking on the terminal (automation; one more wrong PIN may block it)"}

// confirmUnknownTries decides whether to send a PIN to a PKCS#11 token
// that cannot say how many tries it has left after a wrong PIN (see
// pkcs11.Options.ConfirmUnknownTries): with --pin-tries-unknown-ok, yes;
// else only if the person at the terminal types yes. Without a terminal or
// the flag the PIN is not sent, and the error says what to do.
func confirmUnknownTries(c *cli.Context) func(token.Info) bool {
	return func(info token.Info) bool {
		if c.Bool(pinTriesUnknownFlag.Name) {
			infof("token %s cannot say how many PIN tries are left after a wrong PIN; trying anyway (--pin-tries-unknown-ok)", info.Name())
			return true
		}
		ok, err := term.Confirm(fmt.Sprintf("token %s: a wrong PIN was entered since its last successful login, and the token\n"+
			"does not say how many tries are left: one more wrong PIN may block it.\n"+
			"Type yes to send the PIN anyway: ", info.Name()), "yes")
		return err == nil && ok
	}
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
			return nil, fmt.Errorf("--%s: %v", fileFlag, atomicfile.UnwrapPath(err))
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
