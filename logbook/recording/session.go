package recording

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"filippo.io/age"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/breakglass/breakglass/internal/asciicast"
)

// An End says why a recorded session ended.
type End string

const (
	// EndExit: the command exited (Result.ExitCode says how).
	EndExit End = "exit"
	// EndExpired: the deadline passed (the credentials in the session's
	// environment expired), and the session was ended.
	EndExpired End = "expired"
	// EndHangup: the operator's terminal went away (its input ended or
	// breakglass got SIGHUP), and the session was ended.
	EndHangup End = "hangup"
	// EndTerminated: breakglass was asked to stop (SIGTERM), and ended the
	// session.
	EndTerminated End = "terminated"
	// EndNotStarted: the command could not be started.
	EndNotStarted End = "not-started"
	// EndUnterminated: breakglass itself died (kill -9, a crash, the
	// laptop lost power) before it could end the session; a later command
	// found the recording without its end. Never a Result's End.
	EndUnterminated End = "unterminated"
)

// Options say how to record a session.
type Options struct {
	// Recipients are the auditors the recording is encrypted to.
	Recipients []age.Recipient

	// Title goes in the asciicast header.
	Title string

	// NoInput leaves what the operator types out of the recording (only
	// what the terminal shows is recorded; passwords typed with echo off
	// are then not in it).
	NoInput bool

	// Deadline, when set, ends the session: the command gets SIGHUP, as
	// from a terminal that hangs up, and SIGKILL HangupGrace later.
	Deadline time.Time

	// FlushInterval is how often the open segment is closed and written
	// out, the most a kill -9 can lose. Default one second.
	FlushInterval time.Duration

	// HangupGrace is how long a command has to exit after SIGHUP before it
	// is killed. Default 3 seconds.
	HangupGrace time.Duration

	// OnError, when set, is called once, from another goroutine, when the
	// recording stops early (the disk is full, say): err is why, at how far
	// into the session the recording is complete. The session goes on;
	// the caller tells the operator at once.
	OnError func(err error, at time.Duration)
}

// A Recording is an encrypted recording file, created and locked, ready
// to record one session.
type Recording struct {
	Path string // as given to Create; "" for New

	f    File
	os   *os.File // f, when it is a file
	w    *Writer
	opts Options
	ran  bool
}

// Create creates the recording file path (it must not exist; mode 0600),
// takes its lock (see Live), and writes the key segment, so that a failure
// to encrypt to opts.Recipients or to write shows before anything runs.
func Create(path string, opts Options) (*Recording, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f, false); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	r, err := New(f, opts)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	r.Path, r.os = path, f
	return r, nil
}

// New is Create on a File the caller opened (a test's writer that fails,
// say). Close does not close f.
func New(f File, opts Options) (*Recording, error) {
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = time.Second
	}
	if opts.HangupGrace <= 0 {
		opts.HangupGrace = 3 * time.Second
	}
	w, err := NewWriter(f, opts.Recipients...)
	if err != nil {
		return nil, err
	}
	return &Recording{f: f, w: w, opts: opts}, nil
}

// SetDeadline sets Options.Deadline, for a deadline known only once the
// recording exists (the expiry of credentials obtained after it was
// created). Call it before Run.
func (r *Recording) SetDeadline(t time.Time) { r.opts.Deadline = t }

// Sum is the SHA-256 and size of the recording file as it stands.
func (r *Recording) Sum() ([32]byte, int64) { return r.w.Sum() }

// Remove deletes a recording that never ran (the release it was for could
// not be recorded) and releases the lock.
func (r *Recording) Remove() error {
	if r.os == nil {
		return nil
	}
	r.os.Close()
	return os.Remove(r.Path)
}

// Close releases the file and its lock. Call it once the session's end is
// recorded: until then, Live reports the recording as live.
func (r *Recording) Close() error {
	if r.os == nil {
		return nil
	}
	return r.os.Close()
}

// Live reports whether the recording at path is being recorded right now:
// whether a live process holds its lock. A recording whose recorder died
// (kill -9) is not live.
func Live(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	err = lockFile(f, false)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	return false, err
}

// A Result is how a recorded session ended.
type Result struct {
	End      End
	ExitCode int           // with EndExit: the command's exit status, -1 when a signal killed it
	Duration time.Duration // from the start of the command to the end of the session
	SHA256   [32]byte      // of the recording file
	Size     int64         // of the recording file

	// Err is why the recording stopped early (nil if it did not); it is
	// complete up to CompleteUntil into the session.
	Err           error
	CompleteUntil time.Duration
}

// Exit codes of signals, as a shell reports them (128+n).
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

type event struct {
	t          time.Duration
	typ        byte // 'o', 'i', 'r'
	data       []byte
	buf        *[]byte // data's buffer, from bufPool
	cols, rows int
}

// Run runs cmd on a new pseudo-terminal and records the session: what the
// terminal shows (and what is typed, unless Options.NoInput) goes both
// ways between the pty and stdin/stdout, and into the recording. When stdin
// is a terminal it is put in raw mode for the session and its settings and
// size are the pty's; resizes are recorded. When stdin is not a terminal,
// its end is passed on as the pty's end-of-file character.
//
// The session ends when the command exits, the Deadline passes, stdin (a
// terminal) hangs up or breakglass gets SIGHUP or SIGTERM; in the last
// cases the command's process group gets SIGHUP, then SIGKILL. Run then
// writes the last segment and syncs the file; the Result says how it
// ended. A recording error does not stop the session (see Options.OnError).
// Run returns an error only when the command could not be started (the
// Result then says EndNotStarted).
func (r *Recording) Run(cmd *exec.Cmd, stdin, stdout *os.File) (*Result, error) {
	if r.ran {
		return nil, errors.New("recording: Run called twice")
	}
	r.ran = true
	master, slave, err := openPTY()
	if err != nil {
		return r.notStarted(err)
	}
	defer master.Close()
	inTTY := isTerminal(stdin)
	if inTTY {
		copyTermios(stdin, slave)
	}
	size := func() (int, int, bool) {
		if c, rr, ok := termSize(stdout); ok {
			return c, rr, true
		}
		return termSize(stdin)
	}
	cols, rows, ok := size()
	if !ok {
		cols, rows = 80, 24
	}
	setSize(master, cols, rows)

	start := time.Now()
	h := asciicast.Header{Width: cols, Height: rows, Timestamp: start.Unix(), Title: r.opts.Title,
		Command: strings.Join(cmd.Args, " "), Env: map[string]string{}}
	for _, k := range []string{"SHELL", "TERM"} {
		if v := os.Getenv(k); v != "" {
			h.Env[k] = v
		}
	}
	rec, err := newRecorder(r.w, h, r.opts)
	if err != nil {
		slave.Close()
		return r.notStarted(err)
	}

	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	slave.Close()
	if err != nil {
		rec.close(0)
		res := r.result(rec, EndNotStarted, 0)
		return res, err
	}

	if inTTY {
		if old, err := term.MakeRaw(int(stdin.Fd())); err == nil {
			defer term.Restore(int(stdin.Fd()), old)
		}
	}

	ends := make(chan End, 4)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGWINCH, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	// What the terminal shows.
	outDone := make(chan struct{})
	go func() {
		defer close(outDone)
		for {
			bp := bufPool.Get().(*[]byte)
			n, err := master.Read(*bp)
			if n > 0 {
				t := time.Since(start)
				if _, werr := stdout.Write((*bp)[:n]); werr != nil && inTTY {
					select {
					case ends <- EndHangup:
					default:
					}
				}
				rec.send(event{t: t, typ: 'o', data: (*bp)[:n], buf: bp})
			} else {
				bufPool.Put(bp)
			}
			if err != nil {
				return
			}
		}
	}()

	// What the operator types.
	wakeR, wakeW, err := os.Pipe()
	if err != nil {
		wakeR, wakeW = nil, nil
	}
	inDone := make(chan struct{})
	go func() {
		defer close(inDone)
		if wakeR == nil || stdin == nil {
			return
		}
		buf := make([]byte, 4096)
		for {
			readable, err := pollRead(stdin, wakeR)
			if err != nil || !readable {
				return
			}
			n, err := stdin.Read(buf)
			if n > 0 {
				t := time.Since(start)
				if _, err := master.Write(buf[:n]); err != nil {
					return
				}
				if !r.opts.NoInput {
					rec.send(event{t: t, typ: 'i', data: append([]byte(nil), buf[:n]...)})
				}
			}
			if err != nil || n == 0 {
				if inTTY {
					select {
					case ends <- EndHangup:
					default:
					}
				} else {
					master.Write([]byte{eofChar(master)})
				}
				return
			}
		}
	}()

	var deadline <-chan time.Time
	if !r.opts.Deadline.IsZero() {
		t := time.NewTimer(time.Until(r.opts.Deadline))
		defer t.Stop()
		deadline = t.C
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	end := EndExit
	pgid := cmd.Process.Pid
loop:
	for {
		select {
		case <-waited:
			break loop
		case <-deadline:
			end = EndExpired
		case end = <-ends:
		case s := <-sigs:
			switch s {
			case syscall.SIGWINCH:
				if c, rr, ok := size(); ok && (c != cols || rr != rows) {
					cols, rows = c, rr
					setSize(master, cols, rows)
					rec.send(event{t: time.Since(start), typ: 'r', cols: cols, rows: rows})
				}
				continue
			case syscall.SIGINT, syscall.SIGQUIT:
				// Not from the operator's keyboard (that is raw and goes
				// to the command as bytes): pass it on.
				syscall.Kill(-pgid, s.(syscall.Signal))
				continue
			case syscall.SIGHUP:
				end = EndHangup
			default:
				end = EndTerminated
			}
		}
		// End the session as a terminal that hangs up would.
		syscall.Kill(-pgid, syscall.SIGHUP)
		syscall.Kill(-pgid, syscall.SIGCONT)
		select {
		case <-waited:
		case <-time.After(r.opts.HangupGrace):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-waited
		}
		break loop
	}
	elapsed := time.Since(start)

	// The command is gone; what it wrote last is still in the pty. Read it
	// (others in its session may keep the pty open: not forever).
	master.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	<-outDone
	master.Close()
	if wakeW != nil {
		wakeW.Write([]byte{0})
		<-inDone
		wakeR.Close()
		wakeW.Close()
	}
	rec.close(time.Since(start))
	res := r.result(rec, end, elapsed)
	if end == EndExit {
		res.ExitCode = exitCode(cmd.ProcessState)
	}
	return res, nil
}

func (r *Recording) notStarted(err error) (*Result, error) {
	r.w.Close()
	res := &Result{End: EndNotStarted, Err: r.w.Err()}
	res.SHA256, res.Size = r.w.Sum()
	return res, err
}

func (r *Recording) result(rec *recorder, end End, d time.Duration) *Result {
	res := &Result{End: end, Duration: d}
	res.SHA256, res.Size = r.w.Sum()
	if rec.err != nil {
		res.Err, res.CompleteUntil = rec.err, rec.complete
	}
	return res
}

// A recorder writes events to the asciicast in its own goroutine, so that
// the terminal never waits for encryption or the disk, and closes the open
// segment every FlushInterval.
type recorder struct {
	qmu    sync.Mutex
	space  *sync.Cond // the queue has room again
	queue  []event
	queued int  // bytes in queue
	held   int  // memory the queue holds: its events' buffers
	closed bool // close was called: no more events
	wake   chan struct{}
	done   chan struct{}
	w      *Writer
	cast   *asciicast.Writer
	opts   Options

	err      error
	last     time.Duration // of the last event written
	complete time.Duration // of the last event in a complete segment
}

func newRecorder(w *Writer, h asciicast.Header, opts Options) (*recorder, error) {
	cast, err := asciicast.NewWriter(w, h)
	if err != nil {
		return nil, err
	}
	rec := &recorder{wake: make(chan struct{}, 1), done: make(chan struct{}), w: w, cast: cast, opts: opts}
	rec.space = sync.NewCond(&rec.qmu)
	if err := w.Flush(); err != nil {
		return nil, err
	}
	go rec.run()
	return rec, nil
}

// maxQueued bounds the memory waiting for the recorder (the buffers the
// queued events hold; a pty read fills a few KiB of one): past it the
// terminal waits (nothing is dropped).
const maxQueued = 16 << 20

// bufPool holds the buffers the pty is read into; the recorder returns
// each once written.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// wakeQueued is how much queued output wakes the recorder before its
// next drainInterval.
const wakeQueued = 256 << 10

// drainInterval is how often the recorder takes what is queued.
const drainInterval = 20 * time.Millisecond

// send queues e. The recorder takes the queue every drainInterval, or
// sooner once wakeQueued bytes wait: a busy terminal costs one hand-off
// per batch, not a wake-up per read.
func (rec *recorder) send(e event) {
	rec.qmu.Lock()
	for rec.held > maxQueued && !rec.closed {
		rec.space.Wait()
	}
	rec.queue = append(rec.queue, e)
	rec.queued += len(e.data)
	rec.held += cap(e.data)
	wake := rec.queued >= wakeQueued
	rec.qmu.Unlock()
	if wake {
		select {
		case rec.wake <- struct{}{}:
		default:
		}
	}
}

func (rec *recorder) run() {
	defer close(rec.done)
	tick := time.NewTicker(rec.opts.FlushInterval)
	defer tick.Stop()
	drain := time.NewTicker(drainInterval)
	defer drain.Stop()
	var batch []event
	for {
		flush := false
		select {
		case <-rec.wake:
		case <-drain.C:
		case <-tick.C:
			flush = true
		}
		rec.qmu.Lock()
		batch, rec.queue = rec.queue, batch[:0]
		rec.queued, rec.held = 0, 0
		closed := rec.closed
		rec.space.Broadcast()
		rec.qmu.Unlock()
		for i, e := range batch {
			rec.write(e)
			if e.buf != nil {
				bufPool.Put(e.buf)
			}
			batch[i] = event{}
		}
		if flush {
			rec.flush()
		}
		if closed {
			return
		}
	}
}

func (rec *recorder) write(e event) {
	if rec.err != nil {
		return
	}
	var err error
	switch e.typ {
	case 'o':
		err = rec.cast.Output(e.t, e.data)
	case 'i':
		err = rec.cast.Input(e.t, e.data)
	case 'r':
		err = rec.cast.Resize(e.t, e.cols, e.rows)
	}
	rec.last = max(rec.last, e.t)
	rec.check(err)
}

func (rec *recorder) flush() {
	if rec.err == nil && rec.check(rec.w.Flush()) {
		rec.complete = rec.last
	}
}

// check reports whether err is nil; the first error stops the recording
// and is reported once.
func (rec *recorder) check(err error) bool {
	if err == nil {
		return true
	}
	if rec.err == nil {
		rec.err = err
		if rec.opts.OnError != nil {
			rec.opts.OnError(err, rec.complete)
		}
	}
	return false
}

// close writes what is queued, ends the last segment and syncs.
func (rec *recorder) close(at time.Duration) {
	rec.qmu.Lock()
	rec.closed = true
	rec.space.Broadcast()
	rec.qmu.Unlock()
	select {
	case rec.wake <- struct{}{}:
	default:
	}
	<-rec.done
	if rec.err == nil {
		rec.check(rec.cast.Flush(at))
	}
	if rec.err == nil && rec.check(rec.w.Close()) {
		rec.complete = rec.last
	}
}
