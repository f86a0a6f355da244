package logbook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// A Checkpoint is a signed tree head of a logbook in the C2SP
// tlog-checkpoint format (c2sp.org/tlog-checkpoint): origin, size and root
// hash, optional extension lines, then signature lines.
//
// breakglass logbooks have no log key of their own (no private key ever lives
// in a file): each checkpoint is signed by the person whose append produced
// it, with the same token key that signed the entry.
type Checkpoint struct {
	Origin string
	tlog.Tree
	Extensions []string // opaque extension lines; breakglass writes none

	// Signed is the checkpoint as a signed note, when known.
	Signed []byte
}

// MarshalText returns the checkpoint's note text (without signatures).
func (c Checkpoint) MarshalText() ([]byte, error) {
	if err := checkName("origin", c.Origin); err != nil {
		return nil, err
	}
	if c.N < 0 || c.N >= maxIndex {
		return nil, fmt.Errorf("tree size %d out of range", c.N)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.N, base64.StdEncoding.EncodeToString(c.Hash[:]))
	for _, x := range c.Extensions {
		if x == "" || strings.ContainsAny(x, "\n") || checkValue("extension line", x) != nil {
			return nil, fmt.Errorf("extension line %q: want one non-empty line of text", x)
		}
		b.WriteString(x + "\n")
	}
	return b.Bytes(), nil
}

// ParseCheckpointText parses a checkpoint's note text (without signatures),
// accepting only the canonical encoding.
func ParseCheckpointText(text []byte) (Checkpoint, error) {
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return Checkpoint{}, errors.New("checkpoint text does not end in a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, errors.New("checkpoint has fewer than three lines (origin, size, root hash)")
	}
	c := Checkpoint{Origin: lines[0]}
	if err := checkName("origin", c.Origin); err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint line 1: %v", err)
	}
	n, err := parseDecimal(lines[1])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint line 2: tree size %q: %v", lines[1], err)
	}
	c.N = n
	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(h) != len(c.Hash) {
		return Checkpoint{}, fmt.Errorf("checkpoint line 3: root hash %q: want the canonical base64 of 32 bytes", lines[2])
	}
	copy(c.Hash[:], h)
	if len(lines) > 3 {
		c.Extensions = lines[3:]
	}
	again, err := c.MarshalText()
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %v", err)
	}
	if !bytes.Equal(again, text) {
		return Checkpoint{}, errors.New("checkpoint is not in canonical form")
	}
	return c, nil
}

// OpenCheckpoint verifies a signed checkpoint against verifiers (at least one
// known key must have signed it, and no known key's signature may fail) and
// parses it.
func OpenCheckpoint(signed []byte, verifiers note.Verifiers) (Checkpoint, error) {
	n, err := openNote(signed, verifiers)
	if err != nil {
		return Checkpoint{}, errors.New("checkpoint " + describeNoteError(err))
	}
	c, err := ParseCheckpointText([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	c.Signed = bytes.Clone(signed)
	return c, nil
}

// signedBy reports whether the signed note signed carries a verified
// signature under the key name name, by the key with fingerprint key when
// the verifier can tell its fingerprint and key is not "".
func signedBy(signed []byte, verifiers note.Verifiers, name, key string) bool {
	n, err := openNote(signed, verifiers)
	if err != nil {
		return false
	}
	for _, s := range n.Sigs {
		if s.Name != name {
			continue
		}
		v, err := verifiers.Verifier(s.Name, s.Hash)
		if err != nil {
			continue
		}
		if fp, ok := v.(interface{ Fingerprint() string }); ok && key != "" && fp.Fingerprint() != key {
			continue
		}
		return true
	}
	return false
}

// checkCheckpointSigner checks the rule that a checkpoint of size n > 0 is
// signed by the actor of entry n-1, the last entry it covers (the person
// whose append made it), with the key that signed that entry (its key
// line). Anyone else's signature on it (a witness, an auditor) is welcome
// but does not count.
func checkCheckpointSigner(signed []byte, verifiers note.Verifiers, n int64, last *Entry) error {
	if n == 0 || last == nil || signedBy(signed, verifiers, last.Actor, last.Key) {
		return nil
	}
	if signedBy(signed, verifiers, last.Actor, "") {
		return fmt.Errorf("is signed by another key of %s than the one that signed entry %d, the last entry it covers (key %s)", last.Actor, last.Index, last.Key)
	}
	return fmt.Errorf("is not signed by %s, the actor of the last entry it covers (entry %d)", last.Actor, last.Index)
}

// signCheckpoint returns c signed by s.
func signCheckpoint(c Checkpoint, s note.Signer) (Checkpoint, error) {
	text, err := c.MarshalText()
	if err != nil {
		return Checkpoint{}, err
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, s)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("signing checkpoint as %s: %w", s.Name(), err)
	}
	c.Signed = signed
	return c, nil
}

// openNote is note.Open that accepts only the canonical base64 encoding of
// each signature line (zero padding bits), as docs/format-logbook.md
// requires: note.Open decodes signatures with the lenient
// base64.StdEncoding, which gives the same bytes for up to 16 spellings of
// one signature, so a record or checkpoint would have several encodings.
func openNote(msg []byte, verifiers note.Verifiers) (*note.Note, error) {
	if split := bytes.LastIndex(msg, []byte("\n\n")); split >= 0 {
		seen := map[string]bool{}
		for _, line := range strings.Split(string(msg[split+2:]), "\n") {
			rest, ok := strings.CutPrefix(line, "— ")
			if !ok {
				continue // note.Open rejects it
			}
			name, b64, _ := strings.Cut(rest, " ")
			sig, err := base64.StdEncoding.DecodeString(b64)
			if err == nil && base64.StdEncoding.EncodeToString(sig) != b64 {
				return nil, &nonCanonicalSigError{name}
			}
			// note.Open checks only the first of several lines by one key
			// and drops the others unchecked: one more way to spell a
			// record. At most one line per key name and key ID.
			if err == nil && len(sig) >= 4 {
				k := name + "+" + string(sig[:4])
				if seen[k] {
					return nil, &duplicateSigError{name}
				}
				seen[k] = true
			}
		}
	}
	return note.Open(msg, verifiers)
}

// A nonCanonicalSigError reports a signature line whose base64 decodes but
// is not the canonical encoding of what it decodes to.
type nonCanonicalSigError struct{ name string }

func (e *nonCanonicalSigError) Error() string {
	return fmt.Sprintf("signature by %s is not in canonical base64", e.name)
}

// A duplicateSigError reports two signature lines with one key name and
// key ID.
type duplicateSigError struct{ name string }

func (e *duplicateSigError) Error() string {
	return fmt.Sprintf("two signature lines by one key of %s", e.name)
}

// describeNoteError turns an openNote error into a readable phrase that
// follows the subject ("entry 4 ", "checkpoint ").
func describeNoteError(err error) string {
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	var nonCanonical *nonCanonicalSigError
	var duplicate *duplicateSigError
	switch {
	case errors.As(err, &duplicate):
		return fmt.Sprintf("has two signature lines by one key of %s (at most one per key)", duplicate.name)
	case errors.As(err, &nonCanonical):
		return fmt.Sprintf("has a signature by %s that is not in canonical base64 (non-zero padding bits)", nonCanonical.name)
	case errors.As(err, &unverified):
		var names []string
		for _, s := range unverified.Note.UnverifiedSigs {
			names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		return fmt.Sprintf("is signed only by keys not in the roster (%s)", strings.Join(names, ", "))
	case errors.As(err, &invalid):
		return fmt.Sprintf("has a signature by %s that does not verify (changed after signing)", invalid.Name)
	}
	return fmt.Sprintf("is not a valid signed note: %v", err)
}
