// Package atomicfile writes a file so that it appears whole or not at all.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/breakglass/breakglass/internal/secret"
)

// ErrExists: the file appeared while it was being written (Write without
// replace never overwrites).
var ErrExists = errors.New("the file appeared while it was being written; nothing was written")

// ErrAlreadyExists: CheckNew found the file there already.
var ErrAlreadyExists = errors.New("the file already exists")

// CheckNew reports whether a new file can be written at path, before
// anything is produced: an error wrapping ErrAlreadyExists when path
// exists, a *CreateError when its directory cannot take a new file.
func CheckNew(path string) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("%s: %w", path, ErrAlreadyExists)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking %s: %v", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".breakglass-check-*")
	if err != nil {
		return &CreateError{Err: UnwrapPath(err)}
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// A CreateError: the temporary file next to path could not be created (the
// directory is not writable, say). Write and CheckNew return it.
type CreateError struct{ Err error }

func (e *CreateError) Error() string { return e.Err.Error() }
func (e *CreateError) Unwrap() error { return e.Err }

// Write writes path through write: into a temporary file in the same
// directory, with mode, synced, then linked into place only if path still
// does not exist (ErrExists otherwise) or, with replace, renamed over it;
// then the directory is synced.
// On any error nothing is left behind. The buffer that held what was
// written is wiped: it may have been a secret.
func Write(path string, mode os.FileMode, replace bool, write func(io.Writer) error) error {
	return writeFile(path, mode, replace, write, nil)
}

// Replace writes data to path, replacing what is there (Write with
// replace). beforeRename, when not nil, runs once the temporary file is
// synced, just before the rename: tests simulate a crash there.
func Replace(path string, mode os.FileMode, data []byte, beforeRename func()) error {
	return writeFile(path, mode, true, func(w io.Writer) error { _, err := w.Write(data); return err }, beforeRename)
}

func writeFile(path string, mode os.FileMode, replace bool, write func(io.Writer) error, beforeRename func()) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return &CreateError{Err: UnwrapPath(err)}
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			f.Close()
		}
		os.Remove(tmp)
	}()
	bw := bufio.NewWriterSize(f, 64<<10)
	defer secret.WipeWriter(bw)
	if err := write(bw); err != nil {
		return err
	}
	fail := func(err error) error { return fmt.Errorf("writing %s: %v", path, UnwrapPath(err)) }
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	f = nil
	if beforeRename != nil {
		beforeRename()
	}
	if replace {
		if err := os.Rename(tmp, path); err != nil {
			return fail(err)
		}
	} else if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		return fail(err)
	}
	// The new name survives a crash only once the directory is synced.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// UnwrapPath drops an *fs.PathError's wrapper, for messages that name the
// file already ("cannot read x.glass: no such file or directory", not
// "… open x.glass: no such file or directory"). Other errors are returned
// as they are.
func UnwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
