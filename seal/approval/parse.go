package approval

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// A Parsed approval is what an approval message says (see Message).
type Parsed struct {
	Request
	Secret     string
	HeaderHash [32]byte
	Custodian  string
	Time       time.Time
}

// ErrNotApproval: the text is not an approval message as Message writes
// it.
var ErrNotApproval = errors.New("not a breakglass tap approval")

// Parse reads an approval message (a tap entry's approval in the logbook,
// say). It accepts only what Message writes: the version line, then the
// lines action, secret, header-hash, custodian, operator, reason, ticket,
// use-case, an optional request and time, in that order, each "KEY: VALUE"
// and newline-terminated, nothing after; so that Message(Parse(m)) == m.
func Parse(msg []byte) (*Parsed, error) {
	rest, ok := bytes.CutPrefix(msg, []byte(Version+"\n"))
	if !ok {
		return nil, fmt.Errorf("%w: no %q line", ErrNotApproval, Version)
	}
	var p Parsed
	field := func(key string, optional bool) (string, bool, error) {
		prefix := key + ": "
		if !bytes.HasPrefix(rest, []byte(prefix)) {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("%w: want a %s line", ErrNotApproval, key)
		}
		line, after, ok := bytes.Cut(rest[len(prefix):], []byte("\n"))
		if !ok {
			return "", false, fmt.Errorf("%w: the %s line does not end", ErrNotApproval, key)
		}
		rest = after
		return string(line), true, nil
	}
	var hash, at string
	for _, f := range []struct {
		key      string
		dst      *string
		optional bool
	}{
		{"action", &p.Action, false}, {"secret", &p.Secret, false}, {"header-hash", &hash, false},
		{"custodian", &p.Custodian, false}, {"operator", &p.Operator, false}, {"reason", &p.Reason, false},
		{"ticket", &p.Ticket, false}, {"use-case", &p.UseCase, false}, {"request", &p.RequestID, true},
		{"time", &at, false},
	} {
		v, found, err := field(f.key, f.optional)
		if err != nil {
			return nil, err
		}
		if found && f.optional && v == "" {
			return nil, fmt.Errorf("%w: an empty %s line", ErrNotApproval, f.key)
		}
		*f.dst = v
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: text after the time line", ErrNotApproval)
	}
	h, err := hex.DecodeString(hash)
	if err != nil || len(h) != 32 || hex.EncodeToString(h) != hash {
		return nil, fmt.Errorf("%w: header-hash %q is not 64 lowercase hex digits", ErrNotApproval, hash)
	}
	copy(p.HeaderHash[:], h)
	t, err := time.Parse(time.RFC3339, at)
	if err != nil || t.UTC().Format(time.RFC3339) != at {
		return nil, fmt.Errorf("%w: time %q is not RFC 3339 in UTC", ErrNotApproval, at)
	}
	p.Time = t
	return &p, nil
}
