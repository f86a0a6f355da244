package secret

import (
	"bufio"
	"io"
	"runtime"
)

// Wipe overwrites every slice in bs with zeros.
func Wipe(bs ...[]byte) {
	for _, b := range bs {
		clear(b)
	}
	// Keep the slices reachable until the stores above have happened.
	runtime.KeepAlive(bs)
}

// Hold disables core dumps (and, on Linux, ptrace by other processes of the
// same user) for the rest of the process's life. Call it before reading a
// secret. It returns an error only when nothing could be disabled; the
// caller should refuse to continue then.
func Hold() error { return hold() }

// Held reports whether core dumps are off: the core size limit is zero and,
// on Linux, the process is not dumpable.
func Held() (bool, error) { return held() }

// WipeWriter empties w, dropping anything not yet flushed, and zeroes its
// whole buffer: what went through a bufio.Writer stays in its buffer until
// the buffer is reused or collected. w writes to io.Discard afterwards.
func WipeWriter(w *bufio.Writer) {
	w.Reset(io.Discard)
	buf := w.AvailableBuffer()
	clear(buf[:cap(buf)])
	runtime.KeepAlive(w)
}
