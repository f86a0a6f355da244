//go:build linux

package recording

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// openPTY opens a new pseudo-terminal: the master side for the recorder,
// the slave side for the command. (Linux: /dev/ptmx, TIOCSPTLCK,
// TIOCGPTN; golang.org/x/sys/unix is all it takes, so no pty library.)
func openPTY() (master, slave *os.File, err error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
	}
	var n int
	err = ctl(m, func(fd int) error {
		if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
			return err
		}
		n, err = unix.IoctlGetInt(fd, unix.TIOCGPTN)
		return err
	})
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
	}
	return m, s, nil
}

// ctl runs f on f's descriptor without taking it out of the poller.
func ctl(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// termSize is f's terminal size, or ok false when f is not a terminal.
func termSize(f *os.File) (cols, rows int, ok bool) {
	if f == nil {
		return 0, 0, false
	}
	var ws *unix.Winsize
	err := ctl(f, func(fd int) (err error) {
		ws, err = unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		return err
	})
	if err != nil || ws.Col == 0 || ws.Row == 0 {
		return 0, 0, false
	}
	return int(ws.Col), int(ws.Row), true
}

// setSize sets the pty's size (the command gets SIGWINCH).
func setSize(master *os.File, cols, rows int) error {
	return ctl(master, func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(cols), Row: uint16(rows)})
	})
}

// copyTermios gives the pty the operator's terminal settings, as script(1)
// and asciinema do, so that the command sees the same erase key and modes.
func copyTermios(from, to *os.File) error {
	var t *unix.Termios
	if err := ctl(from, func(fd int) (err error) {
		t, err = unix.IoctlGetTermios(fd, unix.TCGETS)
		return err
	}); err != nil {
		return err
	}
	return ctl(to, func(fd int) error { return unix.IoctlSetTermios(fd, unix.TCSETS, t) })
}

// eofChar is the pty's end-of-file character (VEOF, normally Ctrl-D).
func eofChar(f *os.File) byte {
	c := byte(4)
	ctl(f, func(fd int) error {
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err == nil && t.Cc[unix.VEOF] != 0 {
			c = t.Cc[unix.VEOF]
		}
		return err
	})
	return c
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	if f == nil {
		return false
	}
	return ctl(f, func(fd int) error {
		_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		return err
	}) == nil
}

// lockFile takes an exclusive flock on f; wait false fails at once with
// unix.EWOULDBLOCK when another process holds it.
func lockFile(f *os.File, wait bool) error {
	how := unix.LOCK_EX
	if !wait {
		how |= unix.LOCK_NB
	}
	return ctl(f, func(fd int) error { return unix.Flock(fd, how) })
}

// pollRead waits until f can be read (true) or wake can (false).
func pollRead(f, wake *os.File) (bool, error) {
	fds := []unix.PollFd{{Fd: int32(f.Fd()), Events: unix.POLLIN}, {Fd: int32(wake.Fd()), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, err
		}
		if fds[1].Revents != 0 {
			return false, nil
		}
		if fds[0].Revents != 0 {
			return true, nil
		}
	}
}
