package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/internal/qrtext"
	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal"
)

const sealHelp = `seal encrypts a secret so that K of the custodians listed must tap their
cards to unseal it. It needs only the custodians' enrollment records (public
keys): no card is touched while sealing.

The secret is read from standard input (which must not be a terminal: pipe it
in) or from --in. It is written, with the roster and its policy, to
NAME.glass (or --out), created only if it does not exist and never left
half-written.

Every record must verify: its self-signature, and for a PIV card the
attestation chain to Yubico's PIV root. Virtual cards (tests, rehearsals) are
accepted only with --allow-virtual.

A paper custodian (enrolled with card enroll --paper) receives a SLIP-0039
mnemonic. It is printed once, for hand-over: on the terminal as words and a
QR code, or with --paper-out DIR as NAME-CUSTODIAN.paper.txt and
NAME-CUSTODIAN.paper.png (the QR code of the words), both mode 0600. It is
never stored in the .glass.

Groups express policies like "2 of security and 1 of platform": give
--group NAME:K:a.card.json,b.card.json,… once per group and --group-threshold
for how many groups must be complete.

In a case with a logbook (--case DIR, default the current directory), --as
NAME is required: an enrolled person whose token signs the seal entry (the
secret, its header hash, the custodians, threshold, use cases and key id);
the header's sealed-by is their name. The entry is appended before the file
is put in place: if it cannot be written, no file is left. Without a
logbook, --sealed-by (or --as, or $USER) only names the sealer.

EXAMPLES
   # 2 of 3 YubiKeys (PIV)
   aws iam create-access-key … | jq -r .AccessKey.SecretAccessKey | \
     breakglass seal --name prod-aws --threshold 2 \
       --to alice.card.json,bob.card.json,carol.card.json \
       --scope aws:123456789012:role/breakglass \
       --use-case "SSO is down" --use-case "MFA device lost" --key-id AKIAEXAMPLE

   # PKCS#11 tokens and a paper share are enrolled the same way; the records
   # say which is which
   breakglass seal --name prod-db --threshold 2 --in db-root.txt \
     --to hsm-ops.card.json,dave.card.json,safe.card.json --paper-out /media/usb

   # virtual cards (rehearsals and tests only)
   echo hunter2 | breakglass seal --name demo --threshold 2 --allow-virtual \
     --to a.card.json,b.card.json,c.card.json

   # 2 of security and 1 of platform
   breakglass seal --name prod-aws --in key.txt --group-threshold 2 \
     --group security:2:alice.card.json,bob.card.json,carol.card.json \
     --group platform:1:dave.card.json,erin.card.json`

func sealCommand() *cli.Command {
	return &cli.Command{
		Name:        "seal",
		Usage:       "seal a secret to k of n custodians' cards",
		ArgsUsage:   " ",
		Description: sealHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "the secret's `NAME` (also the default file name)", Required: true},
			&cli.IntFlag{Name: "threshold", Aliases: []string{"k"}, Usage: "custodians needed to unseal (with --to)"},
			&cli.GenericFlag{Name: "to", Value: &listFlag{}, Usage: "enrollment records `a.card.json,b.card.json,…` (repeatable)"},
			&cli.GenericFlag{Name: "group", Value: &listFlag{}, Usage: "a group `NAME:K:a.card.json,…` (repeatable)"},
			&cli.IntFlag{Name: "group-threshold", Usage: "groups needed (with --group; default all)"},
			&cli.StringFlag{Name: "scope", Usage: "where the secret applies, e.g. `aws:123456789012:role/breakglass`"},
			&cli.GenericFlag{Name: "use-case", Value: &listFlag{}, Usage: "a permitted use `CASE` (repeatable)"},
			&cli.StringFlag{Name: "key-id", Usage: "non-secret `ID` of the secret, e.g. an AWS access key id"},
			&cli.StringFlag{Name: "in", Usage: "read the secret from `FILE` instead of standard input"},
			&cli.StringFlag{Name: "out", Usage: "write `FILE` (default NAME.glass)"},
			&cli.StringFlag{Name: "paper-out", Usage: "write paper custodians' mnemonics into `DIR` (a 0600 .paper.txt and its QR code .paper.png each) instead of the terminal"},
			&cli.BoolFlag{Name: "allow-virtual", Usage: "accept virtual cards (test CA); for tests and rehearsals only"},
			&cli.StringFlag{Name: "roots", Usage: "extra attestation roots, PEM `FILE`"},
			&cli.BoolFlag{Name: "binary", Usage: "write the payload as binary age (large secrets)"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON on stdout"},
		}, sealerFlags()...),
		Action: runSeal,
	}
}

// rosterFromFlags reads --to/--threshold or --group/--group-threshold into
// seal parameters, verifying every record.
func rosterFromFlags(c *cli.Context, p *seal.Params) error {
	to, groups := listValues(c, "to", true), listValues(c, "group", false)
	roots, err := loadRoots(c.String("roots"))
	if err != nil {
		return err
	}
	allow := c.Bool("allow-virtual")
	load := func(paths []string) ([]seal.Custodian, error) {
		var cs []seal.Custodian
		for _, path := range paths {
			r, err := loadRecord(path, allow, roots)
			if err != nil {
				return nil, err
			}
			if err := checkRecordAdmitted(c, r, path); err != nil {
				return nil, err
			}
			cu, err := seal.CustodianOf(r)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			cs = append(cs, cu)
		}
		return cs, nil
	}
	switch {
	case len(to) > 0 && len(groups) > 0:
		return usageError("give either --to (one group) or --group, not both")
	case len(to) > 0:
		if !c.IsSet("threshold") {
			return usageError("--threshold K is required with --to")
		}
		if p.Custodians, err = load(to); err != nil {
			return err
		}
		p.Threshold = c.Int("threshold")
		if p.Threshold < 1 || p.Threshold > len(p.Custodians) {
			return usageError("--threshold %d: must be between 1 and the %d custodians", p.Threshold, len(p.Custodians))
		}
	case len(groups) > 0:
		for _, g := range groups {
			name, n, paths, err := parseGroupSpec(g)
			if err != nil {
				return err
			}
			cs, err := load(paths)
			if err != nil {
				return err
			}
			if n < 1 || n > len(cs) {
				return usageError("--group %s: threshold %d must be between 1 and its %d custodians", name, n, len(cs))
			}
			p.Groups = append(p.Groups, seal.Group{Name: name, Threshold: n, Custodians: cs})
		}
		p.GroupThreshold = len(p.Groups)
		if c.IsSet("group-threshold") {
			p.GroupThreshold = c.Int("group-threshold")
		}
		if p.GroupThreshold < 1 || p.GroupThreshold > len(p.Groups) {
			return usageError("--group-threshold %d: must be between 1 and the %d groups", p.GroupThreshold, len(p.Groups))
		}
	default:
		return usageError("no custodians: give --to a.card.json,… with --threshold K, or --group")
	}
	return nil
}

// parseGroupSpec parses a --group value, NAME:K:a.card.json,b.card.json,….
// The name may not contain ':'; file names may not contain ','.
func parseGroupSpec(g string) (name string, k int, paths []string, err error) {
	name, rest, ok1 := strings.Cut(g, ":")
	ks, files, ok2 := strings.Cut(rest, ":")
	k, aerr := strconv.Atoi(ks)
	if !ok1 || !ok2 || aerr != nil || name == "" || strconv.Itoa(k) != ks {
		return "", 0, nil, usageError("--group %q: want NAME:K:a.card.json,b.card.json,…", g)
	}
	for _, f := range strings.Split(files, ",") {
		if f = strings.TrimSpace(f); f != "" {
			paths = append(paths, f)
		}
	}
	if len(paths) == 0 {
		return "", 0, nil, usageError("--group %q: no enrollment records", g)
	}
	return name, k, paths, nil
}

func currentUser() string {
	for _, v := range []string{"BREAKGLASS_OPERATOR", "USER", "LOGNAME"} {
		if s := os.Getenv(v); s != "" {
			return s
		}
	}
	return "unknown"
}

// sealSummary is what seal and reseal print with --json.
type sealSummary struct {
	File           string   `json:"file"`
	Name           string   `json:"name"`
	HeaderHash     string   `json:"header-hash"`
	Recipient      string   `json:"recipient"`
	Threshold      string   `json:"threshold"`
	Custodians     []string `json:"custodians"`
	PaperShares    []string `json:"paper-shares,omitempty"`
	PaperOut       string   `json:"paper-out,omitempty"`
	Previous       string   `json:"previous,omitempty"`
	UseCases       []string `json:"use-cases,omitempty"`
	Scope          string   `json:"scope,omitempty"`
	KeyID          string   `json:"key-id,omitempty"`
	SealedBy       string   `json:"sealed-by"`
	CreatedAt      string   `json:"created-at"`
	GroupThreshold int      `json:"group-threshold"`
}

func runSeal(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c, "the secret comes from standard input or --in")
	}
	p := seal.Params{
		Name:          c.String("name"),
		Scope:         c.String("scope"),
		UseCases:      listValues(c, "use-case", false),
		KeyID:         c.String("key-id"),
		BinaryPayload: c.Bool("binary"),
	}
	cd, actor, err := sealer(c, &p)
	if err != nil {
		return err
	}
	out := c.String("out")
	if out == "" {
		out = p.Name + ".glass"
	}
	if err := checkNewFile(out); err != nil {
		return err
	}
	paperDir := c.String("paper-out")
	if err := checkPaperOut(p, paperDir); err != nil {
		return err
	}
	if err := holdSecrets(); err != nil {
		return err
	}
	var in io.Reader = os.Stdin
	if path := c.String("in"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			return withHints(fmt.Errorf("cannot read the secret: %v", atomicfile.UnwrapPath(err)), "check the --in path")
		}
		defer f.Close()
		in = f
	} else if isTerminal(os.Stdin) {
		return withHints(errors.New("standard input is a terminal; breakglass does not read secrets typed on the command line"),
			"pipe the secret in (… | breakglass seal …) or use --in FILE")
	}
	sealed, err := sealWith(out, false, p, sealRecorded(c, cd, actor, logbook.KindSeal, "seal", nil,
		func(w io.Writer) (*seal.Sealed, error) { return seal.Seal(w, in, p, nil) }))
	if err != nil {
		return err
	}
	return reportSealed(c, out, sealed, paperDir)
}

// sealTo seals in to path (created, or with replace swapped in) and maps
// library errors to hints.
func sealTo(path string, replace bool, in io.Reader, p seal.Params) (*seal.Sealed, error) {
	return sealWith(path, replace, p, func(w io.Writer) (*seal.Sealed, error) { return seal.Seal(w, in, p, nil) })
}

// sealWith writes path with do (seal.Seal or seal.Reseal).
func sealWith(path string, replace bool, p seal.Params, do func(io.Writer) (*seal.Sealed, error)) (*seal.Sealed, error) {
	var sealed *seal.Sealed
	err := writeNewFile(path, 0o644, replace, func(w io.Writer) error {
		var err error
		sealed, err = do(w)
		return err
	})
	switch {
	case errors.Is(err, seal.ErrEmptySecret):
		return nil, withHints(fmt.Errorf("%w; nothing was written", err), "pipe the secret in or use --in FILE")
	case err != nil:
		return nil, fmt.Errorf("sealing %s: %w (nothing was written)", p.Name, err)
	}
	return sealed, nil
}

// reportSealed prints the paper shares and the summary of a new file.
func reportSealed(c *cli.Context, out string, sealed *seal.Sealed, paperDir string) error {
	h := sealed.Header
	sum := sealSummary{
		File: out, Name: h.Name, HeaderHash: hex.EncodeToString(sealed.HeaderHash[:]),
		Recipient: h.Recipient, Threshold: h.Policy(), Scope: h.Scope, KeyID: h.KeyID,
		UseCases: h.UseCases, SealedBy: h.SealedBy, CreatedAt: h.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"),
		GroupThreshold: h.GroupThreshold, PaperOut: paperDir,
	}
	if h.Previous != nil {
		sum.Previous = hex.EncodeToString(h.Previous)
	}
	for _, cu := range h.Custodians() {
		sum.Custodians = append(sum.Custodians, cu.Kind+" "+cu.Name)
	}
	for _, ps := range sealed.Paper {
		sum.PaperShares = append(sum.PaperShares, ps.Custodian)
	}
	if err := handOverPaper(sealed.Paper, h.Name, paperDir); err != nil {
		if out != "" && c.Command.Name == "seal" {
			os.Remove(out) // the shares are lost: the file is useless
		}
		return err
	}
	if c.Bool("json") {
		return printJSON(sum)
	}
	infof("sealed %s to %s: %s", h.Name, out, sum.Threshold)
	infof("custodians: %s", strings.Join(sum.Custodians, ", "))
	infof("header hash %s", sum.HeaderHash)
	return nil
}

// handOverPaper prints each paper custodian's mnemonic and its QR code on
// the terminal, or writes them to DIR/NAME-CUSTODIAN.paper.txt and
// DIR/NAME-CUSTODIAN.paper.png (0600, never overwriting, both or neither).
// The QR code holds exactly the mnemonic's words, which is what unseal
// --mnemonic-file and recover read.
func handOverPaper(ps []seal.PaperShare, name, dir string) error {
	if len(ps) == 0 {
		return nil
	}
	if dir == "" {
		tty, err := promptTTYCheck()
		if err != nil {
			return err
		}
		defer tty.Close()
		for _, p := range ps {
			fmt.Fprintf(tty, "\n=== paper share for %s (%s) — hand over, then clear the screen ===\n%s\n", p.Custodian, name, p.Mnemonic)
			showPaperQR(tty, p)
		}
		fmt.Fprintln(tty)
		return nil
	}
	for _, p := range ps {
		base := filepath.Join(dir, fmt.Sprintf("%s-%s.paper", name, safeFileName(p.Custodian)))
		if err := writePaperShare(base, name, p); err != nil {
			return withHints(fmt.Errorf("the secret was sealed, but the paper share for %s could not be written: %v", p.Custodian, err),
				"remove the new .glass file and seal again with a writable, empty --paper-out directory")
		}
		infof("paper share for %s written to %s.txt (QR code: %s.png)", p.Custodian, base, filepath.Base(base))
	}
	return nil
}

// writePaperShare writes BASE.txt and BASE.png, or neither.
func writePaperShare(base, name string, p seal.PaperShare) error {
	code, err := qrtext.Encode(p.Mnemonic)
	if err != nil {
		return err
	}
	defer code.Wipe()
	img, err := code.PNG(paperQRScale)
	if err != nil {
		return err
	}
	defer secret.Wipe(img)
	text := []byte(fmt.Sprintf("breakglass paper share\nsecret: %s\ncustodian: %s\nmnemonic: %s\n", name, p.Custodian, p.Mnemonic))
	defer secret.Wipe(text)
	for _, path := range []string{base + ".txt", base + ".png"} {
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("%s already exists; breakglass never overwrites a file", path)
		}
	}
	if err := writeNewFile(base+".txt", 0o600, false, func(w io.Writer) error { _, err := w.Write(text); return err }); err != nil {
		return err
	}
	if err := writeNewFile(base+".png", 0o600, false, func(w io.Writer) error { _, err := w.Write(img); return err }); err != nil {
		os.Remove(base + ".txt")
		return err
	}
	return nil
}

// paperQRScale is the PNG pixels per QR module: a 33-word mnemonic makes
// a 552-pixel square, about 5 cm at 300 dpi.
const paperQRScale = 8

// showPaperQR draws the QR code of a paper share's words on the terminal,
// below the words.
func showPaperQR(tty *os.File, p seal.PaperShare) {
	code, err := qrtext.Encode(p.Mnemonic)
	if err != nil {
		fmt.Fprintf(tty, "(no QR code: %v)\n", err)
		return
	}
	defer code.Wipe()
	text := code.Text(qrtext.LightInk)
	defer secret.Wipe(text)
	fmt.Fprintf(tty, "the same words as a QR code:\n")
	if cols := terminalColumns(tty); cols > 0 && cols < code.Width() {
		fmt.Fprintf(tty, "(the terminal is %d columns wide, the code %d: widen it to scan)\n", cols, code.Width())
	}
	tty.Write(text)
}

func safeFileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 || r == ' ' {
			return '_'
		}
		return r
	}, s)
}
