package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
)

const logHelp = `The logbook is the case's journal: every enrollment, seal, unseal, tap,
release, drill and revocation, each entry signed by the token of the person
who acted and hash-linked to everything before it. Its tree head, the
checkpoint, is short enough to copy into a paper journal or a ticket; given
older checkpoints, log verify proves the logbook has only been appended to
since. The format is docs/format-logbook.md; the auditor's runbook is
docs/runbook-auditor.md.

Witnesses that other teams run cosign the checkpoints (log cosign, log
witness), so a rewrite of history after the fact is caught by someone else.

The logbook lives in CASE/logbook. The case is --case DIR, else
$BREAKGLASS_CASE, else the current directory (docs/case.md). Signatures are
checked against the case's enrollment records (*.card.json and
custodians/*.card.json) and any --roster FILE; once the logbook has a
genesis (log init records it), the logbook alone decides whose keys may
sign: card admit, card retire.`

func logCommand() *cli.Command {
	return &cli.Command{
		Name:        "log",
		Usage:       "read, verify and export the case's signed logbook",
		Description: logHelp,
		Subcommands: []*cli.Command{
			logInitCommand(),
			logGenesisCommand(),
			logShowCommand(),
			logVerifyCommand(),
			logCheckpointCommand(),
			logExportCommand(),
			logNoteCommand(),
			logRevokeCommand(),
			logCosignCommand(),
			logWitnessCommand(),
		},
	}
}

const logInitHelp = `log init creates the case's logbook in CASE/logbook, named by ORIGIN.

The origin names the case in every entry and checkpoint, so an entry or a
checkpoint from another case is rejected. Use a name in your organisation's
domain that says which secrets the case holds, such as
breakglass.example.com/acme/prod-aws. It cannot be changed later.

log init then records the genesis, entry 0: the founding custodians, whose
tokens may sign from then on (--founder NAME, repeatable, else every
enrollment record with a token in the case), each signing it with their
token in turn (PIN, then touch), and how many admitted custodians must sign
the admission of another (--admit-signers K, default 1). From then on the
logbook decides who may sign, not the *.card.json files (card admit, card
retire; see log genesis --help). Without any record in the case, log init
creates the logbook alone: enroll the founders, then run log genesis.

Once the logbook exists, every state-changing command (card enroll, seal,
reseal, unseal, drill) appends its entry, and fails when it cannot. Commit
the logbook to the case's git repository with everything else.

Running log init again with the same origin does nothing.

EXAMPLES
   # in the case's git repository
   breakglass log init --origin breakglass.example.com/acme/prod-aws
   git add logbook && git commit -m "start the logbook"

   # two of the three custodians found it; admits need both of them
   breakglass log init --origin breakglass.example.com/acme/prod-aws \
     --founder alice --founder bob --admit-signers 2

   # another directory
   breakglass log init --case ~/cases/prod-aws --origin breakglass.example.com/acme/prod-aws`

func logInitCommand() *cli.Command {
	return &cli.Command{
		Name:        "init",
		Usage:       "create the case's logbook",
		ArgsUsage:   " ",
		Description: logInitHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "origin", Usage: "the logbook's `ORIGIN`, e.g. breakglass.example.com/acme/prod-aws"},
		}, genesisFlags()...),
		Action: runLogInit,
	}
}

func runLogInit(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c)
	}
	origin := c.String("origin")
	if origin == "" {
		return usageError("log init needs --origin, e.g. --origin breakglass.example.com/acme/prod-aws")
	}
	cd, err := openCase(c)
	if err != nil {
		return err
	}
	existed := cd.HasLog()
	if err := logbook.Create(cd.LogDir(), origin); err != nil {
		return withHints(err, "a case has one logbook; use another --case for another origin")
	}
	if existed {
		infof("the logbook of %s is already in %s; nothing to do", origin, cd.LogDir())
		return nil
	}
	infof("created the logbook of %s in %s", origin, cd.LogDir())
	founders, err := chooseFounders(c, cd)
	if err != nil {
		return err
	}
	if len(founders) == 0 {
		infof("no enrollment record with a token in %s yet: enroll the founders (breakglass card enroll), then record the genesis with breakglass log genesis", cd.Dir)
		return nil
	}
	l, err := cd.requireLog()
	if err != nil {
		return err
	}
	if err := logGenesis(c, cd, l, founders); err != nil {
		return withHints(err, "the logbook was created without its genesis: fix the problem, then record it with breakglass log genesis")
	}
	infof("commit it with the case (git add %s), and publish a checkpoint after each unseal (breakglass log checkpoint)", cd.LogDir())
	return nil
}

const logCheckpointHelp = `log checkpoint verifies the logbook and prints its latest checkpoint: the
signed tree head, a C2SP tlog-checkpoint (origin, size, root hash, signature
of whoever appended last).

Publish it: write it into the paper journal, paste it into the incident
ticket, send it to the auditors. Anyone holding it can later run
log verify --checkpoint FILE to prove the logbook still holds every entry it
covers, unchanged. It verifies with golang.org/x/mod/sumdb/note given the
roster's verifier keys. Once a quorum of the case's witnesses has cosigned it
(log cosign), it carries their cosignature lines too.

EXAMPLES
   breakglass log checkpoint > checkpoint-$(date +%F).txt
   breakglass log checkpoint --case ~/cases/prod-aws | tee -a journal.txt`

func logCheckpointCommand() *cli.Command {
	return &cli.Command{
		Name:        "checkpoint",
		Usage:       "print the logbook's latest signed checkpoint",
		ArgsUsage:   " ",
		Description: logCheckpointHelp,
		Flags:       caseFlags(),
		Action:      runLogCheckpoint,
	}
}

func runLogCheckpoint(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c)
	}
	cd, l, err := openRequiredLog(c)
	if err != nil {
		return err
	}
	ck := l.Checkpoint()
	if len(ck.Signed) == 0 {
		return withHints(errors.New("the logbook is empty: there is no checkpoint yet"),
			"the first entry (card enroll, seal, or breakglass log note) signs the first checkpoint")
	}
	signed := ck.Signed
	if st, err := cd.witnessStatus(l); err != nil {
		return err
	} else if st != nil && st.Witnessed == l.Size() && st.Latest != nil && bytes.HasPrefix(st.Latest, signed[:bytes.Index(signed, []byte("\n\n"))+2]) {
		signed = st.Latest // the same checkpoint, with the witnesses' cosignatures
	}
	_, err = stdout(c).Write(signed)
	return err
}

// logPlural returns "1 entry" or "2 entries" for word "entr|y|ies" style
// pairs: one and many.
func logPlural(n int64, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// stdout is where results go; App.Writer unless unset.
func stdout(c *cli.Context) io.Writer {
	if c.App.Writer != nil {
		return c.App.Writer
	}
	return os.Stdout
}
