package recording

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/breakglass/breakglass/internal/asciicast"
)

func newKey(t testing.TB) *age.X25519Identity {
	t.Helper()
	k, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// decrypt reads the whole recording: its asciicast and the error that
// ended the reading (nil at a clean end).
func decrypt(t testing.TB, b []byte, id age.Identity) ([]byte, error) {
	t.Helper()
	r, err := Open(bytes.NewReader(b), id)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	plain, err := io.ReadAll(r)
	return plain, err
}

// parse reads an asciicast, which must be complete.
func parse(t testing.TB, b []byte) (asciicast.Header, []asciicast.Event) {
	t.Helper()
	r, err := asciicast.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("asciicast: %v\n%s", err, b)
	}
	var evs []asciicast.Event
	for {
		e, err := r.Next()
		if err == io.EOF {
			return r.Header(), evs
		}
		if err != nil {
			t.Fatalf("asciicast: %v\n%s", err, b)
		}
		evs = append(evs, e)
	}
}

func joined(evs []asciicast.Event, typ string) string {
	var b strings.Builder
	for _, e := range evs {
		if e.Type == typ {
			b.WriteString(e.Data)
		}
	}
	return b.String()
}

// memFile is a File in memory that can be told to fail once it holds
// limit bytes (a full disk).
type memFile struct {
	mu    sync.Mutex
	b     []byte
	limit int
	syncs int
}

func (f *memFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limit > 0 && len(f.b)+len(p) > f.limit {
		n := f.limit - len(f.b)
		f.b = append(f.b, p[:n]...)
		return n, syscall.ENOSPC
	}
	f.b = append(f.b, p...)
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	return nil
}

func (f *memFile) Truncate(n int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.b = f.b[:n]
	return nil
}

func (f *memFile) bytes() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.b)
}

func TestSealedRoundTrip(t *testing.T) {
	k := newKey(t)
	var f memFile
	w, err := NewWriter(&f, k.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for i := range 5 {
		line := fmt.Sprintf("line %d %s\n", i, strings.Repeat("x", i*40000))
		want.WriteString(line)
		w.Write([]byte(line))
		if i%2 == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.Flush() // nothing open: no empty segment
	w.Flush()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Segments() != 4 {
		t.Errorf("%d segments, want the key segment and 3", w.Segments())
	}
	b := f.bytes()
	sum, size := w.Sum()
	if size != int64(len(b)) || sum != sumOf(b) {
		t.Errorf("Sum %x %d does not describe the file", sum, size)
	}
	got, err := decrypt(t, b, k)
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("read %d bytes (%v), want %d", len(got), err, want.Len())
	}
	// Another identity: the key segment does not open.
	if _, err := Open(bytes.NewReader(b), newKey(t)); !errors.As(err, new(*age.NoIdentityMatchError)) {
		t.Errorf("wrong identity: %v", err)
	}
	if _, err := Open(strings.NewReader(""), k); !errors.Is(err, ErrNotRecording) {
		t.Errorf("empty file: %v", err)
	}
}

// A file cut anywhere reads up to its last complete segment, then says
// where it was cut.
func TestSealedCut(t *testing.T) {
	k := newKey(t)
	var f memFile
	w, _ := NewWriter(&f, k.Recipient())
	ends := []int{len(f.bytes())} // file size after each segment
	var plains []string
	for i := range 3 {
		s := fmt.Sprintf("segment %d\n", i)
		w.Write([]byte(s))
		w.Flush()
		plains = append(plains, s)
		ends = append(ends, len(f.bytes()))
	}
	b := f.bytes()
	for cut := ends[0]; cut < len(b); cut += 7 {
		got, err := decrypt(t, b[:cut], k)
		complete := 0
		for complete < len(ends) && ends[complete] <= cut {
			complete++
		}
		want := strings.Join(plains[:complete-1], "")
		var te *TruncatedError
		switch {
		case string(got) != want:
			t.Fatalf("cut at %d: read %q, want %q", cut, got, want)
		case cut == ends[complete-1] && err != nil:
			t.Fatalf("cut at a segment's end %d: %v", cut, err)
		case cut != ends[complete-1] && (!errors.As(err, &te) || !te.Cut || te.Segment != complete || te.Offset != int64(ends[complete-1])):
			t.Fatalf("cut at %d: %v (%+v), want segment %d cut at %d", cut, err, te, complete, ends[complete-1])
		}
	}
}

// An edited segment stops the reading there, as damaged, not cut.
func TestSealedEdited(t *testing.T) {
	k := newKey(t)
	var f memFile
	w, _ := NewWriter(&f, k.Recipient())
	w.Write([]byte("first\n"))
	w.Flush()
	mid := len(f.bytes())
	w.Write([]byte("second\n"))
	w.Close()
	b := f.bytes()
	b[mid+200] ^= 1 // inside segment 2's base64
	got, err := decrypt(t, b, k)
	var te *TruncatedError
	if string(got) != "first\n" || !errors.As(err, &te) || te.Cut || te.Segment != 2 {
		t.Fatalf("read %q, %v", got, err)
	}
	if !strings.Contains(err.Error(), "segment 2 of the recording (at byte") {
		t.Errorf("error %q", err)
	}
}

// FuzzOpen: whatever is done to a recording, what it reads as is a prefix
// of what was written (forging a segment needs the recording key).
func FuzzOpen(f *testing.F) {
	k, _ := age.ParseX25519Identity("AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX")
	var mf memFile
	w, _ := NewWriter(&mf, k.Recipient())
	const plain = "one\ntwo\nthree\n"
	for _, l := range strings.SplitAfter(plain, "\n") {
		w.Write([]byte(l))
		w.Flush()
	}
	valid := mf.bytes()
	f.Add(valid, 0, byte(0))
	f.Add(valid, len(valid)/2, byte(1))
	f.Fuzz(func(t *testing.T, b []byte, at int, x byte) {
		if at >= 0 && at < len(b) {
			b = bytes.Clone(b)
			b[at] ^= x
		}
		r, err := Open(bytes.NewReader(b), k)
		if err != nil {
			return
		}
		got, _ := io.ReadAll(r)
		if !strings.HasPrefix(plain, string(got)) {
			t.Fatalf("read %q, not a prefix of what was written", got)
		}
	})
}

func sumOf(b []byte) [32]byte { return sha256.Sum256(b) }

// run records cmd with stdin from input (a pipe) and stdout into a file.
func run(t *testing.T, r *Recording, input string, args ...string) (*Result, string) {
	t.Helper()
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		io.WriteString(inW, input)
		inW.Close()
	}()
	out, err := os.Create(filepath.Join(t.TempDir(), "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	res, err := r.Run(exec.Command(args[0], args[1:]...), inR, out)
	inR.Close()
	if err != nil {
		t.Fatal(err)
	}
	shown, _ := os.ReadFile(out.Name())
	return res, string(shown)
}

func TestSessionRoundTrip(t *testing.T) {
	k := newKey(t)
	path := filepath.Join(t.TempDir(), "s.cast.age")
	r, err := Create(path, Options{Recipients: []age.Recipient{k.Recipient()}, Title: "test session"})
	if err != nil {
		t.Fatal(err)
	}
	if live, err := Live(path); !live || err != nil {
		t.Errorf("Live = %v, %v while recording", live, err)
	}
	res, shown := run(t, r, "world\n", "sh", "-c", `printf 'hello\n'; read x; echo "got $x"; exit 3`)
	if res.End != EndExit || res.ExitCode != 3 || res.Err != nil {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(shown, "hello\r\n") || !strings.Contains(shown, "got world\r\n") {
		t.Errorf("the terminal showed %q", shown)
	}
	r.Close()
	if live, err := Live(path); live || err != nil {
		t.Errorf("Live = %v, %v after Close", live, err)
	}
	b, _ := os.ReadFile(path)
	if res.Size != int64(len(b)) || res.SHA256 != sumOf(b) {
		t.Errorf("result's hash and size do not describe the file")
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	plain, err := decrypt(t, b, k)
	if err != nil {
		t.Fatal(err)
	}
	h, evs := parse(t, plain)
	if h.Title != "test session" || h.Width != 80 || h.Height != 24 || !strings.HasPrefix(h.Command, "sh -c") {
		t.Errorf("header %+v", h)
	}
	if o := joined(evs, "o"); o != shown {
		t.Errorf("recorded output %q, shown %q", o, shown)
	}
	if i := joined(evs, "i"); i != "world\n" {
		t.Errorf("recorded input %q", i)
	}
	if _, err := Create(path, Options{Recipients: []age.Recipient{k.Recipient()}}); !errors.Is(err, os.ErrExist) {
		t.Errorf("Create over an existing recording: %v", err)
	}
}

func TestSessionNoInput(t *testing.T) {
	k := newKey(t)
	r, err := New(&memFile{}, Options{Recipients: []age.Recipient{k.Recipient()}, NoInput: true})
	if err != nil {
		t.Fatal(err)
	}
	res, _ := run(t, r, "secret\n", "sh", "-c", `stty -echo; read x; echo done`)
	f := r.f.(*memFile)
	plain, err := decrypt(t, f.bytes(), k)
	if err != nil || res.End != EndExit {
		t.Fatal(err, res)
	}
	if _, evs := parse(t, plain); joined(evs, "i") != "" || !strings.Contains(joined(evs, "o"), "done") {
		t.Errorf("events %+v", evs)
	}
}

func TestSessionDeadline(t *testing.T) {
	k := newKey(t)
	r, _ := New(&memFile{}, Options{Recipients: []age.Recipient{k.Recipient()},
		Deadline: time.Now().Add(300 * time.Millisecond), HangupGrace: time.Second})
	start := time.Now()
	// A command that ignores SIGHUP is killed after the grace.
	res, _ := run(t, r, "", "sh", "-c", `trap '' HUP; echo started; sleep 30`)
	if res.End != EndExpired || time.Since(start) > 10*time.Second || res.Duration < 300*time.Millisecond {
		t.Errorf("result %+v after %v", res, time.Since(start))
	}
	plain, err := decrypt(t, r.f.(*memFile).bytes(), k)
	if err != nil {
		t.Fatal(err)
	}
	if _, evs := parse(t, plain); !strings.Contains(joined(evs, "o"), "started") {
		t.Errorf("events %+v", evs)
	}
}

// A full disk: the operator is told at once (OnError), the session goes
// on, and the file holds every complete segment up to where it stopped.
func TestSessionDiskFull(t *testing.T) {
	k := newKey(t)
	f := &memFile{}
	var mu sync.Mutex
	var gotErr error
	var gotAt time.Duration
	told := make(chan struct{})
	r, err := New(f, Options{Recipients: []age.Recipient{k.Recipient()}, FlushInterval: 100 * time.Millisecond,
		OnError: func(err error, at time.Duration) {
			mu.Lock()
			gotErr, gotAt = err, at
			mu.Unlock()
			close(told)
		}})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.limit = len(f.b) + 4000 // room for the first segments only
	f.mu.Unlock()
	res, shown := run(t, r, "", "sh", "-c", `echo before; sleep 0.5; head -c 300000 /dev/zero | tr '\0' x; sleep 0.5; echo after`)
	select {
	case <-told:
	default:
		t.Fatal("OnError was not called")
	}
	mu.Lock()
	defer mu.Unlock()
	if !errors.Is(gotErr, syscall.ENOSPC) || !errors.Is(res.Err, syscall.ENOSPC) || res.CompleteUntil != gotAt || gotAt <= 0 {
		t.Errorf("OnError(%v, %v); result %+v", gotErr, gotAt, res)
	}
	if res.End != EndExit || !strings.Contains(shown, "after") {
		t.Errorf("the session did not go on: %+v, %q", res, shown)
	}
	b := f.bytes()
	if res.Size != int64(len(b)) || res.SHA256 != sumOf(b) {
		t.Errorf("result's hash and size do not describe the file")
	}
	plain, err := decrypt(t, b, k)
	if err != nil {
		t.Fatalf("the file is not cut back to a complete segment: %v", err)
	}
	_, evs := parse(t, plain)
	if o := joined(evs, "o"); !strings.Contains(o, "before") || strings.Contains(o, "after") {
		t.Errorf("recorded %q", o)
	}
	if last := evs[len(evs)-1].Time; last > gotAt.Seconds()+1e-6 {
		t.Errorf("the last event at %v is after where the recording was said complete, %v", last, gotAt)
	}
}

func TestSessionNotStarted(t *testing.T) {
	k := newKey(t)
	r, _ := New(&memFile{}, Options{Recipients: []age.Recipient{k.Recipient()}})
	res, err := r.Run(exec.Command(filepath.Join(t.TempDir(), "missing")), nil, os.Stdout)
	if err == nil || res.End != EndNotStarted {
		t.Fatalf("%+v, %v", res, err)
	}
	plain, err := decrypt(t, r.f.(*memFile).bytes(), k)
	if err != nil {
		t.Fatal(err)
	}
	parse(t, plain)
}

// kill -9 of the recorder: the recording up to the last flush decrypts
// and parses. The recorder runs in a child process (this test binary).
func TestSessionKill9(t *testing.T) {
	if os.Getenv("RECORDING_TEST_CHILD") != "" {
		k, _ := age.ParseX25519Identity(os.Getenv("RECORDING_TEST_KEY"))
		r, err := Create(os.Getenv("RECORDING_TEST_CHILD"), Options{Recipients: []age.Recipient{k.Recipient()}, FlushInterval: 200 * time.Millisecond})
		if err != nil {
			panic(err)
		}
		r.Run(exec.Command("sh", "-c", "echo one; sleep 0.3; echo two; sleep 60"), nil, os.Stdout)
		panic("not killed")
	}
	k := newKey(t)
	path := filepath.Join(t.TempDir(), "k.cast.age")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSessionKill9$")
	cmd.Env = append(os.Environ(), "RECORDING_TEST_CHILD="+path, "RECORDING_TEST_KEY="+k.String())
	out, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	shown := func() string { b, _ := os.ReadFile(out.Name()); return string(b) }
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(shown(), "two"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the child showed %q", shown())
		}
	}
	time.Sleep(500 * time.Millisecond) // two flushes
	if live, _ := Live(path); !live {
		t.Error("the recording is not live while its recorder runs")
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if live, err := Live(path); live || err != nil {
		t.Errorf("Live = %v, %v after kill -9", live, err)
	}
	b, _ := os.ReadFile(path)
	plain, err := decrypt(t, b, k)
	var te *TruncatedError
	if err != nil && !errors.As(err, &te) {
		t.Fatal(err)
	}
	_, evs := parse(t, plain)
	if o := joined(evs, "o"); !strings.Contains(o, "one") || !strings.Contains(o, "two") {
		t.Errorf("recorded %q", o)
	}
}
