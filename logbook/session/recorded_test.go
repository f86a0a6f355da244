package session

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/logbook/recording"
)

func TestEnd(t *testing.T) {
	s := New("carol", "prod-aws", nil)
	res := &recording.Result{End: recording.EndExit, ExitCode: 3, Duration: 83512 * time.Millisecond, SHA256: [32]byte{0xab}, Size: 42}
	e := s.End("rec-1.cast", res, true, nil)
	want := map[string]string{logbook.DetailAction: logbook.ActionSessionEnd, logbook.DetailRecording: "rec-1.cast",
		"recording-sha256": fmt.Sprintf("ab%062x", 0), "recording-size": "42", logbook.DetailEnd: "exit", "recording-duration": "83.512",
		"recording-input": "no", "exit-status": "3", logbook.DetailOperator: "carol", logbook.DetailSession: s.ID}
	if e.Kind != logbook.KindNote || fmt.Sprint(e.Details) != fmt.Sprint(want) {
		t.Fatalf("end %v\nwant %v", e.Details, want)
	}
	res = &recording.Result{End: recording.EndHangup, CompleteUntil: 1500 * time.Millisecond}
	e = s.End("rec-1.cast", res, false, errors.New("disk\nfull"))
	if e.Details["recording-error"] != "disk full" || e.Details["recording-complete-until"] != "1.500" ||
		e.Details["exit-status"] != "" || e.Details["recording-input"] != "yes" {
		t.Fatalf("end after a recording error %v", e.Details)
	}
	// The end closes the recorded session its release opened.
	rel := s.Entry(logbook.KindRelease, RecordingDetails(map[string]string{}, "rec-1.cast", false, ""))
	if open := logbook.UnendedSessions([]*logbook.Entry{&rel}); len(open) != 1 {
		t.Fatalf("release of a recorded session: %d unended", len(open))
	}
	if open := logbook.UnendedSessions([]*logbook.Entry{&rel, &e}); len(open) != 0 {
		t.Fatalf("after its end: %d unended", len(open))
	}
	none := RecordingDetails(map[string]string{}, "", false, "--no-recording\tgiven")
	if fmt.Sprint(none) != "map[no-recording:--no-recording given]" {
		t.Fatalf("no recording: %v", none)
	}
}

func TestUnterminatedEnd(t *testing.T) {
	rel := &logbook.Entry{Kind: logbook.KindRelease, Secret: "prod-aws", Ticket: "INC-1",
		Details: map[string]string{logbook.DetailSession: "00ff", logbook.DetailOperator: "carol", logbook.DetailRecording: "rec.cast"}}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	e := UnterminatedEnd(casedir.UnendedSession{Release: rel, Name: "rec.cast", Size: 7, LastWrite: at})
	if e.Reason != UnterminatedEndReason || e.Secret != "prod-aws" || e.Ticket != "INC-1" ||
		e.Details[logbook.DetailEnd] != "unterminated" || e.Details["recording-size"] != "7" ||
		e.Details["recording-last-write"] != "2026-12-01T10:00:00Z" || e.Details[logbook.DetailSession] != "00ff" || e.Details[logbook.DetailOperator] != "carol" {
		t.Fatalf("unterminated end %+v", e)
	}
	if open := logbook.UnendedSessions([]*logbook.Entry{rel, &e}); len(open) != 0 {
		t.Fatal("the note does not end the session")
	}
	m := UnterminatedEnd(casedir.UnendedSession{Release: rel, Name: "rec.cast", Missing: true})
	if m.Details["recording-missing"] != "yes" || m.Details["recording-sha256"] != "" || m.Details[logbook.DetailAction] != logbook.ActionSessionEnd {
		t.Fatalf("missing recording %v", m.Details)
	}
}

func TestNoteUnended(t *testing.T) {
	l, ps := newLog(t, "carol")
	s := New("carol", "prod-aws", nil)
	ps.add(t, l, "carol", s.Entry(logbook.KindRelease, RecordingDetails(map[string]string{}, "a.cast", false, "")))
	ps.add(t, l, "carol", s.Entry(logbook.KindRelease, RecordingDetails(map[string]string{}, "b.cast", false, "")))
	us := []casedir.UnendedSession{{Release: l.Entries()[0], Name: "a.cast", Size: 3}, {Release: l.Entries()[1], Name: "b.cast", Missing: true}}
	// b's end lands meanwhile, written by another process.
	ps.add(t, l, "carol", UnterminatedEnd(us[1]))
	var noted []string
	NoteUnended(l, us, func(e logbook.Entry) error {
		_, err := l.Append(l.Size(), e, ps["carol"])
		return err
	}, func(u casedir.UnendedSession, err error) {
		if err != nil {
			t.Fatal(err)
		}
		noted = append(noted, u.Name)
	})
	if fmt.Sprint(noted) != "[a.cast]" || len(logbook.UnendedSessions(l.Entries())) != 0 || l.Size() != 4 {
		t.Fatalf("noted %v, size %d, unended %v", noted, l.Size(), logbook.UnendedSessions(l.Entries()))
	}
}
