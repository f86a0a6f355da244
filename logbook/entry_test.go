package logbook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func sampleText(t testing.TB) []byte {
	t.Helper()
	x := sampleEntries()[6]
	e := x.e
	e.Origin, e.Index, e.Actor, e.Key = testOrigin, 6, x.who, "7793 c1e3 265e 8602"
	e.Prev[0] = 1
	text, err := e.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestEntryRoundTrip(t *testing.T) {
	text := sampleText(t)
	want := `breakglass.example/acme/prod
entry 6
time 2026-11-24T05:03:00Z
kind release
actor carol
key 7793 c1e3 265e 8602
secret prod-aws
header dd9eb4f5533b015e8c62adb97a905a2941635d886c7e9954427730c2c408560a
reason SSO outage, console unreachable
ticket INC-4242
use-case idp-outage
detail key-id AKIAEXAMPLE000000001
detail operator carol
detail session 7f3a
detail tapped alice,bob
prev AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=
`
	if string(text) != want {
		t.Fatalf("MarshalText:\n%s\nwant:\n%s", text, want)
	}
	e, err := ParseEntryText(text)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.MarshalText()
	if err != nil || !bytes.Equal(again, text) {
		t.Fatalf("round trip: %v\n%s", err, again)
	}
}

func TestParseEntryTextErrors(t *testing.T) {
	good := string(sampleText(t))
	edit := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("sample has no %q", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	tests := []struct {
		name, text, want string
	}{
		{"no final newline", strings.TrimSuffix(good, "\n"), "entry text does not end in a newline"},
		{"empty origin", edit("breakglass.example/acme/prod\n", "\n"), `origin "": want a non-empty name without spaces or '+'`},
		{"leading zero", edit("entry 6\n", "entry 06\n"), `line 2: entry number "06": want a decimal number without leading zeros`},
		{"negative", edit("entry 6\n", "entry -6\n"), `line 2: entry number "-6": want a decimal number without leading zeros`},
		{"local time", edit("05:03:00Z", "05:03:00+01:00"), `line 3: time "2026-11-24T05:03:00+01:00": want UTC like 2026-01-02T15:04:05Z`},
		{"fractional time", edit("05:03:00Z", "05:03:00.5Z"), `line 3: time "2026-11-24T05:03:00.5Z": want UTC like 2026-01-02T15:04:05Z`},
		{"unknown kind", edit("kind release", "kind witness"), `line 4: unknown entry kind "witness" (written by a newer breakglass? upgrade to read this logbook)`},
		{"fields swapped", edit("kind release\nactor carol\n", "actor carol\nkind release\n"), `line 4: got "actor", want "kind"`},
		{"missing key", edit("key 7793 c1e3 265e 8602\n", ""), `line 6: got "secret", want "key"`},
		{"uppercase header", edit("header dd9e", "header DD9E"), `line 8: header hash "DD9Eb4f5533b015e8c62adb97a905a2941635d886c7e9954427730c2c408560a": want 64 lowercase hex digits`},
		{"details unsorted", edit("detail key-id AKIAEXAMPLE000000001\ndetail operator carol\n", "detail operator carol\ndetail key-id AKIAEXAMPLE000000001\n"), "line 12: not in canonical form"},
		{"detail repeated", edit("detail session 7f3a\n", "detail operator bob\n"), `line 14: detail "operator" repeated`},
		{"detail without value", edit("detail session 7f3a\n", "detail session\n"), "detail session is empty"},
		{"trailing space", edit("ticket INC-4242\n", "ticket INC-4242 \n"), "ticket starts or ends with a space"},
		{"empty value", edit("ticket INC-4242\n", "ticket \n"), `line 10: got "ticket", want "prev"`},
		{"tab in value", edit("reason SSO outage", "reason SSO\toutage"), "reason contains a control character or newline"},
		{"unknown field", edit("ticket INC-4242\n", "ticket INC-4242\nseverity high\n"), `line 11: got "severity", want "prev"`},
		{"no prev", edit("prev AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", ""), `line 16: missing "prev"`},
		{"short prev", edit("prev AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "prev AQAA"), `line 16: previous tree hash "AQAA": want the canonical base64 of 32 bytes`},
		{"prev padding bits", edit("prev AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "prev AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB="),
			`line 16: previous tree hash "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=": want the canonical base64 of 32 bytes`},
		{"malformed key", edit("key 7793 c1e3 265e 8602", "key 7793c1e3265e8602"), `line 6: key "7793c1e3265e8602": want the signing key's fingerprint, four groups of four lowercase hex digits`},
		{"uppercase key", edit("key 7793 c1e3 265e 8602", "key 7793 C1E3 265e 8602"), `line 6: key "7793 C1E3 265e 8602": want the signing key's fingerprint, four groups of four lowercase hex digits`},
		{"blank line", edit("ticket INC-4242\n", "ticket INC-4242\n\n"), `line 11: got "", want "prev"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEntryText([]byte(tt.text))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("err = %v\nwant  %s", err, tt.want)
			}
		})
	}
	_, err := ParseEntryText([]byte(edit("kind release", "kind witness")))
	var uk *UnknownKindError
	if !errors.As(err, &uk) || uk.Kind != "witness" {
		t.Fatalf("unknown kind: err %v is not an *UnknownKindError", err)
	}
}

func TestParseCheckpointText(t *testing.T) {
	good := "breakglass.example/acme/prod\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
	c, err := ParseCheckpointText([]byte(good))
	if err != nil || c.Origin != testOrigin || c.N != 7 {
		t.Fatalf("%+v, %v", c, err)
	}
	withExt := good + "extension line\n"
	if c, err := ParseCheckpointText([]byte(withExt)); err != nil || len(c.Extensions) != 1 {
		t.Fatalf("extension: %+v, %v", c, err)
	}
	for _, bad := range []string{
		"", good[:len(good)-1], "o\n1\n",
		strings.Replace(good, "\n7\n", "\n07\n", 1),
		strings.Replace(good, "\n7\n", "\n-1\n", 1),
		strings.Replace(good, "2I=", "2J=", 1), // non-canonical base64
		strings.Replace(good, "2I=", "2I", 1),
		good + "\n", // empty extension line
		"breakglass example\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
	} {
		if _, err := ParseCheckpointText([]byte(bad)); err == nil {
			t.Errorf("ParseCheckpointText(%q) succeeded", bad)
		}
	}
}

// FuzzParseEntryText checks that the entry parser accepts exactly one
// encoding of each entry: whatever parses marshals back to the same bytes.
func FuzzParseEntryText(f *testing.F) {
	f.Add(sampleText(f))
	// The same entry with its prev in a non-canonical base64 spelling.
	f.Add(bytes.Replace(sampleText(f), []byte("AAAAAA=\n"), []byte("AAAAAB=\n"), 1))
	for _, x := range sampleEntries() {
		e := x.e
		e.Origin, e.Actor, e.Key = testOrigin, x.who, "7259 2171 d408 e64e"
		if text, err := e.MarshalText(); err == nil {
			f.Add(text)
		}
	}
	for _, text := range admissionTexts(f) {
		f.Add(text)
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		e, err := ParseEntryText(text)
		if err != nil {
			if e != nil {
				t.Fatal("error with a non-nil entry")
			}
			return
		}
		again, err := e.MarshalText()
		if err != nil {
			t.Fatalf("parsed entry does not marshal: %v", err)
		}
		if !bytes.Equal(again, text) {
			t.Fatalf("accepted a second encoding:\n%q\ncanonical:\n%q", text, again)
		}
	})
}

// FuzzParseCheckpointText is the same property for checkpoints.
func FuzzParseCheckpointText(f *testing.F) {
	f.Add([]byte("breakglass.example/acme/prod\n7\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"))
	f.Add([]byte("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next\n"))
	f.Add([]byte("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=\n")) // non-zero padding bits
	f.Fuzz(func(t *testing.T, text []byte) {
		c, err := ParseCheckpointText(text)
		if err != nil {
			return
		}
		again, err := c.MarshalText()
		if err != nil {
			t.Fatalf("parsed checkpoint does not marshal: %v", err)
		}
		if !bytes.Equal(again, text) {
			t.Fatalf("accepted a second encoding:\n%q\ncanonical:\n%q", text, again)
		}
	})
}

// FuzzOpenCheckpoint checks that a signed checkpoint has one encoding:
// whatever OpenCheckpoint accepts has every signature line in canonical
// base64, so no second spelling of a signature verifies.
func FuzzOpenCheckpoint(f *testing.F) {
	_, ckpts := buildLog(f, testOrigin, 3)
	for _, c := range ckpts {
		f.Add(c)
		if b, ok := flipSigPadding(c); ok {
			f.Add(b)
		}
	}
	roster := testRoster(f)
	f.Fuzz(func(t *testing.T, signed []byte) {
		if _, err := OpenCheckpoint(signed, roster); err != nil {
			return
		}
		split := bytes.LastIndex(signed, []byte("\n\n"))
		for _, l := range strings.Split(strings.TrimSuffix(string(signed[split+2:]), "\n"), "\n") {
			b64 := l[strings.LastIndexByte(l, ' ')+1:]
			raw, err := base64.StdEncoding.DecodeString(b64)
			if err != nil || base64.StdEncoding.EncodeToString(raw) != b64 {
				t.Fatalf("accepted a signature line in non-canonical base64: %q", l)
			}
		}
	})
}

// FuzzEntriesFile feeds arbitrary bytes as the entries file of a logbook
// with a valid checkpoint: Open must fail cleanly or return entries whose
// signed bytes make up the file's committed part exactly.
func FuzzEntriesFile(f *testing.F) {
	dir0, _ := buildLog(f, testOrigin, 2)
	orig := readFile(f, dir0, entriesFile)
	f.Add(orig)
	f.Add(orig[:len(orig)/2])
	f.Add(append(bytes.Clone(orig), orig...))
	roster := testRoster(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := copyDir(t, dir0)
		writeFile(t, dir, entriesFile, data)
		l, err := Open(dir, roster)
		if err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is %T, want *VerifyError", err, err)
			}
			return
		}
		var got []byte
		for _, e := range l.Entries() {
			got = append(got, e.Signed...)
		}
		if !bytes.HasPrefix(data, got) || !bytes.Equal(got, orig) {
			t.Fatalf("Open accepted entries that differ from the signed ones")
		}
	})
}
