package pkcs11

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

const softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"

// softHSM creates a fresh SoftHSM2 token store for this test, initialises
// a token with label, user PIN pin and SO PIN "so-"+pin, points
// SOFTHSM2_CONF at it for the rest of the test, and returns the module
// path and the token's URI.
func softHSM(t *testing.T, labels ...string) string {
	t.Helper()
	if _, err := os.Stat(softhsmModule); err != nil {
		t.Fatalf("SoftHSM2 is missing (%v): apt-get install -y softhsm2, or run make test", err)
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Fatalf("softhsm2-util is missing: apt-get install -y softhsm2, or run make test")
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	for _, label := range labels {
		out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", "1234", "--so-pin", "so-1234").CombinedOutput()
		if err != nil {
			t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
		}
	}
	return softhsmModule
}

func writeFile(name, s string) error { return os.WriteFile(name, []byte(s), 0o600) }
