package main

// Files the commands read and write: output files that never overwrite
// and never stay half-written (package atomicfile), and sealed secrets.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/seal"
)

// checkNewFile fails when path exists or its directory cannot take a new
// file, before anything secret is produced or any card is tapped.
func checkNewFile(path string) error {
	err := atomicfile.CheckNew(path)
	var ce *atomicfile.CreateError
	switch {
	case errors.Is(err, atomicfile.ErrAlreadyExists):
		return withHints(fmt.Errorf("%s already exists; breakglass never overwrites a file", path),
			"choose another --out path, or move the old file away first")
	case errors.As(err, &ce):
		return withHints(fmt.Errorf("cannot write %s: %v", path, ce.Err),
			"choose an --out path in a directory you can write")
	}
	return err
}

// writeNewFile writes path atomically (package atomicfile): a new file
// that never overwrites, or with replace an atomic replacement (reseal in
// place). On any error nothing is left behind.
func writeNewFile(path string, mode os.FileMode, replace bool, write func(io.Writer) error) error {
	err := atomicfile.Write(path, mode, replace, write)
	var ce *atomicfile.CreateError
	switch {
	case errors.As(err, &ce):
		return withHints(fmt.Errorf("cannot write %s: %v", path, ce.Err),
			"choose an --out path in a directory you can write")
	case errors.Is(err, atomicfile.ErrExists):
		return withHints(fmt.Errorf("%s appeared while breakglass was writing it; nothing was written", path),
			"choose another --out path")
	}
	return err
}

// readGlass opens and parses a .glass file. The digest is checked here, so
// a damaged file is refused before any card is asked for anything.
func readGlass(path string) (*seal.File, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, glassError(path, err)
	}
	g, err := seal.Parse(f)
	if err != nil {
		f.Close()
		return nil, nil, glassError(path, err)
	}
	return g, f, nil
}

// glassError says what went wrong reading the sealed file at path: opening
// it (an *fs.PathError of op open), or parsing it.
func glassError(path string, err error) error {
	var pe *fs.PathError
	var fe *seal.FormatError
	switch {
	case errors.As(err, &pe) && pe.Op == "open":
		return withHints(fmt.Errorf("cannot read the sealed secret: %v", err),
			"give the path of a NAME.glass file made by breakglass seal")
	case errors.Is(err, seal.ErrDamaged):
		return withHints(fmt.Errorf("%s: %w", path, err),
			"no card was used; restore the file from git or a backup copy (git diff shows what changed)")
	case errors.As(err, &fe):
		return withHints(fmt.Errorf("%s: %w", path, err),
			"no card was used; is this the right file? restore it from git or a backup copy")
	}
	return fmt.Errorf("%s: %w", path, err)
}
