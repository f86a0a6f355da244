package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/secret"
)

// holdSecrets turns core dumps (and ptrace by the same user) off for the
// rest of the process, before a command reads, makes or receives a secret:
// a plaintext to seal, a new AWS secret key, shares, paper mnemonics, the
// recovered identity. seal, recover and aws provision/rotate/revoke call it;
// the tap ceremony (unseal, drill, reseal, aws session) and tap call
// secret.Hold before the first tap. It refuses to go on when nothing could
// be turned off. Scripts check that each of these commands ends with core
// dumps off (BREAKGLASS_TEST_HELD, see seal_script_test.go).
func holdSecrets() error {
	if err := secret.Hold(); err != nil {
		return withHints(err, "breakglass will not hold secrets in a process that can dump core")
	}
	return nil
}

// tokenSecrets holds, for the length of one command, the PINs and PUKs
// read from --pin-file and the like or from BREAKGLASS_PIN and the like
// (secretSource), so that execEnviron can keep them out of an --exec
// child's environment even when another variable holds one. They are wiped
// when the command ends (forgetTokenSecrets).
var tokenSecrets struct {
	sync.Mutex
	vals [][]byte
}

func rememberTokenSecret(b []byte) {
	tokenSecrets.Lock()
	defer tokenSecrets.Unlock()
	tokenSecrets.vals = append(tokenSecrets.vals, bytes.Clone(b))
}

func forgetTokenSecrets() {
	tokenSecrets.Lock()
	defer tokenSecrets.Unlock()
	for _, v := range tokenSecrets.vals {
		secret.Wipe(v)
	}
	tokenSecrets.vals = nil
}

// secretFileFlags are the flags that name files holding token secrets.
var secretFileFlags = []string{"pin-file", "new-pin-file", "puk-file", "new-puk-file"}

// execEnviron is the environment for an --exec child: this process's, less
//
//   - every BREAKGLASS_ variable whose name has PIN or PUK in it
//     (BREAKGLASS_PIN, BREAKGLASS_NEW_PIN, BREAKGLASS_PUK, …): token PINs
//     for automation are for breakglass, not for the command it runs;
//   - every variable whose value is a PIN or PUK breakglass read (from a
//     file or a variable), or the path of such a file (--pin-file, …), as
//     given or absolute;
//   - the variables named in drop.
//
// Everything else (PATH, HOME, the operator's own variables) is kept.
func execEnviron(c *cli.Context, drop ...string) []string {
	paths := map[string]bool{}
	for _, name := range secretFileFlags {
		if p := c.String(name); p != "" {
			paths[p] = true
			if abs, err := filepath.Abs(p); err == nil {
				paths[abs] = true
			}
		}
	}
	tokenSecrets.Lock()
	defer tokenSecrets.Unlock()
	var env []string
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(k)
		switch {
		case strings.HasPrefix(upper, "BREAKGLASS_") && (strings.Contains(upper, "PIN") || strings.Contains(upper, "PUK")),
			slices.Contains(drop, k), paths[v]:
			continue
		}
		if slices.ContainsFunc(tokenSecrets.vals, func(s []byte) bool { return len(s) > 0 && string(s) == v }) {
			continue
		}
		env = append(env, kv)
	}
	return env
}
