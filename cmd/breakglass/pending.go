package main

// The CLI side of "no entry, no change" (casedir's pending entries): the
// signer's token held open and its PIN verified before a change, the entry
// kept as pending while it is signed, and a re-run that appends a pending
// entry instead of changing anything again.

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
)

// finishPending records the pending entry of f's secret when it still
// fits (see the package comment above). It reports whether it recorded one:
// then the command is done. A pending entry that no longer fits is
// dropped with a warning, and the command goes on as usual.
func (cd *caseDir) finishPending(l *logbook.Log, f *seal.File, sign func(logbook.Entry) error) (bool, error) {
	if l == nil {
		return false, nil
	}
	p, err := cd.LoadPending(f.Header.Name)
	if err != nil || p == nil {
		return false, err
	}
	switch p.Check(l, f) {
	case casedir.PendingAppended:
		cd.DropPending(f.Header.Name)
		return false, nil
	case casedir.PendingStale:
		infof("warning: dropping the unrecorded %s of %s kept in %s: the case no longer matches it", p.Command, f.Header.Name, p.Path())
		cd.DropPending(f.Header.Name)
		return false, nil
	}
	infof("the %s of %s was done but not recorded in the logbook; recording it now (nothing is changed again)", p.Command, f.Header.Name)
	if err := sign(p.Entry); err != nil {
		return false, withHints(fmt.Errorf("%s: the %s is still not recorded: %w", f.Header.Name, p.Command, err),
			"run the same command again once the card is at hand: it records the entry and changes nothing")
	}
	cd.DropPending(f.Header.Name)
	infof("recorded the %s of %s", p.Command, f.Header.Name)
	return true, nil
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
	tok, err := openRecordToken(c, actor, cd.Dir, "to sign the "+what)
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
	tokenOpener(c).Proven(actor)
	return &heldSigner{cd: cd, actor: actor, tok: tok}, nil
}

// logEntry appends e signed by the held token.
func (s *heldSigner) logEntry(e logbook.Entry) error {
	touchNote(s.actor, signPurpose(e))
	_, err := s.cd.logEntry(e, s.actor, s.tok.SigningKey())
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

// logChange appends e, the entry of a change that is already done, with
// the held signer: first kept as pending (so that neither a failed touch
// nor Ctrl-C loses it), then signed, then dropped. again is the command
// line that finishes the job. Without a logbook it warns that the step is
// not recorded.
func (a *awsCase) logChange(s *heldSigner, command, glass, again string, e logbook.Entry) error {
	if a.log == nil {
		return a.logEntry(e, nil, -1)
	}
	saveErr := a.cd.SavePending(a.log, command, glass, e)
	if testOnlyBeforeRecord != nil {
		testOnlyBeforeRecord()
	}
	if err := s.logEntry(e); err != nil {
		if saveErr != nil {
			return withHints(fmt.Errorf("%s: the %s is done, but %w", e.Secret, command, err),
				fmt.Sprintf("it could not be kept for a re-run either (%v): record it by hand with breakglass log note, naming the header hash %x", saveErr, e.HeaderHash))
		}
		return withHints(fmt.Errorf("%s: the %s is done but not yet recorded: %w", e.Secret, command, err),
			"run "+again+" again: it records the entry and changes nothing")
	}
	a.cd.DropPending(e.Secret)
	return nil
}
