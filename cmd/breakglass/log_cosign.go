package main

// Witnesses (package logbook/witness) as the commands see them: log cosign,
// the cosigning that follows every append, and what log verify and log
// export say about the cosigned checkpoints.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/caselog"
	"github.com/breakglass/breakglass/logbook/witness"
)

const logCosignHelp = `log cosign sends the logbook's latest checkpoint to every witness named in
CASE/logbook/witnesses, with a consistency proof from the checkpoint each
cosigned last (c2sp.org/tlog-witness), and stores their cosignatures with the
checkpoint in CASE/logbook/cosigned. Commit that file with the case.

A witness is a service another team runs (security, audit, a second site;
breakglass log witness serve is one). It cosigns only a checkpoint that
extends the one it cosigned before, so once a quorum has cosigned, nobody
who can write to the case can rewrite or remove those entries unnoticed:
log verify fails, and the witnesses refuse the rewritten logbook.

Commands that append (card enroll, seal, unseal, drill, log note, …) cosign
by themselves when a witness is reachable. On an air-gapped laptop they say
which entries are not yet witnessed; run log cosign once the network is back.

Exit status: 0 when a quorum cosigned the latest checkpoint (a witness that
failed is named); 1 when fewer did, or when a witness holds evidence that
the logbook was rewritten or truncated.

OFFLINE EXCHANGE
A witness the laptop cannot reach takes a request file and gives back a
response file:
   breakglass log cosign --witness NAME --request-out req.txt    # on the laptop
   breakglass log witness sign --key K --state S < req.txt > resp.txt   # witness host
   curl --data-binary @req.txt URL/add-checkpoint > resp.txt      # or any online host
   breakglass log cosign --response resp.txt                      # on the laptop

The witnesses file (docs/format-logbook.md, "Witnesses"):
   quorum 2
   timeout 10s
   witness witness.example.com/security+3a4b5c6d+BNuV… https://witness.example.com/security
   witness audit.example.org/w1+0f1e2d3c+BKk3… https://audit.example.org/w1

EXAMPLES
   breakglass log cosign
   breakglass log cosign --case ~/cases/prod-aws`

func logCosignCommand() *cli.Command {
	return &cli.Command{
		Name:        "cosign",
		Usage:       "have the case's witnesses cosign the latest checkpoint",
		ArgsUsage:   " ",
		Description: logCosignHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "witness", Usage: "only the witness `NAME`"},
			&cli.StringFlag{Name: "request-out", Usage: "write an add-checkpoint request for --witness to `FILE` instead of sending it"},
			&cli.Int64Flag{Name: "old", Value: -1, Usage: "with --request-out: the tree `SIZE` the witness cosigned last (default: as the cosigned file says)"},
			&cli.StringFlag{Name: "response", Usage: "store the cosignatures a witness answered in `FILE` (- for standard input)"},
		}, caseFlags()...),
		Action: runLogCosign,
	}
}

func runLogCosign(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("log cosign takes no arguments (got %q)", c.Args().First())
	}
	if c.String("request-out") != "" && c.String("witness") == "" {
		return usageError("--request-out needs --witness NAME: a request is for one witness")
	}
	if c.String("request-out") != "" && c.String("response") != "" {
		return usageError("--request-out and --response are two steps: run them one after the other")
	}
	cd, l, err := openRequiredLog(c)
	if err != nil {
		return err
	}
	cfg, err := cd.witnesses()
	if err != nil {
		return err
	}
	if l.Size() == 0 {
		return withHints(witness.ErrEmpty, "the first entry (card enroll, seal, or breakglass log note) signs the first checkpoint")
	}
	var only *witness.Witness
	if name := c.String("witness"); name != "" {
		if only = cfg.Witness(name); only == nil {
			return withHints(fmt.Errorf("no witness %s in %s", name, cd.witnessesPath()),
				"the witnesses are: "+witnessNames(cfg))
		}
	}
	switch {
	case c.String("request-out") != "":
		return cosignRequest(c, cd, l, only)
	case c.String("response") != "":
		return cosignResponse(c, cd, l, cfg)
	}
	res, err := witness.Cosign(context.Background(), l, cd.LogDir(), cfg, func(w *witness.Witness) bool {
		return only != nil && w != only
	})
	if err != nil {
		return err
	}
	if len(res) == 0 {
		return withHints(errors.New("no witness to ask: the witnesses file gives no URL"),
			"exchange files with an offline witness: see breakglass log cosign --help, OFFLINE EXCHANGE")
	}
	var evidence error
	for _, r := range res {
		switch {
		case r.Err == nil:
			infof("%s cosigned the checkpoint of %s", r.Witness.Name, logPlural(l.Size(), "entry", "entries"))
		case witness.Evidence(r.Err) && evidence == nil:
			evidence = r.Err // reported last, as the error
		default:
			infof("%v", r.Err)
			if h := witnessHint(r.Err); h != "" {
				infof("hint: %s", h)
			}
		}
	}
	st, err := witness.Check(l, cd.LogDir(), cfg)
	if err != nil {
		return witnessError(err)
	}
	fmt.Fprintf(stdout(c), "witnesses: %s\n", st.Summary())
	switch {
	case evidence != nil:
		return witnessError(evidence)
	case st.Witnessed < l.Size():
		return withHints(fmt.Errorf("%s not yet cosigned by a quorum of %d witnesses", witness.Span(st.Witnessed, l.Size()), cfg.Quorum),
			"the append is recorded locally; run breakglass log cosign again when the witnesses are reachable",
			"for a witness this machine cannot reach, see breakglass log cosign --help, OFFLINE EXCHANGE")
	}
	return nil
}

// cosignRequest writes an add-checkpoint request for w to --request-out.
func cosignRequest(c *cli.Context, cd *caseDir, l *logbook.Log, w *witness.Witness) error {
	old := c.Int64("old")
	if old < 0 {
		st, err := witness.Check(l, cd.LogDir(), &witness.Config{Witnesses: []*witness.Witness{w}, Quorum: 1})
		if err != nil {
			return witnessError(err)
		}
		old = st.Witnesses[0].Size
	}
	if old > l.Size() {
		return usageError("--old %d: the logbook holds only %d entries", old, l.Size())
	}
	body, err := witness.Request(l, old)
	if err != nil {
		return err
	}
	out := c.String("request-out")
	if err := writeNewFile(out, 0o644, false, func(wr io.Writer) error { _, err := wr.Write(body); return err }); err != nil {
		return withHints(fmt.Errorf("cannot write %s: %v", out, atomicfile.UnwrapPath(err)), "choose another --request-out; an existing file is never overwritten")
	}
	infof("wrote the add-checkpoint request of %s (from size %d) for %s to %s", logPlural(l.Size(), "entry", "entries"), old, w.Name, out)
	infof("on the witness host: breakglass log witness sign --key KEY --state DIR < %s > response.txt", out)
	infof("then here: breakglass log cosign --response response.txt")
	return nil
}

// cosignResponse stores the cosignatures of a --response file: a cosigned
// checkpoint (as log witness sign writes it) or bare cosignature lines (an
// add-checkpoint answer) for the latest checkpoint.
func cosignResponse(c *cli.Context, cd *caseDir, l *logbook.Log, cfg *witness.Config) error {
	path := c.String("response")
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return fmt.Errorf("--response %s: %v", path, atomicfile.UnwrapPath(err))
	}
	names, err := witness.StoreResponse(cd.LogDir(), l.Checkpoint().Signed, b, cfg)
	var re *witness.ResponseError
	if errors.As(err, &re) {
		return withHints(fmt.Errorf("--response %s: no valid cosignature by a witness of %s: %v", path, cd.witnessesPath(), re.Err),
			"a response holds the cosigned checkpoint (log witness sign) or the witness's signature lines (add-checkpoint)",
			"cosignature lines alone are for the latest checkpoint: the logbook may have grown since the request")
	}
	if err != nil {
		return witnessError(err)
	}
	st, err := witness.Check(l, cd.LogDir(), cfg)
	if err != nil {
		return witnessError(err)
	}
	for _, name := range names {
		infof("stored the cosignature of %s", name)
	}
	fmt.Fprintf(stdout(c), "witnesses: %s\n", st.Summary())
	return nil
}

// witnesses reads the case's witnesses file; without one, an error with a
// hint on how to write it.
func (cd *caseDir) witnesses() (*witness.Config, error) {
	cfg, err := witness.ReadConfig(cd.LogDir())
	if errors.Is(err, witness.ErrNoConfig) {
		return nil, withHints(fmt.Errorf("the case has no witnesses file (%s)", cd.witnessesPath()),
			"name the witnesses and a quorum in it, one line each: quorum K, then witness VKEY URL",
			"a witness's operator gets VKEY from breakglass log witness keygen; see docs/format-logbook.md, Witnesses")
	}
	if err != nil {
		return nil, withHints(err, "fix the witnesses file; see docs/format-logbook.md, Witnesses")
	}
	return cfg, nil
}

// noWitnesses is the error of a command that needs witnesses in a case
// without a witnesses file.
func (cd *caseDir) noWitnesses() error {
	_, err := cd.witnesses()
	return err
}

// witnessStatus checks the cosigned checkpoints of l (witness.Check) and
// says how far the case's witnesses have cosigned it: nil when the case has
// neither a witnesses file nor a cosigned file.
func (cd *caseDir) witnessStatus(l *logbook.Log) (*witness.Status, error) {
	cfg, err := witness.ReadConfig(cd.LogDir())
	if errors.Is(err, witness.ErrNoConfig) {
		if _, serr := os.Stat(cd.LogDir() + string(os.PathSeparator) + witness.CosignedFile); serr != nil {
			return nil, nil
		}
		cfg = nil
	} else if err != nil {
		return nil, withHints(err, "fix the witnesses file; see docs/format-logbook.md, Witnesses")
	}
	st, err := witness.Check(l, cd.LogDir(), cfg)
	if err != nil {
		return nil, witnessError(err)
	}
	return st, nil
}

func (cd *caseDir) witnessesPath() string {
	return cd.LogDir() + string(os.PathSeparator) + witness.ConfigFile
}

func witnessNames(cfg *witness.Config) string {
	var names []string
	for _, w := range cfg.Witnesses {
		names = append(names, w.Name)
	}
	return strings.Join(names, ", ")
}

// witnessError adds hints to the errors of package witness.
func witnessError(err error) error {
	var ie *witness.InconsistentError
	var we *witness.Error
	var be *witness.BadCosignatureError
	var fe *witness.CosignedFileError
	var fork *witness.ForkError
	switch {
	case errors.As(err, &ie):
		return withHints(err,
			"the witnesses hold a checkpoint this logbook no longer extends: treat the case as tampered with",
			"compare the logbook with the case's history (git log -p logbook/) and restore the witnessed entries; do not append until then")
	case errors.As(err, &we) && we.Kind == witness.Ahead:
		return withHints(err,
			"if another copy of the case has more entries, pull it first (git pull) and cosign again",
			"otherwise entries were removed after they were witnessed: treat the case as tampered with (git log -p logbook/)")
	case errors.As(err, &we) && we.Kind == witness.Inconsistent:
		return withHints(err,
			"the witness cosigned another history of this logbook: a rewrite after witnessing, or two copies of the case appended to separately",
			"compare with the case's history (git log -p logbook/) and with the copy the witness saw; do not append until resolved")
	case errors.As(err, &be), errors.As(err, &fe):
		return withHints(err, "restore "+witness.CosignedFile+" from the case's history (git log -p logbook/cosigned), or cosign again")
	case errors.As(err, &fork):
		return withHints(err, "two histories of this logbook were witnessed: treat the case as tampered with")
	}
	return err
}

// witnessHint says what to do about a witness that did not cosign for a
// reason its operator can fix, or "".
func witnessHint(err error) string {
	var e *witness.Error
	if !errors.As(err, &e) {
		return ""
	}
	switch e.Kind {
	case witness.UnknownLog:
		return "ask the witness's operator to add this logbook: breakglass log witness add-log --state DIR --case A-COPY-OF-THIS-CASE"
	case witness.UntrustedKey:
		return "the witness does not know the key that signed the checkpoint (a custodian who joined since?): ask its operator to run breakglass log witness add-log again with a current copy of the case"
	}
	return ""
}

// Witnessed says what the witnesses did after an append (caselog.Observer).
// The append has landed; nothing here fails it: what went wrong is said,
// with how to cosign later.
func (v caseVoice) Witnessed(w *caselog.Witnessing) {
	later := "when a witness is reachable, run: breakglass log cosign --case " + v.cd.Dir
	switch {
	case w.ConfigErr != nil:
		v.cd.warnf("the new entry is not witnessed: %v; fix the file, then %s", w.ConfigErr, later)
		return
	case w.CosignErr != nil:
		v.cd.warnf("the new entry is not witnessed: %v; %s", w.CosignErr, later)
		return
	}
	for _, r := range w.Failed {
		v.cd.warnf("%v", r.Err)
		if h := witnessHint(r.Err); h != "" {
			v.cd.warnf("hint: %s", h)
		}
	}
	switch st := w.Status; {
	case w.CheckErr != nil:
		v.cd.warnf("%v", witnessError(w.CheckErr))
	case !w.Complete():
		v.cd.warnf("%s not yet witnessed by a quorum of %d of %d witnesses; the logbook has them locally; %s",
			witness.Span(st.Witnessed, st.Size), w.Config.Quorum, len(w.Config.Witnesses), later)
	default:
		v.cd.warnf("witnesses: %s", st.Summary())
	}
}
