package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/tag"
)

// Kinds of custodian. Any token kind other than paper holds a P-256
// key-agreement key and receives its share as a p256tag age file.
const (
	KindPIV    = "piv"
	KindPKCS11 = "pkcs11"
	KindPaper  = "paper"
)

// Limits of the format (docs/format-glass.md, "Limits").
const (
	maxText       = 256 // bytes in one text value
	maxGroups     = 16  // SLIP-0039
	maxMembers    = 16  // SLIP-0039
	maxUseCases   = 64
	timeLayout    = "2006-01-02T15:04:05Z"
	formatVersion = "1"
)

// A Custodian is one member of the roster: a person and their token.
type Custodian struct {
	// Name identifies the custodian in messages; unique in the roster.
	Name string
	// Kind is the token kind: "piv", "pkcs11", "paper", or another
	// lower-case word naming a kind of P-256 token.
	Kind string
	// Fingerprint is the enrollment record's fingerprint (optional).
	Fingerprint string
	// Recipient is the age1tag1… p256tag recipient of the token's
	// key-agreement key (see [TagRecipient]); empty for paper custodians.
	Recipient string

	commitment [32]byte
}

// Paper reports whether c holds a paper share (a SLIP-0039 mnemonic).
func (c Custodian) Paper() bool { return c.Kind == KindPaper }

// A Group is a set of custodians of which Threshold must take part.
type Group struct {
	Name       string
	Threshold  int
	Custodians []Custodian
}

// Header is the authenticated description of a sealed secret. Its canonical
// encoding is hashed into the header hash (see [Header.Hash]).
type Header struct {
	SealID    [16]byte // random, unique to this file
	Name      string
	Scope     string   // optional, e.g. "aws:123456789012:role/breakglass"
	UseCases  []string // permitted use cases, in order
	KeyID     string   // optional non-secret id of what is sealed
	CreatedAt time.Time
	SealedBy  string
	// Previous is the header hash of the file this one reseals, or nil.
	Previous []byte
	// Recipient is the age1… X25519 recipient of the split identity.
	Recipient      string
	GroupThreshold int
	Groups         []Group
}

// Hash returns the header hash H: SHA-256 of the canonical header text.
func (h *Header) Hash() [32]byte {
	b, err := h.marshal()
	if err != nil {
		return [32]byte{}
	}
	return sha256.Sum256(b)
}

// Custodians returns the roster in index order (group by group).
func (h *Header) Custodians() []Custodian {
	var cs []Custodian
	for _, g := range h.Groups {
		cs = append(cs, g.Custodians...)
	}
	return cs
}

// Policy says how many custodians an unseal needs: "2 of 3", or with
// groups "2 of 3 groups: 1 of ops (2), 2 of dev (3), 1 of sec (1)". It is
// the threshold detail of seal and reseal entries.
func (h *Header) Policy() string {
	if len(h.Groups) == 1 {
		g := h.Groups[0]
		return fmt.Sprintf("%d of %d", g.Threshold, len(g.Custodians))
	}
	var parts []string
	for _, g := range h.Groups {
		parts = append(parts, fmt.Sprintf("%d of %s (%d)", g.Threshold, g.Name, len(g.Custodians)))
	}
	return fmt.Sprintf("%d of %d groups: %s", h.GroupThreshold, len(h.Groups), strings.Join(parts, ", "))
}

// position maps a custodian index to its group and member index.
func (h *Header) position(idx int) (group, member int, ok bool) {
	for gi, g := range h.Groups {
		if idx < len(g.Custodians) {
			return gi, idx, idx >= 0
		}
		idx -= len(g.Custodians)
	}
	return 0, 0, false
}

func (h *Header) custodian(idx int) (Custodian, bool) {
	g, m, ok := h.position(idx)
	if !ok {
		return Custodian{}, false
	}
	return h.Groups[g].Custodians[m], true
}

// checkText enforces the rules for a free-text value.
func checkText(field, v string, optional bool) error {
	if v == "" {
		if optional {
			return nil
		}
		return fmt.Errorf("%s is empty", field)
	}
	if len(v) > maxText {
		return fmt.Errorf("%s is longer than %d bytes", field, maxText)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s contains a control character", field)
		}
	}
	if strings.TrimSpace(v) != v || strings.TrimLeft(v, " ") != v {
		return fmt.Errorf("%s has leading or trailing space", field)
	}
	if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) && r != ' ' }) {
		return fmt.Errorf("%s contains a space character other than U+0020", field)
	}
	return nil
}

func checkWord(field, v string) error {
	if v == "" || len(v) > 64 {
		return fmt.Errorf("%s must be 1 to 64 characters", field)
	}
	for i := range len(v) {
		c := v[i]
		if c <= ' ' || c > '~' {
			return fmt.Errorf("%s must be printable ASCII without spaces", field)
		}
	}
	return nil
}

func checkKind(k string) error {
	if k == "" || len(k) > 16 {
		return errors.New("custodian kind must be 1 to 16 lower-case letters or digits")
	}
	for i := range len(k) {
		if (k[i] < 'a' || k[i] > 'z') && (k[i] < '0' || k[i] > '9') {
			return errors.New("custodian kind must be 1 to 16 lower-case letters or digits")
		}
	}
	return nil
}

// checkTagRecipient accepts only the canonical encoding of a classic
// (non post-quantum) p256tag recipient.
func checkTagRecipient(s string) error {
	r, err := tag.ParseRecipient(s)
	if err != nil || r.Hybrid() || r.String() != s {
		return fmt.Errorf("%q is not a canonical age1tag1… recipient", s)
	}
	return nil
}

func checkX25519Recipient(s string) error {
	r, err := age.ParseX25519Recipient(s)
	if err != nil || r.String() != s {
		return fmt.Errorf("%q is not a canonical age1… X25519 recipient", s)
	}
	return nil
}

// validate checks everything marshal and parse rely on. It reports a plain
// error; callers wrap it.
func (h *Header) validate() error {
	if err := checkText("name", h.Name, false); err != nil {
		return err
	}
	if err := checkText("scope", h.Scope, true); err != nil {
		return err
	}
	if len(h.UseCases) > maxUseCases {
		return fmt.Errorf("more than %d use cases", maxUseCases)
	}
	seen := map[string]bool{}
	for _, u := range h.UseCases {
		if err := checkText("use case", u, false); err != nil {
			return err
		}
		if seen[u] {
			return fmt.Errorf("use case %q is listed twice", u)
		}
		seen[u] = true
	}
	if err := checkText("key id", h.KeyID, true); err != nil {
		return err
	}
	if h.CreatedAt.IsZero() || h.CreatedAt.Year() < 1 || h.CreatedAt.Year() > 9999 {
		return errors.New("created-at is missing or out of range")
	}
	if err := checkText("sealed-by", h.SealedBy, false); err != nil {
		return err
	}
	if h.Previous != nil && len(h.Previous) != 32 {
		return errors.New("previous header hash is not 32 bytes")
	}
	if err := checkX25519Recipient(h.Recipient); err != nil {
		return err
	}
	if len(h.Groups) < 1 || len(h.Groups) > maxGroups {
		return fmt.Errorf("need 1 to %d groups, have %d", maxGroups, len(h.Groups))
	}
	if h.GroupThreshold < 1 || h.GroupThreshold > len(h.Groups) {
		return fmt.Errorf("group threshold %d is not between 1 and %d", h.GroupThreshold, len(h.Groups))
	}
	names, keys, groups := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, g := range h.Groups {
		if err := checkText("group name", g.Name, false); err != nil {
			return err
		}
		if groups[g.Name] {
			return fmt.Errorf("group %q is listed twice", g.Name)
		}
		groups[g.Name] = true
		n := len(g.Custodians)
		if n < 1 || n > maxMembers {
			return fmt.Errorf("group %q: need 1 to %d custodians, have %d", g.Name, maxMembers, n)
		}
		if g.Threshold < 1 || g.Threshold > n {
			return fmt.Errorf("group %q: threshold %d is not between 1 and %d", g.Name, g.Threshold, n)
		}
		for _, c := range g.Custodians {
			if err := checkText("custodian name", c.Name, false); err != nil {
				return err
			}
			if names[c.Name] {
				return fmt.Errorf("custodian %q is listed twice", c.Name)
			}
			names[c.Name] = true
			if err := checkKind(c.Kind); err != nil {
				return fmt.Errorf("custodian %q: %v", c.Name, err)
			}
			if c.Fingerprint != "" {
				if err := checkWord("fingerprint", c.Fingerprint); err != nil {
					return fmt.Errorf("custodian %q: %v", c.Name, err)
				}
			}
			if c.Paper() {
				if c.Recipient != "" {
					return fmt.Errorf("custodian %q: a paper custodian has no recipient", c.Name)
				}
				continue
			}
			if err := checkTagRecipient(c.Recipient); err != nil {
				return fmt.Errorf("custodian %q: %v", c.Name, err)
			}
			if keys[c.Recipient] {
				return fmt.Errorf("custodian %q: the same token key is in the roster twice", c.Name)
			}
			keys[c.Recipient] = true
		}
	}
	return nil
}

// marshal returns the canonical header text (docs/format-glass.md, "Header").
func (h *Header) marshal() ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	line := func(k, v string) { b.WriteString(k + ": " + v + "\n") }
	line("version", formatVersion)
	line("seal-id", hex.EncodeToString(h.SealID[:]))
	line("name", h.Name)
	if h.Scope != "" {
		line("scope", h.Scope)
	}
	for _, u := range h.UseCases {
		line("use-case", u)
	}
	if h.KeyID != "" {
		line("key-id", h.KeyID)
	}
	line("created-at", h.CreatedAt.UTC().Format(timeLayout))
	line("sealed-by", h.SealedBy)
	if h.Previous != nil {
		line("previous", hex.EncodeToString(h.Previous))
	}
	line("recipient", h.Recipient)
	line("groups", fmt.Sprintf("%d of %d", h.GroupThreshold, len(h.Groups)))
	for _, g := range h.Groups {
		line("group", fmt.Sprintf("%d of %d %s", g.Threshold, len(g.Custodians), g.Name))
		for _, c := range g.Custodians {
			line("custodian", c.Kind+" "+c.Name)
			if c.Fingerprint != "" {
				line("fingerprint", c.Fingerprint)
			}
			if !c.Paper() {
				line("key", c.Recipient)
			}
			line("commitment", b64.EncodeToString(c.commitment[:]))
		}
	}
	return b.Bytes(), nil
}

// lines is a cursor over LF-terminated "key: value" lines.
type lines struct {
	ls []string
	i  int
	// base is the line number of ls[0] in the file, for messages.
	base int
}

func (l *lines) peekKey() string {
	if l.i >= len(l.ls) {
		return ""
	}
	k, _, _ := strings.Cut(l.ls[l.i], ": ")
	return k
}

func (l *lines) errorf(format string, a ...any) error {
	return &FormatError{Line: l.base + l.i, Msg: fmt.Sprintf(format, a...)}
}

// next consumes a line with key k and returns its value.
func (l *lines) next(k string) (string, error) {
	if l.i >= len(l.ls) {
		return "", l.errorf("missing %q line", k)
	}
	key, v, ok := strings.Cut(l.ls[l.i], ": ")
	if !ok || key != k {
		return "", l.errorf("expected a %q line", k)
	}
	l.i++
	return v, nil
}

func (l *lines) optional(k string) (string, bool, error) {
	if l.peekKey() != k {
		return "", false, nil
	}
	v, err := l.next(k)
	if err != nil {
		return "", false, err
	}
	if v == "" {
		l.i--
		return "", false, l.errorf("empty %q line", k)
	}
	return v, true, nil
}

// atoi parses a canonical decimal number in [lo, hi].
func atoi(s string, lo, hi int) (int, bool) {
	if s == "" || len(s) > 3 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi || strconv.Itoa(n) != s {
		return 0, false
	}
	return n, true
}

// parseOf parses "A of B rest" (rest may be absent when wantRest is false).
func parseOf(v string, wantRest bool) (a, b int, rest string, ok bool) {
	f := strings.SplitN(v, " ", 4)
	if len(f) < 3 || f[1] != "of" || (wantRest != (len(f) == 4)) {
		return 0, 0, "", false
	}
	a, ok1 := atoi(f[0], 1, maxMembers)
	b, ok2 := atoi(f[2], 1, maxMembers)
	if wantRest {
		rest = f[3]
	}
	return a, b, rest, ok1 && ok2
}

// parseHeader parses header lines; it consumes lines up to the first line
// that cannot belong to the header.
func parseHeader(l *lines) (*Header, error) {
	h := &Header{}
	v, err := l.next("version")
	if err != nil {
		return nil, err
	}
	if v != formatVersion {
		return nil, l.errorf("unsupported format version %q", v)
	}
	if v, err = l.next("seal-id"); err != nil {
		return nil, err
	}
	id, err := hex.DecodeString(v)
	if err != nil || len(id) != 16 || hex.EncodeToString(id) != v {
		return nil, l.errorf("seal-id is not 32 lower-case hex digits")
	}
	copy(h.SealID[:], id)
	if h.Name, err = l.next("name"); err != nil {
		return nil, err
	}
	if h.Scope, _, err = l.optional("scope"); err != nil {
		return nil, err
	}
	for l.peekKey() == "use-case" {
		u, _, err := l.optional("use-case")
		if err != nil {
			return nil, err
		}
		h.UseCases = append(h.UseCases, u)
	}
	if h.KeyID, _, err = l.optional("key-id"); err != nil {
		return nil, err
	}
	if v, err = l.next("created-at"); err != nil {
		return nil, err
	}
	t, err := time.Parse(timeLayout, v)
	if err != nil || t.Format(timeLayout) != v {
		return nil, l.errorf("created-at is not YYYY-MM-DDTHH:MM:SSZ")
	}
	h.CreatedAt = t
	if h.SealedBy, err = l.next("sealed-by"); err != nil {
		return nil, err
	}
	if v, ok, err := l.optional("previous"); err != nil {
		return nil, err
	} else if ok {
		p, err := hex.DecodeString(v)
		if err != nil || len(p) != 32 || hex.EncodeToString(p) != v {
			return nil, l.errorf("previous is not 64 lower-case hex digits")
		}
		h.Previous = p
	}
	if h.Recipient, err = l.next("recipient"); err != nil {
		return nil, err
	}
	if v, err = l.next("groups"); err != nil {
		return nil, err
	}
	gt, ng, _, ok := parseOf(v, false)
	if !ok {
		return nil, l.errorf(`groups is not "K of N"`)
	}
	h.GroupThreshold = gt
	for range ng {
		if v, err = l.next("group"); err != nil {
			return nil, err
		}
		t, n, name, ok := parseOf(v, true)
		if !ok {
			return nil, l.errorf(`group is not "K of N NAME"`)
		}
		g := Group{Name: name, Threshold: t}
		for range n {
			if v, err = l.next("custodian"); err != nil {
				return nil, err
			}
			kind, name, ok := strings.Cut(v, " ")
			if !ok {
				return nil, l.errorf(`custodian is not "KIND NAME"`)
			}
			c := Custodian{Kind: kind, Name: name}
			if c.Fingerprint, _, err = l.optional("fingerprint"); err != nil {
				return nil, err
			}
			if !c.Paper() {
				if c.Recipient, err = l.next("key"); err != nil {
					return nil, err
				}
			}
			if v, err = l.next("commitment"); err != nil {
				return nil, err
			}
			cm, err := b64.DecodeString(v)
			if err != nil || len(cm) != 32 {
				l.i--
				return nil, l.errorf("commitment is not 32 bytes of canonical base64")
			}
			copy(c.commitment[:], cm)
			g.Custodians = append(g.Custodians, c)
		}
		h.Groups = append(h.Groups, g)
	}
	if err := h.validate(); err != nil {
		return nil, &FormatError{Line: l.base + l.i, Msg: "header: " + err.Error()}
	}
	return h, nil
}
