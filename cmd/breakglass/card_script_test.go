package main

// Scripts for the card commands, in testdata/script-card. Each script may
// start its own virtual cards and SoftHSM2 tokens:
//
//	vcard NAME [TOUCH]        start a virtual YubiKey (TOUCH as in
//	                          `breakglass card virtual --touch`); sets
//	                          $READER_NAME and $SERIAL_NAME. The card stops
//	                          when the script ends.
//	vcardremove NAME AFTER    pull the card out AFTER (a duration) from now
//	vcardtouch NAME TOUCH     answer touch requests from now on as TOUCH
//	softhsm LABEL...          a fresh SoftHSM2 store with tokens LABEL…
//	                          (user PIN 1234); sets SOFTHSM2_CONF and $SOFTHSM
//	edit FILE OLD NEW         replace the first OLD with NEW in FILE
//	opensc READER...          point OPENSC_CONF at a configuration that
//	                          shows OpenSC only these readers (every other
//	                          PC/SC reader ignored, so other tests' cards
//	                          are left alone), with enough virtual slots
//
// Scripts see BREAKGLASS_VIRTUAL_CA (the virtual cards' test CA, for
// --allow-virtual) and HOME=$WORK.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/virtual"
	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

const softhsmModule = "/usr/lib/softhsm/libsofthsm2.so"

// scriptTB lets vcardtest run inside one script: cleanups run when the
// script ends, failures fail the script.
type scriptTB struct {
	testing.TB
	ts *testscript.TestScript
}

func (s scriptTB) Cleanup(f func())                  { s.ts.Defer(f) }
func (s scriptTB) Helper()                           {}
func (s scriptTB) Fatalf(format string, args ...any) { s.ts.Fatalf(format, args...) }
func (s scriptTB) Fatal(args ...any)                 { s.ts.Fatalf("%s", fmt.Sprint(args...)) }
func (s scriptTB) TempDir() string {
	d, err := os.MkdirTemp(s.ts.Getenv("WORK"), "vcard")
	s.ts.Check(err)
	return d
}

var (
	scriptCardsMu sync.Mutex
	scriptCards   = map[string]*vcardtest.Card{} // by WORK/NAME
)

func cardScriptCmds(t *testing.T) map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"vcard": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) < 1 || len(args) > 2 {
				ts.Fatalf("usage: vcard NAME [TOUCH]")
			}
			opts := []vcardtest.Option{vcardtest.WithTouchTimeout(time.Second)}
			if len(args) == 2 {
				touch, err := virtual.ParseTouch(args[1])
				ts.Check(err)
				opts = append(opts, vcardtest.WithTouch(touch))
				if touch.Mode == virtual.TouchDelay {
					opts = append(opts, vcardtest.WithTouchTimeout(15*time.Second))
				}
			}
			c := vcardtest.Start(scriptTB{t, ts}, 1, opts...)[0]
			scriptCardsMu.Lock()
			scriptCards[ts.Getenv("WORK")+"/"+args[0]] = c
			scriptCardsMu.Unlock()
			ts.Setenv("READER_"+args[0], c.Reader)
			ts.Setenv("SERIAL_"+args[0], fmt.Sprint(c.Serial))
		},
		"vcardremove": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: vcardremove NAME AFTER")
			}
			scriptCardsMu.Lock()
			c := scriptCards[ts.Getenv("WORK")+"/"+args[0]]
			scriptCardsMu.Unlock()
			if c == nil {
				ts.Fatalf("no card %s", args[0])
			}
			d, err := time.ParseDuration(args[1])
			ts.Check(err)
			time.AfterFunc(d, c.Remove)
		},
		"vcardtouch": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: vcardtouch NAME TOUCH")
			}
			scriptCardsMu.Lock()
			c := scriptCards[ts.Getenv("WORK")+"/"+args[0]]
			scriptCardsMu.Unlock()
			if c == nil {
				ts.Fatalf("no card %s", args[0])
			}
			touch, err := virtual.ParseTouch(args[1])
			ts.Check(err)
			c.SetTouch(touch)
		},
		"softhsm": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) == 0 {
				ts.Fatalf("usage: softhsm LABEL...")
			}
			if _, err := os.Stat(softhsmModule); err != nil {
				ts.Fatalf("SoftHSM2 is missing: apt-get install -y softhsm2 (or run make test)")
			}
			dir := filepath.Join(ts.Getenv("WORK"), "softhsm")
			tokens := filepath.Join(dir, "tokens")
			ts.Check(os.MkdirAll(tokens, 0o700))
			conf := filepath.Join(dir, "softhsm2.conf")
			ts.Check(os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600))
			ts.Setenv("SOFTHSM2_CONF", conf)
			ts.Setenv("SOFTHSM", softhsmModule)
			for _, label := range args {
				cmd := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--pin", "1234", "--so-pin", "so-1234")
				cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
				out, err := cmd.CombinedOutput()
				if err != nil {
					ts.Fatalf("softhsm2-util: %v\n%s", err, out)
				}
			}
		},
		"opensc": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) == 0 {
				ts.Fatalf("usage: opensc READER...")
			}
			readers, err := piv.Readers(piv.Selector{})
			ts.Check(err)
			var ignored []string
			for _, r := range readers {
				if !slices.Contains(args, r) {
					ignored = append(ignored, strconv.Quote(r))
				}
			}
			conf := "app default {\n"
			if len(ignored) > 0 {
				conf += "\tignored_readers = " + strings.Join(ignored, ", ") + ";\n"
			}
			conf += "\tframework pkcs15 {\n\t}\n}\napp opensc-pkcs11 {\n\tpkcs11 {\n\t\tmax_virtual_slots = 64;\n\t}\n}\n"
			f := filepath.Join(ts.Getenv("WORK"), "opensc.conf")
			ts.Check(os.WriteFile(f, []byte(conf), 0o600))
			ts.Setenv("OPENSC_CONF", f)
		},
		"edit": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 3 {
				ts.Fatalf("usage: edit FILE OLD NEW")
			}
			f := filepath.Join(ts.Getenv("WORK"), args[0])
			b, err := os.ReadFile(f)
			ts.Check(err)
			if !strings.Contains(string(b), args[1]) {
				ts.Fatalf("%s does not contain %q", args[0], args[1])
			}
			ts.Check(os.WriteFile(f, []byte(strings.Replace(string(b), args[1], args[2], 1)), 0o644))
		},
	}
}

func TestCardScripts(t *testing.T) {
	testscript.Run(t, cardScriptParams(t, "testdata/script-card"))
}

// TestCardSoloScripts runs testdata/script-card-solo: scripts whose
// commands look at every card connected (several cards and no --reader, so
// the command has to choose or find a card by its serial). A top-level test
// that is not parallel runs alone, after the parallel card scripts and
// their cards are gone; and its scripts run one at a time (testscript runs
// the scripts of one Run in parallel), because a command that looks at
// every reader holds each card for a moment, and another script's command
// then finds its own card "not connected".
func TestCardSoloScripts(t *testing.T) {
	files, err := filepath.Glob("testdata/script-card-solo/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no solo card scripts: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			p := cardScriptParams(t, "")
			p.Files = []string{f}
			testscript.Run(t, p)
		})
	}
}

func cardScriptParams(t *testing.T, dir string) testscript.Params {
	return testscript.Params{
		Dir:  dir,
		Cmds: cardScriptCmds(t),
		Setup: func(e *testscript.Env) error {
			e.Setenv("BREAKGLASS_VIRTUAL_CA", vcardtest.CADir())
			e.Setenv("HOME", e.WorkDir)
			// No PKCS#11 module from the machine's p11-kit registry:
			// scripts name the modules they mean.
			e.Setenv("BREAKGLASS_P11KIT_DIRS", "")
			return nil
		},
	}
}
