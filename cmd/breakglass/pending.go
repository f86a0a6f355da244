package main

// Changes made but not yet recorded.
//
// aws provision, rotate and revoke change things outside the logbook (IAM,
// the .glass) before they can sign their entry, because the entry names
// what the change produced (the new key id, the new header hash). They
// keep the rule "no entry, no change" as far as it can be kept: the actor's
// token is opened and its PIN verified before anything changes (a wrong PIN
// stops the command with nothing done). What can still fail after the
// change (a touch that does not come, a card pulled, Ctrl-C at the touch)
// leaves a pending entry: the entry, unsigned, in the operator's own state
// directory — never in the case, which others can write to. Running the
// same command again finds it and records it, instead of doing the change
// a second time.
//
// A pending entry is used only while it still fits: the sealed file holds
// exactly the header it names, and the logbook has recorded nothing of that
// secret since (its latest seal is the entry's previous header).

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

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
)

// pendingEntry is a change that is done but not recorded.
type pendingEntry struct {
	Version int           `json:"version"`
	Case    string        `json:"case"`    // absolute case directory
	Origin  string        `json:"origin"`  // the logbook's origin
	Command string        `json:"command"` // "aws revoke", …
	Glass   string        `json:"glass"`   // the sealed file, as given
	Entry   logbook.Entry `json:"entry"`   // to append, unsigned
}

// pendingDir is where pending entries are kept: $XDG_STATE_HOME/breakglass,
// else ~/.local/state/breakglass, under "pending".
func pendingDir() (string, error) {
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
func (cd *caseDir) pendingPath(secretName string) (string, error) {
	dir, err := pendingDir()
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(cd.Dir)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256([]byte(abs + "\x00" + secretName))
	return filepath.Join(dir, hex.EncodeToString(h[:12])+".json"), nil
}

// savePending keeps e, which could not be recorded, for the next run.
func (cd *caseDir) savePending(l *logbook.Log, command, glass string, e logbook.Entry) error {
	path, err := cd.pendingPath(e.Secret)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(cd.Dir)
	b, err := json.MarshalIndent(pendingEntry{Version: 1, Case: abs, Origin: l.Origin(), Command: command, Glass: glass, Entry: e}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeNewFile(path, 0o600, true, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err })
}

// loadPending returns the pending entry of secret in the case, or nil.
func (cd *caseDir) loadPending(secretName string) (*pendingEntry, string, error) {
	path, err := cd.pendingPath(secretName)
	if err != nil {
		return nil, "", err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, path, nil
	}
	if err != nil {
		return nil, path, err
	}
	var p pendingEntry
	if err := json.Unmarshal(b, &p); err != nil || p.Version != 1 {
		return nil, path, fmt.Errorf("%s is not a pending logbook entry of breakglass; move it away", path)
	}
	return &p, path, nil
}

// finishPending records the pending entry of f's secret when it still
// fits (see the package comment above). It reports whether it recorded one:
// then the command is done. A pending entry that no longer fits is
// dropped with a warning, and the command goes on as usual.
func (cd *caseDir) finishPending(l *logbook.Log, f *seal.File, sign func(logbook.Entry) error) (bool, error) {
	if l == nil {
		return false, nil
	}
	p, path, err := cd.loadPending(f.Header.Name)
	if err != nil || p == nil {
		return false, err
	}
	h := f.HeaderHash()
	last := latestSeal(l, f.Header.Name)
	var lastHash []byte
	if last != nil {
		lastHash = last.HeaderHash
	}
	if bytes.Equal(lastHash, p.Entry.HeaderHash) {
		os.Remove(path) // recorded after all
		return false, nil
	}
	prev, _ := hex.DecodeString(p.Entry.Details["previous-header-hash"])
	fits := p.Origin == l.Origin() && bytes.Equal(p.Entry.HeaderHash, h[:]) && bytes.Equal(prev, lastHash)
	if !fits {
		infof("warning: dropping the unrecorded %s of %s kept in %s: the case no longer matches it", p.Command, f.Header.Name, path)
		os.Remove(path)
		return false, nil
	}
	infof("the %s of %s was done but not recorded in the logbook; recording it now (nothing is changed again)", p.Command, f.Header.Name)
	if err := sign(p.Entry); err != nil {
		return false, withHints(fmt.Errorf("%s: the %s is still not recorded: %w", f.Header.Name, p.Command, err),
			"run the same command again once the card is at hand: it records the entry and changes nothing")
	}
	os.Remove(path)
	infof("recorded the %s of %s", p.Command, f.Header.Name)
	return true, nil
}

// dropPending forgets the pending entry of secret once it is recorded.
func (cd *caseDir) dropPending(secretName string) {
	if path, err := cd.pendingPath(secretName); err == nil {
		os.Remove(path)
	}
}

// A heldSigner is an actor's token, opened and its PIN verified before a
// command changes anything, and kept open until the command signs its
// entry (the touch then is the only thing left to ask for).
type heldSigner struct {
	cd    *caseDir
	actor *token.Record
	tok   token.Token
}

// holdSigner opens actor's token and verifies the PIN. what names the
// entry for the messages ("revoke of prod").
func (cd *caseDir) holdSigner(c *cli.Context, actor *token.Record, what string) (*heldSigner, error) {
	if actor == nil {
		return nil, withHints(errors.New("no enrolled person to sign the logbook entry"),
			"name yourself with --as NAME (an enrolled person whose token is at hand)")
	}
	if err := cd.checkActor(actor); err != nil {
		return nil, err
	}
	tok, err := openRecordToken(c, actor, cd.Dir)
	if err != nil {
		return nil, withHints(fmt.Errorf("cannot open %s's token to sign the %s: %w; nothing was changed", actor.Custodian.Name, what, err),
			"insert "+actor.Custodian.Name+"'s token (enrolled as "+actor.Fingerprint()+") and run the command again")
	}
	infof("%s's PIN is checked before anything changes; the card signs the %s at the end", actor.Custodian.Name, what)
	if err := token.VerifyPIN(tok); err != nil {
		tok.Close()
		var pe *token.PINError
		if errors.As(err, &pe) {
			return nil, withHints(fmt.Errorf("%s: %w; nothing was changed", actor.Custodian.Name, err),
				"check the PIN and run the command again; with one try left, unblock it with the PUK first")
		}
		return nil, fmt.Errorf("%s's token: %w; nothing was changed", actor.Custodian.Name, err)
	}
	provenPIN(actor)
	return &heldSigner{cd: cd, actor: actor, tok: tok}, nil
}

// record appends e signed by the held token.
func (s *heldSigner) record(e logbook.Entry) error {
	_, err := s.cd.record(e, s.actor, s.tok.SigningKey())
	return err
}

// Close releases the token.
func (s *heldSigner) Close() {
	if s != nil {
		s.tok.Close()
	}
}

// testOnlyBeforeRecord, when set, runs between keeping a pending entry and
// signing it: the CLI scripts end the process there, as a Ctrl-C at the
// touch would.
var testOnlyBeforeRecord func()

// recordChange appends e, the entry of a change that is already done, with
// the held signer: first kept as pending (so that neither a failed touch
// nor Ctrl-C loses it), then signed, then dropped. again is the command
// line that finishes the job. Without a logbook it warns that the step is
// not recorded.
func (a *awsCase) recordChange(s *heldSigner, command, glass, again string, e logbook.Entry) error {
	if a.log == nil {
		return a.record(e, nil, -1)
	}
	saveErr := a.cd.savePending(a.log, command, glass, e)
	if testOnlyBeforeRecord != nil {
		testOnlyBeforeRecord()
	}
	if err := s.record(e); err != nil {
		if saveErr != nil {
			return withHints(fmt.Errorf("%s: the %s is done, but %w", e.Secret, command, err),
				fmt.Sprintf("it could not be kept for a re-run either (%v): record it by hand with breakglass log note, naming the header hash %x", saveErr, e.HeaderHash))
		}
		return withHints(fmt.Errorf("%s: the %s is done but not yet recorded: %w", e.Secret, command, err),
			"run "+again+" again: it records the entry and changes nothing")
	}
	a.cd.dropPending(e.Secret)
	return nil
}
