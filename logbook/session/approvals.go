package session

import (
	"crypto/ecdsa"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/token"
)

// An ApprovalCheck is what CheckApprovals found in a logbook's tap
// entries.
type ApprovalCheck struct {
	// Verified counts the token approvals whose signature verifies with
	// the signing key of an enrollment record, and that approve the
	// entry's own secret, header and custodian.
	Verified int
	// Unsigned counts the taps without a signature: paper shares, and
	// remote taps recorded before they carried one.
	Unsigned int
	// Cut are the entries whose approval was cut at 300 bytes by
	// breakglass before 2026-12-03: they cannot be checked.
	Cut []int64
	// UnknownKey are the entries whose approval key no enrollment record
	// given has (a custodian whose record left the case).
	UnknownKey []int64
	// Bad are the approvals that are not what they should be.
	Bad []ApprovalProblem
}

// An ApprovalProblem is a tap entry whose approval does not check out.
type ApprovalProblem struct {
	Entry   int64
	Problem string
}

func (p ApprovalProblem) Error() string { return fmt.Sprintf("entry %d: %s", p.Entry, p.Problem) }

// cutLength is where breakglass before 2026-12-03 cut detail values.
const cutLength = 300

// CheckApprovals checks the approval of every tap entry in entries: that
// it is an approval message (approval.Parse) of the entry's secret, header
// hash and custodian, and that its signature verifies with the signing key
// of the record in records whose key the entry names (approval-key).
func CheckApprovals(entries []*logbook.Entry, records []*token.Record) *ApprovalCheck {
	keys := map[string]*ecdsa.PublicKey{}
	for _, r := range records {
		if r.Keys == nil {
			continue
		}
		if pub, err := r.SigningPublicKey(); err == nil {
			keys[strings.ReplaceAll(r.Keys.Signing.Fingerprint, " ", "")] = pub
		}
	}
	c := &ApprovalCheck{}
	for _, e := range entries {
		if e.Kind != logbook.KindTap {
			continue
		}
		bad := func(format string, args ...any) {
			c.Bad = append(c.Bad, ApprovalProblem{Entry: e.Index, Problem: fmt.Sprintf(format, args...)})
		}
		sig64, signed := e.Details["approval-signature"]
		if !signed {
			c.Unsigned++
			continue
		}
		text := e.Details["approval"]
		msg, err := base64.StdEncoding.Strict().DecodeString(text)
		if err != nil && len(text) != cutLength {
			bad("the approval is not base64")
			continue
		}
		p, err := approval.Parse(msg)
		if err != nil {
			if len(text) == cutLength {
				c.Cut = append(c.Cut, e.Index)
			} else {
				bad("%v", err)
			}
			continue
		}
		switch {
		case p.Secret != e.Secret:
			bad("the approval is for secret %q, the entry for %q", p.Secret, e.Secret)
			continue
		case string(p.HeaderHash[:]) != string(e.HeaderHash):
			bad("the approval is for another header of %s than the entry's", e.Secret)
			continue
		case p.Custodian != e.Details["custodian"]:
			bad("the approval is %s's, the entry names %q", p.Custodian, e.Details["custodian"])
			continue
		}
		sig, err := base64.StdEncoding.Strict().DecodeString(sig64)
		if err != nil {
			bad("the approval signature is not base64")
			continue
		}
		pub := keys[e.Details["approval-key"]]
		if pub == nil {
			c.UnknownKey = append(c.UnknownKey, e.Index)
			continue
		}
		if err := approval.Verify(pub, msg, sig); err != nil {
			bad("%s's approval: %v", p.Custodian, err)
			continue
		}
		c.Verified++
	}
	return c
}
