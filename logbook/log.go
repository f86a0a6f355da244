package logbook

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/internal/ecdsabatch"
)

// Files in a logbook directory.
const (
	originFile     = "origin"     // the origin line, written once by Create
	entriesFile    = "entries"    // signed entries, appended one after another
	checkpointFile = "checkpoint" // the latest signed checkpoint: the commit record
	lockFile       = "lock"       // flock(2) target serialising appends
)

// A VerifyError reports the first thing wrong with a logbook.
type VerifyError struct {
	// Index is the number of the first bad entry, or -1 when the problem is
	// not with one entry (a missing or foreign checkpoint, for example).
	Index int64
	// Msg says what is wrong. With an Index it is a predicate that follows
	// "entry N"; without one it is a whole sentence.
	Msg string
}

func (e *VerifyError) Error() string {
	if e.Index < 0 {
		return "logbook: " + e.Msg
	}
	return fmt.Sprintf("logbook: entry %d %s", e.Index, e.Msg)
}

// A ConflictError is returned by [Log.Append] when the logbook no longer holds
// the number of entries the caller expected: someone else appended first.
// The Log has been brought up to date; check the new entries and retry with
// Size.
type ConflictError struct {
	Size int64 // the logbook's size now
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("logbook: another append landed first; the logbook now holds %d entries", e.Size)
}

// A Log is an open, verified logbook.
type Log struct {
	dir       string
	verifiers note.Verifiers
	origin    string

	loaded  bool
	entries []*Entry
	offset  int64 // bytes of committed entries in the entries file
	pending int64 // bytes of an unfinished append after them
	hashes  *hashStore
	root    tlog.Hash
	ckpt    Checkpoint

	// appendCheck, if set, vets each signed entry before Append writes it.
	appendCheck func(prior []*Entry, e *Entry) error

	// testingOnlyAfterWrite, if set, runs after the new entry is written and
	// synced but before the checkpoint commits it.
	testingOnlyAfterWrite func()
}

// Create makes dir a logbook with the given origin (for example
// "breakglass.example/acme/prod"). The origin names the case: every entry and
// checkpoint carries it, so a logbook or entry from another case is rejected.
// Create on an existing logbook with the same origin does nothing.
func Create(dir, origin string) error {
	if err := checkName("origin", origin); err != nil {
		return fmt.Errorf("logbook: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("logbook: %v", err)
	}
	if have, err := readOrigin(dir); err == nil {
		if have != origin {
			return fmt.Errorf("logbook: %s already holds the logbook of %q, not %q", dir, have, origin)
		}
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := atomicfile.Replace(filepath.Join(dir, originFile), 0o644, []byte(origin+"\n"), nil); err != nil {
		return fmt.Errorf("logbook: %v", err)
	}
	return nil
}

func readOrigin(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, originFile))
	if err != nil {
		return "", fmt.Errorf("logbook: %w", err)
	}
	o, ok := bytes.CutSuffix(b, []byte("\n"))
	if !ok || checkName("origin", string(o)) != nil {
		return "", fmt.Errorf("logbook: %s: want one line naming the origin", filepath.Join(dir, originFile))
	}
	return string(o), nil
}

// Open verifies the logbook in dir and returns it. Every entry's signature
// must verify with verifiers (the roster: one verifier per enrolled person)
// and be made by the entry's actor, every hash link must hold, and the
// stored checkpoint must be signed by a known key and match the entries.
// Nothing is returned unless all of that holds; see [InsecureReadUnverified]
// for reading a damaged logbook.
func Open(dir string, verifiers note.Verifiers) (*Log, error) {
	return Verify(dir, verifiers)
}

// Verify is [Open], and also checks that the logbook is consistent with each
// of the given signed checkpoints published earlier (on paper, in tickets):
// that it holds all their entries, unchanged, so it has only been appended
// to since. The error is a *[VerifyError] naming the first bad entry.
func Verify(dir string, verifiers note.Verifiers, checkpoints ...[]byte) (*Log, error) {
	origin, err := readOrigin(dir)
	if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, verifiers: verifiers, origin: origin, hashes: &hashStore{}}
	unlock, err := l.lock(false)
	if err != nil {
		return nil, err
	}
	err = l.sync()
	unlock()
	if err != nil {
		return nil, err
	}
	for _, c := range checkpoints {
		if err := l.checkPublished(c); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Origin returns the logbook's origin.
func (l *Log) Origin() string { return l.origin }

// Size returns the number of entries.
func (l *Log) Size() int64 { return int64(len(l.entries)) }

// Entries returns the verified entries, oldest first. The caller must not
// modify them.
func (l *Log) Entries() []*Entry { return l.entries[:len(l.entries):len(l.entries)] }

// Checkpoint returns the latest checkpoint. For an empty logbook it has size
// 0 and no signature.
func (l *Log) Checkpoint() Checkpoint {
	if len(l.entries) == 0 {
		root, _ := tlog.TreeHash(0, l.hashes)
		return Checkpoint{Origin: l.origin, Tree: tlog.Tree{N: 0, Hash: root}}
	}
	return l.ckpt
}

// Refresh brings l up to date with appends made since it was opened (by
// other processes), verifying the new entries.
func (l *Log) Refresh() error {
	unlock, err := l.lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	return l.sync()
}

// UnfinishedAppend reports whether the entries file ends in an append that
// never committed (the process died between writing the entry and its
// checkpoint). Such an entry is not part of the logbook; the next append
// discards it.
func (l *Log) UnfinishedAppend() bool { return l.pending > 0 }

// Append adds e as entry number size, signed by s, only if the log still
// holds exactly size entries; otherwise it returns a *[ConflictError] with the
// current size. It returns the new checkpoint, also signed by s.
//
// Append fills in e's Origin, Index and Prev, and Actor (s.Name()); Time
// defaults to now and is rounded to the second; Key defaults to s's
// Fingerprint() when s has one. s must be in the Log's verifiers: Append
// refuses to write an entry that would not verify.
//
// s signs (the entry, then the checkpoint) before the lock is taken: a
// token may wait for its PIN or a touch, and nobody, reader or writer,
// waits on that. Under an exclusive flock(2) on the lock file Append then
// checks that the log is still the one it signed on top of (if another
// append landed meanwhile: a *ConflictError, and the signatures are
// dropped), writes the entry and syncs it, then writes the checkpoint to a
// temporary file, syncs it and renames it over the old one, and syncs the
// directory: a crash at any point leaves the logbook with or without the
// new entry, never damaged.
//
// cosigners also sign the entry (not the checkpoint), after s: the other
// founders of a genesis, the other admitted custodians of an admit
// (docs/format-logbook.md, "Admission"). Their signature lines follow the
// actor's.
func (l *Log) Append(size int64, e Entry, s note.Signer, cosigners ...note.Signer) (Checkpoint, error) {
	if err := l.Refresh(); err != nil {
		return Checkpoint{}, err
	}
	if size != l.Size() {
		return Checkpoint{}, &ConflictError{Size: l.Size()}
	}
	prev := l.root
	signed, ckpt, err := l.signAppend(size, &e, s, cosigners)
	if err != nil {
		return Checkpoint{}, err
	}
	if l.appendCheck != nil {
		if err := l.appendCheck(l.Entries(), &e); err != nil {
			return Checkpoint{}, err
		}
	}

	unlock, err := l.lock(true)
	if err != nil {
		return Checkpoint{}, err
	}
	defer unlock()
	if err := l.sync(); err != nil {
		return Checkpoint{}, err
	}
	if size != l.Size() || l.root != prev {
		return Checkpoint{}, &ConflictError{Size: l.Size()}
	}
	nHashes := len(l.hashes.hashes)
	rollback := func() { l.hashes.hashes, l.hashes.n = l.hashes.hashes[:nHashes], size }
	if err := l.hashes.add(tlog.RecordHash(signed)); err != nil {
		rollback()
		return Checkpoint{}, err
	}
	if err := l.writeEntry(signed); err != nil {
		rollback()
		return Checkpoint{}, err
	}
	if l.testingOnlyAfterWrite != nil {
		l.testingOnlyAfterWrite()
	}
	if err := atomicfile.Replace(filepath.Join(l.dir, checkpointFile), 0o644, ckpt.Signed, nil); err != nil {
		// The rename may or may not have happened; the next sync finds out.
		rollback()
		return Checkpoint{}, fmt.Errorf("logbook: %v", err)
	}
	l.entries = append(l.entries, &e)
	l.offset += int64(len(signed))
	l.pending = 0
	l.root = ckpt.Hash
	l.ckpt = ckpt
	return ckpt, nil
}

// SetAppendCheck makes Append call check with the entries before it and
// the signed entry (its Signed set) before it writes anything: an error
// stops the append and is returned as is. A case uses it to refuse an entry
// that breaks its admission rules (package logbook/casedir).
func (l *Log) SetAppendCheck(check func(prior []*Entry, e *Entry) error) { l.appendCheck = check }

// signAppend makes entry number size on top of l as it is (l.root), signs
// it with s and checks it verifies, and signs the checkpoint of the log
// with it. l is left as it was.
func (l *Log) signAppend(size int64, e *Entry, s note.Signer, cosigners []note.Signer) ([]byte, Checkpoint, error) {
	e.Origin, e.Index, e.Prev, e.Signed = l.origin, size, tlog.Hash{}, nil
	if size > 0 {
		e.Prev = l.root
	}
	if e.Actor == "" {
		e.Actor = s.Name()
	} else if e.Actor != s.Name() {
		return nil, Checkpoint{}, fmt.Errorf("logbook: entry for actor %s cannot be signed by %s", e.Actor, s.Name())
	}
	if e.Key == "" {
		if fp, ok := s.(interface{ Fingerprint() string }); ok {
			e.Key = fp.Fingerprint()
		}
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC().Truncate(time.Second)
	text, err := e.MarshalText()
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("logbook: entry %d: %v", size, err)
	}
	for _, c := range cosigners {
		if c.Name() == s.Name() && c.KeyHash() == s.KeyHash() {
			return nil, Checkpoint{}, fmt.Errorf("logbook: entry %d: %s cosigns an entry it signs", size, c.Name())
		}
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, append([]note.Signer{s}, cosigners...)...)
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("logbook: signing entry %d: %w", size, err)
	}
	e.Signed = signed
	if msg := checkEntrySignature(e, len(text), l.verifiers); msg != "" {
		return nil, Checkpoint{}, fmt.Errorf("logbook: refusing to append entry %d: it %s", size, msg)
	}

	nHashes := len(l.hashes.hashes)
	defer func() { l.hashes.hashes, l.hashes.n = l.hashes.hashes[:nHashes], size }()
	if err := l.hashes.add(tlog.RecordHash(signed)); err != nil {
		return nil, Checkpoint{}, err
	}
	root, err := l.hashes.root(size + 1)
	if err != nil {
		return nil, Checkpoint{}, err
	}
	ckpt, err := signCheckpoint(Checkpoint{Origin: l.origin, Tree: tlog.Tree{N: size + 1, Hash: root}}, s)
	if err != nil {
		return nil, Checkpoint{}, fmt.Errorf("logbook: %w", err)
	}
	return signed, ckpt, nil
}

// writeEntry writes signed after the committed entries, dropping any
// unfinished append, and syncs it to disk.
func (l *Log) writeEntry(signed []byte) error {
	path := filepath.Join(l.dir, entriesFile)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("logbook: %v", err)
	}
	err = f.Truncate(l.offset)
	if err == nil {
		_, err = f.WriteAt(signed, l.offset)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && statErr != nil {
		err = syncDir(l.dir)
	}
	if err != nil {
		return fmt.Errorf("logbook: writing entry: %v", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// LockWait, when set, is called once when taking a logbook's lock has
// waited for LockWaitAfter: dir is the logbook, holders the IDs of the
// processes holding the lock (from /proc/locks; none when that cannot be
// told). A writer holds the lock only while it writes, never while a token
// waits for a person, so a wait that long means something is wrong with the
// holder; commands set LockWait to say what they are waiting for.
var LockWait func(dir string, holders []int)

// LockWaitAfter is how long lock waits before calling LockWait.
var LockWaitAfter = time.Second

// lock takes an flock(2) on the lock file: exclusive for appends, shared for
// reads. A reader on a read-only copy (an auditor's) goes without.
func (l *Log) lock(exclusive bool) (unlock func(), err error) {
	path := filepath.Join(l.dir, lockFile)
	how := syscall.LOCK_SH
	flag := os.O_RDONLY
	if exclusive {
		how, flag = syscall.LOCK_EX, os.O_RDWR|os.O_CREATE
	}
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		if !exclusive {
			return func() {}, nil
		}
		return nil, fmt.Errorf("logbook: %v", err)
	}
	flock := func(how int) error {
		for {
			err := syscall.Flock(int(f.Fd()), how)
			if err != syscall.EINTR {
				return err
			}
		}
	}
	err = flock(how | syscall.LOCK_NB)
	if err == syscall.EWOULDBLOCK {
		notice := time.AfterFunc(LockWaitAfter, func() {
			if LockWait != nil {
				LockWait(l.dir, lockHolders(f))
			}
		})
		err = flock(how)
		notice.Stop()
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("logbook: locking %s: %v", path, err)
	}
	return func() { f.Close() }, nil // closing the file drops the lock
}

// lockHolders returns the IDs of the processes holding an flock(2) on f,
// as /proc/locks tells (Linux); nil when it cannot be told.
func lockHolders(f *os.File) []int {
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		return nil
	}
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return nil
	}
	dev := uint64(st.Dev)
	// Like glibc's major and minor.
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	id := fmt.Sprintf("%02x:%02x:%d", major, minor, st.Ino)
	var pids []int
	for _, line := range strings.Split(string(b), "\n") {
		// "1: FLOCK  ADVISORY  WRITE 4711 00:2d:1234 0 EOF"; a waiter's
		// line has "->" after the number.
		fields := strings.Fields(line)
		if len(fields) < 6 || fields[1] != "FLOCK" || fields[5] != id {
			continue
		}
		if pid, err := strconv.Atoi(fields[4]); err == nil && !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// sync brings l up to the checkpoint on disk, verifying everything new.
func (l *Log) sync() error {
	ckptBytes, err := os.ReadFile(filepath.Join(l.dir, checkpointFile))
	if errors.Is(err, fs.ErrNotExist) {
		ckptBytes = nil
	} else if err != nil {
		return fmt.Errorf("logbook: %v", err)
	}
	if l.loaded && bytes.Equal(ckptBytes, l.ckpt.Signed) {
		return nil
	}

	// Read the size from the checkpoint now, verify its signature last: a
	// forged entry is reported as such, not as a forged checkpoint.
	var target int64
	var ck Checkpoint
	if ckptBytes != nil {
		split := bytes.LastIndex(ckptBytes, []byte("\n\n"))
		if split < 0 {
			return &VerifyError{-1, "checkpoint file is not a signed note"}
		}
		if ck, err = ParseCheckpointText(ckptBytes[:split+1]); err != nil {
			return &VerifyError{-1, "checkpoint file: " + err.Error()}
		}
		if ck.Origin != l.origin {
			return &VerifyError{-1, fmt.Sprintf("checkpoint file is for logbook %q, not %q (copied from another case?)", ck.Origin, l.origin)}
		}
		target = ck.N
	} else if l.Size() > 0 {
		return &VerifyError{-1, "checkpoint file is missing"}
	}
	if target < l.Size() {
		return &VerifyError{target, fmt.Sprintf("was removed: the checkpoint went back from %d to %d entries", l.Size(), target)}
	}

	data, err := os.ReadFile(filepath.Join(l.dir, entriesFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("logbook: %v", err)
	}
	if int64(len(data)) < l.offset {
		return &VerifyError{l.Size() - 1, "was removed: the entries file shrank"}
	}
	rest := data[l.offset:]
	var recs [][]byte
	var textLens []int
	var short *VerifyError
	for i := l.Size(); i < target; i++ {
		if len(rest) == 0 {
			short = &VerifyError{i, fmt.Sprintf("is missing: the checkpoint covers %d entries but the entries file holds only %d (truncated?)", target, i)}
			break
		}
		rec, textLen, complete := splitRecord(rest)
		if !complete {
			short = &VerifyError{i, "is cut short or has no signature (the entries file was truncated or edited)"}
			break
		}
		recs = append(recs, rec)
		textLens = append(textLens, textLen)
		rest = rest[len(rec):]
	}

	nHashes := len(l.hashes.hashes)
	rollback := func() { l.hashes.hashes, l.hashes.n = l.hashes.hashes[:nHashes], l.Size() }
	entries, verr := verifyRecords(l.Size(), recs, textLens, l.hashes, l.origin, l.verifiers)
	if verr != nil {
		rollback()
		return verr
	}
	if short != nil {
		rollback()
		return short
	}
	if !tailIsUnfinishedAppend(rest) {
		rollback()
		return &VerifyError{target, fmt.Sprintf("is beyond the checkpoint, which covers %d entries: the checkpoint file was rolled back or deleted", target)}
	}
	root, err := l.hashes.root(target)
	if err != nil {
		rollback()
		return err
	}
	if ckptBytes != nil {
		if root != ck.Hash {
			rollback()
			if target == 0 {
				return &VerifyError{-1, "checkpoint file has a wrong root hash for the empty logbook"}
			}
			return &VerifyError{target - 1, fmt.Sprintf("does not match the checkpoint file: the tree of entries 0–%d has another root hash", target-1)}
		}
		if ck, err = OpenCheckpoint(ckptBytes, l.verifiers); err != nil {
			rollback()
			return &VerifyError{-1, fmt.Sprintf("checkpoint file: %v", err)}
		}
		if target > 0 {
			last := l.entryAt(target-1, entries)
			if err := checkCheckpointSigner(ckptBytes, l.verifiers, target, last); err != nil {
				rollback()
				return &VerifyError{-1, "checkpoint file " + err.Error()}
			}
		}
	}
	l.entries = append(l.entries, entries...)
	for _, r := range recs {
		l.offset += int64(len(r))
	}
	l.pending = int64(len(rest))
	l.root = root
	l.ckpt = ck
	l.loaded = true
	return nil
}

// checkPublished checks that the logbook is consistent with a checkpoint
// published earlier.
func (l *Log) checkPublished(signed []byte) error {
	c, err := OpenCheckpoint(signed, l.verifiers)
	if err != nil {
		return &VerifyError{-1, "published " + err.Error()}
	}
	if c.Origin != l.origin {
		return &VerifyError{-1, fmt.Sprintf("published checkpoint is for logbook %q, not %q (a logbook from another case?)", c.Origin, l.origin)}
	}
	n := l.Size()
	if c.N > n {
		return &VerifyError{n, fmt.Sprintf("is missing: a published checkpoint covers %d entries but the logbook holds only %d (entries were removed)", c.N, n)}
	}
	if err := l.hashes.checkConsistent(n, l.root, c.N, c.Hash); err != nil {
		if c.N == 0 {
			return &VerifyError{-1, "published checkpoint of the empty logbook has a wrong root hash"}
		}
		return &VerifyError{c.N - 1, fmt.Sprintf("does not match the published checkpoint of size %d: entries 0–%d were rewritten after it was published", c.N, c.N-1)}
	}
	return nil
}

var sigPrefix = []byte("— ")

// splitRecord returns the signed entry at the start of data: its text lines,
// a blank line, and one or more signature lines. complete is false when
// data ends before the record does, or the record has no signature line.
func splitRecord(data []byte) (rec []byte, textLen int, complete bool) {
	sep := bytes.Index(data, []byte("\n\n"))
	if sep < 0 {
		return data, 0, false
	}
	p, nsig := sep+2, 0
	for p < len(data) && bytes.HasPrefix(data[p:], sigPrefix) {
		nl := bytes.IndexByte(data[p:], '\n')
		if nl < 0 {
			return data, sep + 1, false
		}
		p += nl + 1
		nsig++
	}
	return data[:p], sep + 1, nsig > 0
}

// tailIsUnfinishedAppend reports whether the bytes after the committed
// entries are at most one entry (possibly cut short): what a crash between
// writing an entry and committing its checkpoint leaves behind.
func tailIsUnfinishedAppend(tail []byte) bool {
	if len(tail) == 0 {
		return true
	}
	rec, _, complete := splitRecord(tail)
	if !complete {
		// A record without signature lines, followed by something else,
		// is not an unfinished append.
		return len(rec) == len(tail) || bytes.HasPrefix(sigPrefix, tail[len(rec):])
	}
	rest := tail[len(rec):]
	return bytes.HasPrefix(sigPrefix, rest) // empty, or a signature line just begun
}

// verifyRecords parses and verifies records as entries start, start+1, …,
// adding them to hs. Hash links are checked in order; signatures are checked
// in parallel. The error, a *VerifyError, is about the lowest-numbered bad
// entry.
func verifyRecords(start int64, recs [][]byte, textLens []int, hs *hashStore, origin string, verifiers note.Verifiers) ([]*Entry, error) {
	entries := make([]*Entry, 0, len(recs))
	var firstBad atomic.Int64 // lowest bad index found so far, relative to start
	firstBad.Store(int64(len(recs)))
	var mu sync.Mutex
	var sigErr *VerifyError
	report := func(i int, msg string) {
		mu.Lock()
		defer mu.Unlock()
		if sigErr == nil || int64(i)+start < sigErr.Index {
			sigErr = &VerifyError{start + int64(i), msg}
		}
		for {
			cur := firstBad.Load()
			if int64(i) >= cur || firstBad.CompareAndSwap(cur, int64(i)) {
				break
			}
		}
	}

	// Signature checks, in blocks, on every core; the parse and hash links
	// below run meanwhile and hand entries over as they go.
	parsed := make([]*Entry, len(recs))
	var wg sync.WaitGroup
	block := sigBlock
	if testingOnlySigBlock > 0 {
		block = testingOnlySigBlock
	}
	work := make(chan int, len(recs)/block+1)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Go(func() {
			var b ecdsabatch.Batch
			for lo := range work {
				hi := min(lo+block, len(recs))
				if i, msg := checkBlock(parsed[lo:hi], textLens[lo:hi], verifiers, &b, firstBad.Load()-int64(lo)); msg != "" {
					report(lo+i, msg)
				}
			}
		})
	}
	var seqErr *VerifyError
	var internalErr error
	for i, rec := range recs {
		idx := start + int64(i)
		e, err := ParseEntryText(rec[:textLens[i]])
		if err != nil {
			seqErr = &VerifyError{idx, "is malformed: " + err.Error()}
			var uk *UnknownKindError
			if errors.As(err, &uk) {
				seqErr.Msg = "has an " + uk.Error()
			}
			break
		}
		e.Signed = rec
		if e.Origin != origin {
			seqErr = &VerifyError{idx, fmt.Sprintf("belongs to logbook %q, not %q (copied from another case?)", e.Origin, origin)}
			break
		}
		if e.Index != idx {
			seqErr = &VerifyError{idx, fmt.Sprintf("has sequence number %d: entries were deleted, inserted or reordered", e.Index)}
			break
		}
		var root tlog.Hash
		if idx > 0 {
			if root, internalErr = hs.root(idx); internalErr != nil {
				break
			}
		}
		if e.Prev != root {
			seqErr = &VerifyError{idx, fmt.Sprintf("breaks the hash chain: its previous tree hash does not match entries 0–%d (an earlier entry was changed)", idx-1)}
			break
		}
		if internalErr = hs.add(tlog.RecordHash(rec)); internalErr != nil {
			break
		}
		parsed[i] = e
		entries = append(entries, e)
		if (i+1)%block == 0 {
			work <- i + 1 - block
		}
	}
	if n := len(entries); n%block != 0 {
		work <- n - n%block
	}
	close(work)
	wg.Wait()
	switch {
	case internalErr != nil:
		return nil, internalErr
	case sigErr != nil && (seqErr == nil || sigErr.Index <= seqErr.Index):
		return nil, sigErr
	case seqErr != nil:
		return nil, seqErr
	}
	return entries, nil
}

// sigBlock is the number of entries whose signatures are checked as one
// batch: large enough for the batch's multi-scalar multiplication to pay
// off, small enough to keep both cores busy while entries are parsed.
const sigBlock = 4096

// testingOnlySigBlock, if positive, replaces sigBlock, so that tests can
// spread a small logbook over several blocks.
var testingOnlySigBlock int

// minBatch is the smallest block worth a batch: below it, the batch's fixed
// cost (a few scalar multiplications) exceeds what it saves.
const minBatch = 16

// checkBlock checks the signatures of a block of entries, nil for those that
// did not parse, skipping any from index skipFrom on (a lower entry is bad
// already). It returns the index of the first bad entry in the block and what
// is wrong with it, or "" if there is none.
//
// A block of at least minBatch entries is first checked as one batch (see
// batchCheck). If that fails, because an entry is bad or only because a
// valid signature is not normalised, the block is checked again entry by
// entry with the real verifiers, so that the first bad entry and the message
// about it are exactly those of checking every signature on its own.
func checkBlock(entries []*Entry, textLens []int, verifiers note.Verifiers, b *ecdsabatch.Batch, skipFrom int64) (int, string) {
	end := min(len(entries), int(max(skipFrom, 0)))
	if end >= minBatch && batchCheck(entries[:end], textLens, verifiers, b) {
		return 0, ""
	}
	for i, e := range entries[:end] {
		if e == nil {
			continue // unparseable: reported by the sequential pass
		}
		if msg := checkEntrySignature(e, textLens[i], verifiers); msg != "" {
			return i, msg
		}
	}
	return 0, ""
}

// batchCheck reports whether every entry passes checkEntrySignature, with
// verifiers that put every signature they can into the batch b and answer
// "valid" for now, and whether b then verifies. false means the entries must
// be checked one by one to know more.
func batchCheck(entries []*Entry, textLens []int, verifiers note.Verifiers, b *ecdsabatch.Batch) bool {
	b.Reset()
	bv := &batchVerifiers{Verifiers: verifiers, batch: b}
	for i, e := range entries {
		if e != nil && checkEntrySignature(e, textLens[i], bv) != "" {
			return false
		}
	}
	return b.Verify()
}

// batchVerifiers wraps a note.Verifiers so that the signatures of verifiers
// that can tell their ECDSA public key (token's note verifiers) are added to
// a batch instead of being checked. Other signatures are checked as usual.
type batchVerifiers struct {
	note.Verifiers
	batch *ecdsabatch.Batch
	cache []*batchVerifier
}

func (bv *batchVerifiers) Verifier(name string, hash uint32) (note.Verifier, error) {
	for _, v := range bv.cache {
		if v.KeyHash() == hash && v.Name() == name {
			return v, nil
		}
	}
	v, err := bv.Verifiers.Verifier(name, hash)
	if err != nil {
		return nil, err
	}
	k, ok := v.(interface{ PublicKey() *ecdsa.PublicKey })
	if !ok {
		return v, nil
	}
	w := &batchVerifier{Verifier: v, pub: k.PublicKey(), batch: bv.batch}
	bv.cache = append(bv.cache, w)
	return w, nil
}

// batchVerifier adds the signatures it is asked about to a batch and
// answers true; the batch is checked afterwards. A signature the batch
// cannot take is checked at once.
type batchVerifier struct {
	note.Verifier
	pub   *ecdsa.PublicKey
	batch *ecdsabatch.Batch
}

func (v *batchVerifier) Verify(msg, sig []byte) bool {
	d := sha256.Sum256(msg)
	return v.batch.Add(v.pub, d[:], sig) || v.Verifier.Verify(msg, sig)
}

// checkEntrySignature checks e.Signed against verifiers: a known key must
// have signed it, it must be the actor's, and the actor's key fingerprint must
// match. It returns "" or a predicate saying what is wrong.
func checkEntrySignature(e *Entry, textLen int, verifiers note.Verifiers) string {
	n, err := openNote(e.Signed, verifiers)
	if err != nil {
		return describeNoteError(err)
	}
	if len(n.Text) != textLen {
		return "is not a valid signed note"
	}
	var others []string
	for _, s := range n.Sigs {
		if s.Name != e.Actor {
			others = append(others, s.Name)
			continue
		}
		v, err := verifiers.Verifier(s.Name, s.Hash)
		if err != nil {
			return describeNoteError(err)
		}
		if bv, ok := v.(*batchVerifier); ok {
			v = bv.Verifier
		}
		if fp, ok := v.(interface{ Fingerprint() string }); ok && fp.Fingerprint() != e.Key {
			return fmt.Sprintf("names actor key %q, but %s signed with key %q", e.Key, e.Actor, fp.Fingerprint())
		}
		return ""
	}
	return fmt.Sprintf("is not signed by its actor %s (signed by %s)", e.Actor, joinNames(others))
}

func joinNames(names []string) string {
	var b bytes.Buffer
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(n)
	}
	return b.String()
}

// InsecureReadUnverified reads the entries of the logbook in dir WITHOUT
// checking any signature, hash link or checkpoint, for looking at a logbook
// that fails verification. Nothing it returns is evidence of anything. It
// stops at the first record it cannot parse and returns the entries before
// it with the error.
func InsecureReadUnverified(dir string) ([]*Entry, error) {
	data, err := os.ReadFile(filepath.Join(dir, entriesFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("logbook: %v", err)
	}
	var out []*Entry
	for i := int64(0); len(data) > 0; i++ {
		rec, textLen, complete := splitRecord(data)
		if !complete {
			return out, &VerifyError{i, "is cut short or has no signature"}
		}
		e, err := ParseEntryText(rec[:textLen])
		if err != nil {
			return out, &VerifyError{i, "is malformed: " + err.Error()}
		}
		e.Signed = rec
		out = append(out, e)
		data = data[len(rec):]
	}
	return out, nil
}

// entryAt is entry i, from the entries already loaded or, past them, from
// fresh (entries l.Size() on, being verified).
func (l *Log) entryAt(i int64, fresh []*Entry) *Entry {
	if n := int64(len(l.entries)); i < n {
		return l.entries[i]
	} else if j := i - n; j < int64(len(fresh)) {
		return fresh[j]
	}
	return nil
}
