package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/ceremony"
)

const recoverHelp = `recover is the emergency path for when most of the tooling is gone. It
takes K SLIP-0039 mnemonics and prints the sealed secret's age identity,
AGE-SECRET-KEY-1…, with which stock age decrypts the payload:

   sed -n '/^-----END BREAKGLASS SEALED SECRET-----$/,$p' NAME.glass | tail -n +2 > payload.age
   age -d -i key.txt payload.age

Mnemonics come from paper custodians (typed on the terminal, hidden, or
--mnemonic-file) or from token shares decrypted with stock age and the
breakglass plugin (--share FILE: the text age -d printed). No .glass file and
no card is needed. docs/recovery.md spells out the same path with no
breakglass at all.

The identity is printed only to a file (--out, mode 0600) or to standard
output when it is not a terminal (or with --force-tty).

EXAMPLES
   # two paper shares typed in, the identity into a file
   breakglass recover --out key.txt

   # shares opened from YubiKeys (PIV) or PKCS#11 tokens with age and the plugin
   breakglass share export prod-aws.glass --custodian alice > alice.age
   age -d -i alice.identity alice.age > alice.share
   breakglass recover --share alice.share --share bob.share --out key.txt

   # virtual cards in a rehearsal: mnemonics from files
   breakglass recover --mnemonic-file a.txt --mnemonic-file b.txt > key.txt`

func recoverCommand() *cli.Command {
	return &cli.Command{
		Name:        "recover",
		Usage:       "combine k mnemonics into the age identity (emergency path)",
		ArgsUsage:   " ",
		Description: recoverHelp,
		Flags: []cli.Flag{
			&cli.GenericFlag{Name: "mnemonic-file", Value: &listFlag{}, Usage: "a SLIP-0039 mnemonic from `FILE` (repeatable)"},
			&cli.GenericFlag{Name: "share", Value: &listFlag{}, Usage: "a decrypted token share (age -d output) from `FILE` (repeatable)"},
			&cli.StringFlag{Name: "out", Usage: "write the identity to a new `FILE` (mode 0600)"},
			&cli.BoolFlag{Name: "force-tty", Usage: "print the identity even when standard output is a terminal"},
		},
		Action: runRecover,
	}
}

func runRecover(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c)
	}
	out := c.String("out")
	if out == "" && isTerminal(os.Stdout) && !c.Bool("force-tty") {
		return withHints(errors.New("standard output is a terminal; breakglass does not print secrets on the screen"),
			"use --out key.txt, or redirect (… > key.txt); --force-tty if you really must")
	}
	if out != "" {
		if err := checkNewFile(out); err != nil {
			return err
		}
	}
	if err := holdSecrets(); err != nil {
		return err
	}
	var ms []string
	for _, path := range listValues(c, "mnemonic-file", false) {
		b, err := os.ReadFile(path)
		if err != nil {
			return withHints(fmt.Errorf("--mnemonic-file: %v", atomicfile.UnwrapPath(err)), "check the path")
		}
		ms = append(ms, ceremony.MnemonicFromText(b))
		secret.Wipe(b)
	}
	for _, path := range listValues(c, "share", false) {
		b, err := os.ReadFile(path)
		if err != nil {
			return withHints(fmt.Errorf("--share: %v", atomicfile.UnwrapPath(err)), "check the path")
		}
		m, _, err := seal.ShareMnemonic(b)
		secret.Wipe(b)
		if err != nil {
			return withHints(fmt.Errorf("--share %s: %w", path, err),
				"give the text that age -d printed for a share block (it starts with \"breakglass share v1\")")
		}
		ms = append(ms, string(m))
		secret.Wipe(m)
	}
	for {
		st, err := seal.CheckMnemonics(ms)
		if err != nil && len(ms) > 0 {
			return withHints(err, "check the words against the paper; all shares must come from the same sealed secret")
		}
		if st.Complete {
			break
		}
		if len(ms) > 0 {
			infof("%d mnemonic(s) in; still needed: %s", len(ms), recoverNeeded(st))
		}
		b, err := promptTTY("SLIP-0039 mnemonic (hidden): ")
		if err != nil {
			return withHints(fmt.Errorf("not enough shares: %v", err), "give more --mnemonic-file or --share files")
		}
		if len(b) > 0 {
			ms = append(ms, string(b))
		}
		secret.Wipe(b)
	}
	scalar, err := seal.Recover(ms)
	if err != nil {
		return withHints(err, "check the words against the paper")
	}
	defer secret.Wipe(scalar)
	id, err := seal.IdentityString(scalar)
	if err != nil {
		return err
	}
	line := []byte(id + "\n")
	defer secret.Wipe(line)
	if out != "" {
		if err := writeNewFile(out, 0o600, false, func(w io.Writer) error { _, err := w.Write(line); return err }); err != nil {
			return err
		}
		infof("wrote the age identity to %s (mode 0600): age -d -i %s PAYLOAD.age", out, out)
		return nil
	}
	_, err = os.Stdout.Write(line)
	return err
}

func recoverNeeded(st seal.RecoverStatus) string {
	var parts []string
	var gs []int
	for g := range st.MembersNeeded {
		gs = append(gs, g)
	}
	sort.Ints(gs)
	for _, g := range gs {
		parts = append(parts, fmt.Sprintf("%d more of group %d", st.MembersNeeded[g], g))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%d more group(s)", st.GroupsNeeded)
	}
	return strings.Join(parts, ", ")
}
