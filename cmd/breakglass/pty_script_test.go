package main

// Script commands that play a person at a terminal, for prompts whose timing
// matters: ttyin types everything at once, before the command starts, and
// cannot run in the background. Here the script waits for a prompt, acts
// (pulls a card, runs another command) and types when it chooses:
//
//	pty [-stdin|-all] NAME CMD ARGS...
//	                          start CMD in the background with a new pty as
//	                          its controlling terminal; stdin is empty (with
//	                          -stdin, the pty), stdout and stderr are
//	                          captured as for exec (with -all, all three
//	                          are the pty, as for a person at a terminal)
//	ptywait NAME tty|stderr RE
//	                          wait (up to 60 s) until what NAME showed on the
//	                          terminal, or wrote on stderr, since the last
//	                          match on that stream matches the regexp RE
//	ptytype NAME TEXT         type TEXT, a Go string literal without the
//	                          quotes: \r is Enter, \x03 Ctrl-C
//	ptysecret NAME TEXT       wait until echo is off, as a person waits for
//	                          a hidden prompt, then type TEXT and Enter
//	ptykill NAME SIGNAL       send SIGNAL (KILL, HUP, TERM) to NAME, as
//	                          kill -9 or a closing terminal window would
//	[!] ptyend [-within D] [-status N] NAME
//	                          wait (up to D, 60 s by default) for NAME to exit,
//	                          with status 0 (with !, non-zero; with -status,
//	                          N); its stdout and stderr become the script's,
//	                          and what it showed on the terminal goes into
//	                          the file NAME.tty
//	ptykill NAME              kill NAME with SIGKILL, as kill -9 does (it
//	                          can clean nothing up), and wait for it to end
//
// A command still running when the script ends is killed.

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// ptySession is one command running on a pty.
type ptySession struct {
	cmd    *exec.Cmd
	master *os.File
	done   chan struct{} // closed when cmd has exited
	err    error         // cmd.Wait's result, once done

	mu           sync.Mutex
	tty          bytes.Buffer // what the terminal showed
	stdout       bytes.Buffer
	stderr       bytes.Buffer
	seenTTY      int // where the next ptywait tty looks from
	seenStderr   int
	readerClosed chan struct{}
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

var ptySessions sync.Map // WORK/NAME -> *ptySession

func ptySessionOf(ts *testscript.TestScript, name string) *ptySession {
	v, ok := ptySessions.Load(ts.Getenv("WORK") + "/" + name)
	if !ok {
		ts.Fatalf("no pty session %s", name)
	}
	return v.(*ptySession)
}

// ptyLookPath finds file on the script's $PATH.
func ptyLookPath(ts *testscript.TestScript, file string) string {
	if strings.Contains(file, "/") {
		return ts.MkAbs(file)
	}
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	ts.Fatalf("pty: %s not found on $PATH", file)
	return ""
}

// ptyScriptEnv returns the script's environment, as exec would pass it.
func ptyScriptEnv(ts *testscript.TestScript) []string {
	ts.Check(ts.Exec("env", "-0"))
	var env []string
	for _, kv := range strings.Split(ts.ReadFile("stdout"), "\x00") {
		if kv != "" {
			env = append(env, kv)
		}
	}
	return env
}

func ptyScriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"pty": func(ts *testscript.TestScript, neg bool, args []string) {
			stdin, all := false, false
			if len(args) > 0 && (args[0] == "-stdin" || args[0] == "-all") {
				stdin, all, args = args[0] == "-stdin", args[0] == "-all", args[1:]
			}
			if neg || len(args) < 2 {
				ts.Fatalf("usage: pty [-stdin|-all] NAME CMD ARGS...")
			}
			key := ts.Getenv("WORK") + "/" + args[0]
			if _, ok := ptySessions.Load(key); ok {
				ts.Fatalf("pty session %s is already running", args[0])
			}
			master, slave := openScriptPTY(ts)
			s := &ptySession{master: master, done: make(chan struct{}), readerClosed: make(chan struct{})}
			s.cmd = exec.Command(ptyLookPath(ts, args[1]), args[2:]...)
			s.cmd.Dir = ts.MkAbs(".")
			s.cmd.Env = ptyScriptEnv(ts)
			s.cmd.Stdout = lockedWriter{&s.mu, &s.stdout}
			s.cmd.Stderr = lockedWriter{&s.mu, &s.stderr}
			if stdin || all {
				s.cmd.Stdin = slave
			}
			if all {
				s.cmd.Stdout, s.cmd.Stderr = slave, slave
			}
			s.cmd.ExtraFiles = []*os.File{slave}
			s.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 3}
			if err := s.cmd.Start(); err != nil {
				master.Close()
				slave.Close()
				ts.Fatalf("pty: %v", err)
			}
			slave.Close()
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := master.Read(buf)
					s.mu.Lock()
					s.tty.Write(buf[:n])
					s.mu.Unlock()
					if err != nil {
						close(s.readerClosed)
						return
					}
				}
			}()
			go func() {
				s.err = s.cmd.Wait()
				close(s.done)
			}()
			ptySessions.Store(key, s)
			ts.Defer(func() {
				select {
				case <-s.done:
				default:
					s.cmd.Process.Kill()
					<-s.done
				}
				master.Close()
				ptySessions.Delete(key)
			})
		},
		"ptywait": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 3 || (args[1] != "tty" && args[1] != "stderr") {
				ts.Fatalf("usage: ptywait NAME tty|stderr REGEXP")
			}
			s := ptySessionOf(ts, args[0])
			re, err := regexp.Compile(args[2])
			ts.Check(err)
			deadline := time.Now().Add(60 * time.Second)
			for {
				s.mu.Lock()
				buf, seen := &s.tty, &s.seenTTY
				if args[1] == "stderr" {
					buf, seen = &s.stderr, &s.seenStderr
				}
				text := buf.Bytes()[*seen:]
				loc := re.FindIndex(text)
				if loc != nil {
					*seen += loc[1]
				}
				shown := string(text)
				s.mu.Unlock()
				if loc != nil {
					return
				}
				exited := false
				select {
				case <-s.done:
					exited = true
				default:
				}
				if exited || time.Now().After(deadline) {
					// One last look after the exit: the output may have
					// arrived with it.
					if exited {
						time.Sleep(100 * time.Millisecond)
						s.mu.Lock()
						found := re.Match(buf.Bytes()[*seen:])
						s.mu.Unlock()
						if found {
							continue
						}
					}
					why := "after 60s"
					if exited {
						why = "and it exited (" + errString(s.err) + ")"
					}
					s.mu.Lock()
					all := "terminal:\n" + s.tty.String() + "\nstderr:\n" + s.stderr.String()
					s.mu.Unlock()
					ts.Fatalf("%s's %s does not match %q %s; since the last match it showed:\n%s\n\nall of it, %s", args[0], args[1], args[2], why, shown, all)
				}
				time.Sleep(20 * time.Millisecond)
			}
		},
		"ptytype": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: ptytype NAME TEXT")
			}
			s := ptySessionOf(ts, args[0])
			text, err := strconv.Unquote(`"` + args[1] + `"`)
			ts.Check(err)
			_, err = s.master.Write([]byte(text))
			ts.Check(err)
		},
		"ptysecret": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: ptysecret NAME TEXT")
			}
			s := ptySessionOf(ts, args[0])
			rc, err := s.master.SyscallConn()
			ts.Check(err)
			for i := 0; ; i++ {
				var tio *unix.Termios
				ts.Check(rc.Control(func(fd uintptr) { tio, err = unix.IoctlGetTermios(int(fd), unix.TCGETS) }))
				ts.Check(err)
				if tio.Lflag&unix.ECHO == 0 {
					break
				}
				if i == 1000 {
					ts.Fatalf("%s's terminal still echoes: a secret typed now would be shown", args[0])
				}
				time.Sleep(10 * time.Millisecond)
			}
			_, err = s.master.Write([]byte(args[1] + "\r"))
			ts.Check(err)
		},
		"ptykill": func(ts *testscript.TestScript, neg bool, args []string) {
			// ptykill NAME [KILL|HUP|TERM]: send the signal (KILL when none
			// is named); after KILL, wait until the process is gone.
			sigs := map[string]syscall.Signal{"KILL": syscall.SIGKILL, "HUP": syscall.SIGHUP, "TERM": syscall.SIGTERM}
			if len(args) == 1 {
				args = append(args, "KILL")
			}
			if neg || len(args) != 2 || sigs[args[1]] == 0 {
				ts.Fatalf("usage: ptykill NAME [KILL|HUP|TERM]")
			}
			s := ptySessionOf(ts, args[0])
			ts.Check(s.cmd.Process.Signal(sigs[args[1]]))
			if args[1] == "KILL" {
				<-s.done
			}
		},
		"ptyend": func(ts *testscript.TestScript, neg bool, args []string) {
			within, status := 60*time.Second, -1
			for len(args) > 2 && strings.HasPrefix(args[0], "-") {
				switch args[0] {
				case "-within":
					d, err := time.ParseDuration(args[1])
					ts.Check(err)
					within = d
				case "-status":
					n, err := strconv.Atoi(args[1])
					ts.Check(err)
					status = n
				default:
					ts.Fatalf("ptyend: unknown flag %s", args[0])
				}
				args = args[2:]
			}
			if len(args) != 1 {
				ts.Fatalf("usage: ptyend [-within DURATION] [-status N] NAME")
			}
			s := ptySessionOf(ts, args[0])
			late := false
			select {
			case <-s.done:
			case <-time.After(within):
				late = true
				s.cmd.Process.Kill()
				<-s.done
			}
			// What the terminal showed before the exit.
			select {
			case <-s.readerClosed:
			case <-time.After(2 * time.Second):
			}
			s.mu.Lock()
			ts.Stdout().Write(s.stdout.Bytes())
			ts.Stderr().Write(s.stderr.Bytes())
			tty := bytes.Clone(s.tty.Bytes())
			s.mu.Unlock()
			ts.Check(os.WriteFile(ts.MkAbs(args[0]+".tty"), tty, 0o644))
			switch {
			case late:
				ts.Fatalf("%s did not exit within %s; the terminal showed:\n%s", args[0], within, tty)
			case neg && s.err == nil:
				ts.Fatalf("%s succeeded unexpectedly", args[0])
			case !neg && s.err != nil:
				ts.Fatalf("%s: %v", args[0], s.err)
			case status >= 0 && s.cmd.ProcessState.ExitCode() != status:
				ts.Fatalf("%s exited with %s, want status %d", args[0], errString(s.err), status)
			}
		},
	}
}

func errString(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.String()
	}
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// openScriptPTY opens a new pty: the master side for the script, the slave
// side for the command.
func openScriptPTY(ts *testscript.TestScript) (master, slave *os.File) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	ts.Check(err)
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		ts.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		ts.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		ts.Fatalf("open pty slave: %v", err)
	}
	return m, s
}
