package casedir

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/recording"
)

func TestAuditors(t *testing.T) {
	c, _, _ := newCase(t)
	if _, err := c.Auditors(nil); !errors.Is(err, ErrNoAuditors) {
		t.Errorf("no file: %v", err)
	}
	os.WriteFile(c.AuditorsPath(), []byte("# nobody\n"), 0o644)
	var ae *AuditorsError
	if _, err := c.Auditors(nil); !errors.As(err, &ae) || err.Error() != "auditors file "+c.AuditorsPath()+": no recipients" {
		t.Errorf("empty file: %v", err)
	}
	k, _ := age.GenerateX25519Identity()
	os.WriteFile(c.AuditorsPath(), []byte("# carol, audit\n"+k.Recipient().String()+"\n"), 0o644)
	if rs, err := c.Auditors(nil); err != nil || len(rs) != 1 {
		t.Errorf("%d recipients, %v", len(rs), err)
	}
}

func TestRecordingNames(t *testing.T) {
	c, _, _ := newCase(t)
	name, file, err := c.NewRecording("prod aws/x", "0123456789abcdef", time.Date(2026, 12, 1, 4, 5, 6, 0, time.UTC))
	if err != nil || name != "recordings/prod_aws_x-20261201T040506Z-01234567.cast.age" {
		t.Fatalf("%q, %v", name, err)
	}
	if got, err := c.RecordingFile(name); err != nil || got != file {
		t.Errorf("RecordingFile(%q) = %q, %v; want %q", name, got, err, file)
	}
	for _, bad := range []string{"../x.cast.age", "/etc/x.cast.age", "recordings/x.txt", "recordings/../../x.cast.age"} {
		if _, err := c.RecordingFile(bad); err == nil {
			t.Errorf("RecordingFile(%q) accepted", bad)
		}
	}
}

func TestUnendedSessions(t *testing.T) {
	c, recs, keys := newCase(t)
	k, _ := age.GenerateX25519Identity()
	release := func(session, name string) {
		e := logbook.Entry{Kind: logbook.KindRelease, Secret: "demo",
			Details: map[string]string{logbook.DetailSession: session, logbook.DetailRecording: name}}
		if _, err := c.Append(-1, e, recs["alice"], keys["alice"]); err != nil {
			t.Fatal(err)
		}
	}
	// Running: its recorder holds the lock.
	live, liveFile, _ := c.NewRecording("demo", "live", time.Now())
	r, err := recording.Create(liveFile, recording.Options{Recipients: []age.Recipient{k.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	release("live", live)
	// Dead: the file is there, unlocked.
	dead, deadFile, _ := c.NewRecording("demo", "dead", time.Now())
	os.WriteFile(deadFile, []byte("what survived"), 0o600)
	release("dead", dead)
	// Gone, and a name outside the case.
	release("gone", "recordings/gone.cast.age")
	release("evil", "../../etc/passwd")
	// Ended.
	release("done", "recordings/done.cast.age")
	end := logbook.Entry{Kind: logbook.KindNote, Details: map[string]string{logbook.DetailAction: logbook.ActionSessionEnd,
		logbook.DetailSession: "done", logbook.DetailRecording: "recordings/done.cast.age"}}
	if _, err := c.Append(-1, end, recs["alice"], keys["alice"]); err != nil {
		t.Fatal(err)
	}
	l, _ := c.Log()
	us, err := c.UnendedSessions(l)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, u := range us {
		got = append(got, u.Release.Details[logbook.DetailSession])
		switch u.Name {
		case dead:
			if u.Missing || u.Size != 13 || u.SHA256 != sha256.Sum256([]byte("what survived")) || u.LastWrite.IsZero() || u.File != deadFile {
				t.Errorf("dead: %+v", u)
			}
		default:
			if !u.Missing {
				t.Errorf("%s: %+v", u.Name, u)
			}
		}
	}
	if strings.Join(got, ",") != "dead,gone,evil" {
		t.Errorf("unended %v", got)
	}
	if filepath.Dir(deadFile) != filepath.Join(c.Dir, RecordingsDir) {
		t.Errorf("file %s", deadFile)
	}
}

func TestCheckRecording(t *testing.T) {
	sumA, sumB := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	end := func(i int64, name string, sum [32]byte, size int) *logbook.Entry {
		d := map[string]string{logbook.DetailAction: logbook.ActionSessionEnd, logbook.DetailRecording: name}
		if size >= 0 {
			d["recording-sha256"] = fmt.Sprintf("%x", sum)
			d["recording-size"] = fmt.Sprint(size)
		}
		return &logbook.Entry{Index: i, Kind: logbook.KindNote, Details: d}
	}
	rel := &logbook.Entry{Index: 1, Kind: logbook.KindRelease, Details: map[string]string{logbook.DetailRecording: "recordings/c.cast.age"}}
	entries := []*logbook.Entry{end(0, "recordings/a.cast.age", sumA, 1), rel, end(2, "recordings/b.cast.age", sumB, 1),
		end(3, "recordings/d.cast.age", sumA, -1)}
	for _, tc := range []struct {
		file    string
		sum     [32]byte
		size    int64
		problem string
		msg     string
	}{
		{"/audit/a.cast.age", sumA, 1, "", ""},
		{"/audit/a.cast.age", sumA, 2, RecordingEdited, "/audit/a.cast.age was edited, cut or replaced: entry 0 records SHA-256 ca978112ca1bbdca… and 1 bytes for recordings/a.cast.age; the file has ca978112ca1bbdca… and 2 bytes"},
		{"/audit/a.cast.age", sumB, 1, RecordingSwapped, "/audit/a.cast.age is not the recording its name says: its SHA-256 is the one entry 2 records for recordings/b.cast.age (swapped or renamed)"},
		{"/audit/x.cast.age", sumB, 1, RecordingSwapped, ""},
		{"/audit/c.cast.age", sumB, 5, RecordingUnended, ""},
		{"/audit/d.cast.age", sumB, 5, RecordingNoHash, ""},
		{"/audit/x.cast.age", sha256.Sum256(nil), 0, RecordingUnknown, "the logbook names no recording x.cast.age, nor any with its SHA-256 e3b0c44298fc1c14…"},
	} {
		e, err := checkRecording(entries, tc.file, tc.sum, tc.size)
		var re *RecordingError
		switch {
		case tc.problem == "" && (err != nil || e != entries[0]):
			t.Errorf("%s: %v, %v", tc.file, e, err)
		case tc.problem != "" && (!errors.As(err, &re) || re.Problem != tc.problem):
			t.Errorf("%s %x: %v, want %s", tc.file, tc.sum[:2], err, tc.problem)
		case tc.msg != "" && err.Error() != tc.msg:
			t.Errorf("%s: message\n%s\nwant\n%s", tc.file, err, tc.msg)
		}
	}
}
