package logbook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func TestAppendOpen(t *testing.T) {
	dir, ckpts := buildLog(t, testOrigin, len(sampleEntries()))
	l, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != int64(len(sampleEntries())) {
		t.Fatalf("size %d", l.Size())
	}
	if got := l.Checkpoint().Signed; !bytes.Equal(got, ckpts[len(ckpts)-1]) {
		t.Fatalf("checkpoint = %s, want %s", got, ckpts[len(ckpts)-1])
	}
	for i, e := range l.Entries() {
		want := sampleEntries()[i]
		if e.Index != int64(i) || e.Actor != want.who || e.Kind != want.e.Kind || e.Reason != want.e.Reason || !e.Time.Equal(want.e.Time) {
			t.Errorf("entry %d = %+v", i, e)
		}
		fp := testVerifier(t, want.who).(interface{ Fingerprint() string }).Fingerprint()
		if e.Key != fp {
			t.Errorf("entry %d key %q, want %q", i, e.Key, fp)
		}
	}
	// Every checkpoint ever returned is consistent with the logbook.
	if _, err := Verify(dir, testRoster(t), ckpts...); err != nil {
		t.Fatal(err)
	}
	// Checkpoints are standard signed notes.
	n, err := note.Open(ckpts[2], testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(n.Text, testOrigin+"\n3\n") {
		t.Fatalf("checkpoint text %q", n.Text)
	}
}

func TestAppendConflict(t *testing.T) {
	dir, _ := buildLog(t, testOrigin, 2)
	a, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	x := sampleEntries()[2]
	if _, err := a.Append(2, x.e, testSigner(t, x.who)); err != nil {
		t.Fatal(err)
	}
	_, err = b.Append(2, x.e, testSigner(t, x.who))
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Size != 3 {
		t.Fatalf("second append at size 2: err = %v, want ConflictError{3}", err)
	}
	if err.Error() != "logbook: another append landed first; the logbook now holds 3 entries" {
		t.Fatalf("err = %q", err)
	}
	// b caught up and can append now.
	if b.Size() != 3 {
		t.Fatalf("b.Size() = %d after conflict", b.Size())
	}
	y := sampleEntries()[3]
	if _, err := b.Append(3, y.e, testSigner(t, y.who)); err != nil {
		t.Fatal(err)
	}
	if err := a.Refresh(); err != nil || a.Size() != 4 {
		t.Fatalf("Refresh: size %d, err %v", a.Size(), err)
	}
	if _, err := a.Append(3, y.e, testSigner(t, y.who)); !errors.As(err, &ce) || ce.Size != 4 {
		t.Fatalf("err = %v", err)
	}
}

func TestAppendRefuses(t *testing.T) {
	dir, _ := buildLog(t, testOrigin, 1)
	l, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		e    Entry
		s    string
		want string
	}{
		{"signer not in roster", Entry{Kind: KindNote, Reason: "hello"}, "mallory",
			"logbook: refusing to append entry 1: it is signed only by keys not in the roster (mallory+%08x)"},
		{"actor is not the signer", Entry{Kind: KindNote, Actor: "alice", Reason: "hello"}, "bob",
			"logbook: entry for actor alice cannot be signed by bob"},
		{"unknown kind", Entry{Kind: "witness"}, "bob",
			`logbook: entry 1: unknown entry kind "witness" (written by a newer breakglass? upgrade to read this logbook)`},
		{"newline in reason", Entry{Kind: KindNote, Reason: "a\nb"}, "bob",
			"logbook: entry 1: reason contains a control character or newline"},
		{"wrong key fingerprint", Entry{Kind: KindNote, Key: "0000 0000 0000 0000"}, "bob",
			`logbook: refusing to append entry 1: it names actor key "0000 0000 0000 0000", but bob signed with key "%s"`},
		{"short header hash", Entry{Kind: KindSeal, HeaderHash: []byte{1, 2}}, "bob",
			"logbook: entry 1: header hash is 2 bytes, want 32 (SHA-256)"},
		{"bad detail name", Entry{Kind: KindNote, Details: map[string]string{"Key ID": "x"}}, "bob",
			`logbook: entry 1: detail name "Key ID": want lowercase letters, digits, '.' and '-'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := testSigner(t, tt.s)
			want := tt.want
			if strings.Contains(want, "%08x") {
				want = fmt.Sprintf(want, s.KeyHash())
			} else if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, testVerifier(t, tt.s).(interface{ Fingerprint() string }).Fingerprint())
			}
			_, err := l.Append(1, tt.e, s)
			if err == nil || err.Error() != want {
				t.Fatalf("err = %v\nwant  %s", err, want)
			}
		})
	}
	// Nothing was written.
	l2, err := Open(dir, testRoster(t))
	if err != nil || l2.Size() != 1 || l2.UnfinishedAppend() {
		t.Fatalf("after refused appends: size %d, err %v", l2.Size(), err)
	}
}

type tamperCase struct {
	name      string
	tamper    func(t *testing.T, dir string)
	published [][]byte
	want      string
	reason    string // what is wrong, in the words of the vectors' reason: line
}

// The reasons a tampered logbook fails, as the vectors name them. The
// independent verifier of vectors_test.go must reject each vector for the
// reason it names, not for another one.
const (
	reasonBadSignature       = "bad-signature"       // a roster key's signature does not verify
	reasonSequence           = "sequence"            // an entry number does not match its position
	reasonTruncated          = "truncated"           // fewer entries than a checkpoint covers
	reasonBeyondCheckpoint   = "beyond-checkpoint"   // more than one record after the checkpoint
	reasonUnknownKey         = "unknown-key"         // signed only by keys not in the roster
	reasonNotActor           = "not-actor"           // signed, but not by the entry's actor
	reasonPublished          = "published"           // inconsistent with a published checkpoint
	reasonOrigin             = "origin"              // from another logbook
	reasonUnknownKind        = "unknown-kind"        // an entry kind this version does not know
	reasonNonCanonical       = "non-canonical"       // base64 with non-zero padding bits
	reasonCheckpointSigner   = "checkpoint-signer"   // the checkpoint is not signed by its last entry's actor
	reasonDuplicateSignature = "duplicate-signature" // two signature lines by one key
)

// tamperCases returns a logbook of 6 entries and the ways to damage it, with
// the exact error each must give. The vectors in testdata/vectors are built
// from the same cases.
func tamperCases(t *testing.T) (dir0 string, cases []tamperCase) {
	const n = 6
	dir0, ckpts := buildLog(t, testOrigin, n)
	entries0 := readFile(t, dir0, entriesFile)
	recs := records(t, entries0)
	published := ckpts[3] // a checkpoint of size 4 someone wrote down
	mallory := testSigner(t, "mallory")
	otherDir, otherCkpts := buildLog(t, "breakglass.example/other/prod", 2)
	otherRecs := records(t, readFile(t, otherDir, entriesFile))

	join := func(rs ...[]byte) []byte { return bytes.Join(rs, nil) }
	return dir0, []tamperCase{
		{"edit a field", func(t *testing.T, dir string) {
			b := bytes.Replace(entries0, []byte("reason provision emergency access"), []byte("reason provision emergency axcess"), 1)
			writeFile(t, dir, entriesFile, b)
		}, nil, "logbook: entry 2 has a signature by alice that does not verify (changed after signing)", reasonBadSignature},
		{"edit the time", func(t *testing.T, dir string) {
			b := bytes.Replace(entries0, []byte("time 2026-11-24T05:02:00Z"), []byte("time 2026-11-24T05:04:00Z"), 1)
			writeFile(t, dir, entriesFile, b)
		}, nil, "logbook: entry 5 has a signature by bob that does not verify (changed after signing)", reasonBadSignature},
		{"delete an entry", func(t *testing.T, dir string) {
			writeFile(t, dir, entriesFile, join(recs[0], recs[1], recs[3], recs[4], recs[5]))
		}, nil, "logbook: entry 2 has sequence number 3: entries were deleted, inserted or reordered", reasonSequence},
		{"swap two entries", func(t *testing.T, dir string) {
			writeFile(t, dir, entriesFile, join(recs[0], recs[1], recs[3], recs[2], recs[4], recs[5]))
		}, nil, "logbook: entry 2 has sequence number 3: entries were deleted, inserted or reordered", reasonSequence},
		{"truncate the tail", func(t *testing.T, dir string) {
			writeFile(t, dir, entriesFile, join(recs[:5]...))
		}, nil, "logbook: entry 5 is missing: the checkpoint covers 6 entries but the entries file holds only 5 (truncated?)", reasonTruncated},
		{"truncate mid-entry", func(t *testing.T, dir string) {
			writeFile(t, dir, entriesFile, entries0[:len(entries0)-20])
		}, nil, "logbook: entry 5 is cut short or has no signature (the entries file was truncated or edited)", reasonTruncated},
		{"truncate the tail and roll back the checkpoint", func(t *testing.T, dir string) {
			writeFile(t, dir, entriesFile, join(recs[:4]...))
			writeFile(t, dir, checkpointFile, ckpts[3])
		}, [][]byte{ckpts[5]}, "logbook: entry 4 is missing: a published checkpoint covers 6 entries but the logbook holds only 4 (entries were removed)", reasonTruncated},
		{"drop the last entry and re-sign the checkpoint with another roster key", func(t *testing.T, dir string) {
			// The attack the rule stops: an entry removed, and a checkpoint
			// of the shorter log signed by anyone in the roster.
			writeFile(t, dir, entriesFile, join(recs[:n-1]...))
			text := ckpts[n-2][:bytes.Index(ckpts[n-2], []byte("\n\n"))+1]
			other := "alice"
			if sampleEntries()[n-2].who == "alice" {
				other = "bob"
			}
			signed, err := note.Sign(&note.Note{Text: string(text)}, testSigner(t, other))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, checkpointFile, signed)
		}, nil, fmt.Sprintf("logbook: checkpoint file is not signed by %s, the actor of the last entry it covers (entry %d)", sampleEntries()[n-2].who, n-2), reasonCheckpointSigner},
		{"roll back the checkpoint by two", func(t *testing.T, dir string) {
			writeFile(t, dir, checkpointFile, ckpts[3])
		}, nil, "logbook: entry 4 is beyond the checkpoint, which covers 4 entries: the checkpoint file was rolled back or deleted", reasonBeyondCheckpoint},
		{"delete the checkpoint", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, checkpointFile))
		}, nil, "logbook: entry 0 is beyond the checkpoint, which covers 0 entries: the checkpoint file was rolled back or deleted", reasonBeyondCheckpoint},
		{"forge an entry with a key not in the roster", func(t *testing.T, dir string) {
			// Well-formed in every other way: mallory's own key line.
			appendRaw(t, dir, Entry{Time: testT0, Kind: KindNote, Actor: "mallory", Key: fingerprintOf(t, "mallory"), Reason: "all fine"}, mallory)
		}, nil, fmt.Sprintf("logbook: entry 6 is signed only by keys not in the roster (mallory+%08x)", mallory.KeyHash()), reasonUnknownKey},
		{"forge an entry in another actor's name", func(t *testing.T, dir string) {
			// alice's key line, copied from her entries; bob signs.
			appendRaw(t, dir, Entry{Time: testT0, Kind: KindNote, Actor: "alice", Key: fingerprintOf(t, "alice"), Reason: "all fine"}, testSigner(t, "bob"))
		}, nil, "logbook: entry 6 is not signed by its actor alice (signed by bob)", reasonNotActor},
		{"re-sign history after a checkpoint was published", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, entriesFile))
			os.Remove(filepath.Join(dir, checkpointFile))
			l, err := Open(dir, testRoster(t))
			if err != nil {
				t.Fatal(err)
			}
			for i, x := range sampleEntries()[:n] {
				if i == 1 {
					x.e.Reason = "nothing to see here"
				}
				if _, err := l.Append(int64(i), x.e, testSigner(t, x.who)); err != nil {
					t.Fatal(err)
				}
			}
		}, [][]byte{published}, "logbook: entry 3 does not match the published checkpoint of size 4: entries 0–3 were rewritten after it was published", reasonPublished},
		{"an entry from another case", func(t *testing.T, dir string) {
			writeFile(t, dir, entriesFile, join(otherRecs[0], join(recs[1:]...)))
		}, nil, `logbook: entry 0 belongs to logbook "breakglass.example/other/prod", not "breakglass.example/acme/prod" (copied from another case?)`, reasonOrigin},
		{"a logbook from another case", func(t *testing.T, dir string) {
			writeFile(t, dir, originFile, []byte("breakglass.example/other/prod\n"))
		}, nil, `logbook: checkpoint file is for logbook "breakglass.example/acme/prod", not "breakglass.example/other/prod" (copied from another case?)`, reasonOrigin},
		{"a checkpoint from another case", func(t *testing.T, dir string) {}, [][]byte{otherCkpts[1]},
			`logbook: published checkpoint is for logbook "breakglass.example/other/prod", not "breakglass.example/acme/prod" (a logbook from another case?)`, reasonOrigin},
		{"an unknown entry kind", func(t *testing.T, dir string) {
			appendRawText(t, dir, func(text []byte) []byte {
				return bytes.Replace(text, []byte("\nkind note\n"), []byte("\nkind witness\n"), 1)
			}, Entry{Time: testT0, Kind: KindNote, Actor: "bob", Key: fingerprintOf(t, "bob")}, testSigner(t, "bob"))
		}, nil, `logbook: entry 6 has an unknown entry kind "witness" (written by a newer breakglass? upgrade to read this logbook)`, reasonUnknownKind},
		{"a checkpoint with a foreign signature", func(t *testing.T, dir string) {
			c, err := OpenCheckpoint(readFile(t, dir, checkpointFile), testRoster(t))
			if err != nil {
				t.Fatal(err)
			}
			c, err = signCheckpoint(c, mallory)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, checkpointFile, c.Signed)
		}, nil, fmt.Sprintf("logbook: checkpoint file: checkpoint is signed only by keys not in the roster (mallory+%08x)", mallory.KeyHash()), reasonUnknownKey},
		// The same signature bytes, spelled with non-zero padding bits:
		// note.Open decodes them, the spec forbids them.
		{"an entry signature in non-canonical base64", func(t *testing.T, dir string) {
			entries, ckpt := readFile(t, dir, entriesFile), readFile(t, dir, checkpointFile)
			for i := 0; ; i++ { // the first reason whose signature has padding
				flipped := false
				appendRawSigned(t, dir, nil, func(b []byte) []byte { b, flipped = flipSigPadding(b); return b },
					Entry{Time: testT0, Kind: KindNote, Actor: "bob", Key: fingerprintOf(t, "bob"), Reason: fmt.Sprintf("all fine %d", i)}, testSigner(t, "bob"))
				if flipped {
					return
				}
				writeFile(t, dir, entriesFile, entries)
				writeFile(t, dir, checkpointFile, ckpt)
			}
		}, nil, "logbook: entry 6 has a signature by bob that is not in canonical base64 (non-zero padding bits)", reasonNonCanonical},
		// A second line by bob's key whose signature is garbage: note.Open
		// checks only the first line by a key and drops the rest.
		{"an entry with two signature lines by one key", func(t *testing.T, dir string) {
			appendRawSigned(t, dir, nil, func(b []byte) []byte {
				line := b[bytes.LastIndex(b[:len(b)-1], []byte("\n"))+1:]
				name, b64, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(string(line), "— "), "\n"), " ")
				raw, _ := base64.StdEncoding.DecodeString(b64)
				raw[len(raw)-1] ^= 1
				return append(b, []byte("— "+name+" "+base64.StdEncoding.EncodeToString(raw)+"\n")...)
			}, Entry{Time: testT0, Kind: KindNote, Actor: "bob", Key: fingerprintOf(t, "bob"), Reason: "signed twice"}, testSigner(t, "bob"))
		}, nil, "logbook: entry 6 has two signature lines by one key of bob (at most one per key)", reasonDuplicateSignature},
		{"a checkpoint signature in non-canonical base64", func(t *testing.T, dir string) {
			c, err := OpenCheckpoint(readFile(t, dir, checkpointFile), testRoster(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, who := range []string{"alice", "bob", "carol"} { // the first whose signature has padding
				c, err := signCheckpoint(c, testSigner(t, who))
				if err != nil {
					t.Fatal(err)
				}
				if b, ok := flipSigPadding(c.Signed); ok {
					writeFile(t, dir, checkpointFile, b)
					return
				}
			}
			t.Fatal("no signature with padding")
		}, nil, "logbook: checkpoint file: checkpoint has a signature by bob that is not in canonical base64 (non-zero padding bits)", reasonNonCanonical},
		{"a previous tree hash in non-canonical base64", func(t *testing.T, dir string) {
			appendRawText(t, dir, func(text []byte) []byte {
				i := bytes.Index(text, []byte("\nprev ")) + len("\nprev ")
				return append(text[:i:i], flipPadding(string(text[i:len(text)-1]))+"\n"...)
			}, Entry{Time: testT0, Kind: KindNote, Actor: "bob", Key: fingerprintOf(t, "bob"), Reason: "all fine"}, testSigner(t, "bob"))
		}, nil, `logbook: entry 6 is malformed: line 8: previous tree hash "TsUiLqcScCzgchY4V9x34rpv2HFyRlxBv69xy8P5lE5=": want the canonical base64 of 32 bytes`, reasonNonCanonical},
		{"a checkpoint root hash in non-canonical base64", func(t *testing.T, dir string) {
			c, err := OpenCheckpoint(readFile(t, dir, checkpointFile), testRoster(t))
			if err != nil {
				t.Fatal(err)
			}
			text, err := c.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(text), "\n")
			lines[2] = flipPadding(strings.TrimSuffix(lines[2], "\n")) + "\n"
			signed, err := note.Sign(&note.Note{Text: strings.Join(lines, "")}, testSigner(t, "bob"))
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, checkpointFile, signed)
		}, nil, `logbook: checkpoint file: checkpoint line 3: root hash "TsUiLqcScCzgchY4V9x34rpv2HFyRlxBv69xy8P5lE5=": want the canonical base64 of 32 bytes`, reasonNonCanonical},
	}
}

// fingerprintOf is the key fingerprint of a test key, as a key line shows it.
func fingerprintOf(t testing.TB, name string) string {
	return testVerifier(t, name).(interface{ Fingerprint() string }).Fingerprint()
}

// flipPadding sets the lowest padding bit of a padded base64 string: the
// same bytes, in a non-canonical spelling.
func flipPadding(b64 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	data := strings.TrimRight(b64, "=")
	if len(data) == len(b64) || data == "" {
		panic("flipPadding: " + b64 + " has no padding")
	}
	last := strings.IndexByte(alphabet, data[len(data)-1])
	return data[:len(data)-1] + string(alphabet[last^1]) + b64[len(data):]
}

// flipSigPadding flips a padding bit in the first signature line of a
// signed note that has padding; false if none has.
func flipSigPadding(signed []byte) ([]byte, bool) {
	split := bytes.LastIndex(signed, []byte("\n\n"))
	lines := strings.SplitAfter(string(signed[split+2:]), "\n")
	for i, l := range lines {
		sp := strings.LastIndexByte(l, ' ')
		if b64 := strings.TrimSuffix(l[sp+1:], "\n"); strings.HasSuffix(b64, "=") {
			lines[i] = l[:sp+1] + flipPadding(b64) + "\n"
			return append(bytes.Clone(signed[:split+2]), strings.Join(lines, "")...), true
		}
	}
	return signed, false
}

// TestTamper mangles a finished logbook in each way an attacker (or a
// careless hand) might, and checks the exact error, which names the entry.
func TestTamper(t *testing.T) {
	dir0, tests := tamperCases(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, dir0)
			tt.tamper(t, dir)
			_, err := Verify(dir, testRoster(t), tt.published...)
			if err == nil {
				t.Fatal("tampered logbook verified")
			}
			if err.Error() != tt.want {
				t.Fatalf("err = %s\nwant  %s", err, tt.want)
			}
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("err is %T, want *VerifyError", err)
			}
		})
	}
}

// TestTamperEveryByte flips each byte of a small logbook in turn: every
// change must be caught.
func TestTamperEveryByte(t *testing.T) {
	dir0, _ := buildLog(t, testOrigin, 2)
	roster := testRoster(t)
	for _, name := range []string{entriesFile, checkpointFile} {
		orig := readFile(t, dir0, name)
		dir := copyDir(t, dir0)
		for i := range orig {
			b := bytes.Clone(orig)
			b[i] ^= 0x01
			writeFile(t, dir, name, b)
			if _, err := Open(dir, roster); err == nil {
				t.Errorf("%s: flipping byte %d (%q) went unnoticed", name, i, orig[i])
			}
		}
	}
}

// appendRaw writes e, signed by s, as the next entry, with a checkpoint
// signed by s, bypassing Append's checks: what a forger with file access does.
func appendRaw(t *testing.T, dir string, e Entry, s note.Signer) {
	appendRawText(t, dir, func(b []byte) []byte { return b }, e, s)
}

func appendRawText(t *testing.T, dir string, edit func([]byte) []byte, e Entry, s note.Signer) {
	t.Helper()
	appendRawSigned(t, dir, edit, nil, e, s)
}

// appendRawSigned is appendRawText that also lets editSigned change the
// signed record before it is stored (nil: no change).
func appendRawSigned(t *testing.T, dir string, edit, editSigned func([]byte) []byte, e Entry, s note.Signer) {
	t.Helper()
	if edit == nil {
		edit = func(b []byte) []byte { return b }
	}
	if editSigned == nil {
		editSigned = func(b []byte) []byte { return b }
	}
	entries := readFile(t, dir, entriesFile)
	recs := records(t, entries)
	hs := &hashStore{}
	for _, r := range recs {
		if err := hs.add(tlog.RecordHash(r)); err != nil {
			t.Fatal(err)
		}
	}
	e.Origin, e.Index = testOrigin, int64(len(recs))
	e.Prev, _ = hs.root(e.Index)
	text, err := e.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: string(edit(text))}, s)
	if err != nil {
		t.Fatal(err)
	}
	signed = editSigned(signed)
	hs.add(tlog.RecordHash(signed))
	root, _ := hs.root(e.Index + 1)
	c, err := signCheckpoint(Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: e.Index + 1, Hash: root}}, s)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, entriesFile, append(entries, signed...))
	writeFile(t, dir, checkpointFile, c.Signed)
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "logbook")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestUnfinishedAppend(t *testing.T) {
	dir, _ := buildLog(t, testOrigin, 3)
	entries := readFile(t, dir, entriesFile)
	recs := records(t, entries)
	// Simulate a crash after writing entry 3 but before its checkpoint: the
	// whole record, or any prefix of it, is ignored.
	dirX, _ := buildLog(t, testOrigin, 4)
	rec3 := records(t, readFile(t, dirX, entriesFile))[3]
	for _, cut := range []int{1, 2, 3, 10, len(rec3) / 2, len(rec3) - 1, len(rec3)} {
		writeFile(t, dir, entriesFile, append(bytes.Clone(entries), rec3[:cut]...))
		l, err := Open(dir, testRoster(t))
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if l.Size() != 3 || !l.UnfinishedAppend() {
			t.Fatalf("cut %d: size %d, unfinished %v", cut, l.Size(), l.UnfinishedAppend())
		}
	}
	// The next append discards it.
	l, _ := Open(dir, testRoster(t))
	x := sampleEntries()[3]
	if _, err := l.Append(3, x.e, testSigner(t, x.who)); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir, testRoster(t))
	if err != nil || l.Size() != 4 || l.UnfinishedAppend() {
		t.Fatalf("after append: size %d, err %v", l.Size(), err)
	}
	if got := records(t, readFile(t, dir, entriesFile)); !bytes.Equal(bytes.Join(got[:3], nil), bytes.Join(recs, nil)) {
		t.Fatal("earlier entries changed")
	}
	// Two records beyond the checkpoint are not a crash.
	writeFile(t, dir, entriesFile, append(readFile(t, dir, entriesFile), append(bytes.Clone(rec3), rec3...)...))
	if _, err := Open(dir, testRoster(t)); err == nil || !strings.Contains(err.Error(), "beyond the checkpoint") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmptyLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lb")
	if err := Create(dir, testOrigin); err != nil {
		t.Fatal(err)
	}
	if err := Create(dir, testOrigin); err != nil {
		t.Fatalf("Create twice: %v", err)
	}
	if err := Create(dir, "breakglass.example/x"); err == nil {
		t.Fatal("Create with another origin succeeded")
	}
	l, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	if l.Size() != 0 || l.Checkpoint().N != 0 || l.Checkpoint().Hash != tlog.RecordHash(nil) && false {
		t.Fatalf("empty log: %+v", l.Checkpoint())
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none"), testRoster(t)); err == nil {
		t.Fatal("Open of a missing logbook succeeded")
	}
}

func TestQueries(t *testing.T) {
	dir, _ := buildLog(t, testOrigin, len(sampleEntries()))
	l, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	all := l.Entries()
	idx := func(es []*Entry) []int64 {
		var out []int64
		for _, e := range es {
			out = append(out, e.Index)
		}
		return out
	}
	for _, tt := range []struct {
		name string
		f    Filter
		want []int64
	}{
		{"all", Filter{}, []int64{0, 1, 2, 3, 4, 5, 6, 7}},
		{"secret", Filter{Secret: "prod-aws"}, []int64{2, 3, 4, 5, 6, 7}},
		{"since", Filter{Since: testT0.Add(61 * 60e9)}, []int64{4, 5, 6, 7}},
		{"kinds", Filter{Kinds: []Kind{KindTap, KindRelease}}, []int64{4, 5, 6}},
		{"actor", Filter{Actor: "carol", Secret: "prod-aws"}, []int64{3, 6, 7}},
		{"none", Filter{Secret: "other"}, nil},
	} {
		if got := idx(Select(all, tt.f)); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
	// Before the revoke, the release is open; after it, closed.
	if got := idx(OpenReleases(all[:7], "prod-aws")); fmt.Sprint(got) != "[6]" {
		t.Errorf("open releases before revoke: %v", got)
	}
	if got := OpenReleases(all, "prod-aws"); len(got) != 0 {
		t.Errorf("open releases after revoke: %v", idx(got))
	}
	// A revoke of another key id leaves the release open.
	other := &Entry{Index: 8, Kind: KindRevoke, Secret: "prod-aws", Details: map[string]string{DetailKeyID: "AKIAOTHER"}}
	if got := idx(OpenReleases(append(all[:7:7], other), "")); fmt.Sprint(got) != "[6]" {
		t.Errorf("open releases after revoking another key: %v", got)
	}
}

func TestExport(t *testing.T) {
	dir, _ := buildLog(t, testOrigin, len(sampleEntries()))
	l, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	// Text from people is escaped, not interpreted.
	if _, err := l.Append(l.Size(), Entry{Time: testT0, Kind: KindNote, Reason: "<script>alert(1)</script> *bold* [link](x)"}, testSigner(t, "bob")); err != nil {
		t.Fatal(err)
	}
	ckpt := string(l.Checkpoint().Signed)
	var md, html bytes.Buffer
	if err := WriteMarkdown(&md, l, l.Entries(), 3); err != nil {
		t.Fatal(err)
	}
	if err := WriteHTML(&html, l, l.Entries(), 3); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"md": md.String(), "html": html.String()} {
		if c := strings.Count(out, "page 3 of 3"); c != 1 {
			t.Errorf("%s: %d third pages", name, c)
		}
		for i := range l.Entries() {
			if !strings.Contains(out, fmt.Sprintf("Entry %d —", i)) {
				t.Errorf("%s: entry %d missing", name, i)
			}
		}
		// The signed checkpoint sits at the foot of every page.
		sigLine := ckpt[strings.LastIndex(ckpt, "— "):]
		if name == "md" && strings.Count(out, sigLine) != 3 {
			t.Errorf("%s: checkpoint signature appears %d times, want 3", name, strings.Count(out, sigLine))
		}
		if strings.Contains(out, "<script>") {
			t.Errorf("%s: a reason's markup came through unescaped", name)
		}
		if !strings.Contains(out, "Tree head after entry 5: size 6") {
			t.Errorf("%s: no tree head for page 2", name)
		}
	}
}
