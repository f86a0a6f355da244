package logbook

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"
)

// A Kind says what an entry records.
type Kind string

// The entry kinds. A reader MUST reject a kind it does not know (see
// [UnknownKindError]): a newer breakglass may give it a meaning an older one
// would misreport.
const (
	KindEnroll      Kind = "enroll"       // a custodian's token was enrolled
	KindSeal        Kind = "seal"         // a secret was sealed to a roster
	KindReseal      Kind = "reseal"       // a secret was re-sealed (new roster, threshold or key)
	KindUnsealStart Kind = "unseal-start" // an operator started an unseal session
	KindTap         Kind = "tap"          // a custodian approved (tapped) an unseal
	KindRelease     Kind = "release"      // a secret or credentials from it went to an operator
	KindDrill       Kind = "drill"        // a drill ran; details carry the result
	KindRevoke      Kind = "revoke"       // a released key was revoked
	KindRotate      Kind = "rotate"       // a secret's underlying key was rotated
	KindNote        Kind = "note"         // free text from a person, e.g. an auditor's remark
	KindGenesis     Kind = "genesis"      // the founding custodians and the admission policy
	KindAdmit       Kind = "admit"        // an enrolled token may sign from now on
	KindRetire      Kind = "retire"       // an admitted token may no longer sign
)

// Kinds lists every kind this version knows, in the order of a secret's life.
var Kinds = []Kind{KindEnroll, KindSeal, KindReseal, KindUnsealStart, KindTap, KindRelease,
	KindDrill, KindRevoke, KindRotate, KindNote, KindGenesis, KindAdmit, KindRetire}

// Known reports whether k is a kind this version of breakglass understands.
func (k Kind) Known() bool { return slices.Contains(Kinds, k) }

// An UnknownKindError reports an entry kind this version does not know,
// most likely written by a newer breakglass.
type UnknownKindError struct {
	Kind string
}

func (e *UnknownKindError) Error() string {
	return fmt.Sprintf("unknown entry kind %q (written by a newer breakglass? upgrade to read this logbook)", e.Kind)
}

// An Entry is one record in the logbook. It never holds a secret: only names,
// hashes, key ids and the people involved.
//
// The zero values of the optional fields (Secret, HeaderHash, Reason, Ticket,
// UseCase, Details) mean "absent".
type Entry struct {
	Origin string    `json:"origin"` // the logbook's origin, e.g. "breakglass.example/acme/prod"
	Index  int64     `json:"index"`  // sequence number, from 0
	Time   time.Time `json:"time"`   // UTC, whole seconds
	Kind   Kind      `json:"kind"`
	Actor  string    `json:"actor"` // signed-note key name of the person who acted and signed
	Key    string    `json:"key"`   // fingerprint of Actor's signing key, e.g. "3f2a 91c0 7b44 e1d2"

	Secret     string `json:"secret,omitempty"`      // name of the sealed secret concerned
	HeaderHash []byte `json:"header_hash,omitempty"` // SHA-256 of the sealed secret's canonical header (32 bytes)
	Reason     string `json:"reason,omitempty"`      // why, in the actor's words
	Ticket     string `json:"ticket,omitempty"`      // incident or change ticket
	UseCase    string `json:"use_case,omitempty"`    // the permitted use case invoked

	// Details holds kind-specific facts: who tapped, which key id was
	// released, drill results. Names are lowercase letters, digits, '.' and
	// '-'; values follow the same rules as other fields.
	Details map[string]string `json:"details,omitempty"`

	// Prev is the Merkle tree hash of entries 0..Index-1 (zero for entry 0):
	// the hash link that ties this entry to everything before it.
	Prev tlog.Hash `json:"prev"`

	// Signed is the entry as stored: the note text followed by its signature
	// lines. Set by [Open], [Verify] and [Log.Append]; ignored by MarshalText.
	Signed []byte `json:"-"`
}

// Field keywords, in the order they appear.
const (
	kwEntry   = "entry"
	kwTime    = "time"
	kwKind    = "kind"
	kwActor   = "actor"
	kwKey     = "key"
	kwSecret  = "secret"
	kwHeader  = "header"
	kwReason  = "reason"
	kwTicket  = "ticket"
	kwUseCase = "use-case"
	kwDetail  = "detail"
	kwPrev    = "prev"
)

const timeFormat = "2006-01-02T15:04:05Z"

// maxIndex bounds sequence numbers and tree sizes (well beyond any real
// logbook, far from overflow).
const maxIndex = 1 << 40

// MarshalText returns the entry's note text: the bytes its actor signs.
// It fails if a field breaks the format rules (docs/format-logbook.md).
func (e *Entry) MarshalText() ([]byte, error) {
	if err := checkName("origin", e.Origin); err != nil {
		return nil, err
	}
	if e.Index < 0 || e.Index >= maxIndex {
		return nil, fmt.Errorf("entry number %d out of range", e.Index)
	}
	if !e.Time.Equal(e.Time.Truncate(time.Second)) || e.Time.Year() < 2000 || e.Time.Year() > 9999 {
		return nil, fmt.Errorf("time %v: want whole seconds between the years 2000 and 9999", e.Time)
	}
	if !e.Kind.Known() {
		return nil, &UnknownKindError{string(e.Kind)}
	}
	if err := checkName("actor", e.Actor); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(e.Origin + "\n")
	fmt.Fprintf(&b, "%s %d\n", kwEntry, e.Index)
	fmt.Fprintf(&b, "%s %s\n", kwTime, e.Time.UTC().Format(timeFormat))
	fmt.Fprintf(&b, "%s %s\n", kwKind, e.Kind)
	fmt.Fprintf(&b, "%s %s\n", kwActor, e.Actor)
	field := func(kw, v string, required bool) error {
		if v == "" && !required {
			return nil
		}
		if err := checkValue(kw, v); err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %s\n", kw, v)
		return nil
	}
	if !validFingerprint(e.Key) {
		return nil, fmt.Errorf("key %q: want the signing key's fingerprint, four groups of four lowercase hex digits", e.Key)
	}
	fmt.Fprintf(&b, "%s %s\n", kwKey, e.Key)
	if err := field(kwSecret, e.Secret, false); err != nil {
		return nil, err
	}
	if e.HeaderHash != nil {
		if len(e.HeaderHash) != 32 {
			return nil, fmt.Errorf("header hash is %d bytes, want 32 (SHA-256)", len(e.HeaderHash))
		}
		fmt.Fprintf(&b, "%s %x\n", kwHeader, e.HeaderHash)
	}
	for _, f := range []struct{ kw, v string }{{kwReason, e.Reason}, {kwTicket, e.Ticket}, {kwUseCase, e.UseCase}} {
		if err := field(f.kw, f.v, false); err != nil {
			return nil, err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(e.Details)) {
		if !validDetailName(name) {
			return nil, fmt.Errorf("detail name %q: want lowercase letters, digits, '.' and '-'", name)
		}
		if err := checkValue("detail "+name, e.Details[name]); err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s %s %s\n", kwDetail, name, e.Details[name])
	}
	if err := e.checkAdmission(); err != nil {
		return nil, err
	}
	if e.Index > 0 {
		fmt.Fprintf(&b, "%s %s\n", kwPrev, base64.StdEncoding.EncodeToString(e.Prev[:]))
	} else if e.Prev != (tlog.Hash{}) {
		return nil, errors.New("entry 0 has no previous tree hash")
	}
	return b.Bytes(), nil
}

// ParseEntryText parses an entry's note text (without signatures). It accepts
// only the canonical encoding: MarshalText of the result gives back text
// exactly. An unknown kind gives an error wrapping *[UnknownKindError].
func ParseEntryText(text []byte) (*Entry, error) {
	if len(text) == 0 || text[len(text)-1] != '\n' {
		return nil, errors.New("entry text does not end in a newline")
	}
	lines := strings.Split(string(text[:len(text)-1]), "\n")
	e := &Entry{Origin: lines[0]}
	if err := checkName("origin", e.Origin); err != nil {
		return nil, err
	}
	p := lineParser{lines: lines, i: 1}

	v, err := p.required(kwEntry)
	if err != nil {
		return nil, err
	}
	if e.Index, err = parseDecimal(v); err != nil {
		return nil, fmt.Errorf("line 2: entry number %q: %v", v, err)
	}
	if v, err = p.required(kwTime); err != nil {
		return nil, err
	}
	if e.Time, err = time.Parse(timeFormat, v); err != nil || e.Time.Format(timeFormat) != v || e.Time.Year() < 2000 {
		return nil, fmt.Errorf("line 3: time %q: want UTC like 2026-01-02T15:04:05Z", v)
	}
	if v, err = p.required(kwKind); err != nil {
		return nil, err
	}
	if e.Kind = Kind(v); !e.Kind.Known() {
		return nil, fmt.Errorf("line 4: %w", &UnknownKindError{v})
	}
	if e.Actor, err = p.required(kwActor); err != nil {
		return nil, err
	}
	if err := checkName("actor", e.Actor); err != nil {
		return nil, fmt.Errorf("line 5: %v", err)
	}
	if e.Key, err = p.required(kwKey); err != nil {
		return nil, err
	}
	if !validFingerprint(e.Key) {
		return nil, fmt.Errorf("line %d: key %q: want the signing key's fingerprint, four groups of four lowercase hex digits", p.i, e.Key)
	}
	e.Secret = p.optional(kwSecret)
	if v := p.optional(kwHeader); v != "" {
		h, err := hex.DecodeString(v)
		if err != nil || len(h) != 32 || hex.EncodeToString(h) != v {
			return nil, fmt.Errorf("line %d: header hash %q: want 64 lowercase hex digits", p.i, v)
		}
		e.HeaderHash = h
	}
	e.Reason = p.optional(kwReason)
	e.Ticket = p.optional(kwTicket)
	e.UseCase = p.optional(kwUseCase)
	for {
		v := p.optional(kwDetail)
		if v == "" {
			break
		}
		name, val, _ := strings.Cut(v, " ")
		if e.Details == nil {
			e.Details = make(map[string]string)
		}
		if _, dup := e.Details[name]; dup {
			return nil, fmt.Errorf("line %d: detail %q repeated", p.i, name)
		}
		e.Details[name] = val
	}
	if e.Index > 0 {
		v, err := p.required(kwPrev)
		if err != nil {
			return nil, err
		}
		h, err := base64.StdEncoding.Strict().DecodeString(v)
		if err != nil || len(h) != len(e.Prev) {
			return nil, fmt.Errorf("line %d: previous tree hash %q: want the canonical base64 of 32 bytes", p.i, v)
		}
		copy(e.Prev[:], h)
	}
	if p.i < len(lines) {
		return nil, fmt.Errorf("line %d: unexpected %q", p.i+1, firstWord(lines[p.i]))
	}
	// The field rules (values, detail names and their order) are checked
	// once, by re-encoding: only the canonical text is accepted.
	again, err := e.MarshalText()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, text) {
		return nil, fmt.Errorf("line %d: not in canonical form", firstDiffLine(again, text))
	}
	return e, nil
}

type lineParser struct {
	lines []string
	i     int
}

func (p *lineParser) required(kw string) (string, error) {
	if p.i >= len(p.lines) {
		return "", fmt.Errorf("line %d: missing %q", p.i+1, kw)
	}
	v, ok := strings.CutPrefix(p.lines[p.i], kw+" ")
	if !ok {
		return "", fmt.Errorf("line %d: got %q, want %q", p.i+1, firstWord(p.lines[p.i]), kw)
	}
	p.i++
	return v, nil
}

func (p *lineParser) optional(kw string) string {
	if p.i >= len(p.lines) {
		return ""
	}
	v, ok := strings.CutPrefix(p.lines[p.i], kw+" ")
	if !ok || v == "" {
		return ""
	}
	p.i++
	return v
}

func firstWord(line string) string {
	w, _, _ := strings.Cut(line, " ")
	if len(w) > 20 {
		w = w[:20] + "…"
	}
	return w
}

func firstDiffLine(a, b []byte) int {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return i + 1
		}
	}
	return min(len(la), len(lb))
}

// parseDecimal parses a canonical non-negative decimal below maxIndex.
func parseDecimal(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n >= maxIndex || strconv.FormatInt(n, 10) != s {
		return 0, errors.New("want a decimal number without leading zeros")
	}
	return n, nil
}

// checkName checks an origin or key name: the signed-note key-name rules.
func checkName(what, s string) error {
	if s == "" || !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '+' || unicode.IsControl(r)
	}) >= 0 {
		return fmt.Errorf("%s %q: want a non-empty name without spaces or '+'", what, s)
	}
	return nil
}

// checkValue checks a free-text field value: one line of UTF-8 text, no
// control characters, no leading or trailing space.
func checkValue(what, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s is empty", what)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s is not valid UTF-8", what)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return fmt.Errorf("%s contains a control character or newline", what)
	case strings.TrimSpace(v) != v:
		return fmt.Errorf("%s starts or ends with a space", what)
	}
	return nil
}

// validFingerprint reports whether s is a key fingerprint as enrollment
// records show it: "7259 2171 d408 e64e".
func validFingerprint(s string) bool {
	if len(s) != 19 {
		return false
	}
	for i, c := range []byte(s) {
		if i%5 == 4 {
			if c != ' ' {
				return false
			}
		} else if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func validDetailName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || i > 0 && (r == '-' || r == '.')
		if !ok {
			return false
		}
	}
	return true
}
