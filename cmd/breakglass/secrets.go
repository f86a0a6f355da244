package main

import (
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
