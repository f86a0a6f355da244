package main

// Helpers shared by the seal, unseal, drill, reseal, recover and plugin
// commands: output files that never overwrite and never stay half-written,
// terminal checks, PIN and mnemonic input, enrollment records.

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"
	xterm "golang.org/x/term"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/internal/term"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/virtual"
)

// listFlag is a repeatable string flag that keeps each value as given:
// --group values contain commas, which cli.StringSliceFlag would split.
type listFlag []string

func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
func (l *listFlag) String() string     { return strings.Join(*l, " ") }

// listValues returns a repeatable flag's values; commaSplit also splits each
// value at commas (--to a,b --to c).
func listValues(c *cli.Context, name string, commaSplit bool) []string {
	l, _ := c.Generic(name).(*listFlag)
	if l == nil {
		return nil
	}
	var out []string
	for _, v := range *l {
		if !commaSplit {
			out = append(out, v)
			continue
		}
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool { return xterm.IsTerminal(int(f.Fd())) }

// checkNewFile fails when path exists or its directory cannot take a new
// file, before anything secret is produced or any card is tapped.
func checkNewFile(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return withHints(fmt.Errorf("%s already exists; breakglass never overwrites a file", path),
			"choose another --out path, or move the old file away first")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking %s: %v", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".breakglass-check-*")
	if err != nil {
		return withHints(fmt.Errorf("cannot write %s: %v", path, unwrapPathError(err)),
			"choose an --out path in a directory you can write")
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// writeNewFile writes path atomically (package atomicfile): a new file
// that never overwrites, or with replace an atomic replacement (reseal in
// place). On any error nothing is left behind.
func writeNewFile(path string, mode os.FileMode, replace bool, write func(io.Writer) error) error {
	err := atomicfile.Write(path, mode, replace, write)
	var ce *atomicfile.CreateError
	switch {
	case errors.As(err, &ce):
		return withHints(fmt.Errorf("cannot write %s: %v", path, ce.Err),
			"choose an --out path in a directory you can write")
	case errors.Is(err, atomicfile.ErrExists):
		return withHints(fmt.Errorf("%s appeared while breakglass was writing it; nothing was written", path),
			"choose another --out path")
	}
	return err
}

// readGlass opens and parses a .glass file. The digest is checked here, so
// a damaged file is refused before any card is asked for anything.
func readGlass(path string) (*seal.File, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, withHints(fmt.Errorf("cannot read the sealed secret: %v", err),
			"give the path of a NAME.glass file made by breakglass seal")
	}
	g, err := seal.Parse(f)
	if err != nil {
		f.Close()
		var fe *seal.FormatError
		switch {
		case errors.Is(err, seal.ErrDamaged):
			return nil, nil, withHints(fmt.Errorf("%s: %w", path, err),
				"no card was used; restore the file from git or a backup copy (git diff shows what changed)")
		case errors.As(err, &fe):
			return nil, nil, withHints(fmt.Errorf("%s: %w", path, err),
				"no card was used; is this the right file? restore it from git or a backup copy")
		}
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return g, f, nil
}

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

// promptTTY asks on the terminal, without echo.
func promptTTY(prompt string) ([]byte, error) {
	return promptTTYContext(context.Background(), prompt)
}

// promptTTYContext is promptTTY, interrupted also when ctx ends.
func promptTTYContext(ctx context.Context, prompt string) ([]byte, error) {
	b, err := term.ReadSecretContext(ctx, prompt)
	switch {
	case errors.Is(err, term.ErrNoTerminal):
		return nil, withHints(errors.New("no terminal to ask on"),
			"use --mnemonic-file (paper shares) or --pin-file / BREAKGLASS_PIN when running without a terminal")
	case errors.Is(err, term.ErrCancelled):
		return nil, token.ErrCancelled
	}
	return b, err
}

// loadRecord reads and verifies an enrollment record: its self-signature
// and, for a PIV card, its attestation against Yubico's roots or, with
// allowVirtual, the virtual card's test CA.
func loadRecord(path string, allowVirtual bool, roots *x509.CertPool) (*token.Record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, withHints(fmt.Errorf("cannot read enrollment record: %v", err),
			"custodians make their record with breakglass card enroll; pass NAME.card.json")
	}
	r, err := token.ParseRecord(b)
	if err == nil {
		err = r.Verify()
	}
	if err != nil {
		return nil, withHints(fmt.Errorf("%s: %w", path, err),
			"the record was edited or damaged: ask the custodian for a fresh copy, or re-enroll")
	}
	if err := checkAttestation(r, path, attestTrust{AllowVirtual: allowVirtual, Roots: roots}); err != nil {
		return nil, err
	}
	return r, nil
}

// attestTrust is what a command accepts as the maker of a PIV card:
// Yubico's PIV roots (and extra Roots, --roots), and with AllowVirtual the
// virtual card's test CA (--allow-virtual).
type attestTrust struct {
	AllowVirtual bool
	Roots        *x509.CertPool
}

// attestTrustFlags are --allow-virtual and --roots, read by attestTrustOf.
func attestTrustFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "allow-virtual", Usage: "accept virtual cards (test CA); for tests and rehearsals only"},
		&cli.StringFlag{Name: "roots", Usage: "extra attestation roots, PEM `FILE`"},
	}
}

func attestTrustOf(c *cli.Context) (attestTrust, error) {
	roots, err := loadRoots(c.String("roots"))
	return attestTrust{AllowVirtual: c.Bool("allow-virtual"), Roots: roots}, err
}

// checkAttestation checks a PIV record's attestation chain; other kinds of
// token carry none. path names the record in the message.
func checkAttestation(r *token.Record, path string, t attestTrust) error {
	if r.Token.Kind != token.KindPIV {
		return nil
	}
	_, err := piv.VerifyAttestation(r, t.Roots)
	if err != nil && t.AllowVirtual {
		var vroots *x509.CertPool
		if vroots, err = virtualRoots(); err == nil {
			_, err = piv.VerifyAttestation(r, vroots)
		}
	}
	if err != nil {
		hints := []string{"the card's attestation does not chain to Yubico's PIV root: it may not be a genuine YubiKey"}
		if !t.AllowVirtual {
			hints = append(hints, "for virtual cards (tests, rehearsals only) add --allow-virtual")
		}
		return withHints(fmt.Errorf("%s (%s): %w", path, r.Custodian.Name, err), hints...)
	}
	return nil
}

// virtualRoots loads the virtual card's test CA without creating one: from
// $BREAKGLASS_VIRTUAL_CA (a directory), else the default directory.
func virtualRoots() (*x509.CertPool, error) {
	dir := os.Getenv("BREAKGLASS_VIRTUAL_CA")
	if dir == "" {
		d, err := virtual.DefaultCADir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	b, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, fmt.Errorf("no virtual test CA: %v", unwrapPathError(err))
	}
	pool := x509.NewCertPool()
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("virtual test CA: %v", err)
		}
		pool.AddCert(c)
	}
	return pool, nil
}

// loadRoots reads extra PEM roots for attestation (--roots).
func loadRoots(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--roots: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("--roots: %s holds no PEM certificate", path)
	}
	return pool, nil
}

// plural returns "1 tap" or "2 taps".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// promptTTYCheck opens the terminal for paper-share hand-over, or explains
// why it cannot.
func promptTTYCheck() (*os.File, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return nil, withHints(errors.New("the roster has paper custodians but there is no terminal to show their shares on"),
			"use --paper-out DIR (a removable drive) to hand them over as 0600 files")
	}
	return tty, nil
}

// lookupFlag finds the flag called name (or one of its aliases) in fs.
func lookupFlag(fs []cli.Flag, name string) cli.Flag {
	for _, f := range fs {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// requireFlags reports flags that must be given, with breakglass's usage
// message (urfave/cli's Required gives its own).
func requireFlags(c *cli.Context, names ...string) error {
	var missing []string
	for _, n := range names {
		if !c.IsSet(n) || c.String(n) == "" {
			missing = append(missing, "--"+n)
		}
	}
	if len(missing) > 0 {
		return usageError("missing %s", strings.Join(missing, " and "))
	}
	return nil
}

// flagQuestions are the questions askFlags asks for flags a person at a
// terminal may answer instead of giving them.
var flagQuestions = map[string]string{
	"reason": "reason (why access is needed; recorded): ",
	"ticket": "incident or ticket ID (recorded): ",
}

// canAsk reports whether a missing --reason or --ticket can be asked for:
// as for --use-case, only when standard input is a terminal.
func canAsk() bool { return isTerminal(os.Stdin) && term.Available() }

// requireFlagsOrAsk is requireFlags for flags askFlags can ask for later:
// with a terminal to ask on, a missing one is no error yet.
func requireFlagsOrAsk(c *cli.Context, names ...string) error {
	if canAsk() {
		return nil
	}
	return requireFlags(c, names...)
}

// askFlags asks on the terminal for each of names not given on the command
// line, the way a missing --use-case is chosen there, and sets it. An empty
// answer asks again (3 times); without a terminal a missing flag is the
// usage error of requireFlags.
func askFlags(c *cli.Context, names ...string) error {
	for _, n := range names {
		if c.String(n) != "" {
			continue
		}
		if !canAsk() {
			return requireFlags(c, names...)
		}
		v := ""
		for try := 0; v == "" && try < 3; try++ {
			a, err := term.Ask(flagQuestions[n])
			if err != nil {
				return withHints(fmt.Errorf("no --%s given", n), "give --"+n+" on the command line")
			}
			v = a
		}
		if v == "" {
			return withHints(fmt.Errorf("no --%s given", n), "give --"+n+" on the command line")
		}
		if err := c.Set(n, v); err != nil {
			return err
		}
	}
	return nil
}
