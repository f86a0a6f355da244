// Command breakglass seals emergency ("break-glass") secrets to k of n
// custodians' hardware tokens, unseals them with card taps, and keeps a signed,
// tamper-evident logbook of every step.
//
// The command is a thin layer over the library packages: it parses flags,
// prompts, calls token, seal, logbook and aws, and prints. Every message goes
// through ui.go.
package main

import (
	"os"
)

// version is stamped at build time with -ldflags "-X main.version=…".
var version = "devel"

func main() {
	os.Exit(run(os.Args))
}
