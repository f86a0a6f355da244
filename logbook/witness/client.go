package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/breakglass/breakglass/logbook"
)

// FormatRequest returns the body of an add-checkpoint request
// (c2sp.org/tlog-witness): "old SIZE", the consistency proof from that size,
// one base64 hash a line, a blank line, and the signed checkpoint.
func FormatRequest(old int64, proof tlog.TreeProof, signed []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		b.WriteString(h.String() + "\n")
	}
	b.WriteString("\n")
	b.Write(signed)
	return b.Bytes()
}

// ErrorKind says why a witness did not cosign.
type ErrorKind int

const (
	// Unreachable: no answer (network down, refused, timed out).
	Unreachable ErrorKind = iota
	// UnknownLog: the witness does not witness this logbook (404).
	UnknownLog
	// UntrustedKey: the witness knows no key that signed the checkpoint,
	// or a signature does not verify (403).
	UntrustedKey
	// Inconsistent: the checkpoint is not consistent with the one the
	// witness cosigned before (422): a fork or a rewrite.
	Inconsistent
	// Ahead: the witness has cosigned more entries than the logbook holds
	// (409 with a larger size): entries were removed, or this copy of the
	// case is behind another.
	Ahead
	// BadResponse: the answer is not a valid cosignature by the witness.
	BadResponse
	// Refused: any other refusal (an HTTP error status).
	Refused
)

// An Error says why a witness did not cosign a checkpoint.
type Error struct {
	Witness string
	Kind    ErrorKind
	Size    int64 // Ahead: the witness's size; Inconsistent: the size it cosigned before
	Msg     string
}

func (e *Error) Error() string { return "witness " + e.Witness + " " + e.Msg }

// A Result is the outcome of asking one witness to cosign.
type Result struct {
	Witness *Witness
	Cosigs  []byte // the witness's verified cosignature lines
	Err     error  // an *Error, or nil
}

// ErrEmpty: an empty logbook has no checkpoint to cosign.
var ErrEmpty = errors.New("the logbook is empty: there is no checkpoint to cosign")

// Cosign sends l's latest checkpoint to every witness of cfg that has a URL
// and skip does not exclude (skip may be nil), in parallel, each bounded by
// cfg.Timeout, with a consistency proof from the size it cosigned last (the
// cosigned file's hint, then what the witness answers with a 409). Verified
// cosignatures are added to the cosigned file of logDir ([Store]). The
// results come in the order of cfg.Witnesses, one per witness asked.
func Cosign(ctx context.Context, l *logbook.Log, logDir string, cfg *Config, skip func(*Witness) bool) ([]Result, error) {
	ck := l.Checkpoint()
	if ck.N == 0 || len(ck.Signed) == 0 {
		return nil, ErrEmpty
	}
	hints := sizeHints(logDir, l.Origin(), ck.N)
	hc := &http.Client{Timeout: cfg.Timeout}
	var results []Result
	for _, w := range cfg.Witnesses {
		if w.URL == "" || (skip != nil && skip(w)) {
			continue
		}
		results = append(results, Result{Witness: w})
	}
	var wg sync.WaitGroup
	for i := range results {
		r := &results[i]
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			defer cancel()
			r.Cosigs, r.Err = submit(ctx, hc, r.Witness, l, ck, hints[r.Witness.Name+"+"+fmt.Sprintf("%08x", r.Witness.Verifier.KeyHash())], cfg.Timeout)
		})
	}
	wg.Wait()
	var all []byte
	for _, r := range results {
		all = append(all, r.Cosigs...)
	}
	if len(all) > 0 {
		if err := Store(logDir, ck.Signed, all); err != nil {
			return results, err
		}
	}
	return results, nil
}

// sizeHints returns, by "NAME+KEYID", the largest size up to n of a
// checkpoint in the cosigned file that carries a line of that key. It is
// only a first guess of the old size to send (a wrong one costs a 409).
func sizeHints(logDir, origin string, n int64) map[string]int64 {
	hints := map[string]int64{}
	notes, err := readCosigned(logDir, origin)
	if err != nil {
		return hints
	}
	for _, c := range notes {
		if c.ckpt.N > n {
			continue
		}
		for _, line := range c.lines {
			if name, hash, ok := sigLineKey(line); ok {
				hints[fmt.Sprintf("%s+%08x", name, hash)] = c.ckpt.N
			}
		}
	}
	return hints
}

// maxResponse bounds a witness's answer.
const maxResponse = 64 << 10

// submit asks w to cosign ck, the checkpoint of l, starting from old size
// old, and returns w's verified cosignature lines.
func submit(ctx context.Context, hc *http.Client, w *Witness, l *logbook.Log, ck logbook.Checkpoint, old int64, timeout time.Duration) ([]byte, error) {
	fail := func(kind ErrorKind, size int64, format string, args ...any) error {
		return &Error{Witness: w.Name, Kind: kind, Size: size, Msg: fmt.Sprintf(format, args...)}
	}
	tried := map[int64]bool{}
	for {
		tried[old] = true
		proof, err := l.ProveConsistency(old)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, "POST", w.URL+"/add-checkpoint", bytes.NewReader(FormatRequest(old, proof, ck.Signed)))
		if err != nil {
			return nil, fail(Refused, 0, "(%s): %v", w.URL, err)
		}
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fail(Unreachable, 0, "is unreachable at %s: %s", w.URL, netError(err, timeout))
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
		resp.Body.Close()
		if err != nil {
			return nil, fail(Unreachable, 0, "at %s: reading the answer: %s", w.URL, netError(err, timeout))
		}
		if len(body) > maxResponse {
			return nil, fail(BadResponse, 0, "at %s answered with more than %d bytes", w.URL, maxResponse)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			return verifyCosigs(w, ck, body)
		case http.StatusConflict:
			s := strings.TrimSuffix(string(body), "\n")
			m, err := strconv.ParseInt(s, 10, 64)
			if err != nil || m < 0 || strconv.FormatInt(m, 10) != s {
				return nil, fail(BadResponse, 0, "at %s answered 409 Conflict without a tree size (%q)", w.URL, firstLine(body))
			}
			if m > ck.N {
				return nil, fail(Ahead, m, "has cosigned %d entries of this logbook, but it holds only %d", m, ck.N)
			}
			if tried[m] {
				return nil, fail(BadResponse, 0, "at %s keeps answering 409 Conflict with size %d", w.URL, m)
			}
			old = m
		case http.StatusNotFound:
			return nil, fail(UnknownLog, 0, "does not witness the logbook %s (404 Not Found)", ck.Origin)
		case http.StatusForbidden:
			return nil, fail(UntrustedKey, 0, "does not accept the signature on the checkpoint (403 Forbidden: %s)", firstLine(body))
		case http.StatusUnprocessableEntity:
			if old == ck.N {
				return nil, fail(Inconsistent, old, "refuses the checkpoint of %d entries: it cosigned a different checkpoint of that size before (422: %s)", ck.N, firstLine(body))
			}
			return nil, fail(Inconsistent, old, "refuses the checkpoint of %d entries: it does not extend the checkpoint of %d entries the witness cosigned before (422: %s)", ck.N, old, firstLine(body))
		default:
			return nil, fail(Refused, 0, "at %s refused the checkpoint: %s: %s", w.URL, resp.Status, firstLine(body))
		}
	}
}

// verifyCosigs checks that body is signature lines holding a valid
// cosignature of ck by w, and returns w's lines.
func verifyCosigs(w *Witness, ck logbook.Checkpoint, body []byte) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return &Error{Witness: w.Name, Kind: BadResponse, Msg: fmt.Sprintf("at %s answered with something that is not its cosignature: ", w.URL) + fmt.Sprintf(format, args...)}
	}
	lines, err := splitSigLines(body)
	if err != nil {
		return nil, bad("%v", err)
	}
	n, err := note.Open(append(bytes.Clone(ck.Signed), body...), note.VerifierList(w.Verifier))
	if err != nil {
		return nil, bad("%v", err)
	}
	var out []byte
	for _, line := range lines {
		name, hash, _ := sigLineKey(line)
		if name == w.Name && hash == w.Verifier.KeyHash() {
			out = append(out, line+"\n"...)
		}
	}
	if len(n.Sigs) == 0 || len(out) == 0 {
		return nil, bad("no signature by its key")
	}
	return out, nil
}

// netError shortens a transport error for a message.
func netError(err error, timeout time.Duration) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Sprintf("no answer within %v", timeout)
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
