package recording

// The performance goals of a recorded session (docs/performance.md):
// keystroke-to-echo within 1 ms of a direct pty, and a 100 MB cat within
// 1.2 times the time without recording. Each goal is a pair of
// benchmarks, Direct (a pty and a copy loop, no recording) and Recorded
// (Recording.Run, encrypting to a file on disk); compare their ns/op.

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/breakglass/breakglass/internal/asciicast"
)

// echoChild echoes every byte it reads at once, as a shell's line editor
// does in raw mode, and exits after n bytes. It shows R once the terminal
// is raw.
func echoChild(n int) *exec.Cmd {
	return exec.Command("sh", "-c", "stty raw -echo && printf R && exec dd bs=1 count="+strconv.Itoa(n)+" status=none")
}

// typeAndWait waits for the child's R, then types one byte per op on w
// and waits for its echo on r.
func typeAndWait(b *testing.B, w io.Writer, r io.Reader) {
	one := []byte{'k'}
	got := make([]byte, 1)
	for got[0] != 'R' {
		if _, err := io.ReadFull(r, got); err != nil {
			b.Fatal(err)
		}
	}
	step := func() {
		if _, err := w.Write(one); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(r, got); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		step()
	}
	b.StopTimer()
}

// startDirect runs cmd on a new pty, without recording.
func startDirect(b *testing.B, cmd *exec.Cmd) *os.File {
	master, slave, err := openPTY()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	slave.Close()
	return master
}

func BenchmarkEchoDirect(b *testing.B) {
	cmd := echoChild(b.N)
	master := startDirect(b, cmd)
	defer master.Close()
	typeAndWait(b, master, master)
	cmd.Wait()
}

func BenchmarkEchoRecorded(b *testing.B) {
	k, _ := age.GenerateX25519Identity()
	rec, err := Create(filepath.Join(b.TempDir(), "b.cast.age"), Options{Recipients: []age.Recipient{k.Recipient()}})
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	inR, inW, _ := os.Pipe()
	outR, outW, _ := os.Pipe()
	done := make(chan *Result)
	go func() {
		res, err := rec.Run(echoChild(b.N), inR, outW)
		if err != nil {
			b.Error(err)
		}
		outW.Close()
		done <- res
	}()
	typeAndWait(b, inW, outR)
	inW.Close()
	go io.Copy(io.Discard, outR)
	<-done
}

// bigFile is a text file of 100 MB: lines of 79 characters.
func bigFile(b *testing.B) string {
	path := filepath.Join(b.TempDir(), "big.txt")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	line := strings.Repeat("0123456789abcdef ", 5)[:79] + "\n"
	for range 100 << 20 / len(line) {
		w.WriteString(line)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path
}

// catDirect cats path on a bare pty copied to devNull (the terminal
// without recording).
func catDirect(b *testing.B, path string, devNull *os.File) {
	cmd := exec.Command("cat", path)
	master := startDirect(b, cmd)
	io.CopyBuffer(devNull, master, make([]byte, 32<<10)) // until EIO
	cmd.Wait()
	master.Close()
}

// catRecorded cats path through a recorded session into recording file,
// encrypted to k, with the terminal at devNull. The caller removes file.
func catRecorded(b *testing.B, path, file string, k *age.X25519Identity, devNull *os.File) {
	rec, err := Create(file, Options{Recipients: []age.Recipient{k.Recipient()}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := rec.Run(exec.Command("cat", path), nil, devNull); err != nil {
		b.Fatal(err)
	}
	rec.Close()
}

func BenchmarkCat100MBDirect(b *testing.B) {
	path := bigFile(b)
	devNull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devNull.Close()
	b.SetBytes(100 << 20)
	defer reportCPU(b)()
	b.ResetTimer()
	for range b.N {
		catDirect(b, path, devNull)
	}
}

func BenchmarkCat100MBRecorded(b *testing.B) {
	path := bigFile(b)
	devNull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devNull.Close()
	k, _ := age.GenerateX25519Identity()
	dir := b.TempDir()
	b.SetBytes(100 << 20)
	defer reportCPU(b)()
	b.ResetTimer()
	for i := range b.N {
		file := filepath.Join(dir, strconv.Itoa(i)+".cast.age")
		catRecorded(b, path, file, k, devNull)
		b.StopTimer()
		os.Remove(file)
		b.StartTimer()
	}
}

// BenchmarkCat100MBPaired runs the two cat benchmarks' operations in
// pairs, in alternating order, and reports the median of the pairs'
// ratios (recorded/direct): the goal's number. Other load on the machine
// moves both halves of a pair alike, which the separate benchmarks, run
// seconds apart, cannot promise.
func BenchmarkCat100MBPaired(b *testing.B) {
	path := bigFile(b)
	devNull, _ := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	defer devNull.Close()
	k, _ := age.GenerateX25519Identity()
	file := filepath.Join(b.TempDir(), "p.cast.age")
	direct := func() time.Duration {
		start := time.Now()
		catDirect(b, path, devNull)
		return time.Since(start)
	}
	recorded := func() time.Duration {
		start := time.Now()
		catRecorded(b, path, file, k, devNull)
		d := time.Since(start)
		os.Remove(file)
		return d
	}
	var ratios []float64
	var times []string
	b.ResetTimer()
	for i := range b.N {
		var d, r time.Duration
		if i%2 == 0 {
			d, r = direct(), recorded()
		} else {
			r, d = recorded(), direct()
		}
		ratios = append(ratios, r.Seconds()/d.Seconds())
		times = append(times, fmt.Sprintf("%.2f/%.2f", r.Seconds(), d.Seconds()))
	}
	b.StopTimer()
	b.Logf("ratios, in order: %.2f", ratios)
	b.Logf("recorded/direct seconds: %s", strings.Join(times, " "))
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
	b.ReportMetric(ratios[len(ratios)-1], "max-ratio")
}

// BenchmarkRecorder100MB is the recorder's own work for the 100 MB cat,
// without the pty: 100 MB of text in reads of 4 KiB (what a pty gives),
// through the recorder (escaping, encryption, armor, hashing) into a file
// on disk. On a machine with a core to spare, this runs beside the
// terminal; on a busy one it adds to the session's time.
func BenchmarkRecorder100MB(b *testing.B) {
	line := strings.Repeat("0123456789abcdef ", 5)[:79] + "\r\n"
	chunk := []byte(strings.Repeat(line, 4096/len(line)+1)[:4096])
	k, _ := age.GenerateX25519Identity()
	dir := b.TempDir()
	b.SetBytes(100 << 20)
	defer reportCPU(b)()
	b.ResetTimer()
	for i := range b.N {
		rec, err := Create(filepath.Join(dir, strconv.Itoa(i)+".cast.age"), Options{Recipients: []age.Recipient{k.Recipient()}})
		if err != nil {
			b.Fatal(err)
		}
		r, err := newRecorder(rec.w, asciicast.Header{Width: 80, Height: 24}, rec.opts)
		if err != nil {
			b.Fatal(err)
		}
		var t time.Duration
		for n := 0; n < 100<<20; n += len(chunk) {
			bp := bufPool.Get().(*[]byte)
			k := copy(*bp, chunk)
			t += 40 * time.Microsecond
			r.send(event{t: t, typ: 'o', data: (*bp)[:k], buf: bp})
		}
		r.close(t)
		if r.err != nil {
			b.Fatal(r.err)
		}
		rec.Close()
		b.StopTimer()
		os.Remove(rec.Path)
		b.StartTimer()
	}
}

// reportCPU, deferred at its start, reports the CPU time a benchmark's
// operation took: this process's (cpu-s/op) and its children's, the
// commands it ran (child-cpu-s/op). Load on the machine disturbs these
// less than the wall time.
func reportCPU(b *testing.B) func() {
	times := func(who int) time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(who, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	self, children := times(syscall.RUSAGE_SELF), times(syscall.RUSAGE_CHILDREN)
	return func() {
		b.ReportMetric((times(syscall.RUSAGE_SELF)-self).Seconds()/float64(b.N), "cpu-s/op")
		b.ReportMetric((times(syscall.RUSAGE_CHILDREN)-children).Seconds()/float64(b.N), "child-cpu-s/op")
	}
}
