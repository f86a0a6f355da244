package logbook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/breakglass/breakglass/token"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var updateVectors = flag.Bool("update", false, "rewrite testdata/vectors from their recipes")

const vectorDir = "testdata/vectors"

// vectorRecipes builds every vector: a logbook directory, the published
// checkpoints to verify against, and the expected result ("" = success).
func vectorRecipes(t *testing.T) map[string]func(t *testing.T) (dir string, published [][]byte, want string) {
	recipes := map[string]func(t *testing.T) (string, [][]byte, string){
		"valid": func(t *testing.T) (string, [][]byte, string) {
			dir, ckpts := buildLog(t, testOrigin, len(sampleEntries()))
			return dir, [][]byte{ckpts[3]}, ""
		},
		"unfinished-append": func(t *testing.T) (string, [][]byte, string) {
			dir, _ := buildLog(t, testOrigin, 3)
			dirX, _ := buildLog(t, testOrigin, 4)
			rec3 := records(t, readFile(t, dirX, entriesFile))[3]
			writeFile(t, dir, entriesFile, append(readFile(t, dir, entriesFile), rec3[:len(rec3)/2]...))
			return dir, nil, ""
		},
	}
	dir0, cases := tamperCases(t)
	slug := regexp.MustCompile(`[^a-z0-9]+`)
	for _, tc := range cases {
		recipes[slug.ReplaceAllString(tc.name, "-")] = func(t *testing.T) (string, [][]byte, string) {
			dir := copyDir(t, dir0)
			tc.tamper(t, dir)
			return dir, tc.published, tc.want
		}
	}
	return recipes
}

var vectorKeys = []string{"alice", "bob", "carol"}

func buildVector(t *testing.T, name string, recipe func(t *testing.T) (string, [][]byte, string)) []byte {
	dir, published, want := recipe(t)
	var comment bytes.Buffer
	fmt.Fprintf(&comment, "vector: %s\n", name)
	if want == "" {
		fmt.Fprintf(&comment, "expect: success\n")
	} else {
		fmt.Fprintf(&comment, "expect: error\nerror: %s\n", want)
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
	verifiers  note.Verifiers
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
		v := vector{name: filepath.Base(f), files: map[string][]byte{}}
		var vs []note.Verifier
		for _, line := range strings.Split(strings.TrimSpace(string(ar.Comment)), "\n") {
			k, val, _ := strings.Cut(line, ": ")
			switch k {
			case "expect":
				v.expectFail = val == "error"
			case "error":
				v.wantErr = val
			case "verifier":
				ver, err := token.ParseNoteVerifierKey(val)
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				vs = append(vs, ver)
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
			indErr := independentVerify(v.files, v.verifiers, v.published)
			if v.expectFail != (indErr != nil) {
				t.Fatalf("independent verifier: %v (expect failure: %v)", indErr, v.expectFail)
			}
			if v.expectFail {
				t.Logf("independent verifier: %v", indErr)
			}
		})
	}
}

// independentVerify follows docs/format-logbook.md using only
// golang.org/x/mod/sumdb/note and /tlog, none of this package's code.
func independentVerify(files map[string][]byte, vs note.Verifiers, published [][]byte) error {
	origin := strings.TrimSuffix(string(files["origin"]), "\n")
	var n int64
	var root tlog.Hash
	if c, ok := files["checkpoint"]; ok {
		cn, err := note.Open(c, vs)
		if err != nil {
			return fmt.Errorf("checkpoint: %v", err)
		}
		lines := strings.Split(cn.Text, "\n")
		if lines[0] != origin {
			return errors.New("checkpoint origin")
		}
		if n, err = strconv.ParseInt(lines[1], 10, 64); err != nil {
			return err
		}
		h, err := base64.StdEncoding.DecodeString(lines[2])
		if err != nil || len(h) != 32 {
			return errors.New("checkpoint root")
		}
		copy(root[:], h)
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
	for _, k := range []string{"enroll", "seal", "reseal", "unseal-start", "tap", "release", "drill", "revoke", "rotate", "note"} {
		known[k] = true
	}
	for i := int64(0); i < n; i++ {
		// A record: text, blank line, signature lines ("— " prefix).
		sep := bytes.Index(data, []byte("\n\n"))
		if sep < 0 {
			return fmt.Errorf("entry %d missing", i)
		}
		end := sep + 2
		for end < len(data) && bytes.HasPrefix(data[end:], []byte("— ")) {
			nl := bytes.IndexByte(data[end:], '\n')
			if nl < 0 {
				return fmt.Errorf("entry %d cut short", i)
			}
			end += nl + 1
		}
		rec := data[:end]
		data = data[end:]
		en, err := note.Open(rec, vs)
		if err != nil {
			return fmt.Errorf("entry %d: %v", i, err)
		}
		fields := map[string]string{}
		lines := strings.Split(strings.TrimSuffix(en.Text, "\n"), "\n")
		if lines[0] != origin {
			return fmt.Errorf("entry %d: origin", i)
		}
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, " ")
			fields[k] = v
		}
		if fields["entry"] != strconv.FormatInt(i, 10) {
			return fmt.Errorf("entry %d: sequence number %s", i, fields["entry"])
		}
		if !known[fields["kind"]] {
			return fmt.Errorf("entry %d: unknown kind", i)
		}
		signedByActor := false
		for _, s := range en.Sigs {
			signedByActor = signedByActor || s.Name == fields["actor"]
		}
		if !signedByActor {
			return fmt.Errorf("entry %d: not signed by actor", i)
		}
		if i > 0 {
			prev, err := tlog.TreeHash(i, hr)
			if err != nil {
				return err
			}
			if fields["prev"] != base64.StdEncoding.EncodeToString(prev[:]) {
				return fmt.Errorf("entry %d: prev", i)
			}
		} else if _, ok := fields["prev"]; ok {
			return errors.New("entry 0 has prev")
		}
		hs, err := tlog.StoredHashes(i, rec, hr)
		if err != nil {
			return err
		}
		stored = append(stored, hs...)
	}
	if got, _ := tlog.TreeHash(n, hr); got != root && n > 0 {
		return errors.New("checkpoint root does not match")
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
			return errors.New("entries beyond the checkpoint")
		}
	}
	for _, p := range published {
		pn, err := note.Open(p, vs)
		if err != nil {
			return fmt.Errorf("published: %v", err)
		}
		lines := strings.Split(pn.Text, "\n")
		if lines[0] != origin {
			return errors.New("published checkpoint origin")
		}
		m, _ := strconv.ParseInt(lines[1], 10, 64)
		if m > n {
			return errors.New("published checkpoint is ahead")
		}
		var old tlog.Hash
		h, _ := base64.StdEncoding.DecodeString(lines[2])
		copy(old[:], h)
		proof, err := tlog.ProveTree(n, m, hr)
		if err != nil {
			return err
		}
		if err := tlog.CheckTree(proof, n, root, m, old); err != nil {
			return fmt.Errorf("published checkpoint: %v", err)
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
