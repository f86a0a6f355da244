package session

// Recorded sessions: a session run with --exec records the terminal into
// the case (package logbook/recording); its release names the recording
// (logbook.DetailRecording), and a session-end note closes it: written by
// the session's own process when the command ends ([Session.End]), or, when
// that process was killed, by the next command on the case
// ([UnterminatedEnd]).

import (
	"encoding/hex"
	"slices"
	"strconv"
	"time"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/logbook/recording"
)

// UnterminatedEndReason is the reason of the session-end note of a recorded
// session whose process ended without writing it.
const UnterminatedEndReason = "a recorded session ended without breakglass recording its end; noted by the next command on the case"

// endDetails are the details every session-end note of a recording has.
func endDetails(name string, sum [32]byte, size int64) map[string]string {
	return map[string]string{
		logbook.DetailAction:    logbook.ActionSessionEnd,
		logbook.DetailRecording: name,
		"recording-sha256":      hex.EncodeToString(sum[:]),
		"recording-size":        strconv.FormatInt(size, 10),
	}
}

// Seconds formats d as seconds with millisecond precision ("83.512").
func Seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// yesNo is "yes" or "no".
func yesNo(b bool) string { return map[bool]string{false: "no", true: "yes"}[b] }

// RecordingDetails adds to a release's details what it says about its
// recording: the recording's name and whether the input was recorded; or,
// with name "", why there is none.
func RecordingDetails(details map[string]string, name string, noInput bool, whyNone string) map[string]string {
	if name == "" {
		details["no-recording"] = logbook.OneLine(whyNone)
		return details
	}
	details[logbook.DetailRecording] = name
	details["recording-input"] = yesNo(!noInput)
	return details
}

// End is the session-end note of the recording name, as res says it
// ended: how, after how long, the recording's hash and size, the command's
// exit status, and, when the recording stopped early (recErr, res.Err as
// it is to be written), where.
func (s *Session) End(name string, res *recording.Result, noInput bool, recErr error) logbook.Entry {
	d := endDetails(name, res.SHA256, res.Size)
	d[logbook.DetailEnd] = string(res.End)
	d["recording-duration"] = Seconds(res.Duration)
	d["recording-input"] = yesNo(!noInput)
	if res.End == recording.EndExit {
		d["exit-status"] = strconv.Itoa(res.ExitCode)
	}
	if recErr != nil {
		d["recording-error"] = logbook.OneLine(recErr.Error())
		d["recording-complete-until"] = Seconds(res.CompleteUntil)
	}
	return s.Entry(logbook.KindNote, d)
}

// UnterminatedEnd is the session-end note of the recorded session u whose
// process ended without writing it: end "unterminated", with the hash,
// size and last write of what is left of its recording.
func UnterminatedEnd(u casedir.UnendedSession) logbook.Entry {
	r := u.Release
	d := map[string]string{logbook.DetailEnd: string(recording.EndUnterminated)}
	if u.Missing {
		d[logbook.DetailAction], d[logbook.DetailRecording], d["recording-missing"] = logbook.ActionSessionEnd, u.Name, "yes"
	} else {
		d = endDetails(u.Name, u.SHA256, u.Size)
		d[logbook.DetailEnd] = string(recording.EndUnterminated)
		if !u.LastWrite.IsZero() {
			d["recording-last-write"] = u.LastWrite.Format(time.RFC3339)
		}
	}
	for _, k := range []string{logbook.DetailSession, logbook.DetailOperator} {
		if v := r.Details[k]; v != "" {
			d[k] = v
		}
	}
	return logbook.Entry{Kind: logbook.KindNote, Secret: r.Secret, HeaderHash: r.HeaderHash, Ticket: r.Ticket, UseCase: r.UseCase,
		Reason: UnterminatedEndReason, Details: d}
}

// NoteUnended appends, through appendEntry, the UnterminatedEnd of each of
// us (found when the logbook was opened) that l, refreshed, still holds
// unended: another process may have noted one meanwhile. noted is told
// of each, with the append's error.
func NoteUnended(l *logbook.Log, us []casedir.UnendedSession, appendEntry func(logbook.Entry) error, noted func(u casedir.UnendedSession, err error)) {
	if len(us) == 0 || l.Refresh() != nil {
		return
	}
	still := logbook.UnendedSessions(l.Entries())
	for _, u := range us {
		if !slices.ContainsFunc(still, func(e *logbook.Entry) bool { return e.Index == u.Release.Index }) {
			continue // another process noted it meanwhile
		}
		noted(u, appendEntry(UnterminatedEnd(u)))
	}
}
