package witness

import (
	"bytes"
	"errors"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/breakglass/breakglass/logbook"
)

// The offline exchange: a witness the laptop cannot reach takes a request
// file ([Request]) and gives back a response file ([StoreResponse]).

// Request is the add-checkpoint request ([FormatRequest]) of l's latest
// checkpoint for a witness that cosigned the tree of size old before.
func Request(l *logbook.Log, old int64) ([]byte, error) {
	proof, err := l.ProveConsistency(old)
	if err != nil {
		return nil, err
	}
	return FormatRequest(old, proof, l.Checkpoint().Signed), nil
}

// A ResponseError is a response that holds no valid cosignature by a
// witness of the case.
type ResponseError struct{ Err error }

func (e *ResponseError) Error() string { return e.Err.Error() }
func (e *ResponseError) Unwrap() error { return e.Err }

// StoreResponse stores in the cosigned file of logDir the cosignatures of a
// witness's response b: a cosigned checkpoint (as log witness sign writes
// it), or bare cosignature lines (an add-checkpoint answer) for latest, the
// logbook's latest signed checkpoint. Every signature must verify with a
// key of cfg (the checkpoint's own signatures with the logbook's, which it
// keeps as they are). It returns the signatures' names: an
// *ResponseError when one does not verify.
func StoreResponse(logDir string, latest, b []byte, cfg *Config) ([]string, error) {
	signed := b
	if bytes.HasPrefix(b, []byte("— ")) {
		signed = append(bytes.Clone(latest), b...)
	}
	n, err := note.Open(signed, cfg.Verifiers())
	if err != nil {
		return nil, &ResponseError{Err: err}
	}
	text, _, _ := strings.Cut(string(signed), "\n\n")
	var own, cosigs []byte
	for _, line := range strings.SplitAfter(string(signed[len(text)+2:]), "\n") {
		if line == "" {
			continue
		}
		if isCosigLine(line, n.Sigs) {
			cosigs = append(cosigs, line...)
		} else {
			own = append(own, line...)
		}
	}
	if err := Store(logDir, append([]byte(text+"\n\n"), own...), cosigs); err != nil {
		return nil, err
	}
	var names []string
	for _, s := range n.Sigs {
		names = append(names, s.Name)
	}
	return names, nil
}

func isCosigLine(line string, sigs []note.Signature) bool {
	for _, s := range sigs {
		if strings.HasPrefix(line, "— "+s.Name+" ") && strings.TrimSuffix(line, "\n") == "— "+s.Name+" "+s.Base64 {
			return true
		}
	}
	return false
}

// Evidence reports whether err is a witness's evidence that the logbook
// was rewritten or truncated: an *Error of kind Inconsistent or Ahead.
func Evidence(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Kind == Inconsistent || e.Kind == Ahead)
}
