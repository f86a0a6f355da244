package witness

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unicode"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/breakglass/breakglass/token"
)

// Files in a witness's state directory.
const (
	LogsFile       = "logs"        // the logs it witnesses and their keys
	checkpointsDir = "checkpoints" // the latest cosigned checkpoint of each log
	stateLockFile  = "lock"        // held by the one process serving this state
)

// A Server is a witness (c2sp.org/tlog-witness): it cosigns checkpoints of
// the logs its state directory lists, each only if it is consistent with
// the latest one it cosigned for that log, which it persists before
// answering.
//
// The state directory holds the logs file (see [AddLog]), and
// checkpoints/HASH for each log, HASH the lowercase hex SHA-256 of its
// origin: the latest checkpoint cosigned, as submitted, with the witness's
// cosignature added. A checkpoint file is replaced atomically (write, fsync,
// rename, fsync the directory); one process at a time serves a state
// directory (flock(2) on its lock file), and one request at a time checks
// and updates it, so no two checkpoints of the same size of one log are
// ever cosigned, whenever the process dies.
type Server struct {
	dir    string
	signer *torchwood.CosignatureSigner
	lock   *os.File

	// Logf, if set, reports each request's outcome.
	Logf func(format string, args ...any)

	mu sync.Mutex // serialises check-and-persist

	// testingOnlyBeforeRename, if set, runs after a new checkpoint file
	// is written and synced, before it is renamed into place.
	testingOnlyBeforeRename func()
}

// ErrStateInUse: another process serves the state directory.
var ErrStateInUse = errors.New("another witness process is using this state directory")

// OpenServer opens the witness state in dir (created if missing) for
// signer. It holds the state's lock until Close.
func OpenServer(dir string, signer *torchwood.CosignatureSigner) (*Server, error) {
	if err := os.MkdirAll(filepath.Join(dir, checkpointsDir), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, stateLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrStateInUse)
		}
		return nil, err
	}
	return &Server{dir: dir, signer: signer, lock: f}, nil
}

// Close releases the state directory.
func (s *Server) Close() error { return s.lock.Close() }

// Name is the witness's key name.
func (s *Server) Name() string { return s.signer.Name() }

// A RequestError is a refused add-checkpoint request and its HTTP status.
type RequestError struct {
	Status int
	Size   int64 // for 409 Conflict: the size of the latest cosigned checkpoint
	Msg    string
}

func (e *RequestError) Error() string {
	if e.Status == http.StatusConflict {
		return fmt.Sprintf("%s (the witness has cosigned %d entries)", e.Msg, e.Size)
	}
	return e.Msg
}

func reqErr(status int, format string, args ...any) error {
	return &RequestError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// AddCheckpoint processes the body of an add-checkpoint request and
// returns the witness's cosignature lines and the cosigned checkpoint (the
// submitted one with those lines added). Refusals are *RequestError with
// the status the spec gives; other errors are internal.
func (s *Server) AddCheckpoint(body []byte) (cosigs, cosigned []byte, err error) {
	head, signed, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return nil, nil, reqErr(http.StatusBadRequest, "malformed request: no blank line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	size, ok := strings.CutPrefix(lines[0], "old ")
	old, err := strconv.ParseInt(size, 10, 64)
	if !ok || err != nil || old < 0 || strconv.FormatInt(old, 10) != size {
		return nil, nil, reqErr(http.StatusBadRequest, "malformed request: the first line is not \"old SIZE\"")
	}
	if len(lines)-1 > 63 {
		return nil, nil, reqErr(http.StatusBadRequest, "malformed request: more than 63 proof lines")
	}
	proof := make(tlog.TreeProof, len(lines)-1)
	for i, l := range lines[1:] {
		if proof[i], err = tlog.ParseHash(l); err != nil {
			return nil, nil, reqErr(http.StatusBadRequest, "malformed request: proof line %d is not a base64 hash", i+1)
		}
	}
	origin, _, _ := strings.Cut(string(signed), "\n")
	vs, err := s.logVerifiers(origin)
	if err != nil {
		return nil, nil, err
	}
	n, err := note.Open(signed, vs)
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified):
		return nil, nil, reqErr(http.StatusForbidden, "no signature by a key of %s", origin)
	case errors.As(err, &invalid):
		return nil, nil, reqErr(http.StatusForbidden, "the signature by %s does not verify", invalid.Name)
	case err != nil:
		return nil, nil, reqErr(http.StatusBadRequest, "malformed checkpoint: %v", err)
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil || c.Origin != origin {
		return nil, nil, reqErr(http.StatusBadRequest, "malformed checkpoint")
	}
	if old > c.N {
		return nil, nil, reqErr(http.StatusBadRequest, "old size %d is larger than the checkpoint's %d", old, c.N)
	}
	if c.N == 0 && c.Hash != emptyTree {
		return nil, nil, reqErr(http.StatusUnprocessableEntity, "a checkpoint of size 0 must have the hash of the empty tree")
	}
	if old == 0 && len(proof) > 0 {
		return nil, nil, reqErr(http.StatusUnprocessableEntity, "a consistency proof from size 0 must be empty")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	known, knownHash, err := s.latest(origin)
	if err != nil {
		return nil, nil, err
	}
	if known != old {
		return nil, nil, &RequestError{Status: http.StatusConflict, Size: known, Msg: fmt.Sprintf("old size %d is not the size of the latest checkpoint cosigned", old)}
	}
	switch {
	case old == c.N:
		if c.Hash != knownHash {
			return nil, nil, reqErr(http.StatusUnprocessableEntity, "the checkpoint of size %d differs from the one cosigned before", c.N)
		}
	case old > 0:
		if err := tlog.CheckTree(proof, c.N, c.Hash, old, knownHash); err != nil {
			return nil, nil, reqErr(http.StatusUnprocessableEntity, "the consistency proof from size %d does not verify", old)
		}
	}
	mine, err := note.Sign(&note.Note{Text: n.Text}, s.signer)
	if err != nil {
		return nil, nil, err
	}
	cosigs = mine[len(n.Text)+1:]
	cosigned = append(bytes.Clone(signed), cosigs...)
	if err := writeFile(filepath.Join(s.dir, checkpointsDir, originHash(origin)), 0o600, cosigned, s.testingOnlyBeforeRename); err != nil {
		return nil, nil, err
	}
	return cosigs, cosigned, nil
}

var emptyTree, _ = tlog.TreeHash(0, nil)

// originHash names a log's files: lowercase hex SHA-256 of its origin.
func originHash(origin string) string {
	h := sha256.Sum256([]byte(origin))
	return hex.EncodeToString(h[:])
}

// latest returns the size and root hash of the latest checkpoint cosigned
// for origin (0 and the empty tree's hash for none).
func (s *Server) latest(origin string) (int64, tlog.Hash, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, checkpointsDir, originHash(origin)))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, emptyTree, nil
	} else if err != nil {
		return 0, tlog.Hash{}, err
	}
	text, _, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok {
		return 0, tlog.Hash{}, fmt.Errorf("witness state %s is damaged: refusing to cosign", originHash(origin))
	}
	c, err := torchwood.ParseCheckpoint(string(text) + "\n")
	if err != nil || c.Origin != origin {
		return 0, tlog.Hash{}, fmt.Errorf("witness state %s is damaged: refusing to cosign", originHash(origin))
	}
	return c.N, c.Hash, nil
}

// Latest returns the latest checkpoint cosigned for origin, with the
// witness's cosignature, or nil.
func (s *Server) Latest(origin string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, checkpointsDir, originHash(origin)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// logVerifiers returns the verifiers of origin's keys from the logs file.
func (s *Server) logVerifiers(origin string) (note.Verifiers, error) {
	logs, err := ReadLogs(s.dir)
	if err != nil {
		return nil, err
	}
	keys, ok := logs[origin]
	if !ok {
		return nil, reqErr(http.StatusNotFound, "unknown log %q", origin)
	}
	var vs []note.Verifier
	for _, k := range keys {
		v, err := logVerifier(k)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...), nil
}

// logVerifier parses a log's verifier key: Ed25519 (type 0x01, as
// note.NewVerifier reads it) or ECDSA (type 0x02, breakglass's token keys).
func logVerifier(vkey string) (note.Verifier, error) {
	if v, err := note.NewVerifier(vkey); err == nil {
		return v, nil
	}
	return token.ParseNoteVerifierKey(vkey)
}

// ReadLogs reads the logs file of the witness state in dir: for each origin,
// the verifier keys that may sign its checkpoints. The file is a sequence
// of "origin ORIGIN" lines, each followed by its "key VKEY" lines; blank
// lines and "#" comments are ignored.
func ReadLogs(dir string) (map[string][]string, error) {
	path := filepath.Join(dir, LogsFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]string{}, nil
	} else if err != nil {
		return nil, err
	}
	logs := map[string][]string{}
	origin := ""
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "origin "):
			origin = strings.TrimPrefix(line, "origin ")
			if _, ok := logs[origin]; ok {
				return nil, fmt.Errorf("%s:%d: origin %q is listed twice", path, i+1, origin)
			}
			logs[origin] = nil
		case strings.HasPrefix(line, "key "):
			if origin == "" {
				return nil, fmt.Errorf("%s:%d: a key before any origin line", path, i+1)
			}
			k := strings.TrimPrefix(line, "key ")
			if _, err := logVerifier(k); err != nil {
				return nil, fmt.Errorf("%s:%d: %v", path, i+1, err)
			}
			logs[origin] = append(logs[origin], k)
		default:
			return nil, fmt.Errorf("%s:%d: want \"origin ORIGIN\" or \"key VKEY\"", path, i+1)
		}
	}
	return logs, nil
}

// AddLog sets the keys of origin in the logs file of the witness state in
// dir (replacing any it had), so that the witness cosigns its checkpoints.
// A running witness reads the file on every request.
func AddLog(dir, origin string, vkeys []string) error {
	if origin == "" || strings.ContainsAny(origin, "\n") {
		return fmt.Errorf("origin %q: want one line of text", origin)
	}
	if len(vkeys) == 0 {
		return errors.New("a log needs at least one key")
	}
	for _, k := range vkeys {
		if _, err := logVerifier(k); err != nil {
			return fmt.Errorf("log key %q: %v", k, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, LogsFile+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := flock(f, syscall.LOCK_EX); err != nil {
		return err
	}
	logs, err := ReadLogs(dir)
	if err != nil {
		return err
	}
	logs[origin] = vkeys
	var b bytes.Buffer
	b.WriteString("# Logs this witness cosigns (breakglass log witness add-log): an origin line, then\n# the verifier keys that may sign its checkpoints.\n")
	for _, o := range slices.Sorted(maps.Keys(logs)) {
		fmt.Fprintf(&b, "\norigin %s\n", o)
		for _, k := range logs[o] {
			fmt.Fprintf(&b, "key %s\n", k)
		}
	}
	return writeFile(filepath.Join(dir, LogsFile), 0o600, b.Bytes(), nil)
}

// maxRequest bounds an add-checkpoint request.
const maxRequest = 1 << 20

// ServeHTTP serves POST /add-checkpoint (c2sp.org/tlog-witness) and, for
// monitors, GET /HASH/checkpoint: the latest cosigned checkpoint of the
// log whose origin has that SHA-256 (lowercase hex).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/add-checkpoint":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		}
		s.serveAddCheckpoint(w, r)
	case strings.HasSuffix(r.URL.Path, "/checkpoint") && r.Method == http.MethodGet:
		h := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/checkpoint")
		if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
			http.NotFound(w, r)
			return
		}
		s.mu.Lock()
		b, err := os.ReadFile(filepath.Join(s.dir, checkpointsDir, h))
		s.mu.Unlock()
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(b)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveAddCheckpoint(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequest+1))
	if err != nil {
		http.Error(w, "reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxRequest {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	origin, _ := requestOrigin(body)
	cosigs, cosigned, err := s.AddCheckpoint(body)
	var re *RequestError
	switch {
	case errors.As(err, &re) && re.Status == http.StatusConflict:
		s.logf("%s: 409 conflict: %v", origin, re)
		w.Header().Set("Content-Type", "text/x.tlog.size")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, "%d\n", re.Size)
	case errors.As(err, &re):
		s.logf("%s: %d refused: %v", origin, re.Status, re)
		http.Error(w, re.Msg, re.Status)
	case err != nil:
		s.logf("%s: 500: %v", origin, err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	default:
		first, _, _ := bytes.Cut(cosigned, []byte("\n\n"))
		parts := strings.Split(string(first), "\n")
		s.logf("%s: cosigned the checkpoint of size %s", origin, parts[min(1, len(parts)-1)])
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(cosigs)
	}
}

// requestOrigin returns the origin line of an add-checkpoint body, for
// logs: valid UTF-8 without control characters, at most 200 bytes.
func requestOrigin(body []byte) (string, bool) {
	_, signed, ok := bytes.Cut(body, []byte("\n\n"))
	origin, _, _ := strings.Cut(string(signed), "\n")
	origin = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(origin, "?"))
	if len(origin) > 200 {
		origin = strings.ToValidUTF8(origin[:200], "") + "…"
	}
	return origin, ok
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}
