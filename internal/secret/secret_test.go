package secret

import (
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
