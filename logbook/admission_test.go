package logbook

import (
	"bytes"
	"strings"
	"testing"
)

func fp(t testing.TB, name string) string {
	t.Helper()
	return fingerprintOf(t, name)
}

// admissionEntries are a genesis, an admit and a retire, marshalled as
// entries 0, 5 and 6.
func admissionTexts(t testing.TB) [][]byte {
	t.Helper()
	g := GenesisEntry(Genesis{Founders: []Member{{"alice", fp(t, "alice")}, {"bob", fp(t, "bob")}}, AdmitSigners: 2})
	g.Origin, g.Index, g.Time, g.Actor, g.Key, g.Reason = testOrigin, 0, testT0, "alice", fp(t, "alice"), "the case begins"
	a := AdmitEntry(Admit{Member: Member{"carol", fp(t, "carol")}, Enroll: 4})
	a.Origin, a.Index, a.Time, a.Actor, a.Key, a.Prev[0] = testOrigin, 5, testT0, "alice", fp(t, "alice"), 1
	r := RetireEntry(Member{"bob", fp(t, "bob")})
	r.Origin, r.Index, r.Time, r.Actor, r.Key, r.Reason, r.Prev[0] = testOrigin, 6, testT0, "alice", fp(t, "alice"), "card lost", 2
	var out [][]byte
	for _, e := range []Entry{g, a, r} {
		text, err := e.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, text)
	}
	return out
}

func TestAdmissionEntries(t *testing.T) {
	texts := admissionTexts(t)
	want := `breakglass.example/acme/prod
entry 0
time 2026-11-24T04:00:00Z
kind genesis
actor alice
key 7259 2171 d408 e64e
reason the case begins
detail admit-signers 2
detail founders alice+72592171d408e64e bob+` + strings.ReplaceAll(fp(t, "bob"), " ", "") + `
`
	if string(texts[0]) != want {
		t.Fatalf("genesis:\n%s\nwant:\n%s", texts[0], want)
	}
	for _, text := range texts {
		e, err := ParseEntryText(text)
		if err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
		again, _ := e.MarshalText()
		if !bytes.Equal(again, text) {
			t.Fatalf("round trip:\n%s", again)
		}
	}
	e, _ := ParseEntryText(texts[0])
	g, err := e.Genesis()
	if err != nil || len(g.Founders) != 2 || g.Founders[1] != (Member{"bob", fp(t, "bob")}) || g.AdmitSigners != 2 || g.Migration {
		t.Fatalf("Genesis() = %+v, %v", g, err)
	}
	e, _ = ParseEntryText(texts[1])
	a, err := e.Admit()
	if err != nil || a.Name != "carol" || a.Fingerprint != fp(t, "carol") || a.Enroll != 4 || a.Replaces != "" {
		t.Fatalf("Admit() = %+v, %v", a, err)
	}
	e, _ = ParseEntryText(texts[2])
	if m, err := e.Retired(); err != nil || m != (Member{"bob", fp(t, "bob")}) {
		t.Fatalf("Retired() = %+v, %v", m, err)
	}
}

func TestAdmissionEntryErrors(t *testing.T) {
	texts := admissionTexts(t)
	edit := func(i int, old, new string) string {
		s := string(texts[i])
		if !strings.Contains(s, old) {
			t.Fatalf("entry %d has no %q", i, old)
		}
		return strings.Replace(s, old, new, 1)
	}
	bobFP := strings.ReplaceAll(fp(t, "bob"), " ", "")
	tests := []struct{ name, text, want string }{
		{"founder without key", edit(0, "bob+"+bobFP, "bob"), `genesis: founder "bob": want NAME+FINGERPRINT`},
		{"founder key grouped", edit(0, "bob+"+bobFP, "bob+"+fp(t, "bob")), `genesis: founder "bob+`},
		{"founder twice", edit(0, "bob+"+bobFP, "alice+"+bobFP), "genesis: founder alice+" + bobFP + " is named twice"},
		{"founder key twice", edit(0, "bob+"+bobFP, "bob+72592171d408e64e"), "is named twice"},
		{"two spaces", edit(0, " bob+", "  bob+"), `genesis: founder ""`},
		{"policy too high", edit(0, "admit-signers 2", "admit-signers 3"), `genesis: admit-signers "3": want a number from 1 to the number of founders (2)`},
		{"policy zero", edit(0, "admit-signers 2", "admit-signers 0"), `admit-signers "0"`},
		{"policy missing", edit(0, "detail admit-signers 2\n", ""), "genesis: a genesis entry needs detail admit-signers"},
		{"migration at 0", edit(0, "detail founders", "detail migration yes\ndetail founders"), "genesis: a genesis after entry 0 has detail migration yes, and only such a genesis"},
		{"actor not a founder", edit(0, "actor alice", "actor carol"), "genesis: its actor carol (key 7259 2171 d408 e64e) is not one of its founders"},
		{"secret", edit(0, "reason the", "secret prod\nreason the"), "genesis: a genesis entry has no secret, header or use-case"},
		{"unknown detail", edit(1, "detail enroll 4", "detail email c@example.com\ndetail enroll 4"), "admit: an admit entry has no detail email"},
		{"admit enroll later", edit(1, "detail enroll 4", "detail enroll 5"), `admit: enroll "5": want the number of an earlier entry`},
		{"admit no enroll", edit(1, "detail enroll 4\n", ""), "admit: an admit entry needs detail enroll"},
		{"admit name with space", edit(1, "custodian carol", "custodian carol x"), `admit: custodian "carol x"`},
		{"admit bad fingerprint", edit(1, "detail fingerprint ", "detail fingerprint 0"), "admit: fingerprint"},
		{"admit replaces itself", edit(1, "detail enroll 4\n", "detail enroll 4\ndetail replaces "+fp(t, "carol")+"\n"), "want the fingerprint of another key"},
		{"details unsorted", edit(1, "detail fingerprint", "detail replaces "+fp(t, "bob")+"\ndetail fingerprint"), "not in canonical form"},
		{"retire without key", edit(2, "detail fingerprint "+fp(t, "bob")+"\n", ""), "retire: a retire entry needs detail fingerprint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEntryText([]byte(tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %q", err, tt.want)
			}
		})
	}
}

// A genesis signed by every founder: Append with cosigners writes one
// signature line each, the actor's first, and the checkpoint is the
// actor's alone.
func TestAppendCosigned(t *testing.T) {
	dir := t.TempDir() + "/logbook"
	if err := Create(dir, testOrigin); err != nil {
		t.Fatal(err)
	}
	l, err := Open(dir, testRoster(t))
	if err != nil {
		t.Fatal(err)
	}
	g := GenesisEntry(Genesis{Founders: []Member{{"alice", fp(t, "alice")}, {"bob", fp(t, "bob")}, {"carol", fp(t, "carol")}}, AdmitSigners: 1})
	g.Time = testT0
	ck, err := l.Append(0, g, testSigner(t, "alice"), testSigner(t, "bob"), testSigner(t, "carol"))
	if err != nil {
		t.Fatal(err)
	}
	rec := l.Entries()[0].Signed
	sigs := rec[bytes.Index(rec, []byte("\n\n"))+2:]
	if n := bytes.Count(sigs, []byte("— ")); n != 3 || !bytes.HasPrefix(sigs, []byte("— alice ")) {
		t.Fatalf("signature lines:\n%s", sigs)
	}
	if n := bytes.Count(ck.Signed, []byte("\n— ")); n != 1 || !bytes.Contains(ck.Signed, []byte("\n— alice ")) {
		t.Fatalf("checkpoint:\n%s", ck.Signed)
	}
	if _, err := Open(dir, testRoster(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(1, Entry{Kind: KindNote, Reason: "x"}, testSigner(t, "bob"), testSigner(t, "bob")); err == nil || !strings.Contains(err.Error(), "bob cosigns an entry it signs") {
		t.Fatalf("self-cosign: %v", err)
	}
}

// Two signature lines by one key: note.Open would check the first and drop
// the second unchecked; the logbook rejects the record.
func TestDuplicateSignatureLine(t *testing.T) {
	dir, _ := buildLog(t, testOrigin, 1)
	rec := readFile(t, dir, entriesFile)
	sig := rec[bytes.Index(rec, []byte("\n\n"))+2:]
	dup := append(bytes.Clone(rec), sig...)
	writeFile(t, dir, entriesFile, dup)
	_, err := openNote(dup, testRoster(t))
	if err == nil || !strings.Contains(describeNoteError(err), "has two signature lines by one key of alice (at most one per key)") {
		t.Fatalf("openNote: %v", err)
	}
	if _, err := Open(dir, testRoster(t)); err == nil {
		t.Fatal("Open accepted an entry with a duplicate signature line")
	}
}
