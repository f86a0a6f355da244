//go:build !linux

package recording

import (
	"errors"
	"os"
)

var errNoPTY = errors.New("recorded sessions need Linux pseudo-terminals")

func openPTY() (master, slave *os.File, err error)                  { return nil, nil, errNoPTY }
func termSize(f *os.File) (cols, rows int, ok bool)                 { return 0, 0, false }
func setSize(master *os.File, cols, rows int) error                 { return errNoPTY }
func copyTermios(from, to *os.File) error                           { return errNoPTY }
func eofChar(f *os.File) byte                                       { return 4 }
func isTerminal(f *os.File) bool                                    { return false }
func lockFile(f *os.File, wait bool) error                          { return errNoPTY }
func pollRead(f *os.File, wake *os.File) (readable bool, err error) { return false, errNoPTY }
