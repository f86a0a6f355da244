package witness

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/logbook"
)

// CosignedFile is the file in a logbook directory that keeps the
// checkpoints witnesses cosigned, each with its cosignature lines.
const CosignedFile = "cosigned"

// maxCosignedFile bounds the cosigned file (about 400 bytes a checkpoint).
const maxCosignedFile = 64 << 20

// A cosignedNote is one checkpoint of the cosigned file: the checkpoint text
// and its signature lines (the log's, then the witnesses'), without newlines.
type cosignedNote struct {
	ckpt  logbook.Checkpoint
	text  []byte
	lines []string
}

func (n *cosignedNote) bytes() []byte {
	var b bytes.Buffer
	b.Write(n.text)
	b.WriteByte('\n')
	for _, l := range n.lines {
		b.WriteString(l + "\n")
	}
	return b.Bytes()
}

// A CosignedFileError is a cosigned file that does not parse.
type CosignedFileError struct {
	Path string
	Msg  string
}

func (e *CosignedFileError) Error() string { return e.Path + ": " + e.Msg }

// readCosigned reads and parses the cosigned file of the logbook in logDir
// (none: no notes).
func readCosigned(logDir, origin string) ([]*cosignedNote, error) {
	path := filepath.Join(logDir, CosignedFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	notes, err := parseCosigned(b, origin)
	if err != nil {
		return nil, &CosignedFileError{Path: path, Msg: err.Error()}
	}
	return notes, nil
}

// parseCosigned parses a cosigned file: signed checkpoints of origin, one
// after another, in increasing size, at most one of each size.
func parseCosigned(b []byte, origin string) ([]*cosignedNote, error) {
	if len(b) > maxCosignedFile {
		return nil, fmt.Errorf("too large (%d bytes)", len(b))
	}
	var notes []*cosignedNote
	for len(b) > 0 {
		i := len(notes) + 1
		sep := bytes.Index(b, []byte("\n\n"))
		if sep < 0 {
			return nil, fmt.Errorf("checkpoint %d has no signature lines", i)
		}
		text := b[:sep+1]
		c, err := logbook.ParseCheckpointText(text)
		if err != nil {
			return nil, fmt.Errorf("checkpoint %d: %v", i, err)
		}
		if c.Origin != origin {
			return nil, fmt.Errorf("checkpoint %d is of the logbook %q, not %q", i, c.Origin, origin)
		}
		if len(notes) > 0 && c.N <= notes[len(notes)-1].ckpt.N {
			return nil, fmt.Errorf("checkpoint %d (size %d) does not follow one of a smaller size", i, c.N)
		}
		n := &cosignedNote{ckpt: c, text: text}
		b = b[sep+2:]
		for len(b) > 0 && bytes.HasPrefix(b, []byte("— ")) {
			nl := bytes.IndexByte(b, '\n')
			if nl < 0 {
				return nil, fmt.Errorf("checkpoint %d: the last signature line has no newline", i)
			}
			n.lines = append(n.lines, string(b[:nl]))
			b = b[nl+1:]
		}
		if len(n.lines) == 0 {
			return nil, fmt.Errorf("checkpoint %d has no signature lines", i)
		}
		notes = append(notes, n)
	}
	return notes, nil
}

// sigLineKey returns the key name and key ID of a signature line, or false.
func sigLineKey(line string) (name string, hash uint32, ok bool) {
	rest, ok := strings.CutPrefix(line, "— ")
	if !ok {
		return "", 0, false
	}
	name, b64, ok := strings.Cut(rest, " ")
	if !ok {
		return "", 0, false
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(sig) < 5 {
		return "", 0, false
	}
	return name, binary.BigEndian.Uint32(sig), true
}

// splitSigLines splits signature lines ("— NAME BASE64\n" each) into lines
// without newlines, or fails.
func splitSigLines(b []byte) ([]string, error) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, errors.New("signature lines must end in a newline")
	}
	var out []string
	for _, l := range strings.Split(string(b[:len(b)-1]), "\n") {
		if _, _, ok := sigLineKey(l); !ok {
			return nil, fmt.Errorf("%q is not a signature line", l)
		}
		out = append(out, l)
	}
	return out, nil
}

// A ForkError: the cosigned file already holds a different checkpoint of
// the same size. Two histories of the logbook were cosigned.
type ForkError struct {
	Size int64
}

func (e *ForkError) Error() string {
	return fmt.Sprintf("the cosigned file already holds a different checkpoint of size %d: two histories of the logbook were witnessed", e.Size)
}

// Store adds cosignature lines (each "— NAME BASE64\n") to the signed
// checkpoint signed in the cosigned file of the logbook in logDir, keeping
// one line per witness key: a new cosignature replaces the same key's older
// one on that checkpoint. The caller has verified the cosignatures. The
// file is replaced atomically (write, fsync, rename), holding the
// logbook's lock.
func Store(logDir string, signed []byte, cosigs []byte) error {
	sep := bytes.Index(signed, []byte("\n\n"))
	if sep < 0 {
		return errors.New("witness: storing cosignatures: not a signed checkpoint")
	}
	text := signed[:sep+1]
	c, err := logbook.ParseCheckpointText(text)
	if err != nil {
		return fmt.Errorf("witness: storing cosignatures: %v", err)
	}
	own, err := splitSigLines(signed[sep+2:])
	if err != nil {
		return fmt.Errorf("witness: storing cosignatures: checkpoint: %v", err)
	}
	add, err := splitSigLines(cosigs)
	if err != nil {
		return fmt.Errorf("witness: storing cosignatures: %v", err)
	}

	unlock, err := lockLog(logDir)
	if err != nil {
		return err
	}
	defer unlock()
	notes, err := readCosigned(logDir, c.Origin)
	if err != nil {
		return err
	}
	i, found := slices.BinarySearchFunc(notes, c.N, func(n *cosignedNote, size int64) int {
		return cmpInt(n.ckpt.N, size)
	})
	var n *cosignedNote
	if found {
		n = notes[i]
		if !bytes.Equal(n.text, text) {
			return &ForkError{Size: c.N}
		}
	} else {
		n = &cosignedNote{ckpt: c, text: bytes.Clone(text), lines: own}
		notes = slices.Insert(notes, i, n)
	}
	for _, line := range add {
		name, hash, _ := sigLineKey(line)
		n.lines = slices.DeleteFunc(n.lines, func(l string) bool {
			nm, h, _ := sigLineKey(l)
			return nm == name && h == hash
		})
		n.lines = append(n.lines, line)
	}
	var b bytes.Buffer
	for _, n := range notes {
		b.Write(n.bytes())
	}
	return writeFile(filepath.Join(logDir, CosignedFile), 0o644, b.Bytes(), nil)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// lockLog takes the logbook's exclusive lock (the flock(2) on its lock file
// that appends take too).
func lockLog(logDir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(logDir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("witness: %v", err)
	}
	if err := flock(f, syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("witness: locking %s: %v", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
}

// writeFile replaces path with data (package atomicfile), with the
// package's prefix on errors. beforeRename: see atomicfile.Replace.
func writeFile(path string, perm os.FileMode, data []byte, beforeRename func()) error {
	if err := atomicfile.Replace(path, perm, data, beforeRename); err != nil {
		return fmt.Errorf("witness: %v", err)
	}
	return nil
}
