package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/logbook"
)

const awsRevokeHelp = `revoke ends a release after an incident. Nobody taps, so it first checks that
NAME.glass is the file the logbook recorded (without a logbook: that its
custodians are enrollment records of the case, --allow-virtual for
rehearsal cards, and that IAM knows its key id), and your card's PIN (--as),
before anything changes. Then, with administrator credentials, it

   1. deactivates and deletes the released access key (the one sealed in
      NAME.glass), so it stops working at once;
   2. revokes every session issued before now, with the aws:TokenIssueTime
      deny policy AWSRevokeOlderSessions (as the IAM console's "Revoke
      active sessions" does) on the user and on the emergency role: the
      role's sessions end, and so do session tokens anyone made from the
      released key (sts:GetSessionToken, valid up to 36 hours even after
      the key is deleted), which could otherwise assume the role again;
   3. creates a new access key and seals it straight to the same roster and
      threshold (public keys only: nobody taps);
   4. replaces NAME.glass atomically, only once the new file is complete,
     and records the revoke in the logbook (which closes the release).

If anything fails after step 1, the account is safer, never with the
released key alive; run revoke again. If only the logbook entry is missing
(no touch, a card pulled, Ctrl-C at the end), running revoke again records
it and changes nothing. A new key that cannot be sealed is
deleted again. Commit the new NAME.glass.

Paper custodians get a new mnemonic: on the terminal (words and QR code), or
with --paper-out DIR as 0600 files (.paper.txt and its QR code .paper.png).

EXAMPLES
   breakglass aws revoke prod.glass --as alice
   breakglass aws check prod.glass`

const awsRotateHelp = `rotate replaces the sealed access key on a schedule, without an incident
(after the same checks of the file and your PIN as revoke):
it creates a new key, seals it straight to the same roster (nobody taps),
replaces NAME.glass atomically, records the rotation, and only then deletes
the old key, so there is never a moment without a working sealed key.

It does not revoke sessions (there should be none). After a release, use
breakglass aws revoke instead; rotate refuses while a release is open.

EXAMPLES
   breakglass aws rotate prod.glass --as alice`

func awsRevokeCommand() *cli.Command {
	return &cli.Command{
		Name:        "revoke",
		Usage:       "after an incident: delete the released key, end its sessions, seal a new key",
		ArgsUsage:   "NAME.glass",
		Description: awsRevokeHelp,
		Flags:       awsReplaceFlags(),
		Action:      func(c *cli.Context) error { return runAWSReplace(c, true) },
	}
}

func awsRotateCommand() *cli.Command {
	return &cli.Command{
		Name:        "rotate",
		Usage:       "replace the sealed key on a schedule (new key sealed first, old key deleted last)",
		ArgsUsage:   "NAME.glass",
		Description: awsRotateHelp,
		Flags:       awsReplaceFlags(),
		Action:      func(c *cli.Context) error { return runAWSReplace(c, false) },
	}
}

func awsReplaceFlags() []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "paper-out", Usage: "write paper custodians' new mnemonics into `DIR` (a 0600 .paper.txt and its QR code .paper.png each) instead of the terminal"},
	}
	flags = append(flags, awsConnFlags()...)
	flags = append(flags, attestTrustFlags()...)
	return append(flags, awsActorFlags()...)
}

// runAWSReplace is revoke (incident) or rotate (schedule).
func runAWSReplace(c *cli.Context, incident bool) error {
	verb := "rotate"
	if incident {
		verb = "revoke"
	}
	if err := oneArg(c, "sealed key, NAME.glass"); err != nil {
		return err
	}
	path := c.Args().First()
	f, _, spec, err := readAWSGlass(path)
	if err != nil {
		return err
	}
	h := f.Header
	ac, err := openAWSCase(c)
	if err != nil {
		return err
	}
	actor, err := ac.awsActor()
	if err != nil {
		return err
	}
	// A revoke or rotate that was done but not recorded is recorded now,
	// not done a second time.
	if done, err := ac.cd.finishPending(ac.log, f, func(e logbook.Entry) error {
		_, err := ac.cd.logSigned(c, e, actor, -1)
		return err
	}); done || err != nil {
		return err
	}
	// The header decides who gets the new key and which key is deleted:
	// it must be the logged one (or, without a logbook, name enrolled
	// custodians, and a key IAM knows: below) before anything changes.
	trust, err := attestTrustOf(c)
	if err != nil {
		return err
	}
	if err := ac.cd.anchorHeader(ac.log, f, path, trust); err != nil {
		return err
	}
	sealedBy := currentUser()
	if actor != nil {
		sealedBy = actor.Custodian.Name
	}
	p := rosterParams(h, sealedBy)
	if err := checkPaperOut(p, c.String("paper-out")); err != nil {
		return err
	}
	if err := checkWritableDir(path); err != nil {
		return err
	}
	if !incident {
		if open := logbook.OpenReleases(ac.entries(), h.Name); len(open) > 0 {
			return withHints(fmt.Errorf("%s has an open release (logbook entry %d, ticket %s)", h.Name, open[len(open)-1].Index, open[len(open)-1].Ticket),
				"after a release, use breakglass aws revoke "+path+": it also ends the sessions")
		}
	}
	cfg, err := awsAdminConfig(c)
	if err != nil {
		return err
	}
	ctx, cancel := awsContext(c)
	defer cancel()
	if err := holdSecrets(); err != nil { // before IAM hands over the new secret key
		return err
	}
	if ac.log == nil {
		if err := checkSealedKeyID(ctx, cfg, spec, h, path); err != nil {
			return err
		}
	}

	// No entry, no change: the signer's PIN is checked before IAM is
	// touched; only the touch is left for the end.
	var signer *heldSigner
	if ac.log != nil {
		if signer, err = ac.cd.holdSigner(c, actor, verb+" of "+h.Name); err != nil {
			return err
		}
		defer signer.Close()
	}

	oldKey := h.KeyID
	var newKey *aws.Credentials
	var res *aws.RevokeResult
	if incident {
		res, err = aws.Revoke(ctx, cfg, spec, oldKey, time.Now())
		if err != nil {
			return awsErr("revoking "+oldKey, withHints(err, "run revoke again: every step is safe to repeat"))
		}
		newKey = res.NewKey
		if res.RetiredKeyFound {
			infof("deleted the released access key %s", oldKey)
		} else {
			infof("the released access key %s was already gone from IAM", oldKey)
		}
		infof("revoked every session of %s issued before %s", res.UserARN, res.SessionsBefore.Format(time.RFC3339))
		infof("revoked every session of %s issued before %s", res.RoleARN, res.SessionsBefore.Format(time.RFC3339))
	} else if newKey, err = aws.Rotate(ctx, cfg, spec); err != nil {
		if errors.Is(err, aws.ErrLimitExceeded) {
			err = withHints(err, "the user already has two access keys (IAM's limit): run breakglass aws check "+path+" and delete the one that is not sealed; nothing was changed")
		}
		return awsErr("rotating "+h.Name, err)
	}
	defer newKey.Wipe()

	sealed, err := sealAWSKey(path, true, newKey, p)
	if err != nil {
		return retireUnsealed(c, cfg, spec, newKey.AccessKeyID, err)
	}
	newKey.Wipe()
	if err := handOverPaper(sealed.Paper, h.Name, c.String("paper-out")); err != nil {
		return withHints(err, "the new key is sealed in "+path+" but a paper custodian's share was not handed over: run breakglass aws rotate "+path+" again with --paper-out")
	}
	infof("new access key %s sealed to %s (%s), replacing %s", newKey.AccessKeyID, path, sealed.Header.Policy(), oldKey)

	prev := f.HeaderHash()
	e := logbook.Entry{Secret: h.Name, HeaderHash: sealed.HeaderHash[:], Details: map[string]string{
		"previous-header-hash": hex.EncodeToString(prev[:]), "new-key-id": newKey.AccessKeyID,
		"user-arn": spec.UserARN(spec.AccountID), "role-arn": h.Scope,
	}}
	if incident {
		e.Kind, e.Reason = logbook.KindRevoke, "aws revoke"
		e.Details[logbook.DetailKeyID] = oldKey // closes the releases of the old key
		e.Details["retired-key-found"] = fmt.Sprint(res.RetiredKeyFound)
		e.Details["sessions-before"] = res.SessionsBefore.UTC().Format(time.RFC3339)
		e.Details["revoke-policy-sha256"] = res.RevokePolicyHash
	} else {
		found, err := aws.RetireKey(ctx, cfg, spec, oldKey)
		if err != nil {
			reportError(os.Stderr, awsErr("deleting the old key "+oldKey, withHints(err,
				"the new key is sealed and works; delete "+oldKey+" with aws iam delete-access-key, then run breakglass aws check")))
		} else if found {
			infof("deleted the old access key %s", oldKey)
		}
		e.Kind, e.Reason = logbook.KindRotate, "aws rotate"
		e.Details[logbook.DetailKeyID] = newKey.AccessKeyID
		e.Details["old-key-id"] = oldKey
		e.Details["old-key-deleted"] = fmt.Sprint(err == nil)
	}
	if err := ac.logChange(signer, "aws "+verb, path, "breakglass aws "+verb+" "+path, e); err != nil {
		return err
	}
	infof("commit %s; then run breakglass aws check %s", path, path)
	return nil
}

// checkWritableDir fails early when the directory of path cannot take the
// replacement file.
func checkWritableDir(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".breakglass-check-*")
	if err != nil {
		return withHints(fmt.Errorf("cannot write next to %s: %v", path, atomicfile.UnwrapPath(err)),
			"run the command where the case's files can be written; nothing was changed")
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}
