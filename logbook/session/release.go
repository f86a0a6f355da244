package session

import (
	"errors"
	"fmt"
	"time"

	"github.com/breakglass/breakglass/logbook"
)

// An OpenReleaseError is a release of Secret that is still open: nobody
// revoked it since.
type OpenReleaseError struct {
	Secret string
	// Release is the latest open release entry.
	Release *logbook.Entry
	// Who is its operator.
	Who string
}

func (e *OpenReleaseError) Error() string {
	ticket := e.Release.Ticket
	if ticket == "" {
		ticket = "none"
	}
	return fmt.Sprintf("%s was released to %s at %s (ticket %s) and has not been revoked since",
		e.Secret, e.Who, e.Release.Time.UTC().Format(time.RFC3339), ticket)
}

// CheckOpenRelease applies the one-release-at-a-time rule to the secret
// name: an *OpenReleaseError when entries leave a release of it open, else
// nil.
func CheckOpenRelease(entries []*logbook.Entry, name string) error {
	open := logbook.OpenReleases(entries, name)
	if len(open) == 0 {
		return nil
	}
	last := open[len(open)-1]
	return &OpenReleaseError{Secret: name, Release: last, Who: Starter(last)}
}

// A RaceError is a release of Secret that landed in the logbook during the
// taps of another.
type RaceError struct{ Secret string }

func (e *RaceError) Error() string {
	return "someone else's release of " + e.Secret + " was recorded during the taps"
}

// ErrBusy is returned when the logbook kept changing under a
// check-then-append.
var ErrBusy = errors.New("the logbook kept changing; try again")

// MaxTries bounds the retries of a check-then-append that lost a race.
const MaxTries = 8

// AppendRelease is the check-then-append of the release of secret: it
// re-reads l, checks that no release of secret is open (unless
// concurrent), and calls appendAt(size) to append on top of exactly the
// size entries it checked. When appendAt returns a *logbook.ConflictError
// it checks again. An open release is a *RaceError.
func AppendRelease(l *logbook.Log, secret string, concurrent bool, appendAt func(size int64) error) error {
	for try := 0; try < MaxTries; try++ {
		if err := l.Refresh(); err != nil {
			return err
		}
		if !concurrent && len(logbook.OpenReleases(l.Entries(), secret)) > 0 {
			return &RaceError{Secret: secret}
		}
		err := appendAt(l.Size())
		var ce *logbook.ConflictError
		if !errors.As(err, &ce) {
			return err
		}
	}
	return ErrBusy
}
