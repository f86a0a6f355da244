package main

// Recorded --exec sessions (package logbook/recording): aws session --exec
// and unseal --exec run their command on a pty and record it, encrypted to
// the case's auditors (CASE/auditors), into CASE/recordings/. The release
// entry names the recording; when the session ends, a session-end note,
// signed by the operator's card, records its SHA-256, size, duration and
// why it ended. Without auditors --exec refuses, unless --no-recording
// REASON, which the release records.
//
//	es, err := prepareExec(c, cl, "aws session")  // before any tap
//	defer es.abandon()                            // removes a recording never run
//	e.Details = es.releaseDetails(e.Details)      // the release names it
//	err = es.run(cmd, deadline)                   // runs, records the end

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"filippo.io/age/plugin"
	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/logbook/recording"
	"github.com/breakglass/breakglass/logbook/session"
)

// recordedSessionsHelp is the part of --help of aws session and unseal
// about recorded sessions.
const recordedSessionsHelp = `RECORDED SESSIONS
--exec runs CMD on a pseudo-terminal and records the session for the
case's auditors: what the terminal shows, what you type (not with
--no-input) and resizes, as asciicast v2, encrypted as it is written to
the age recipients in CASE/auditors, into
CASE/recordings/SECRET-TIME-SESSION.cast.age. The release entry names the
recording. When the session ends (CMD exits, the credentials expire, the
terminal goes away) your card signs a session-end note with the
recording's SHA-256, size, duration and why it ended; a session whose
breakglass was killed is noted as unterminated by the next command on the
case. Without CASE/auditors --exec refuses, unless --no-recording REASON
(recorded). Auditors play a recording with breakglass replay.`

// recordFlags are the recording flags of the commands with --exec.
func recordFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "no-recording", Usage: "with --exec: do not record the session, because of `REASON` (recorded in the logbook)"},
		&cli.BoolFlag{Name: "no-input", Usage: "with --exec: record what the terminal shows but not what is typed (the logbook says so)"},
	}
}

// checkRecordFlags refuses the recording flags without --exec: only an
// --exec session is recorded.
func checkRecordFlags(c *cli.Context, exec bool) error {
	for _, f := range []string{"no-recording", "no-input"} {
		if c.IsSet(f) && !exec {
			return usageError("--%s is about --exec sessions: only those are recorded", f)
		}
	}
	return nil
}

// ageUI is how age plugins (an auditor's recipient or identity on a
// token) talk to the person: on the terminal, in breakglass's voice.
func ageUI() *plugin.ClientUI {
	return plugin.NewTerminalUI(func(format string, v ...any) { infof(format, v...) },
		func(format string, v ...any) { infof("warning: "+format, v...) })
}

// An execSession is the recording side of one --exec session.
type execSession struct {
	cl          *ceremonyLog
	rec         *recording.Recording // nil: not recorded
	name        string               // the recording's logbook name
	noRecording string               // why not (--no-recording)
	noInput     bool
	ran         bool
}

// prepareExec checks, before anyone taps, that the session can be
// recorded, and creates its recording (what ran through action, e.g. "aws
// session"). Without auditors it refuses unless --no-recording gives a
// reason.
func prepareExec(c *cli.Context, cl *ceremonyLog, action string) (*execSession, error) {
	es := &execSession{cl: cl, noRecording: strings.TrimSpace(c.String("no-recording")), noInput: c.Bool("no-input")}
	if c.IsSet("no-recording") && es.noRecording == "" {
		return nil, usageError("--no-recording needs a reason")
	}
	cd := cl.cd
	rs, err := cd.Auditors(ageUI())
	var ae *casedir.AuditorsError
	switch {
	case es.noRecording != "" && err == nil:
		infof("warning: the case has auditors, but --no-recording runs this session without a recording (the release says why)")
		return es, nil
	case es.noRecording != "":
		infof("--no-recording: the session runs without a recording (the release says why: %s)", es.noRecording)
		return es, nil
	case errors.Is(err, casedir.ErrNoAuditors):
		return nil, withHints(fmt.Errorf("--exec sessions are recorded for the case's auditors, and %s has none (no %s file); nothing was tapped", cd.Dir, casedir.AuditorsFile),
			"add the auditors' age recipients (age1…, one a line) to "+cd.AuditorsPath()+" and commit it",
			`or run it unrecorded: --no-recording "REASON" (recorded in the logbook)`)
	case errors.As(err, &ae):
		return nil, withHints(fmt.Errorf("%w; nothing was tapped", err),
			"fix "+ae.Path+": age recipients (age1…, age1pq1…, age1tag1… or a plugin's age1NAME1…), one a line, # for comments",
			`or run it unrecorded: --no-recording "REASON" (recorded in the logbook)`)
	case err != nil:
		return nil, err
	}
	name, file, err := cd.NewRecording(cl.Base.Secret, cl.ID, time.Now())
	if err != nil {
		return nil, withHints(fmt.Errorf("cannot create the recording in %s: %v; nothing was tapped", cd.Dir, atomicfile.UnwrapPath(err)),
			`make the case writable, or run it unrecorded: --no-recording "REASON"`)
	}
	title := fmt.Sprintf("breakglass %s: %s by %s", action, cl.Base.Secret, cl.Operator)
	if cl.Base.Ticket != "" {
		title += " (" + cl.Base.Ticket + ")"
	}
	es.rec, err = recording.Create(file, recording.Options{Recipients: rs, Title: title, NoInput: es.noInput,
		OnError: recordingStopped})
	if err != nil {
		return nil, withHints(fmt.Errorf("cannot start the recording %s: %v; nothing was tapped", file, atomicfile.UnwrapPath(err)),
			"check the auditors' recipients in "+cd.AuditorsPath()+" (a plugin recipient needs its age-plugin-NAME on $PATH)",
			`or run it unrecorded: --no-recording "REASON" (recorded in the logbook)`)
	}
	es.name = name
	return es, nil
}

// recordingStopped tells the operator at once, on a terminal in raw mode,
// that the recording stopped.
func recordingStopped(err error, at time.Duration) {
	fmt.Fprintf(os.Stderr, "\r\nbreakglass: error: the recording stopped %s s into the session: %v\r\n"+
		"breakglass: hint: the session goes on UNRECORDED from here; the logbook will say where the recording stopped\r\n"+
		"breakglass: hint: free space where the case is, or end the session (exit) and start a new one\r\n", session.Seconds(at), atomicfile.UnwrapPath(err))
}

// releaseDetails adds what the release entry says about the recording to
// details.
func (es *execSession) releaseDetails(details map[string]string) map[string]string {
	if es == nil {
		return details
	}
	name := es.name
	if es.rec == nil {
		name = ""
	}
	return session.RecordingDetails(details, name, es.noInput, es.noRecording)
}

// abandon removes a recording that never ran (the release could not be
// recorded, someone pressed Ctrl-C during the taps).
func (es *execSession) abandon() {
	if es != nil && es.rec != nil && !es.ran {
		es.rec.Remove()
	}
}

// run runs cmd, recorded unless --no-recording, with the session ended at
// deadline (if set), and records the end. Its error is the command's: its
// exit status, or why the session was ended.
func (es *execSession) run(cmd *exec.Cmd, deadline time.Time) error {
	if es.rec == nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
		return commandError(cmd.Args[0], cmd.Run())
	}
	es.ran = true
	defer es.rec.Close()
	es.rec.SetDeadline(deadline)
	infof("recording the session for the auditors into %s", es.name)
	res, runErr := es.rec.Run(cmd, os.Stdin, os.Stdout)
	es.logSessionEnd(res)
	switch {
	case runErr != nil:
		return commandError(cmd.Args[0], runErr)
	case res.End == recording.EndExpired:
		return withHints(fmt.Errorf("the session's credentials expired at %s, so the session was ended", deadline.UTC().Format(time.RFC3339)),
			"start a new one with breakglass aws session")
	case res.End == recording.EndHangup:
		return errors.New("the terminal went away, so the session was ended")
	case res.End == recording.EndTerminated:
		return &hintError{err: errors.New("breakglass was stopped (SIGTERM), so the session was ended"), code: exitInterrupted}
	case res.ExitCode != 0:
		return &hintError{err: fmt.Errorf("%s exited with status %d", cmd.Args[0], res.ExitCode), code: max(1, min(res.ExitCode, 255))}
	}
	return nil
}

// logSessionEnd appends the session-end note, signed by the operator, and says
// what was recorded.
func (es *execSession) logSessionEnd(res *recording.Result) {
	var recErr error
	if res.Err != nil {
		recErr = atomicfile.UnwrapPath(res.Err)
	}
	e := es.cl.End(es.name, res, es.noInput, recErr)
	sum := hex.EncodeToString(res.SHA256[:])
	if err := es.cl.logOperator(e, -1); err != nil {
		reportError(os.Stderr, withHints(fmt.Errorf("the end of the session could not be recorded: %w", err),
			"the next command on the case records it as unterminated, with the recording's hash then"))
	} else if es.cl.log == nil {
		infof("no logbook in %s; the end of the session is not recorded", es.cl.cd.Dir)
	}
	infof("the session was recorded in %s (%d bytes, SHA-256 %s); it ended: %s", es.name, res.Size, sum, res.End)
	if res.Err != nil {
		infof("warning: the recording stopped %s s into the session (%v); the logbook says so", session.Seconds(res.CompleteUntil), atomicfile.UnwrapPath(res.Err))
	}
}

// commandError is the error of an --exec command that did not run or did
// not exit with 0.
func commandError(name string, err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &hintError{err: fmt.Errorf("%s exited with status %d", name, ee.ExitCode()), code: max(1, ee.ExitCode())}
	}
	if err != nil {
		return withHints(fmt.Errorf("running %s: %v", name, err), "check the command after --exec --")
	}
	return nil
}
