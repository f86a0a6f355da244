package drills

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
)

// writeSecret seals a paper secret name into dir/name.glass and returns
// its bytes.
func writeSecret(t *testing.T, dir, name string) []byte {
	t.Helper()
	p := seal.Params{Name: name, SealedBy: "t", Threshold: 1,
		Custodians: []seal.Custodian{{Name: "alice", Kind: seal.KindPaper, Fingerprint: "alice"}}}
	var b bytes.Buffer
	if _, err := seal.Seal(&b, strings.NewReader("s"), p, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".glass"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeAWSRecord writes the provisioning record of name, owned by owner.
func writeAWSRecord(t *testing.T, dir, name, owner string) {
	t.Helper()
	spec := aws.Spec{Name: name, AccountID: "123456789012", RolePolicyARN: "arn:aws:iam::aws:policy/ReadOnlyAccess", Owner: owner}
	p := &aws.Plan{Account: "123456789012", UserARN: spec.UserARN("123456789012"), RoleARN: spec.RoleARN("123456789012")}
	b := aws.NewRecord(spec, p, time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)).Marshal()
	if err := os.WriteFile(aws.RecordPath(filepath.Join(dir, name+".glass")), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCaseSecrets(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, "stage")
	writeSecret(t, dir, "prod")
	writeSecret(t, dir, "lab")
	writeAWSRecord(t, dir, "prod", "sre")
	// A record that does not parse names no owner, and is no error.
	if err := os.WriteFile(filepath.Join(dir, "lab.aws.json"), []byte(`{"owner": "forged"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := CaseSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Header.Name+"@"+filepath.Base(s.File)+":"+s.Owner)
		if s.Sealed == nil || s.Sealed.Header != s.Header {
			t.Errorf("%s: the parsed file is not kept", s.File)
		}
	}
	if want := "lab@lab.glass:,prod@prod.glass:sre,stage@stage.glass:"; strings.Join(names, ",") != want {
		t.Errorf("secrets %s, want %s (in file name order, owners from valid records only)", strings.Join(names, ","), want)
	}

	empty, err := CaseSecrets(t.TempDir())
	if err != nil || len(empty) != 0 {
		t.Errorf("an empty case: %v, %v", empty, err)
	}
}

func TestCaseSecretsRefusesABadFile(t *testing.T) {
	for _, c := range []struct {
		name  string
		write func(t *testing.T, path string, good []byte)
		is    func(error) bool
	}{
		{"damaged", func(t *testing.T, path string, good []byte) {
			b := bytes.Replace(good, []byte("sealed-by: t"), []byte("sealed-by: u"), 1)
			if bytes.Equal(b, good) {
				t.Fatal("no sealed-by line to change")
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}, func(err error) bool { return errors.Is(err, seal.ErrDamaged) }},
		{"not a sealed file", func(t *testing.T, path string, _ []byte) {
			if err := os.WriteFile(path, []byte("hello\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, func(err error) bool { var fe *seal.FormatError; return errors.As(err, &fe) }},
		{"unreadable", func(t *testing.T, path string, _ []byte) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("nowhere", path); err != nil { // Glob lists it, Open fails
				t.Fatal(err)
			}
		}, func(err error) bool { var pe *fs.PathError; return errors.As(err, &pe) && pe.Op == "open" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSecret(t, dir, "a")
			good := writeSecret(t, dir, "b")
			path := filepath.Join(dir, "b.glass")
			c.write(t, path, good)
			got, err := CaseSecrets(dir)
			var se *SecretError
			if !errors.As(err, &se) || se.Path != path || !c.is(err) {
				t.Fatalf("CaseSecrets = %v, %v; want a *SecretError naming %s and wrapping the cause", got, err, path)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

// sealLog is a logbook in which carol recorded the seal of each header.
func sealLog(t *testing.T, headers ...*seal.Header) *logbook.Log {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "logbook")
	if err := logbook.Create(dir, "breakglass.example/test/case"); err != nil {
		t.Fatal(err)
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := token.NewNoteSigner("carol", k)
	if err != nil {
		t.Fatal(err)
	}
	v, err := token.NewNoteVerifier("carol", &k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := logbook.Open(dir, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		hh := h.Hash()
		if _, err := l.Append(l.Size(), logbook.Entry{Kind: logbook.KindSeal, Secret: h.Name, HeaderHash: hh[:]}, s); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func TestAddHeaderFindings(t *testing.T) {
	dir := t.TempDir()
	writeSecret(t, dir, "logged")
	writeSecret(t, dir, "replaced")
	writeSecret(t, dir, "unlogged")
	secrets, err := CaseSecrets(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The logbook recorded "logged" as it is, and another "replaced".
	other := paperSecret(t, "replaced", 1, "alice")
	l := sealLog(t, secrets[0].Header, other)
	st := Status(l.Entries(), secrets, Options{Now: t0})
	before := map[string]int{}
	for _, s := range st {
		before[s.Secret] = len(s.Findings)
	}
	// Without the parsed file there is nothing to check.
	AddHeaderFindings(l, []Secret{{File: secrets[1].File, Header: secrets[1].Header}}, st)
	AddHeaderFindings(l, secrets, st)
	for _, c := range []struct {
		secret string
		want   string // in the added finding's problem, "" for none
	}{
		{"logged", ""},
		{"replaced", "the file's header is not the one the logbook recorded (the header (hash "},
		{"unlogged", "the file's header is not the one the logbook recorded (the logbook has no seal or reseal entry of unlogged"},
	} {
		var s SecretStatus
		for _, x := range st {
			if x.Secret == c.secret {
				s = x
			}
		}
		added := s.Findings[before[c.secret]:]
		if c.want == "" {
			if len(added) != 0 {
				t.Errorf("%s: findings %+v added for a logged header", c.secret, added)
			}
			continue
		}
		if len(added) != 1 || added[0].Severity != Attention || !strings.HasPrefix(added[0].Problem, c.want) ||
			added[0].Fix != "restore it from the case's history (git log -p "+s.File+"), or reseal it" {
			t.Errorf("%s: added findings %+v, want one Attention finding %q… with its fix", c.secret, added, c.want)
		}
		if !s.NeedsAttention() {
			t.Errorf("%s does not need attention", c.secret)
		}
	}
}
