package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/session"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
)

const resealHelp = `reseal changes the custodians or the threshold of a sealed secret. It needs an
unseal (K taps of the current roster), then writes a new file with a fresh
key and fresh shares for the new roster. The new header names the old one
(previous), and the old shares do not open the new file.

The name, scope, use cases and key id are kept unless given again. The new
file replaces the old one (atomically, only once it is complete) unless --out
names another file. Paper shares of the new roster are handed over as in
seal.

EXAMPLES
   # replace carol's YubiKey by dave's, keep 2 of 3
   breakglass reseal prod-aws.glass --ticket CHG-812 --threshold 2 \
     --to alice.card.json,bob.card.json,dave.card.json

   # after rotating the AWS key: same roster, new key id (PKCS#11 tokens tap
   # through their URI)
   breakglass reseal prod-db.glass --key-id AKIANEWKEY --threshold 2 --to … \
     --pkcs11 'pkcs11:token=ops-hsm?module-path=/usr/lib/softhsm/libsofthsm2.so'

   # virtual cards
   BREAKGLASS_PIN=123456 breakglass reseal demo.glass --allow-virtual --threshold 3 \
     --to a.card.json,b.card.json,c.card.json --out demo-3of3.glass`

func resealCommand() *cli.Command {
	return &cli.Command{
		Name:        "reseal",
		Usage:       "change the custodians or threshold of a sealed secret (needs k taps)",
		ArgsUsage:   "NAME.glass",
		Description: resealHelp,
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "threshold", Aliases: []string{"k"}, Usage: "custodians needed to unseal (with --to)"},
			&cli.GenericFlag{Name: "to", Value: &listFlag{}, Usage: "new roster: enrollment records `a.card.json,…` (repeatable)"},
			&cli.GenericFlag{Name: "group", Value: &listFlag{}, Usage: "a group `NAME:K:a.card.json,…` (repeatable)"},
			&cli.IntFlag{Name: "group-threshold", Usage: "groups needed (with --group; default all)"},
			&cli.GenericFlag{Name: "use-case", Value: &listFlag{}, Usage: "replace the permitted use cases (repeatable)"},
			&cli.StringFlag{Name: "scope", Usage: "replace the scope"},
			&cli.StringFlag{Name: "key-id", Usage: "replace the key id"},
			&cli.StringFlag{Name: "out", Usage: "write the new file to `FILE` instead of replacing the old one"},
			&cli.StringFlag{Name: "paper-out", Usage: "write paper custodians' mnemonics into `DIR` (a 0600 .paper.txt and its QR code .paper.png each) instead of the terminal"},
			&cli.BoolFlag{Name: "allow-virtual", Usage: "accept virtual cards (test CA); for tests and rehearsals only"},
			&cli.StringFlag{Name: "roots", Usage: "extra attestation roots, PEM `FILE`"},
			&cli.StringFlag{Name: "reason", Value: "reseal", Usage: "recorded in every approval"},
			&cli.StringFlag{Name: "ticket", Usage: "change ticket `ID`"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON on stdout"},
		}, append(tapFlags(), sealerFlags()...)...),
		Action: runReseal,
	}
}

func runReseal(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("want exactly one sealed secret: breakglass reseal NAME.glass --to … --threshold K")
	}
	path := c.Args().First()
	f, file, err := readGlass(path)
	if err != nil {
		return err
	}
	defer file.Close()
	old := f.Header
	p := seal.Params{Name: old.Name, Scope: old.Scope, UseCases: old.UseCases, KeyID: old.KeyID,
		BinaryPayload: f.BinaryPayload()}
	if c.IsSet("scope") {
		p.Scope = c.String("scope")
	}
	if c.IsSet("key-id") {
		p.KeyID = c.String("key-id")
	}
	if c.IsSet("use-case") {
		p.UseCases = listValues(c, "use-case", false)
	}
	// With a logbook: who reseals is enrolled, and the old header is the
	// logged one (a secret sealed before the logbook existed is adopted
	// by its reseal entry, with a warning). All before the first tap.
	cd, actor, err := sealer(c, &p)
	if err != nil {
		return err
	}
	l, err := cd.Log()
	if err != nil {
		return logError(err)
	}
	if err := checkLoggedHeader(l, f, path, true); err != nil {
		return err
	}
	out, replace := c.String("out"), false
	if out == "" || out == path {
		out, replace = path, true
	} else if err := checkNewFile(out); err != nil {
		return err
	}
	if err := checkPaperOut(p, c.String("paper-out")); err != nil {
		return err
	}
	cm := newCeremony(c, f, approval.Request{Action: "reseal", Reason: c.String("reason"), Ticket: c.String("ticket")})
	if err := cm.run(context.Background()); err != nil {
		return err
	}
	h := f.HeaderHash()
	extra := map[string]string{"tapped": session.Tapped(cm.approvals), "ticket": c.String("ticket")}
	sealed, err := sealWith(out, replace, p, sealRecorded(c, cd, actor, logbook.KindReseal, c.String("reason"), extra,
		func(w io.Writer) (*seal.Sealed, error) {
			s, err := seal.Reseal(w, cm.u, p, nil)
			return s, openErr(err)
		}))
	if err != nil {
		return err
	}
	if err := reportSealed(c, out, sealed, c.String("paper-out")); err != nil {
		return err
	}
	if !c.Bool("json") {
		infof("resealed: the previous file (header hash %s) can no longer be opened with the new shares, nor the new file with the old", hex.EncodeToString(h[:8]))
	}
	return nil
}

// checkPaperOut makes sure paper shares can be handed over before anything
// is sealed.
func checkPaperOut(p seal.Params, dir string) error {
	paper := 0
	for _, cu := range p.Custodians {
		if cu.Paper() {
			paper++
		}
	}
	for _, g := range p.Groups {
		for _, cu := range g.Custodians {
			if cu.Paper() {
				paper++
			}
		}
	}
	if paper == 0 {
		return nil
	}
	if dir != "" {
		if err := checkNewFile(dir + "/.breakglass-paper-check"); err != nil {
			return withHints(fmt.Errorf("--paper-out %s is not a writable directory", dir), "create it first (a removable drive)")
		}
		return nil
	}
	tty, err := promptTTYCheck()
	if err != nil {
		return err
	}
	tty.Close()
	return nil
}
