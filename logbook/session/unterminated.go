package session

import (
	"errors"
	"fmt"
	"strings"

	"github.com/breakglass/breakglass/logbook"
)

// UnterminatedAbort is the abort entry of the session st started, whose
// process ended without closing it: it names the session, its start, its
// operator and who tapped in it.
func UnterminatedAbort(entries []*logbook.Entry, st *logbook.Entry) logbook.Entry {
	id := st.Details[logbook.DetailSession]
	var tapped []string
	for _, e := range entries {
		if e.Index > st.Index && e.Kind == logbook.KindTap && e.Details[logbook.DetailSession] == id && e.Details["custodian"] != "" {
			tapped = append(tapped, e.Details["custodian"])
		}
	}
	d := map[string]string{logbook.DetailAction: logbook.ActionAbort, logbook.DetailSession: id, DetailUnsealStart: fmt.Sprint(st.Index)}
	if op := st.Details[logbook.DetailOperator]; op != "" {
		d[logbook.DetailOperator] = op
	}
	if len(tapped) > 0 {
		d[logbook.DetailTapped] = strings.Join(tapped, ",")
	}
	return logbook.Entry{Kind: logbook.KindNote, Secret: st.Secret, HeaderHash: st.HeaderHash,
		Reason: UnterminatedReason, Ticket: st.Ticket, UseCase: st.UseCase, Details: d}
}

// CloseUnterminated appends, through appendAt, the abort of every session
// open in l but no longer running, ahead of the entry a command appends.
// With size >= 0 (the size the caller checked) the aborts go on top of
// exactly size entries, and it returns how many it appended, so that the
// caller's entry follows them; when l no longer holds size entries it
// appends nothing, and the caller's append reports the conflict. With
// size < 0 it refreshes l first, and a conflict ends it quietly (the next
// append looks again). found, when not nil, is told of each session
// before its abort is appended.
func CloseUnterminated(l *logbook.Log, size int64, appendAt func(size int64, e logbook.Entry) error, found func(st *logbook.Entry)) (int64, error) {
	if size < 0 {
		if err := l.Refresh(); err != nil {
			return 0, nil
		}
	} else if l.Size() != size {
		return 0, nil
	}
	base := l.Size()
	var added int64
	for _, st := range logbook.OpenSessions(l.Entries()) {
		id := st.Details[logbook.DetailSession]
		if Running(id) {
			continue
		}
		if found != nil {
			found(st)
		}
		err := appendAt(base+added, UnterminatedAbort(l.Entries(), st))
		var ce *logbook.ConflictError
		if errors.As(err, &ce) && size < 0 {
			return added, nil
		}
		if err != nil {
			return added, fmt.Errorf("recording the abort of unseal session %s: %w", id, err)
		}
		added++
		RemoveLock(id)
	}
	return added, nil
}
