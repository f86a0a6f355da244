package secret

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"testing"
)

func TestWipe(t *testing.T) {
	a, b := []byte("correct horse"), []byte{1, 2, 3}
	Wipe(a, b, nil)
	for _, s := range [][]byte{a, b} {
		for i, c := range s {
			if c != 0 {
				t.Fatalf("byte %d of %q not wiped", i, s)
			}
		}
	}
}

func TestWipeWriter(t *testing.T) {
	for _, flushed := range []bool{true, false} {
		var out bytes.Buffer
		w := bufio.NewWriterSize(&out, 64)
		w.WriteString("correct horse battery")
		if flushed {
			w.Flush()
		}
		WipeWriter(w)
		if want := map[bool]string{true: "correct horse battery"}[flushed]; out.String() != want {
			t.Errorf("flushed %v: output %q, want %q: WipeWriter must not write", flushed, out.String(), want)
		}
		// The writer's whole buffer, from its start (Buffered is 0 now).
		buf := w.AvailableBuffer()
		if w.Buffered() != 0 || bytes.Contains(buf[:cap(buf)], []byte("horse")) {
			t.Errorf("flushed %v: the secret is still in the writer's buffer", flushed)
		}
		w.WriteString("more") // still usable, and writes nowhere
		if err := w.Flush(); err != nil || out.Len() != map[bool]int{true: 21}[flushed] {
			t.Errorf("flushed %v: after WipeWriter: %v, output %q", flushed, err, out.String())
		}
	}
}

// TestHold runs Hold in a child process, since it cannot be undone.
func TestHold(t *testing.T) {
	if os.Getenv("SECRET_TEST_HOLD") == "1" {
		if ok, err := Held(); err != nil || ok {
			t.Fatalf("before Hold: Held() = %v, %v; want false (is the test run with ulimit -c 0?)", ok, err)
		}
		if err := Hold(); err != nil {
			t.Fatal(err)
		}
		if ok, err := Held(); err != nil || !ok {
			t.Fatalf("after Hold: Held() = %v, %v; want true", ok, err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHold$", "-test.v")
	cmd.Env = append(os.Environ(), "SECRET_TEST_HOLD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}
