package main

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain makes this test binary double as the breakglass command for
// testscript: scripts run `breakglass ARGS` (and `exec breakglass ARGS`)
// through the real run function.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"breakglass": func() { os.Exit(runReportingHold(os.Args)) },
	})
}
