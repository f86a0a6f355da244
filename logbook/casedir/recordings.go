package casedir

// Recorded sessions (package logbook/recording) as a case keeps them:
//
//	CASE/
//	  auditors                       age recipients the recordings are encrypted to
//	  recordings/NAME.cast.age       one file per recorded session
//
// The logbook names each recording by its path relative to the case
// (logbook.DetailRecording), in the release entry and in the session's
// end note, which also holds its SHA-256 and size.

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/plugin"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/recording"
)

const (
	// AuditorsFile holds the auditors' age recipients, one a line.
	AuditorsFile = "auditors"
	// RecordingsDir holds the recordings of --exec sessions.
	RecordingsDir = "recordings"
	// RecordingExt ends the name of every recording.
	RecordingExt = ".cast.age"
)

// ErrNoAuditors: the case has no auditors file, so sessions cannot be
// recorded.
var ErrNoAuditors = errors.New("no auditors")

// An AuditorsError is an auditors file that cannot be used.
type AuditorsError struct {
	Path string
	Err  error
}

func (e *AuditorsError) Error() string { return fmt.Sprintf("auditors file %s: %v", e.Path, e.Err) }
func (e *AuditorsError) Unwrap() error { return e.Err }

// AuditorsPath is where the case's auditors file is (or would be).
func (c *Case) AuditorsPath() string { return filepath.Join(c.Dir, AuditorsFile) }

// Auditors reads the case's auditors file (recording.ParseRecipients;
// plugin recipients talk to the person through ui). It returns an error
// wrapping ErrNoAuditors when there is none, and an *AuditorsError when it
// cannot be used.
func (c *Case) Auditors(ui *plugin.ClientUI) ([]age.Recipient, error) {
	f, err := os.Open(c.AuditorsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", c.AuditorsPath(), ErrNoAuditors)
	}
	if err != nil {
		return nil, &AuditorsError{Path: c.AuditorsPath(), Err: err}
	}
	defer f.Close()
	rs, err := recording.ParseRecipients(f, ui)
	if err != nil {
		return nil, &AuditorsError{Path: c.AuditorsPath(), Err: err}
	}
	return rs, nil
}

// NewRecording returns where the recording of a session of secret goes:
// its logbook name (relative to the case, with slashes) and its path. It
// creates the recordings folder.
func (c *Case) NewRecording(secret, session string, t time.Time) (name, file string, err error) {
	safe := strings.Map(func(r rune) rune {
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)) {
			return r
		}
		return '_'
	}, secret)
	if len(session) > 8 {
		session = session[:8]
	}
	name = path.Join(RecordingsDir, safe+"-"+t.UTC().Format("20060102T150405Z")+"-"+session+RecordingExt)
	if err := os.MkdirAll(filepath.Join(c.Dir, RecordingsDir), 0o755); err != nil {
		return "", "", err
	}
	return name, filepath.Join(c.Dir, filepath.FromSlash(name)), nil
}

// RecordingFile is the file a logbook recording name stands for. Names
// that are not a recording inside the case (an absolute path, "..") are
// an error.
func (c *Case) RecordingFile(name string) (string, error) {
	if !filepath.IsLocal(filepath.FromSlash(name)) || !strings.HasSuffix(name, RecordingExt) {
		return "", fmt.Errorf("the logbook names the recording %q, which is not a %s file in the case", name, RecordingExt)
	}
	return filepath.Join(c.Dir, filepath.FromSlash(name)), nil
}

// An UnendedSession is a recorded session whose end the logbook lacks and
// whose recorder is gone (kill -9, a crash, a card that was not there to
// sign the end): what is left of its recording.
type UnendedSession struct {
	Release *logbook.Entry // the session's release entry
	Name    string         // the recording's logbook name
	File    string         // and its path

	// What the file holds now; Missing when there is no file.
	Missing   bool
	SHA256    [32]byte
	Size      int64
	LastWrite time.Time
}

// UnendedSessions returns the recorded sessions of l that have no end in
// the logbook (logbook.UnendedSessions) and are not being recorded right
// now (recording.Live).
func (c *Case) UnendedSessions(l *logbook.Log) ([]UnendedSession, error) {
	if l == nil {
		return nil, nil
	}
	var out []UnendedSession
	for _, e := range logbook.UnendedSessions(l.Entries()) {
		u := UnendedSession{Release: e, Name: e.Details[logbook.DetailRecording]}
		file, err := c.RecordingFile(u.Name)
		if err != nil {
			u.Missing = true
			out = append(out, u)
			continue
		}
		u.File = file
		if live, err := recording.Live(file); err == nil && live {
			continue
		}
		f, err := os.Open(file)
		if errors.Is(err, fs.ErrNotExist) {
			u.Missing = true
			out = append(out, u)
			continue
		}
		if err != nil {
			return nil, err
		}
		h := sha256.New()
		u.Size, err = io.Copy(h, f)
		fi, serr := f.Stat()
		f.Close()
		if err != nil {
			return nil, err
		}
		if serr == nil {
			u.LastWrite = fi.ModTime().UTC().Truncate(time.Second)
		}
		copy(u.SHA256[:], h.Sum(nil))
		out = append(out, u)
	}
	return out, nil
}
