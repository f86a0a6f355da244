package drills

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/seal"
)

// A SecretError is a sealed file of the case that could not be read: Err
// is the *fs.PathError of opening it, or what seal.Parse found wrong with
// it (a *seal.FormatError, seal.ErrDamaged, …).
type SecretError struct {
	Path string
	Err  error
}

func (e *SecretError) Error() string {
	var pe *fs.PathError
	if errors.As(e.Err, &pe) && pe.Path == e.Path {
		return e.Err.Error() // it names the file already
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *SecretError) Unwrap() error { return e.Err }

// CaseSecrets reads the sealed secrets of the case in dir: every dir/*.glass
// file, in name order. A secret's Owner is the owner its AWS provisioning
// record (aws.RecordPath) names; a missing or unreadable record leaves it
// empty. A file that cannot be read or parsed stops it with a
// *SecretError.
func CaseSecrets(dir string) ([]Secret, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.glass"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Secret
	for _, p := range files {
		f, err := readSealed(p)
		if err != nil {
			return nil, &SecretError{Path: p, Err: err}
		}
		s := Secret{File: p, Header: f.Header, Sealed: f}
		if b, err := os.ReadFile(aws.RecordPath(p)); err == nil {
			if r, err := aws.ParseRecord(b); err == nil {
				s.Owner = r.Owner
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// readSealed parses the sealed file at path.
func readSealed(path string) (*seal.File, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	return seal.Parse(file)
}

// AddHeaderFindings adds to st, the Status of secrets, an Attention
// finding for each secret whose file the logbook l does not vouch for
// (casedir.CheckLoggedHeader): its header is not the one the latest seal
// entry recorded, or no seal entry recorded one. Such a file says nothing
// about its drills. Secrets without their parsed file (Sealed) are not
// checked.
func AddHeaderFindings(l *logbook.Log, secrets []Secret, st []SecretStatus) {
	for _, s := range secrets {
		var he *casedir.HeaderError
		if s.Sealed == nil || !errors.As(casedir.CheckLoggedHeader(l, s.Sealed), &he) {
			continue
		}
		for j := range st {
			if st[j].File == s.File {
				st[j].Findings = append(st[j].Findings, Finding{Severity: Attention,
					Problem: "the file's header is not the one the logbook recorded (" + he.Error() + ")",
					Fix:     "restore it from the case's history (git log -p " + s.File + "), or reseal it"})
			}
		}
	}
}
