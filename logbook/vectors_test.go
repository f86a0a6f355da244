package logbook

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/breakglass/breakglass/token"
)

var updateVectors = flag.Bool("update", false, "rewrite testdata/vectors from their recipes")

const vectorDir = "testdata/vectors"

// A vectorCase is what a recipe builds: a logbook directory, the published
// checkpoints to verify against, and the expected result: want is the Go
// implementation's exact error ("" = success) and reason the class of
// failure (the reason* constants) that any verifier must find.
type vectorCase struct {
	dir       string
	published [][]byte
	want      string
	reason    string
}

// vectorRecipes builds every vector.
func vectorRecipes(t *testing.T) map[string]func(t *testing.T) vectorCase {
	recipes := map[string]func(t *testing.T) vectorCase{
		"valid": func(t *testing.T) vectorCase {
			dir, ckpts := buildLog(t, testOrigin, len(sampleEntries()))
			return vectorCase{dir: dir, published: [][]byte{ckpts[3]}}
		},
		// A genesis signed by each of its three founders (several
		// signature lines on one entry), then a note.
		"valid-genesis-signed-by-every-founder": func(t *testing.T) vectorCase {
			dir := filepath.Join(t.TempDir(), "logbook")
			if err := Create(dir, testOrigin); err != nil {
				t.Fatal(err)
			}
			l, err := Open(dir, testRoster(t))
			if err != nil {
				t.Fatal(err)
			}
			var founders []Member
			for _, n := range vectorKeys {
				founders = append(founders, Member{n, fingerprintOf(t, n)})
			}
			g := GenesisEntry(Genesis{Founders: founders, AdmitSigners: 2})
			g.Time, g.Reason = testT0, "the founding custodians of the case"
			if _, err := l.Append(0, g, testSigner(t, "alice"), testSigner(t, "bob"), testSigner(t, "carol")); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Append(1, Entry{Time: testT0, Kind: KindNote, Reason: "hello"}, testSigner(t, "bob")); err != nil {
				t.Fatal(err)
			}
			return vectorCase{dir: dir}
		},
		"unfinished-append": func(t *testing.T) vectorCase {
			dir, _ := buildLog(t, testOrigin, 3)
			dirX, _ := buildLog(t, testOrigin, 4)
			rec3 := records(t, readFile(t, dirX, entriesFile))[3]
			writeFile(t, dir, entriesFile, append(readFile(t, dir, entriesFile), rec3[:len(rec3)/2]...))
			return vectorCase{dir: dir}
		},
	}
	dir0, cases := tamperCases(t)
	slug := regexp.MustCompile(`[^a-z0-9]+`)
	for _, tc := range cases {
		recipes[slug.ReplaceAllString(tc.name, "-")] = func(t *testing.T) vectorCase {
			dir := copyDir(t, dir0)
			tc.tamper(t, dir)
			return vectorCase{dir: dir, published: tc.published, want: tc.want, reason: tc.reason}
		}
	}
	return recipes
}

var vectorKeys = []string{"alice", "bob", "carol"}

func buildVector(t *testing.T, name string, recipe func(t *testing.T) vectorCase) []byte {
	vc := recipe(t)
	dir, published := vc.dir, vc.published
	var comment bytes.Buffer
	fmt.Fprintf(&comment, "vector: %s\n", name)
	if vc.want == "" {
		fmt.Fprintf(&comment, "expect: success\n")
	} else {
		if vc.reason == "" {
			t.Fatalf("vector %s: an error without a reason", name)
		}
		fmt.Fprintf(&comment, "expect: error\nreason: %s\nerror: %s\n", vc.reason, vc.want)
	}
	for _, n := range vectorKeys {
		vkey, err := token.NoteVerifierKey(n, &testKey(n).PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&comment, "verifier: %s\n", vkey)
	}
	ar := &archive{Comment: comment.Bytes()}
	for _, f := range []string{originFile, entriesFile, checkpointFile} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		ar.Files = append(ar.Files, archiveFile{Name: f, Data: b})
	}
	for i, p := range published {
		ar.Files = append(ar.Files, archiveFile{Name: fmt.Sprintf("published-%d", i+1), Data: p})
	}
	return ar.format()
}

// TestVectorsRebuild rebuilds each vector from its recipe (fixed keys, fixed
// times, RFC 6979 signatures) and requires identical bytes.
func TestVectorsRebuild(t *testing.T) {
	recipes := vectorRecipes(t)
	if *updateVectors {
		os.RemoveAll(vectorDir)
		os.MkdirAll(vectorDir, 0o755)
	}
	for name, recipe := range recipes {
		t.Run(name, func(t *testing.T) {
			got := buildVector(t, name, recipe)
			path := filepath.Join(vectorDir, name+".txtar")
			if *updateVectors {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestVectorsRebuild -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("rebuilding %s gave other bytes:\n%s", path, got)
			}
		})
	}
	files, _ := filepath.Glob(filepath.Join(vectorDir, "*.txtar"))
	if len(files) != len(recipes) {
		t.Fatalf("%d vector files for %d recipes", len(files), len(recipes))
	}
}

type vector struct {
	name       string
	wantErr    string
	reason     string
	verifiers  note.Verifiers
	keys       map[string]string // roster name → key fingerprint, for key lines
	files      map[string][]byte
	published  [][]byte
	expectFail bool
}

func readVectors(t *testing.T) []vector {
	files, err := filepath.Glob(filepath.Join(vectorDir, "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors in %s", vectorDir)
	}
	var out []vector
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ar := parseArchive(b)
		v := vector{name: filepath.Base(f), files: map[string][]byte{}, keys: map[string]string{}}
		var vs []note.Verifier
		for _, line := range strings.Split(strings.TrimSpace(string(ar.Comment)), "\n") {
			k, val, _ := strings.Cut(line, ": ")
			switch k {
			case "expect":
				v.expectFail = val == "error"
			case "error":
				v.wantErr = val
			case "reason":
				v.reason = val
			case "verifier":
				ver, err := token.ParseNoteVerifierKey(val)
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				vs = append(vs, ver)
				// The key line's fingerprint, from the verifier key as
				// the spec defines both: SHA-256(SPKI)[:8] in groups.
				parts := strings.SplitN(val, "+", 3)
				raw, err := base64.StdEncoding.DecodeString(parts[2])
				if err != nil || len(raw) < 2 {
					t.Fatalf("%s: verifier %q", f, val)
				}
				h := sha256.Sum256(raw[1:])
				x := hex.EncodeToString(h[:8])
				v.keys[parts[0]] = x[0:4] + " " + x[4:8] + " " + x[8:12] + " " + x[12:16]
			}
		}
		v.verifiers = note.VerifierList(vs...)
		for _, file := range ar.Files {
			if strings.HasPrefix(file.Name, "published-") {
				v.published = append(v.published, file.Data)
			} else {
				v.files[file.Name] = file.Data
			}
		}
		out = append(out, v)
	}
	return out
}

// TestVectorsVerify checks each vector's expected outcome with Verify, and
// with an independent verifier written from docs/format-logbook.md.
func TestVectorsVerify(t *testing.T) {
	for _, v := range readVectors(t) {
		t.Run(v.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, b := range v.files {
				writeFile(t, dir, name, b)
			}
			_, err := Verify(dir, v.verifiers, v.published...)
			switch {
			case !v.expectFail && err != nil:
				t.Fatalf("Verify: %v", err)
			case v.expectFail && (err == nil || err.Error() != v.wantErr):
				t.Fatalf("Verify: err = %v\nwant  %s", err, v.wantErr)
			}
			indErr := independentVerify(v.files, v.verifiers, v.keys, v.published)
			if v.expectFail != (indErr != nil) {
				t.Fatalf("independent verifier: %v (expect failure: %v)", indErr, v.expectFail)
			}
			if v.expectFail {
				// Rejected, and for the reason the vector names: a vector
				// that fails on an unrelated line proves nothing.
				var ie *independentError
				if !errors.As(indErr, &ie) || ie.reason != v.reason {
					t.Fatalf("independent verifier: %v; want a failure for reason %q", indErr, v.reason)
				}
				t.Logf("independent verifier: %v", indErr)
			}
		})
	}
}

// An independentError is the independent verifier's verdict: the reason
// (one of the reason* constants, or another word for a failure no vector
// is about) and what it saw.
type independentError struct{ reason, msg string }

func (e *independentError) Error() string { return e.reason + ": " + e.msg }

func failFor(reason, format string, args ...any) error {
	return &independentError{reason, fmt.Sprintf(format, args...)}
}

var keyLineRE = regexp.MustCompile(`^[0-9a-f]{4}( [0-9a-f]{4}){3}$`)

// independentVerify follows docs/format-logbook.md using only
// golang.org/x/mod/sumdb/note and /tlog, none of this package's code. keys
// are the roster's key fingerprints by name, for checking key lines.
func independentVerify(files map[string][]byte, vs note.Verifiers, keys map[string]string, published [][]byte) error {
	origin := strings.TrimSuffix(string(files["origin"]), "\n")
	// openNote opens a signed note: signatures in canonical base64 only,
	// at least one by a roster key, none by a roster key that fails.
	openNote := func(what string, msg []byte) (*note.Note, error) {
		if split := bytes.LastIndex(msg, []byte("\n\n")); split >= 0 {
			seen := map[string]bool{}
			for _, l := range strings.Split(string(msg[split+2:]), "\n") {
				if f := strings.Fields(l); len(f) == 3 && f[0] == "—" {
					raw, err := base64.StdEncoding.DecodeString(f[2])
					if err == nil && base64.StdEncoding.EncodeToString(raw) != f[2] {
						return nil, failFor(reasonNonCanonical, "%s: the signature by %s has non-zero padding bits", what, f[1])
					}
					// At most one line per key name and key ID.
					if err == nil && len(raw) >= 4 {
						if k := f[1] + "+" + string(raw[:4]); seen[k] {
							return nil, failFor(reasonDuplicateSignature, "%s: two signature lines by one key of %s", what, f[1])
						} else {
							seen[k] = true
						}
					}
				}
			}
		}
		n, err := note.Open(msg, vs)
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return nil, failFor(reasonUnknownKey, "%s: no signature by a roster key", what)
		case errors.As(err, &invalid):
			return nil, failFor(reasonBadSignature, "%s: %v", what, err)
		case err != nil:
			return nil, failFor("malformed", "%s: %v", what, err)
		}
		return n, nil
	}
	// hash decodes a tree hash: canonical base64 of 32 bytes.
	hash := func(what, s string) (tlog.Hash, error) {
		var h tlog.Hash
		raw, err := base64.StdEncoding.DecodeString(s)
		switch {
		case err != nil || len(raw) != len(h):
			return h, failFor("malformed", "%s %q", what, s)
		case base64.StdEncoding.EncodeToString(raw) != s:
			return h, failFor(reasonNonCanonical, "%s %q has non-zero padding bits", what, s)
		}
		copy(h[:], raw)
		return h, nil
	}
	size := func(what, s string) (int64, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
			return 0, failFor("malformed", "%s %q", what, s)
		}
		return n, nil
	}

	// The stored checkpoint: its text now, its signature after the
	// entries (step 4 of "The stored checkpoint").
	var n int64
	var root tlog.Hash
	ckpt, haveCkpt := files["checkpoint"]
	if haveCkpt {
		split := bytes.LastIndex(ckpt, []byte("\n\n"))
		if split < 0 {
			return failFor("malformed", "checkpoint is not a signed note")
		}
		lines := strings.Split(string(ckpt[:split]), "\n")
		if len(lines) < 3 {
			return failFor("malformed", "checkpoint has %d lines", len(lines))
		}
		if lines[0] != origin {
			return failFor(reasonOrigin, "checkpoint origin %q", lines[0])
		}
		var err error
		if n, err = size("checkpoint size", lines[1]); err != nil {
			return err
		}
		if root, err = hash("checkpoint root hash", lines[2]); err != nil {
			return err
		}
	}
	data := files["entries"]
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	known := map[string]bool{}
	for _, k := range []string{"enroll", "seal", "reseal", "unseal-start", "tap", "release", "drill", "revoke", "rotate", "note", "genesis", "admit", "retire"} {
		known[k] = true
	}
	lastActor := "" // the actor of the last entry the checkpoint covers
	for i := int64(0); i < n; i++ {
		// A record: text, blank line, signature lines ("— " prefix).
		sep := bytes.Index(data, []byte("\n\n"))
		if sep < 0 {
			return failFor(reasonTruncated, "entry %d is missing", i)
		}
		end := sep + 2
		for end < len(data) && bytes.HasPrefix(data[end:], []byte("— ")) {
			nl := bytes.IndexByte(data[end:], '\n')
			if nl < 0 {
				return failFor(reasonTruncated, "entry %d is cut short", i)
			}
			end += nl + 1
		}
		if end == sep+2 {
			return failFor(reasonTruncated, "entry %d has no signature", i)
		}
		rec := data[:end]
		data = data[end:]
		en, err := openNote(fmt.Sprintf("entry %d", i), rec)
		if err != nil {
			return err
		}
		fields := map[string]string{}
		lines := strings.Split(strings.TrimSuffix(en.Text, "\n"), "\n")
		if lines[0] != origin {
			return failFor(reasonOrigin, "entry %d: origin %q", i, lines[0])
		}
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, " ")
			fields[k] = v
		}
		if fields["entry"] != strconv.FormatInt(i, 10) {
			return failFor(reasonSequence, "entry %d: sequence number %s", i, fields["entry"])
		}
		if !known[fields["kind"]] {
			return failFor(reasonUnknownKind, "entry %d: kind %q", i, fields["kind"])
		}
		actor, key := fields["actor"], fields["key"]
		lastActor = actor
		if !keyLineRE.MatchString(key) {
			return failFor("key", "entry %d: key line %q", i, key)
		}
		if want, ok := keys[actor]; ok && key != want {
			return failFor("key", "entry %d: key %q is not %s's (%s)", i, key, actor, want)
		}
		signedByActor := false
		for _, s := range en.Sigs {
			signedByActor = signedByActor || s.Name == actor
		}
		if !signedByActor {
			return failFor(reasonNotActor, "entry %d: not signed by its actor %s", i, actor)
		}
		if i > 0 {
			prev, err := hash(fmt.Sprintf("entry %d: prev", i), fields["prev"])
			if err != nil {
				return err
			}
			want, err := tlog.TreeHash(i, hr)
			if err != nil {
				return err
			}
			if prev != want {
				return failFor("hash-chain", "entry %d: prev", i)
			}
		} else if _, ok := fields["prev"]; ok {
			return failFor("malformed", "entry 0 has prev")
		}
		hs, err := tlog.StoredHashes(i, rec, hr)
		if err != nil {
			return err
		}
		stored = append(stored, hs...)
	}
	if got, _ := tlog.TreeHash(n, hr); got != root && n > 0 {
		return failFor("checkpoint-root", "checkpoint root does not match")
	}
	// The unfinished append, if any, is at most one record.
	if sep := bytes.Index(data, []byte("\n\n")); sep >= 0 {
		rest := data[sep+2:]
		for bytes.HasPrefix(rest, []byte("— ")) {
			nl := bytes.IndexByte(rest, '\n')
			if nl < 0 {
				rest = nil
				break
			}
			rest = rest[nl+1:]
		}
		if len(rest) > 0 && !bytes.HasPrefix([]byte("— "), rest) {
			return failFor(reasonBeyondCheckpoint, "entries beyond the checkpoint")
		}
	}
	if haveCkpt {
		cn, err := openNote("checkpoint", ckpt)
		if err != nil {
			return err
		}
		// Signed by the actor of the last entry it covers.
		if lastActor != "" && !slices.ContainsFunc(cn.Sigs, func(s note.Signature) bool { return s.Name == lastActor }) {
			return failFor(reasonCheckpointSigner, "the checkpoint is not signed by %s, the actor of its last entry", lastActor)
		}
	}
	for _, p := range published {
		pn, err := openNote("published checkpoint", p)
		if err != nil {
			return err
		}
		lines := strings.Split(pn.Text, "\n")
		if lines[0] != origin {
			return failFor(reasonOrigin, "published checkpoint origin %q", lines[0])
		}
		m, err := size("published checkpoint size", lines[1])
		if err != nil {
			return err
		}
		if m > n {
			return failFor(reasonTruncated, "a published checkpoint covers %d entries, the logbook %d", m, n)
		}
		old, err := hash("published checkpoint root hash", lines[2])
		if err != nil {
			return err
		}
		proof, err := tlog.ProveTree(n, m, hr)
		if err != nil {
			return err
		}
		if err := tlog.CheckTree(proof, n, root, m, old); err != nil {
			return failFor(reasonPublished, "published checkpoint: %v", err)
		}
	}
	return nil
}

// A txtar archive (the format of golang.org/x/tools/txtar): a comment, then
// files, each after a "-- name --" line. No file has a line starting with
// "-- "; a file that does not end in a newline (a torn append) is marked
// "-- name (no final newline) --" and written with one added.
type archive struct {
	Comment []byte
	Files   []archiveFile
}

type archiveFile struct {
	Name string
	Data []byte
}

func (a *archive) format() []byte {
	var b bytes.Buffer
	b.Write(a.Comment)
	for _, f := range a.Files {
		if bytes.HasSuffix(f.Data, []byte("\n")) {
			fmt.Fprintf(&b, "-- %s --\n", f.Name)
			b.Write(f.Data)
		} else {
			fmt.Fprintf(&b, "-- %s%s --\n", f.Name, noFinalNewline)
			b.Write(f.Data)
			b.WriteString("\n")
		}
	}
	return b.Bytes()
}

func parseArchive(data []byte) *archive {
	a := &archive{}
	var cur *archiveFile
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if name, ok := bytes.CutPrefix(line, []byte("-- ")); ok && bytes.HasSuffix(name, []byte(" --\n")) {
			a.Files = append(a.Files, archiveFile{Name: string(bytes.TrimSuffix(name, []byte(" --\n")))})
			cur = &a.Files[len(a.Files)-1]
			continue
		}
		if cur == nil {
			a.Comment = append(a.Comment, line...)
		} else {
			cur.Data = append(cur.Data, line...)
		}
	}
	for i, f := range a.Files {
		if name, ok := strings.CutSuffix(f.Name, noFinalNewline); ok {
			a.Files[i] = archiveFile{Name: name, Data: bytes.TrimSuffix(f.Data, []byte("\n"))}
		}
	}
	return a
}

const noFinalNewline = " (no final newline)"
