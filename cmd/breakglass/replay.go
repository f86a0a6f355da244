package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/asciicast"
	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/logbook/recording"
)

const replayHelp = `replay checks a recorded --exec session against the logbook and plays it,
for an auditor.

A recording (CASE/recordings/NAME.cast.age, see aws session --help) is
encrypted to the auditors in CASE/auditors; -i names an auditor's age
identity file (AGE-SECRET-KEY-…, or an age plugin's AGE-PLUGIN-… for a key
on a token). Before anything is decrypted, the file's SHA-256 and size
must be those the session-end note of the case's logbook records for a
recording of that name. A file that was edited or cut, or another
session's recording under this name, is named and not played
(--unverified plays it anyway, after the warning).

It plays what the terminal showed at the pace it was shown (--speed,
pauses cut to --max-wait; --max-wait 0 prints it all at once), or with
--dump writes the decrypted asciicast v2 to standard output for other
players (asciinema play -, …). A recording whose breakglass was killed
ends at the last second it could write; replay says so.

EXAMPLES
   # play a session, as an auditor
   breakglass replay recordings/prod-20261201T040506Z-7f3a9c01.cast.age -i ~/.age/auditor.key

   # with asciinema, twice as fast
   breakglass replay REC.cast.age -i auditor.key --dump > session.cast
   asciinema play -s 2 session.cast

   # an auditor's key on a YubiKey (age-plugin-yubikey)
   breakglass replay REC.cast.age -i yubikey-identity.txt

   # every recording of the case against the logbook, no key needed
   breakglass log verify --recordings recordings`

func replayCommand() *cli.Command {
	return &cli.Command{
		Name:        "replay",
		Usage:       "check a recorded --exec session against the logbook and play it (auditors)",
		ArgsUsage:   "REC.cast.age -i IDENTITY",
		Description: replayHelp,
		Flags: append([]cli.Flag{
			&cli.GenericFlag{Name: "identity", Aliases: []string{"i"}, Value: &listFlag{}, Usage: "an auditor's age identity `FILE` (repeatable)"},
			&cli.BoolFlag{Name: "dump", Usage: "write the decrypted asciicast to standard output instead of playing it"},
			&cli.Float64Flag{Name: "speed", Value: 1, Usage: "play `N` times as fast"},
			&cli.DurationFlag{Name: "max-wait", Value: 2 * time.Second, Usage: "cut longer pauses to `D` (0: no pauses)"},
			&cli.BoolFlag{Name: "unverified", Usage: "play a recording the logbook does not vouch for (after the warning)"},
		}, caseFlags()...),
		Action: runReplay,
	}
}

func runReplay(c *cli.Context) error {
	if err := oneArg(c, "REC.cast.age"); err != nil {
		return err
	}
	file := c.Args().First()
	idFiles := listValues(c, "identity", false)
	if len(idFiles) == 0 {
		return usageError("give an auditor's age identity with -i FILE")
	}
	var ids []age.Identity
	for _, p := range idFiles {
		f, err := os.Open(p)
		if err != nil {
			return withHints(fmt.Errorf("-i %s: %v", p, atomicfile.UnwrapPath(err)), "give an age identity file (age-keygen makes one)")
		}
		got, err := recording.ParseIdentities(f, ageUI())
		f.Close()
		if err != nil {
			return withHints(fmt.Errorf("-i %s: %v", p, err), "give an age identity file: AGE-SECRET-KEY-1… or AGE-PLUGIN-… lines")
		}
		ids = append(ids, got...)
	}
	end, err := checkReplay(c, file)
	if err != nil {
		return err
	}
	in, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("%s: %v", file, atomicfile.UnwrapPath(err))
	}
	defer in.Close()
	rd, err := recording.Open(in, ids...)
	var nm *age.NoIdentityMatchError
	switch {
	case errors.As(err, &nm):
		return withHints(fmt.Errorf("none of the identities given opens %s", file),
			"recordings are encrypted to the auditors in the case's auditors file at the time; use one of their identities")
	case err != nil:
		return withHints(fmt.Errorf("%s: %w", file, err), "is it a recording made by breakglass --exec?")
	}
	if c.Bool("dump") {
		_, err = io.Copy(os.Stdout, rd)
	} else {
		var cast *asciicast.Reader
		if cast, err = asciicast.NewReader(rd); err == nil {
			err = asciicast.Play(os.Stdout, cast, c.Float64("speed"), c.Duration("max-wait"))
		}
	}
	var te *recording.TruncatedError
	died := end != nil && end.Details[logbook.DetailEnd] == string(recording.EndUnterminated)
	switch {
	case died && (err == nil || errors.As(err, &te) && te.Cut):
		infof("the recording ends where its breakglass died (the logbook noted the session as unterminated in entry %d)", end.Index)
		return nil
	case errors.As(err, &te):
		return withHints(fmt.Errorf("%s: %w", file, err), "everything before it was played; the rest cannot be read")
	case err != nil:
		return fmt.Errorf("%s: %w", file, err)
	}
	if end != nil && end.Details["recording-error"] != "" {
		infof("the recording stopped %s s into the session (%s), as the logbook says", end.Details["recording-complete-until"], end.Details["recording-error"])
	}
	return nil
}

// checkReplay checks file against the case's logbook and says what it is
// the recording of. It returns the session-end note that vouches for it
// (nil with --unverified when none does).
func checkReplay(c *cli.Context, file string) (*logbook.Entry, error) {
	cd, l, err := openCaseLog(c)
	if err != nil {
		return nil, err
	}
	unverified := c.Bool("unverified")
	if l == nil {
		if unverified {
			infof("warning: no logbook in %s: %s is not checked (--unverified)", cd.Dir, file)
			return nil, nil
		}
		return nil, withHints(fmt.Errorf("no logbook in %s to check %s against", cd.Dir, file),
			"give the case the recording belongs to with --case DIR (or BREAKGLASS_CASE)",
			"--unverified plays it without the check")
	}
	end, err := casedir.CheckRecording(l, file)
	var re *casedir.RecordingError
	switch {
	case errors.As(err, &re) && unverified:
		infof("warning: %v; playing it anyway (--unverified)", err)
		return nil, nil
	case errors.As(err, &re):
		hints := []string{"replay plays only what the logbook vouches for; --unverified plays it anyway"}
		if re.Problem == casedir.RecordingEdited || re.Problem == casedir.RecordingSwapped {
			hints = append([]string{"compare with the case's history (git log -p " + cd.Dir + "/" + casedir.RecordingsDir + ")"}, hints...)
		}
		return nil, withHints(err, hints...)
	case err != nil:
		return nil, fmt.Errorf("%s: %v", file, atomicfile.UnwrapPath(err))
	}
	d := end.Details
	what := fmt.Sprintf("ended: %s", d[logbook.DetailEnd])
	if s := d["exit-status"]; s != "" {
		what += " (status " + s + ")"
	}
	if s := d["recording-duration"]; s != "" {
		what += ", " + s + " s"
	}
	infof("%s: the recording of %s's session of %s (ticket %s), %s; SHA-256 and size match entry %d",
		file, d[logbook.DetailOperator], end.Secret, orNone(end.Ticket), what, end.Index)
	if d["recording-input"] == "no" {
		infof("what was typed is not in this recording (--no-input)")
	}
	return end, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
