package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/pkcs11"
)

const cardListHelp = `Lists every connected token: for PIV cards the reader, serial, firmware,
PIN and PUK tries left, which retired slots hold keys (and which of them are
breakglass keys), and whether the card still has its factory PIN, PUK or
management key; for PKCS#11 tokens the label, serial, model, firmware,
module, what the token's flags say of its PIN (ok, count low, final try,
locked, to be changed: PKCS#11 has no count) and the breakglass public keys
it shows with their fingerprints. Nothing here costs a PIN try: no token is
logged in to.

PKCS#11 modules are found the way p11-kit finds them, so a token that works
in a browser is listed without --module:
   1. every --module PATH (the flag may be repeated);
   2. BREAKGLASS_PKCS11_MODULE, paths separated by colons;
   3. the p11-kit registry: the *.module files in /usr/share/p11-kit/modules
      (packages), /etc/pkcs11/modules (administrator) and
      ~/.config/pkcs11/modules (user), a later file of the same name
      overriding an earlier one; their module: key, when relative, is looked
      up in the p11-kit module directory (on Debian
      /usr/lib/x86_64-linux-gnu/pkcs11). Registrations with
      "disable-in: breakglass", an enable-in list without breakglass, or
      "trust-policy: yes" (certificate stores, no keys) are skipped.
      BREAKGLASS_P11KIT_DIRS replaces the registry directories
      (colon-separated; empty for none).
A module that cannot be loaded is reported as a warning and the listing goes
on.

Modules such as OpenSC's opensc-pkcs11.so and Yubico's libykcs11.so show a
PIV card a second time, as a PKCS#11 token in the card's reader. Such a token
is not listed on its own: it appears under its PIV card as "also PKCS#11
token …", so each physical card is listed once (in --json it is in "pkcs11"
with "same-card-as-piv" set to the card's serial). With --reader, PKCS#11
tokens in other PC/SC readers are left out; tokens that are not in a reader
(SoftHSM2, an HSM) are still listed.

EXAMPLES
   breakglass card list
   breakglass card list --json
   breakglass card list --module /usr/lib/softhsm/libsofthsm2.so
   BREAKGLASS_PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so breakglass card list
   BREAKGLASS_P11KIT_DIRS= breakglass card list      # PIV cards and --module only
   breakglass card list --reader "Virtual PCD 00 00"     # one virtual card

In a case whose logbook decides who signs (it has a genesis; the case is
--case DIR, $BREAKGLASS_CASE or the current directory), it also lists the
case's enrollment records that the logbook has not admitted (or retired):
copies that nothing trusts until breakglass card admit.`

func cardListCommand() *cli.Command {
	return &cli.Command{
		Name:        "list",
		Usage:       "list connected tokens and their state",
		Description: cardListHelp,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON for scripts"},
			readerFlag,
			&cli.StringSliceFlag{Name: "module", Usage: "also list the tokens of PKCS#11 module `PATH` (repeatable)"},
		}, caseFlags()...),
		Action: runCardList,
	}
}

type pkcs11Listing struct {
	Module       string `json:"module"`
	Label        string `json:"label"`
	Serial       string `json:"serial"`
	Model        string `json:"model"`
	Manufacturer string `json:"manufacturer"`
	// Slot is the slot description: the reader name for modules that
	// front smart cards.
	Slot string `json:"slot"`
	// Source says where the module was found: --module,
	// BREAKGLASS_PKCS11_MODULE or a p11-kit .module file.
	Source string `json:"source"`
	// SameCardAsPIV is the serial of the PIV card this token is a view
	// of, 0 when it is a token of its own.
	SameCardAsPIV uint32 `json:"same-card-as-piv,omitempty"`
	Firmware      string `json:"firmware"`
	// PIN is what the token's flags say of the user PIN (PKCS#11 has no
	// count of tries left): ok, count low, final try, locked, to be
	// changed, not initialised.
	PIN string `json:"pin"`
	// Keys are the breakglass public keys the token shows without a login.
	Keys []pkcs11.PublicKey `json:"breakglass-keys"`
}

func runCardList(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c)
	}
	reader := c.String("reader")
	// PIV cards first, each opened and closed in turn: a PKCS#11 module
	// that fronts smart cards keeps its own connection to them until it is
	// finalised, and piv-go connects exclusively.
	cards, err := piv.List(piv.Selector{Reader: reader})
	if err != nil {
		return explainToken(err)
	}
	toks, warnings := listPKCS11(c.StringSlice("module"), reader, cards)
	if c.Bool("json") {
		out := struct {
			PIV         []piv.Status    `json:"piv"`
			PKCS11      []pkcs11Listing `json:"pkcs11"`
			Warnings    []string        `json:"warnings"`
			NotAdmitted []string        `json:"not-admitted,omitempty"`
		}{cards, toks, warnings, caseNotAdmitted(c)}
		if out.PIV == nil {
			out.PIV = []piv.Status{}
		}
		if out.PKCS11 == nil {
			out.PKCS11 = []pkcs11Listing{}
		}
		if out.Warnings == nil {
			out.Warnings = []string{}
		}
		for _, w := range warnings {
			infof("warning: %s", w)
		}
		return printJSON(out)
	}
	for _, w := range warnings {
		infof("warning: %s", w)
	}
	defer func() {
		for _, n := range caseNotAdmitted(c) {
			fmt.Printf("not admitted by the logbook of the case: %s\n", n)
		}
	}()
	if len(cards) == 0 && len(toks) == 0 {
		infof("no token found")
		return nil
	}
	for _, s := range cards {
		fmt.Printf("piv %d  firmware %s  reader %q\n", s.Serial, s.Firmware, s.Reader)
		fmt.Printf("  PIN tries left %d, PUK tries left %d\n", s.PINRetries, s.PUKRetries)
		var defs []string
		if s.Defaults.PIN {
			defs = append(defs, "PIN")
		}
		if s.Defaults.PUK {
			defs = append(defs, "PUK")
		}
		if s.Defaults.ManagementKey {
			defs = append(defs, "management key")
		}
		if len(defs) > 0 {
			fmt.Printf("  factory default: %s (breakglass card enroll replaces them)\n", strings.Join(defs, ", "))
		} else if s.MgmtKeyProtected {
			fmt.Printf("  no factory default credential; management key PIN-protected\n")
		} else {
			fmt.Printf("  no factory default credential\n")
		}
		for _, sl := range s.Slots {
			bg := ""
			if sl.Breakglass != "" {
				bg = "  breakglass " + sl.Breakglass
			}
			fmt.Printf("  slot %s: P-256, PIN %s, touch %s%s\n", sl.Slot, sl.PINPolicy, sl.TouchPolicy, bg)
		}
		for _, t := range toks {
			if t.SameCardAsPIV == s.Serial {
				fmt.Printf("  also PKCS#11 token %q (%s) through module %s: the same card\n", t.Label, t.Model, t.Module)
			}
		}
	}
	for _, t := range toks {
		if t.SameCardAsPIV != 0 {
			continue
		}
		fmt.Printf("pkcs11 %q serial %s (%s) firmware %s module %s\n", t.Label, t.Serial, t.Model, t.Firmware, t.Module)
		fmt.Printf("  PIN %s\n", t.PIN)
		for _, k := range t.Keys {
			fmt.Printf("  %s: id %s, key %s\n", k.Label, k.ID, k.Fingerprint)
		}
	}
	return nil
}

// listPKCS11 lists the tokens of every module discovery finds, without
// logging in. A token in the reader of a listed PIV card is marked as that
// card; with reader set, tokens in other PC/SC readers are left out. Modules
// that fail to load and bad p11-kit registrations come back as warnings.
func listPKCS11(explicit []string, reader string, cards []piv.Status) ([]pkcs11Listing, []string) {
	mods, errs := pkcs11.DefaultDiscovery(explicit).Modules()
	var warnings []string
	for _, err := range errs {
		warnings = append(warnings, err.Error())
	}
	if len(mods) == 0 {
		return nil, warnings
	}
	var otherReaders []string
	if reader != "" {
		all, _ := piv.Readers(piv.Selector{})
		for _, r := range all {
			if r != reader {
				otherReaders = append(otherReaders, r)
			}
		}
	}
	var toks []pkcs11Listing
	for _, m := range mods {
		slots, err := pkcs11.Tokens(m.Path)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("%v (module from %s); its tokens are not listed", err, m.Source))
			continue
		}
	slot:
		for _, s := range slots {
			for _, r := range otherReaders {
				if s.OnReader(r) {
					continue slot
				}
			}
			t := pkcs11Listing{Module: m.Path, Label: s.Info.Label, Serial: s.Info.SerialNumber, Model: s.Info.Model,
				Manufacturer: s.Info.ManufacturerID, Slot: s.Description, Source: m.Source,
				Firmware: s.Firmware, PIN: s.PIN, Keys: s.Keys}
			if t.Keys == nil {
				t.Keys = []pkcs11.PublicKey{}
			}
			for _, card := range cards {
				if s.OnReader(card.Reader) {
					t.SameCardAsPIV = card.Serial
				}
			}
			toks = append(toks, t)
		}
	}
	return toks, warnings
}

// caseNotAdmitted lists the records of the command's case that its logbook
// has not admitted, when the logbook decides who signs: "FILE (NAME, key
// F): never admitted". A case that cannot be read adds a warning instead.
func caseNotAdmitted(c *cli.Context) []string {
	cd, err := openCase(c)
	if err != nil || !cd.HasLog() {
		return nil
	}
	bad, err := cd.NotAdmitted()
	if err != nil {
		infof("warning: the case %s: %v", cd.Dir, err)
		return nil
	}
	a, _ := cd.Admission()
	recs, _ := cd.Records()
	var out []string
	for _, i := range bad {
		out = append(out, fmt.Sprintf("%s (%s, key %s): %s", cd.RecordPath(i), recs[i].Custodian.Name, recs[i].Fingerprint(), a.NotAdmittedReason(recs[i].Fingerprint())))
	}
	return out
}
