package main

// A sealed AWS key as the aws commands read and write it: the .glass made
// by aws provision and its provisioning record (formats in package aws).

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/seal"
)

// loadAWSRecord reads the provisioning record that belongs to a .glass
// and checks it against the sealed header.
func loadAWSRecord(glass string, h *seal.Header) (*aws.Record, aws.Spec, error) {
	path := aws.RecordPath(glass)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, aws.Spec{}, withHints(fmt.Errorf("cannot read the provisioning record: %v", atomicfile.UnwrapPath(err)),
			fmt.Sprintf("breakglass aws provision writes %s next to %s; restore it from git", path, glass))
	}
	r, err := aws.ParseRecord(b)
	if err != nil {
		return nil, aws.Spec{}, withHints(fmt.Errorf("%s: %w", path, err), "restore it from git")
	}
	if h.Name != r.Name || h.Scope != r.RoleARN {
		return nil, aws.Spec{}, withHints(fmt.Errorf("%s describes %s (%s), but %s seals %s (%s)", path, r.Name, r.RoleARN, glass, h.Name, h.Scope),
			"the two files belong together: restore them from git")
	}
	spec, _ := r.Spec()
	return r, spec, nil
}

// readAWSGlass reads a sealed key made by aws provision and its provisioning
// record, checked against each other.
func readAWSGlass(path string) (*seal.File, *aws.Record, aws.Spec, error) {
	f, file, err := readGlass(path)
	if err != nil {
		return nil, nil, aws.Spec{}, err
	}
	file.Close()
	if err := awsGlassHeader(path, f.Header); err != nil {
		return nil, nil, aws.Spec{}, err
	}
	rec, spec, err := loadAWSRecord(path, f.Header)
	if err != nil {
		return nil, nil, aws.Spec{}, err
	}
	return f, rec, spec, nil
}

// awsGlassHeader checks that a sealed file was made by aws provision: it
// names a key id and a role ARN.
func awsGlassHeader(path string, h *seal.Header) error {
	if !aws.ValidAccessKeyID(h.KeyID) || !strings.HasPrefix(h.Scope, "arn:aws") || !strings.Contains(h.Scope, ":role/") {
		return withHints(fmt.Errorf("%s was not sealed by breakglass aws provision (no access key id and role ARN in its header)", path),
			"use breakglass unseal for other sealed secrets")
	}
	return nil
}

// sealAWSKey seals a new access key to a roster and writes it to path: a
// new file, or with replace an atomic replacement once the new file is
// complete. The plaintext is wiped.
func sealAWSKey(path string, replace bool, key *aws.Credentials, p seal.Params) (*seal.Sealed, error) {
	plain, err := aws.MarshalSealedKey(key)
	if err != nil {
		return nil, err
	}
	defer secret.Wipe(plain)
	p.KeyID = key.AccessKeyID
	return sealTo(path, replace, bytes.NewReader(plain), p)
}

// rosterParams is the roster of a sealed header, as seal parameters for
// sealing a new key to the same custodians (public keys only).
func rosterParams(h *seal.Header, sealedBy string) seal.Params {
	p := seal.Params{
		Name: h.Name, Scope: h.Scope, UseCases: h.UseCases, SealedBy: sealedBy,
		GroupThreshold: h.GroupThreshold,
	}
	for _, g := range h.Groups {
		p.Groups = append(p.Groups, seal.Group{Name: g.Name, Threshold: g.Threshold, Custodians: append([]seal.Custodian(nil), g.Custodians...)})
	}
	return p
}
