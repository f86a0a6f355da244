package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/logbook/session"
	"github.com/breakglass/breakglass/logbook/witness"
)

const logVerifyHelp = `log verify checks the whole logbook: every entry's signature against the
enrollment records of the case (and any --roster FILE), that each entry is
signed by its actor with the key it names, every hash link, the Merkle tree
against the stored checkpoint, and that the logbook is consistent with every
--checkpoint given: it still holds all their entries, unchanged, so it has
only been appended to since they were published.

A checkpoint is a file holding one (as log checkpoint prints it), the text
itself, or - for standard input.

When the case has witnesses (CASE/logbook/witnesses, see log cosign), it
also checks every checkpoint they cosigned (CASE/logbook/cosigned): each
cosignature against the witness's key, and that the logbook still holds
those entries unchanged. A second line says how far a quorum has witnessed:
"witnesses: entries 0–41 cosigned by 2 of 3 witnesses (quorum 2); 42–44 not
yet". Entries not yet witnessed are not an error unless --witnessed is
given; a cosigned checkpoint the logbook no longer extends (history
rewritten or removed after it was witnessed) always is.

With --recordings DIR it also checks the recorded --exec sessions in DIR
(usually CASE/recordings) against the logbook, without decrypting them:
each NAME.cast.age must have the SHA-256 and size the session-end note of
that name records, and every recording a note records must be there. It
names each file that was edited or cut, swapped with another session's,
missing, or unknown to the logbook.

A second line says who may sign. When the logbook has a genesis, it alone
decides (see log genesis --help): "admission: 3 custodians admitted since
the genesis (entry 0): alice, bob, carol; an admit needs 1", then one
"not admitted: FILE (NAME, key F): never admitted, never trusted" line per
enrollment record in the case whose key the logbook did not admit or has
retired. An entry signed by a key that was not admitted at that point fails
the verification, naming the entry. Without a genesis it says "admission:
not admitted", and how to migrate.

A third line checks what each tap entry says its custodian approved: "tap
approvals: 12 verified, 1 unsigned (paper)". An approval must be of the
entry's secret, header and custodian, and verify with the signing key of
the custodian's enrollment record; one that does not is named ("tap
approval: entry N: …") and fails the verification. Approvals cut short by
breakglass before 2026-12-03, and those by a key no record in the case has
(--roster gives former custodians' records), are counted, not checked.

The exit status says it all: 0 and a one-line summary when everything holds;
1 and a message naming the first bad entry and what is wrong with it
otherwise; 2 for a wrong command line. An enrollment record that does not
verify is an error too, not skipped.

EXAMPLES
   breakglass log verify
   breakglass log verify --checkpoint journal/2026-11-24.txt --checkpoint INC-4242-checkpoint.txt
   breakglass log verify --witnessed
   breakglass log verify --recordings recordings
   breakglass log verify --case ~/cases/prod-aws --origin breakglass.example.com/acme/prod-aws \
     --roster former-custodians/alice.card.json
   pbpaste | breakglass log verify --checkpoint -`

func logVerifyCommand() *cli.Command {
	return &cli.Command{
		Name:        "verify",
		Usage:       "check every signature, hash link and published checkpoint",
		ArgsUsage:   " ",
		Description: logVerifyHelp,
		Flags: append([]cli.Flag{
			&cli.GenericFlag{Name: "checkpoint", Value: &listFlag{}, Usage: "a published checkpoint: `FILE`, its text, or - (repeatable)"},
			&cli.StringFlag{Name: "origin", Usage: "require the logbook to be the one of `ORIGIN`"},
			&cli.BoolFlag{Name: "witnessed", Usage: "fail unless a quorum of the case's witnesses has cosigned every entry"},
			&cli.StringFlag{Name: "recordings", Usage: "also check the recorded sessions in `DIR` against the logbook"},
		}, caseFlags()...),
		Action: runLogVerify,
	}
}

func runLogVerify(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c, "pass checkpoints with --checkpoint")
	}
	var ckpts [][]byte
	for _, arg := range listValues(c, "checkpoint", false) {
		b, err := readCheckpointArg(c, arg)
		if err != nil {
			return err
		}
		ckpts = append(ckpts, b)
	}
	cd, err := openCase(c)
	if err != nil {
		return err
	}
	if !cd.HasLog() {
		return cd.noLogbook()
	}
	l, err := cd.Verify(ckpts...)
	if err != nil {
		return logError(recordError(err))
	}
	if o := c.String("origin"); o != "" && l.Origin() != o {
		return withHints(fmt.Errorf("the logbook of case %s is the one of %q, not %q", cd.Dir, l.Origin(), o),
			"a logbook from another case? check --case (or BREAKGLASS_CASE)")
	}
	if l.UnfinishedAppend() {
		infof("the entries file ends in an unfinished append (a crash before it was committed); it is not part of the logbook, and the next append discards it")
	}
	st, err := cd.witnessStatus(l)
	if err != nil {
		return err
	}
	ck := l.Checkpoint()
	fmt.Fprintf(stdout(c), "logbook verified: %s, consistent with %s, tree head %d %s\n",
		logPlural(l.Size(), "entry", "entries"), logPlural(int64(len(ckpts)), "checkpoint", "checkpoints"),
		ck.N, base64.StdEncoding.EncodeToString(ck.Hash[:]))
	if err := reportAdmission(stdout(c), cd); err != nil {
		return err
	}
	if err := verifyApprovals(c, cd, l); err != nil {
		return err
	}
	if dir := c.String("recordings"); dir != "" {
		if err := verifyRecordings(c, l, dir); err != nil {
			return err
		}
	}
	if st == nil {
		if c.Bool("witnessed") {
			return cd.noWitnesses()
		}
		return nil
	}
	for _, msg := range st.Ignored {
		infof("%s: %s (not counted)", witness.CosignedFile, msg)
	}
	fmt.Fprintf(stdout(c), "witnesses: %s\n", st.Summary())
	if c.Bool("witnessed") && st.Witnessed < l.Size() {
		return withHints(fmt.Errorf("%s not yet cosigned by a quorum of %d witnesses", witness.Span(st.Witnessed, l.Size()), st.Quorum),
			"run breakglass log cosign, or see its --help for an offline witness")
	}
	return nil
}

// readCheckpointArg reads a --checkpoint value: "-" (standard input), the
// text of a checkpoint (it has a newline), or a file. Pasted text is
// normalised: carriage returns at line ends and trailing blanks are dropped,
// and a final newline is added.
func readCheckpointArg(c *cli.Context, arg string) ([]byte, error) {
	var b []byte
	switch {
	case arg == "-":
		var err error
		if b, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20)); err != nil {
			return nil, fmt.Errorf("--checkpoint -: %v", err)
		}
	case strings.Contains(arg, "\n"):
		b = []byte(arg)
	default:
		var err error
		if b, err = os.ReadFile(arg); err != nil {
			return nil, withHints(fmt.Errorf("--checkpoint %s: %v", arg, atomicfile.UnwrapPath(err)),
				"pass a file holding a checkpoint (as breakglass log checkpoint prints it), or its text")
		}
	}
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimRight(l, "\r")
	}
	b = append(bytes.TrimRight(bytes.Join(lines, []byte("\n")), " \t\r\n"), '\n')
	if !bytes.Contains(b, []byte("\n\n— ")) {
		return nil, withHints(errors.New("--checkpoint "+shortArg(arg)+": not a signed checkpoint (origin, size, root hash, a blank line, signature lines)"),
			"copy the whole output of breakglass log checkpoint, signature lines included")
	}
	return b, nil
}

// shortArg names a --checkpoint value in messages: a file name, or the
// first line of a text.
func shortArg(arg string) string {
	if first, _, ok := strings.Cut(arg, "\n"); ok {
		return fmt.Sprintf("%q…", first)
	}
	return arg
}

// verifyRecordings is log verify --recordings DIR.
func verifyRecordings(c *cli.Context, l *logbook.Log, dir string) error {
	ok, problems, err := casedir.VerifyRecordings(l, dir)
	if err != nil {
		return withHints(fmt.Errorf("--recordings %s: %v", dir, atomicfile.UnwrapPath(err)), "give the folder of the recordings, usually CASE/recordings")
	}
	for _, p := range problems {
		fmt.Fprintf(stdout(c), "recording %s: %s\n", p.Problem, p)
	}
	fmt.Fprintf(stdout(c), "recordings: %s match the logbook, %s\n", logPlural(int64(len(ok)), "file", "files"),
		logPlural(int64(len(problems)), "problem", "problems"))
	bad := 0
	for _, p := range problems {
		if p.Problem != casedir.RecordingUnended {
			bad++
		}
	}
	if bad > 0 {
		return withHints(fmt.Errorf("%s in %s the logbook does not vouch for", logPlural(int64(bad), "recording", "recordings"), dir),
			"restore them from the case's history (git log -p "+dir+"), and ask who changed them")
	}
	return nil
}

// verifyApprovals checks what each tap entry says its custodian approved
// (session.CheckApprovals) and reports it in one line.
func verifyApprovals(c *cli.Context, cd *caseDir, l *logbook.Log) error {
	recs, err := cd.Records()
	if err != nil {
		return recordError(err)
	}
	ac := session.CheckApprovals(l.Entries(), recs)
	if ac.Verified+ac.Unsigned+len(ac.Cut)+len(ac.UnknownKey)+len(ac.Bad) == 0 {
		return nil
	}
	parts := []string{fmt.Sprintf("%d verified", ac.Verified)}
	if ac.Unsigned > 0 {
		parts = append(parts, fmt.Sprintf("%d unsigned (paper)", ac.Unsigned))
	}
	if len(ac.Cut) > 0 {
		parts = append(parts, fmt.Sprintf("%d cut short by breakglass before 2026-12-03, not checked (%s)", len(ac.Cut), entryList(ac.Cut)))
	}
	if len(ac.UnknownKey) > 0 {
		parts = append(parts, fmt.Sprintf("%d by a key no record in the case has, not checked (%s; give the record with --roster)", len(ac.UnknownKey), entryList(ac.UnknownKey)))
	}
	fmt.Fprintf(stdout(c), "tap approvals: %s\n", strings.Join(parts, ", "))
	for _, p := range ac.Bad {
		fmt.Fprintf(stdout(c), "tap approval: %v\n", p)
	}
	if len(ac.Bad) > 0 {
		return withHints(fmt.Errorf("%s not what the tap entry says", logPlural(int64(len(ac.Bad)), "approval is", "approvals are")),
			"each entry is signed by its actor's token: ask who signed these entries, and compare the case's history (git log -p)")
	}
	return nil
}

// entryList names entries: "entries 3, 7".
func entryList(ns []int64) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return map[bool]string{true: "entry ", false: "entries "}[len(ns) == 1] + strings.Join(s, ", ")
}
