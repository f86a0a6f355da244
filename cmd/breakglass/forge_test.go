package main

// glassforge: the script command with which attack scripts play someone
// who can write to the case repository. Without taps nobody can check a
// header's MAC, and its digest is a plain SHA-256 that anyone recomputes,
// so such a person can edit header lines and move share blocks between
// files at will. glassforge does exactly that, and nothing more:
//
//	glassforge set FILE FIELD VALUE        set the first header line FIELD:
//	                                       (VALUE @OTHER: OTHER's FIELD)
//	glassforge splice OUT BASE DONOR N     BASE with DONOR's share block N

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

func glassForgeCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: glassforge set FILE FIELD VALUE | splice OUT BASE DONOR N")
	}
	switch {
	case args[0] == "set" && len(args) == 4:
		lines := glassLines(ts, args[1])
		value := args[3]
		if other, ok := strings.CutPrefix(value, "@"); ok {
			value = ""
			for _, l := range glassLines(ts, other) {
				if v, ok := strings.CutPrefix(l, args[2]+": "); ok {
					value = v
					break
				}
			}
		}
		done := false
		for i, l := range lines {
			if strings.HasPrefix(l, args[2]+": ") {
				lines[i] = args[2] + ": " + value
				done = true
				break
			}
		}
		if !done {
			ts.Fatalf("glassforge: no %s line in %s", args[2], args[1])
		}
		writeForgedGlass(ts, args[1], lines)
	case args[0] == "splice" && len(args) == 5:
		n, err := strconv.Atoi(args[4])
		ts.Check(err)
		base, donor := glassLines(ts, args[2]), glassLines(ts, args[3])
		bs, be := shareBlockLines(ts, base, n)
		ds, de := shareBlockLines(ts, donor, n)
		out := append(append(append([]string{}, base[:bs]...), donor[ds:de]...), base[be:]...)
		writeForgedGlass(ts, args[1], out)
	default:
		ts.Fatalf("usage: glassforge set FILE FIELD VALUE | splice OUT BASE DONOR N")
	}
}

func glassLines(ts *testscript.TestScript, path string) []string {
	return strings.Split(ts.ReadFile(path), "\n")
}

// shareBlockLines returns the line range of the armored age file after
// "share: N".
func shareBlockLines(ts *testscript.TestScript, lines []string, n int) (start, end int) {
	for i, l := range lines {
		if l != fmt.Sprintf("share: %d", n) {
			continue
		}
		for j := i + 1; j < len(lines); j++ {
			if lines[j] == "-----END AGE ENCRYPTED FILE-----" {
				return i + 1, j + 1
			}
		}
	}
	ts.Fatalf("glassforge: no share %d", n)
	return 0, 0
}

// writeForgedGlass recomputes the digest line (docs/format-glass.md: the
// SHA-256 of the sealed block from its BEGIN line through the mac line)
// and writes the file.
func writeForgedGlass(ts *testscript.TestScript, path string, lines []string) {
	begin, digest := -1, -1
	for i, l := range lines {
		switch {
		case l == "-----BEGIN BREAKGLASS SEALED SECRET-----" && begin < 0:
			begin = i
		case strings.HasPrefix(l, "digest: ") && digest < 0:
			digest = i
		}
	}
	if begin < 0 || digest < begin {
		ts.Fatalf("glassforge: not a sealed file")
	}
	sum := sha256.Sum256([]byte(strings.Join(lines[begin:digest], "\n") + "\n"))
	lines[digest] = "digest: " + base64.RawStdEncoding.EncodeToString(sum[:])
	ts.Check(os.WriteFile(ts.MkAbs(path), []byte(strings.Join(lines, "\n")), 0o644))
}
