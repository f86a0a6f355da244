package main

// Scripts for seal, unseal, drill, reseal, recover and the age plugin, in
// testdata/script-seal. They run the real binary (this test binary,
// re-executed through small wrappers on $PATH as breakglass and
// age-plugin-breakglass) against four virtual YubiKeys on pcscd, enrolled
// once for all scripts: alice, bob and carol make the usual roster, dave is
// enrolled but in no roster, frank's PIN gets worn down, grace's card
// touches slowly (3 s) so that a script can pull it out mid-tap, and henry's
// card is factory-fresh (logbook_wired.txt enrolls it). The
// script command `vcard remove|insert NAME` does that. The cards are shared, so the scripts run one
// at a time.
//
// Each script sees:
//
//	$CARDS            directory with alice.card.json … dave.card.json and
//	                  paper.card.json (a paper custodian, erin)
//	$READER_alice …   the PC/SC reader of each card
//	$SERIAL_alice …   its serial
//	BREAKGLASS_PIN    the cards' PIN
//	BREAKGLASS_VIRTUAL_CA  the test CA, for --allow-virtual

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/breakglass/breakglass/internal/qrtext"
	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/virtual"
	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

const sealTestPIN = "246810"

// The test binary is also breakglass and age-plugin-breakglass, chosen by
// BREAKGLASS_TEST_MAIN (set by the wrappers sealScriptBin writes).
func init() {
	switch os.Getenv("BREAKGLASS_TEST_MAIN") {
	case "breakglass":
		os.Unsetenv("BREAKGLASS_TEST_MAIN")
		if os.Getenv("BREAKGLASS_TEST_DIE_BEFORE_RECORD") != "" {
			// As a Ctrl-C at the touch: the change is done, the entry
			// not signed (pending.go).
			testOnlyBeforeRecord = func() { os.Exit(130) }
		}
		os.Exit(runReportingHold(append([]string{"breakglass"}, os.Args[1:]...)))
	case "age-plugin-breakglass":
		os.Unsetenv("BREAKGLASS_TEST_MAIN")
		os.Exit(runAgePlugin(os.Args[1:]))
	case "age-plugin-bgtest":
		os.Unsetenv("BREAKGLASS_TEST_MAIN")
		os.Exit(runTestAgePlugin())
	}
}

// runReportingHold runs breakglass. When BREAKGLASS_TEST_HELD names a file,
// it then writes there "held" or "not held": whether core dumps were off
// (secret.Held: RLIMIT_CORE zero and, on Linux, the process not dumpable)
// when the command ended. secret.Hold cannot be undone, so "held" means the
// command called it; scripts check this after each command that handles a
// secret (secrets_held.txt, aws_held.txt). The variable is not passed on
// to children (--exec).
func runReportingHold(args []string) int {
	path := os.Getenv("BREAKGLASS_TEST_HELD")
	os.Unsetenv("BREAKGLASS_TEST_HELD")
	code := run(args)
	if path != "" {
		state := "not held\n"
		if held, err := secret.Held(); err != nil {
			state = "error: " + err.Error() + "\n"
		} else if held {
			state = "held\n"
		}
		if err := os.WriteFile(path, []byte(state), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "BREAKGLASS_TEST_HELD: %v\n", err)
			return 99
		}
	}
	return code
}

// sealScriptBin writes the wrappers into a fresh directory.
func sealScriptBin(t *testing.T) string {
	dir := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"breakglass", "age-plugin-breakglass", "age-plugin-bgtest"} {
		sh := fmt.Sprintf("#!/bin/sh\nBREAKGLASS_TEST_MAIN=%s exec %q \"$@\"\n", name, self)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sh), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// enrollVirtual enrolls a virtual card with the new PIN pin and writes its
// record into dir.
func enrollVirtual(t testing.TB, c *vcardtest.Card, name, dir, pin string) {
	t.Helper()
	tok, att, err := piv.Enroll(piv.EnrollOptions{
		Selector: piv.Selector{Reader: c.Reader},
		NewSecrets: func(bool, bool) ([]byte, []byte, error) {
			return []byte(pin), []byte("13572468"), nil
		},
	})
	if err != nil {
		t.Fatalf("enrolling %s: %v", name, err)
	}
	defer tok.Close()
	r, err := piv.NewRecord(token.Custodian{Name: name, Email: name + "@example.com"}, tok, att, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Sign(tok.SigningKey()); err != nil {
		t.Fatal(err)
	}
	writeRecord(t, r, filepath.Join(dir, name+".card.json"))
}

func TestSealScripts(t *testing.T) {
	for _, tool := range []string{"age", "age-keygen", "python3"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing: apt-get install -y age python3", tool)
		}
	}
	names := []string{"alice", "bob", "carol", "dave", "frank", "grace", "henry"}
	cards := vcardtest.Start(t, 5)
	// grace touches slowly, so a script can pull her card mid-tap.
	cards = append(cards, vcardtest.Start(t, 1, vcardtest.WithTouch(virtual.Touch{Mode: virtual.TouchDelay, Delay: 3 * time.Second}),
		vcardtest.WithTouchTimeout(15*time.Second))...)
	// henry's card is factory-fresh: the one script that enrolls it does.
	cards = append(cards, vcardtest.Start(t, 1)...)
	byName := map[string]*vcardtest.Card{}
	for i, c := range cards {
		byName[names[i]] = c
	}
	recs := t.TempDir()
	for i, c := range cards[:len(cards)-1] {
		enrollVirtual(t, c, names[i], recs, sealTestPIN)
	}
	paper := token.NewPaperRecord(token.Custodian{Name: "erin"}, "safe 2", time.Now())
	pb, _ := paper.Marshal()
	if err := os.WriteFile(filepath.Join(recs, "paper.card.json"), pb, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := sealScriptBin(t)
	docs, err := filepath.Abs("../../docs")
	if err != nil {
		t.Fatal(err)
	}
	var one sync.Mutex // the cards are shared: one script at a time
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/script-seal",
		Cmds: sealScriptCmds(t, byName),
		Setup: func(e *testscript.Env) error {
			one.Lock()
			e.Defer(one.Unlock)
			e.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			e.Setenv("CARDS", recs)
			e.Setenv("DOCS", docs)
			e.Setenv("BREAKGLASS_PIN", sealTestPIN)
			e.Setenv("BREAKGLASS_VIRTUAL_CA", vcardtest.CADir())
			e.Setenv("USER", "operator")
			for i, c := range cards {
				e.Setenv("READER_"+names[i], c.Reader)
				e.Setenv("SERIAL_"+names[i], strconv.FormatUint(uint64(c.Serial), 10))
			}
			return nil
		},
	})
}

// qrdecodeCmd is the script command qrdecode.
func qrdecodeCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! qrdecode")
	}
	var img []byte
	switch {
	case len(args) == 1:
		img = []byte(ts.ReadFile(args[0]))
	case len(args) == 2 && args[0] == "-text":
		code, err := qrtext.ParseText(qrBlock(ts.ReadFile(args[1])), qrtext.LightInk)
		if err != nil {
			ts.Fatalf("qrdecode: no QR code drawn in %s: %v", args[1], err)
		}
		if img, err = code.PNG(4); err != nil {
			ts.Fatalf("qrdecode: %v", err)
		}
	default:
		ts.Fatalf("usage: qrdecode FILE.png | qrdecode -text FILE")
	}
	if _, err := exec.LookPath("zbarimg"); err != nil {
		ts.Fatalf("zbarimg is missing: apt-get install -y zbar-tools (scripts/deps.sh installs it)")
	}
	path := filepath.Join(ts.Getenv("WORK"), ".tmp", "qrdecode.png")
	if err := os.WriteFile(path, img, 0o600); err != nil {
		ts.Fatalf("qrdecode: %v", err)
	}
	defer os.Remove(path)
	out, err := exec.Command("zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", path).Output()
	if err != nil {
		ts.Fatalf("qrdecode: zbarimg found no QR code in %s: %v", args[len(args)-1], err)
	}
	ts.Stdout().Write([]byte(strings.TrimSuffix(string(out), "\n")))
}

// qrBlock cuts the first QR code drawn with half blocks out of text (a
// terminal's output may have \r\n line ends and other lines around it).
func qrBlock(text string) []byte {
	var block []string
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r", ""), "\n") {
		drawn := utf8.RuneCountInString(l) >= 29 && strings.Trim(l, "█▀▄ ") == ""
		if drawn && (len(block) == 0 || utf8.RuneCountInString(l) == utf8.RuneCountInString(block[0])) {
			block = append(block, l)
		} else if len(block) > 0 {
			break
		}
	}
	if len(block) == 0 {
		return nil
	}
	return []byte(strings.Join(block, "\n") + "\n")
}

// sealScriptCmds adds sleep, qrdecode, vcard and the pty commands
// (pty_script_test.go) to the card scripts' commands (softhsm, edit, …; see
// card_script_test.go).
func sealScriptCmds(t *testing.T, byName map[string]*vcardtest.Card) map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	cmds := cardScriptCmds(t)
	for name, f := range map[string]func(ts *testscript.TestScript, neg bool, args []string){
		// sleep DURATION
		"sleep": func(ts *testscript.TestScript, neg bool, args []string) {
			d, err := time.ParseDuration(strings.Join(args, ""))
			if neg || err != nil {
				ts.Fatalf("usage: sleep DURATION")
			}
			time.Sleep(d)
		},
		// qrdecode FILE.png: decode the QR code in the image with zbarimg
		// and print its text, exactly (without the newline zbarimg adds).
		// qrdecode -text FILE|stderr|ttyout: the same for the first QR code
		// drawn with half blocks (light ink) in the text.
		"qrdecode":   qrdecodeCmd,
		"bgtestkeys": bgtestKeysCmd,
		// glassforge: edit a .glass as someone with write access to the
		// case would (forge_test.go).
		"glassforge": glassForgeCmd,
		// logsign, logresign, recordas: sign as someone with write access
		// to the case and a token of their own (admission_script_test.go).
		"logsign":   logSignCmd,
		"logresign": logResignCmd,
		"recordas":  recordAsCmd,
		// vcard remove|insert NAME: pull a card out of its reader or put it back.
		"vcard": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 || byName[args[1]] == nil {
				ts.Fatalf("usage: vcard remove|insert NAME")
			}
			switch c := byName[args[1]]; args[0] {
			case "remove":
				c.Remove()
			case "insert":
				c.Insert()
			default:
				ts.Fatalf("usage: vcard remove|insert NAME")
			}
		},
	} {
		cmds[name] = f
	}
	for name, f := range ptyScriptCmds() {
		cmds[name] = f
	}
	return cmds
}
