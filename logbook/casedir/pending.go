package casedir

// Changes made but not yet appended.
//
// aws provision, rotate and revoke change things outside the logbook (IAM,
// the .glass) before they can sign their entry, because the entry names
// what the change produced (the new key id, the new header hash). They
// keep the rule "no entry, no change" as far as it can be kept: the
// actor's PIN is verified before anything changes. What can still fail
// after the change (a touch that does not come, a card pulled, Ctrl-C at
// the touch) leaves a pending entry: the entry, unsigned, in the
// operator's own state directory — never in the case, which others can
// write to. Running the same command again finds it and appends it,
// instead of doing the change a second time.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal"
)

// A Pending entry is a change that is done but not in the logbook.
type Pending struct {
	Version int           `json:"version"`
	Case    string        `json:"case"`    // absolute case directory
	Origin  string        `json:"origin"`  // the logbook's origin
	Command string        `json:"command"` // "aws revoke", …
	Glass   string        `json:"glass"`   // the sealed file, as given
	Entry   logbook.Entry `json:"entry"`   // to append, unsigned

	path string
}

// Path is where p is kept.
func (p *Pending) Path() string { return p.path }

// PendingDir is where pending entries are kept: $XDG_STATE_HOME/breakglass,
// else ~/.local/state/breakglass, under "pending".
func PendingDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "breakglass", "pending"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "breakglass", "pending"), nil
}

// pendingPath is the file of the pending entry of secret in the case.
func (c *Case) pendingPath(secretName string) (string, error) {
	dir, err := PendingDir()
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(abs + "\x00" + secretName))
	return filepath.Join(dir, hex.EncodeToString(h[:12])+".json"), nil
}

// SavePending keeps e, the entry of a change command made to glass, until
// it is appended (DropPending) or found again by a re-run (LoadPending).
// It replaces the file atomically.
func (c *Case) SavePending(l *logbook.Log, command, glass string, e logbook.Entry) error {
	path, err := c.pendingPath(e.Secret)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(c.Dir)
	b, err := json.MarshalIndent(Pending{Version: 1, Case: abs, Origin: l.Origin(), Command: command, Glass: glass, Entry: e}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(path, 0o600, true, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err })
}

// LoadPending returns the pending entry of secret in the case, or nil.
func (c *Case) LoadPending(secretName string) (*Pending, error) {
	path, err := c.pendingPath(secretName)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var p Pending
	if err := json.Unmarshal(b, &p); err != nil || p.Version != 1 {
		return nil, fmt.Errorf("%s is not a pending logbook entry of breakglass; move it away", path)
	}
	p.path = path
	return &p, nil
}

// DropPending forgets the pending entry of secret.
func (c *Case) DropPending(secretName string) {
	if path, err := c.pendingPath(secretName); err == nil {
		os.Remove(path)
	}
}

// PendingState says what a pending entry is worth now.
type PendingState int

const (
	// PendingFits: the sealed file holds exactly the header the entry
	// names and the logbook has appended nothing of that secret since (its
	// latest seal is the entry's previous header): append it.
	PendingFits PendingState = iota
	// PendingAppended: the logbook has the entry's header already.
	PendingAppended
	// PendingStale: the case has moved on; the entry must not be used.
	PendingStale
)

// Check says whether p may still be appended, for the sealed file f and
// the case's logbook l.
func (p *Pending) Check(l *logbook.Log, f *seal.File) PendingState {
	var lastHash []byte
	if last := LatestSeal(l, f.Header.Name); last != nil {
		lastHash = last.HeaderHash
	}
	if bytes.Equal(lastHash, p.Entry.HeaderHash) {
		return PendingAppended
	}
	h := f.HeaderHash()
	prev, _ := hex.DecodeString(p.Entry.Details["previous-header-hash"])
	if p.Origin == l.Origin() && bytes.Equal(p.Entry.HeaderHash, h[:]) && bytes.Equal(prev, lastHash) {
		return PendingFits
	}
	return PendingStale
}
