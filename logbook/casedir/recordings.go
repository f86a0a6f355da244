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

// Problems CheckRecording and VerifyRecordings report.
const (
	RecordingEdited  = "edited"  // the file's hash is not the one the logbook records for its name
	RecordingSwapped = "swapped" // the file's hash is the one of another recording
	RecordingUnknown = "unknown" // the logbook names neither the file nor its hash
	RecordingUnended = "unended" // the release names it, but no session-end note yet
	RecordingMissing = "missing" // a recording the logbook names is not there
	RecordingNoHash  = "no-hash" // the session-end note has no hash (the file was gone when it was noted)
)

// A RecordingError is a recording file that the logbook does not vouch
// for.
type RecordingError struct {
	File    string         // the file checked
	Name    string         // the logbook name its file name matches, if any
	Problem string         // one of the Recording… constants
	Entry   *logbook.Entry // the entry that names Name (edited, unended, missing), or the file's hash (swapped)
	SHA256  [32]byte       // the file's
	Size    int64
}

func (e *RecordingError) Error() string {
	switch e.Problem {
	case RecordingEdited:
		return fmt.Sprintf("%s was edited, cut or replaced: entry %d records SHA-256 %.16s… and %s bytes for %s; the file has %x… and %d bytes",
			e.File, e.Entry.Index, e.Entry.Details["recording-sha256"], e.Entry.Details["recording-size"], e.Name, e.SHA256[:8], e.Size)
	case RecordingSwapped:
		return fmt.Sprintf("%s is not the recording its name says: its SHA-256 is the one entry %d records for %s (swapped or renamed)",
			e.File, e.Entry.Index, e.Entry.Details[logbook.DetailRecording])
	case RecordingUnended:
		return fmt.Sprintf("the logbook has the release naming %s (entry %d) but not the end of its session: it is still running, or its breakglass died and no command has noted it since",
			e.Name, e.Entry.Index)
	case RecordingMissing:
		return fmt.Sprintf("%s, named by entry %d, is missing", e.Name, e.Entry.Index)
	case RecordingNoHash:
		return fmt.Sprintf("entry %d records no hash for %s (the file was gone when its session was found unterminated)", e.Entry.Index, e.Name)
	}
	return fmt.Sprintf("the logbook names no recording %s, nor any with its SHA-256 %x…", filepath.Base(e.File), e.SHA256[:8])
}

// HashFile returns the SHA-256 and size of a file.
func HashFile(file string) ([32]byte, int64, error) {
	var sum [32]byte
	f, err := os.Open(file)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	copy(sum[:], h.Sum(nil))
	return sum, n, err
}

// CheckRecording checks the recording file against the logbook: the
// latest session-end note whose recording has the file's name (its base
// name: an auditor may keep recordings anywhere) must record the file's
// SHA-256 and size. It returns that note, or a *RecordingError.
func CheckRecording(l *logbook.Log, file string) (*logbook.Entry, error) {
	sum, size, err := HashFile(file)
	if err != nil {
		return nil, err
	}
	return checkRecording(l.Entries(), file, sum, size)
}

func checkRecording(entries []*logbook.Entry, file string, sum [32]byte, size int64) (*logbook.Entry, error) {
	base := filepath.Base(file)
	hexSum := fmt.Sprintf("%x", sum)
	var byName, byHash, release *logbook.Entry
	for _, e := range entries {
		name := e.Details[logbook.DetailRecording]
		switch {
		case name == "":
		case e.Kind == logbook.KindRelease && path.Base(name) == base:
			release = e
		case e.Kind == logbook.KindNote && e.Details[logbook.DetailAction] == logbook.ActionSessionEnd:
			if path.Base(name) == base {
				byName = e
			}
			if e.Details["recording-sha256"] == hexSum && e.Details["recording-size"] == fmt.Sprint(size) {
				byHash = e
			}
		}
	}
	re := &RecordingError{File: file, SHA256: sum, Size: size}
	switch {
	case byName != nil && byHash == byName:
		return byName, nil
	case byHash != nil:
		re.Problem, re.Entry = RecordingSwapped, byHash
		if byName != nil {
			re.Name = byName.Details[logbook.DetailRecording]
		}
	case byName != nil && byName.Details["recording-sha256"] == "":
		re.Problem, re.Entry, re.Name = RecordingNoHash, byName, byName.Details[logbook.DetailRecording]
	case byName != nil:
		re.Problem, re.Entry, re.Name = RecordingEdited, byName, byName.Details[logbook.DetailRecording]
	case release != nil:
		re.Problem, re.Entry, re.Name = RecordingUnended, release, release.Details[logbook.DetailRecording]
	default:
		re.Problem = RecordingUnknown
	}
	return nil, re
}

// VerifyRecordings checks every recording file (*.cast.age) in dir
// against the logbook (CheckRecording), and that every recording a
// session-end note names with a hash is in dir. It returns the notes of
// the files that check out, and a *RecordingError per problem.
func VerifyRecordings(l *logbook.Log, dir string) (ok []*logbook.Entry, problems []*RecordingError, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*"+RecordingExt))
	if err != nil {
		return nil, nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, nil, err
	}
	entries := l.Entries()
	have := map[string]bool{}
	for _, f := range files {
		have[filepath.Base(f)] = true
		sum, size, err := HashFile(f)
		if err != nil {
			return nil, nil, err
		}
		e, err := checkRecording(entries, f, sum, size)
		var re *RecordingError
		switch {
		case errors.As(err, &re):
			problems = append(problems, re)
		case err != nil:
			return nil, nil, err
		default:
			ok = append(ok, e)
		}
	}
	seen := map[string]bool{}
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		name := e.Details[logbook.DetailRecording]
		if e.Kind != logbook.KindNote || e.Details[logbook.DetailAction] != logbook.ActionSessionEnd || seen[name] {
			continue
		}
		seen[name] = true
		if e.Details["recording-sha256"] != "" && !have[path.Base(name)] {
			problems = append(problems, &RecordingError{File: filepath.Join(dir, path.Base(name)), Name: name, Problem: RecordingMissing, Entry: e})
		}
	}
	return ok, problems, nil
}
