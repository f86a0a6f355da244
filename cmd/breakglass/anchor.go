package main

// What vouches for a .glass header when a command acts on it without taps.
//
// A header's MAC can be checked only after k taps, and the case is a git
// repository that several people can write to: anyone can write a header
// that is consistent in itself (its digest is a plain SHA-256). A command
// that acts without taps (aws rotate, revoke and check, share export)
// therefore anchors the file in something else before it acts:
//
//   - with a logbook, the header hash must be the one the logbook's latest
//     seal, reseal, rotate or revoke entry of the secret recorded;
//   - without one, every custodian the header names must be an enrollment
//     record of the case that verifies (self-signature, and attestation for
//     PIV cards), matched by fingerprint and equal in name, kind and key.
//     That is weaker (whoever can add a record to the case can add
//     themselves), so the command says that a logbook would make it
//     stronger. For AWS keys, IAM must also know the header's key id.
//
// Commands that tap check the logged header too (checkLoggedHeader), and
// then the MAC.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
)

// anchorHeader checks that something other than the file itself vouches
// for the header of f (read from path) before a command acts on it without
// taps. l is the case's logbook (nil: none). The error says that nothing
// was changed.
func (cd *caseDir) anchorHeader(l *logbook.Log, f *seal.File, path string, t piv.Trust) error {
	if l != nil {
		return checkLoggedHeaderThen(l, f, path, false, "nothing was changed")
	}
	if err := cd.checkEnrolledRoster(f.Header, path, t); err != nil {
		return err
	}
	infof("warning: no logbook in %s: %s is trusted because every custodian in it matches an enrollment record of the case; a logbook (breakglass log init) would anchor the file itself", cd.Dir, path)
	return nil
}

// checkEnrolledRoster is casedir.Case.CheckEnrolledRoster, attestation
// included, with the refusal in the command's voice.
func (cd *caseDir) checkEnrolledRoster(h *seal.Header, path string, t piv.Trust) error {
	err := cd.CheckEnrolledRoster(h, func(r *token.Record, rpath string) error { return checkAttestation(r, rpath, t) })
	var re *casedir.RosterError
	if !errors.As(err, &re) {
		return recordError(err)
	}
	return withHints(fmt.Errorf("%s: %w; nothing was changed", path, err),
		"the file may be forged: compare it with the case's history (git log -p "+path+")",
		"if the custodian is genuine, put their enrollment record in "+cd.Dir+" (or its custodians folder, or give --roster FILE)",
		"a logbook (breakglass log init) would anchor the file itself")
}

// checkSealedKeyID is the no-logbook anchor of an AWS header's key id: IAM
// must list it among the user's access keys. A user with no key at all is
// accepted (a revoke that deleted the key and stopped), so that a re-run
// can finish the job.
func checkSealedKeyID(ctx context.Context, cfg awssdk.Config, spec aws.Spec, h *seal.Header, path string) error {
	ids, err := aws.AccessKeyIDs(ctx, cfg, spec.UserName())
	if err != nil {
		return awsErr("listing the access keys of "+spec.UserName(), err)
	}
	if len(ids) == 0 || slices.Contains(ids, h.KeyID) {
		return nil
	}
	return withHints(fmt.Errorf("%s seals access key %s, but IAM lists %s for %s; nothing was changed", path, h.KeyID, strings.Join(ids, ", "), spec.UserName()),
		"the file may be forged, or the key was replaced outside breakglass: compare the file with the case's history (git log -p "+path+")",
		"a logbook (breakglass log init) would anchor the file itself")
}
