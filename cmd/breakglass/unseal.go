package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/internal/term"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/session"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
)

const unsealHelp = `unseal collects one tap from each of K custodians and releases the secret.

Custodians come to the laptop one at a time, or several at once on several
readers. breakglass shows who is still needed, waits for the next card on any
reader, names a card that is not in the roster and ignores it, and skips a
card that has already tapped. Before a custodian's share is used, their card
signs the request it approves (the sealed file's header hash, the operator,
--reason, --ticket, the use case and the time); the approval's fingerprint is
shown. breakglass reads each card's PIN retry counter first and never spends
the last try: another custodian can tap instead.

Paper custodians give their SLIP-0039 mnemonic with --paper (typed on the
terminal, hidden) or --mnemonic-file.

Taps are held for --window (10 minutes): when it runs out, or on Ctrl-C
(at once, at a PIN prompt too; exit status 130), everything gathered is
wiped and the unseal must start again. No card is held while breakglass
waits for a person: after a wrong PIN, take the card out and put it back.

The secret goes to exactly one place:
   --out FILE        a new file, mode 0600; never overwrites, and is created
                     only once the secret was read and authenticated in full
   --exec [-- CMD …] the environment of CMD (default your $SHELL), as
                     BREAKGLASS_SECRET (or --env); the session is recorded
                     for the case's auditors (see RECORDED SESSIONS)
   standard output   only when it is not a terminal (or with --force-tty)

CMD gets your environment without the token PINs and PUKs breakglass reads:
no BREAKGLASS_*PIN* or *PUK* variable, no variable holding a PIN breakglass
read, nor the path of --pin-file.

With --out, --json prints what was released as JSON on standard output (the
file, header hash, key id, operator, reason, ticket, use case, who tapped
and their approvals, the byte count) for scripts; never the secret or a hash
of it. --json needs --out: with --exec or standard output the secret or the
command owns standard output.

Core dumps are disabled while the secret is held, and buffers are wiped.

With a logbook in the case (see docs/case.md), before the first tap: the
operator must be enrolled (--operator NAME; their card signs the
unseal-start and release entries), the file's header hash must be the one
the logbook's latest seal or reseal entry of the secret recorded, and no
release of the secret may be open (one person at a time; --concurrent-release
REASON goes ahead, recorded). Each tap is recorded, signed by the
custodian's card, and the release is recorded before the secret is written:
if any entry cannot be written, nothing is released. An unseal that ends
without a release (Ctrl-C, the window, a failure) is closed by an abort
entry signed by the operator's card; one whose process was killed is closed
by the next command that appends to the logbook.

A custodian who cannot come to the laptop taps remotely: write a request
(breakglass unseal request, see its --help), send it, and give their
response with --request REQ.txt --response RESP.txt beside the local taps.

` + recordedSessionsHelp + `

EXAMPLES
   # YubiKeys (PIV), secret into a new file
   breakglass unseal prod-aws.glass --reason "SSO outage" --ticket INC-4711 \
     --use-case "SSO is down" --out /dev/shm/key.txt

   # a script that wants to know who approved
   breakglass unseal prod-aws.glass --reason "SSO outage" --ticket INC-4711 \
     --use-case "SSO is down" --out /dev/shm/key.txt --json | jq -r '.taps[].custodian'

   # straight into a command's environment
   breakglass unseal prod-aws.glass --reason "SSO outage" --ticket INC-4711 \
     --exec -- sh -c 'aws-vault-import "$BREAKGLASS_SECRET"'

   # PKCS#11 tokens (each URI is watched like a reader)
   breakglass unseal prod-db.glass --reason "DB locked" --ticket INC-9 \
     --pkcs11 'pkcs11:token=ops-hsm?module-path=/usr/lib/softhsm/libsofthsm2.so' > secret.txt

   # virtual cards in a rehearsal, PIN from the environment
   BREAKGLASS_PIN=123456 breakglass unseal demo.glass --reason drill --ticket T-1 \
     --reader "Virtual PCD 00 00" --reader "Virtual PCD 00 01" | sha256sum`

func unsealCommand() *cli.Command {
	return &cli.Command{
		Name:        "unseal",
		Usage:       "collect k taps and release a sealed secret",
		ArgsUsage:   "NAME.glass [--exec -- CMD ARGS…]",
		Description: unsealHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "reason", Usage: "why the secret is needed (recorded in every approval; asked for when not given)"},
			&cli.StringFlag{Name: "ticket", Usage: "incident or ticket `ID` (asked for when not given)"},
			&cli.StringFlag{Name: "use-case", Usage: "one of the use cases sealed in the file (asked for when not given)"},
			&cli.StringFlag{Name: "out", Usage: "write the secret to a new `FILE` (mode 0600)"},
			&cli.BoolFlag{Name: "exec", Usage: "run the command after -- with the secret in its environment"},
			&cli.StringFlag{Name: "env", Value: "BREAKGLASS_SECRET", Usage: "environment variable `NAME` for --exec"},
			&cli.BoolFlag{Name: "force-tty", Usage: "write the secret to standard output even when it is a terminal"},
			&cli.BoolFlag{Name: "json", Usage: "with --out: print what was released as JSON on stdout"},
			&cli.StringFlag{Name: "request", Usage: "the remote request `REQ.txt` that --response files answer"},
			&cli.GenericFlag{Name: "response", Value: &listFlag{}, Usage: "a remote custodian's tap response `FILE` (repeatable)"},
			concurrentReleaseFlag,
		}, append(append(recordFlags(), tapFlags()...), caseFlags()...)...),
		Subcommands: []*cli.Command{unsealRequestCommand()},
		Action:      runUnseal,
	}
}

// maxHeldSecret bounds a secret held in memory (stdout, --exec); larger ones
// go to --out, which streams.
const maxHeldSecret = 64 << 20

// maxEnvSecret bounds a secret passed in the environment.
const maxEnvSecret = 1 << 20

// chooseUseCase checks --use-case against the header
// (seal.Header.CheckUseCase), or asks.
func chooseUseCase(c *cli.Context, h *seal.Header) (string, error) {
	uc := c.String("use-case")
	var ue *seal.UseCaseError
	if err := h.CheckUseCase(uc); !errors.As(err, &ue) {
		return uc, err
	}
	quoted := make([]string, len(ue.UseCases))
	for i, u := range ue.UseCases {
		quoted[i] = strconv.Quote(u)
	}
	permitted := "the permitted use cases are: " + strings.Join(quoted, ", ")
	if uc != "" {
		return "", withHints(ue, permitted)
	}
	if !isTerminal(os.Stdin) {
		return "", withHints(errors.New("--use-case is required"), permitted)
	}
	n, err := term.Choose("permitted use cases of "+h.Name+": which one applies?", h.UseCases)
	if errors.Is(err, term.ErrInterrupted) {
		return "", fmt.Errorf("%w: no use case chosen, nothing was tapped", err)
	}
	if err != nil {
		return "", withHints(errors.New("no use case chosen"), "give --use-case")
	}
	return h.UseCases[n], nil
}

// openErr maps what can go wrong after the taps.
func openErr(err error) error {
	switch {
	case errors.Is(err, seal.ErrWrongIdentity):
		return withHints(err, "a share is wrong or the header was forged; nothing was decrypted",
			"compare the header hash with the logbook's seal entry")
	case errors.Is(err, seal.ErrHeaderMAC):
		return withHints(err, "the file was edited after sealing; nothing was decrypted",
			"restore it from git and compare the header hash with the logbook's seal entry")
	}
	return err
}

func runUnseal(c *cli.Context) (err error) {
	if err := requireFlagsOrAsk(c, "reason", "ticket"); err != nil {
		return err
	}
	args := c.Args().Slice()
	if len(args) == 0 {
		return usageError("missing the sealed secret: breakglass unseal NAME.glass --reason … --ticket …")
	}
	path, cmdArgs := args[0], args[1:]
	if len(cmdArgs) > 0 && cmdArgs[0] == "--" {
		cmdArgs = cmdArgs[1:]
	}
	out, doExec, force := c.String("out"), c.Bool("exec"), c.Bool("force-tty")
	switch {
	case out != "" && doExec:
		return usageError("give either --out or --exec, not both")
	case !doExec && len(cmdArgs) > 0:
		return usageError("unexpected arguments %q (did you mean --exec -- CMD …?)", cmdArgs)
	case doExec && (c.String("env") == "" || strings.ContainsAny(c.String("env"), "=\x00")):
		return usageError("--env %q is not a valid variable name", c.String("env"))
	case c.Bool("json") && out == "":
		return usageError("--json needs --out FILE: otherwise the secret (or the --exec command) owns standard output")
	case out == "" && !doExec && isTerminal(os.Stdout) && !force:
		return withHints(errors.New("standard output is a terminal; breakglass does not print secrets on the screen"),
			"use --out FILE, --exec -- CMD, or pipe the output (… | cmd); --force-tty if you really must")
	}
	if err := checkRecordFlags(c, doExec); err != nil {
		return err
	}
	if doExec && len(cmdArgs) == 0 {
		cmdArgs = []string{os.Getenv("SHELL")}
		if cmdArgs[0] == "" {
			cmdArgs[0] = "/bin/sh"
		}
	}
	if out != "" {
		if err := checkNewFile(out); err != nil {
			return err
		}
	}
	f, file, err := readGlass(path)
	if err != nil {
		return err
	}
	defer file.Close()
	// With a logbook: the operator is enrolled, the header is the logged
	// one, and no one else holds the secret (or --concurrent-release says
	// why) — before anything is asked; the unseal-start entry is appended
	// on top of what was checked. All before the first tap.
	cl, err := newCeremonyLog(c, f, c.String("operator"))
	if err != nil {
		return err
	}
	if err := checkLoggedHeader(cl.log, f, path, false); err != nil {
		return err
	}
	size := int64(-1)
	if cl.log != nil {
		size = cl.log.Size()
	}
	concurrent, err := checkOpenReleases(c, cl.entries(), f.Header, path)
	if err != nil {
		return err
	}
	// Asked for, when missing, once nothing can refuse the unseal any more.
	if err := askFlags(c, "reason", "ticket"); err != nil {
		return err
	}
	uc, err := chooseUseCase(c, f.Header)
	if err != nil {
		return err
	}
	req := approval.Request{Action: "unseal", Operator: cl.Operator, Reason: c.String("reason"), Ticket: c.String("ticket"), UseCase: uc}
	cl.SetRequest(req)
	var es *execSession
	if doExec {
		if es, err = prepareExec(c, cl, "unseal"); err != nil {
			return err
		}
		defer es.abandon()
	}
	mode := map[bool]string{true: "file"}[out != ""]
	if doExec {
		mode = "exec"
	} else if mode == "" {
		mode = "stdout"
	}
	details := map[string]string{"concurrent-release": concurrent, "output": mode, logbook.DetailKeyID: f.Header.KeyID}
	if err := cl.logOperator(cl.Entry(logbook.KindUnsealStart, details), size); err != nil {
		var ce *logbook.ConflictError
		if errors.As(err, &ce) {
			return withHints(errors.New("the logbook changed while the unseal was being checked; nothing was tapped"), "run the command again")
		}
		return withHints(fmt.Errorf("the unseal could not be started: %w", err), "nothing was tapped or released")
	}
	cm := newCeremony(c, f, req)
	cm.onTap = cl.onTap
	// Ended without a release (Ctrl-C, the window, a failure): the
	// operator's card signs the session's abort.
	defer func() { cl.endSession(err, session.Tapped(cm.approvals)) }()
	if err := cm.run(context.Background()); err != nil {
		return err
	}
	r, err := cm.u.Open()
	if err != nil {
		return openErr(err)
	}
	if err := cl.logTaps(cm.approvals); err != nil {
		return withHints(fmt.Errorf("a tap could not be recorded, so nothing was released: %w", err), "fix the logbook and start again")
	}
	details[logbook.DetailTapped] = session.Tapped(cm.approvals)
	es.releaseDetails(details)
	release := func() error {
		if err := cl.logRelease(cl.Entry(logbook.KindRelease, details), concurrent != ""); err != nil {
			return fmt.Errorf("the release could not be recorded, so nothing was released: %w", err)
		}
		return nil
	}
	switch {
	case out != "":
		var n int64
		recorded := false
		err := writeNewFile(out, 0o600, false, func(w io.Writer) error {
			var err error
			n, err = io.Copy(w, r)
			if err != nil {
				return fmt.Errorf("decrypting %s: %w (nothing was written)", f.Header.Name, err)
			}
			if err := release(); err != nil {
				return err
			}
			recorded = true
			return nil
		})
		if err != nil {
			if recorded {
				cl.outputFailed(err)
			}
			return err
		}
		infof("unsealed %s into %s (%d bytes, mode 0600); delete it when done", f.Header.Name, out, n)
		if c.Bool("json") {
			h := f.HeaderHash()
			return printJSON(unsealResult{File: path, Name: f.Header.Name, HeaderHash: hex.EncodeToString(h[:]),
				KeyID: f.Header.KeyID, Operator: cl.Operator, Reason: req.Reason, Ticket: req.Ticket, UseCase: uc,
				ConcurrentRelease: concurrent, Logged: cl.log != nil, Out: out, Bytes: n, Taps: cm.tapRecords()})
		}
		return nil
	case doExec:
		return unsealExec(c, f, r, cmdArgs, release, es)
	default:
		buf, err := readHeld(r, maxHeldSecret, "use --out FILE for a secret this large")
		if err != nil {
			return fmt.Errorf("decrypting %s: %w (nothing was written)", f.Header.Name, err)
		}
		defer secret.Wipe(buf)
		if err := release(); err != nil {
			return err
		}
		if _, err := os.Stdout.Write(buf); err != nil {
			err = fmt.Errorf("writing the secret: %v", err)
			cl.outputFailed(err)
			return err
		}
		infof("unsealed %s to standard output (%d bytes)", f.Header.Name, len(buf))
		return nil
	}
}

// unsealResult is unseal --json: what was released, to whom, approved by
// whom. Never the secret, nor a hash of it (a low-entropy secret could be
// guessed from its hash).
type unsealResult struct {
	File              string      `json:"file"`
	Name              string      `json:"name"`
	HeaderHash        string      `json:"header-hash"`
	KeyID             string      `json:"key-id,omitempty"`
	Operator          string      `json:"operator"`
	Reason            string      `json:"reason"`
	Ticket            string      `json:"ticket"`
	UseCase           string      `json:"use-case,omitempty"`
	ConcurrentRelease string      `json:"concurrent-release,omitempty"`
	Logged            bool        `json:"logged"`
	Out               string      `json:"out"`
	Bytes             int64       `json:"bytes"`
	Taps              []tapRecord `json:"taps"`
}

// readHeld reads the whole secret into memory, up to limit bytes, so that
// nothing is written before it authenticated in full.
func readHeld(r io.Reader, limit int64, hint string) ([]byte, error) {
	var b bytes.Buffer
	n, err := io.Copy(&b, io.LimitReader(r, limit+1))
	buf := b.Bytes()
	if err != nil {
		secret.Wipe(buf)
		return nil, err
	}
	if n > limit {
		secret.Wipe(buf)
		return nil, withHints(fmt.Errorf("the secret is larger than %d bytes", limit), hint)
	}
	return buf, nil
}

// unsealExec runs args with the secret in its environment, recorded by es.
func unsealExec(c *cli.Context, f *seal.File, r io.Reader, args []string, release func() error, es *execSession) error {
	buf, err := readHeld(r, maxEnvSecret, "use --out FILE for a secret this large")
	if err != nil {
		return fmt.Errorf("decrypting %s: %w (the command was not run)", f.Header.Name, err)
	}
	defer secret.Wipe(buf)
	if bytes.IndexByte(buf, 0) >= 0 {
		return withHints(errors.New("the secret contains a NUL byte and cannot go into an environment variable"),
			"use --out FILE instead")
	}
	if err := release(); err != nil {
		return err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(execEnviron(c), c.String("env")+"="+string(buf))
	infof("unsealed %s; running %s with it in $%s", f.Header.Name, args[0], c.String("env"))
	return es.run(cmd, time.Time{})
}
