package token

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testTime = time.Date(2026, 11, 24, 5, 51, 2, 0, time.UTC)

func signedRecord(t testing.TB, tok *softToken) *Record {
	t.Helper()
	r, err := NewRecord(Custodian{Name: "alice", Email: "alice@example.com", Team: "sre"}, tok.Info(),
		tok.kx.PublicKey(), tok.sig.Public(), testTime)
	if err != nil {
		t.Fatal(err)
	}
	r.Keys.KeyAgreement.PINPolicy, r.Keys.KeyAgreement.TouchPolicy = "once", "always"
	r.Keys.Signing.PINPolicy, r.Keys.Signing.TouchPolicy = "once", "cached"
	if err := r.Sign(tok.sig); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRecordRoundTrip(t *testing.T) {
	tok := newSoftToken(t, "18392011")
	r := signedRecord(t, tok)
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseRecord(b)
	if err != nil {
		t.Fatalf("ParseRecord: %v\n%s", err, b)
	}
	if err := p.Verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := p.Matches(tok); err != nil {
		t.Fatalf("Matches: %v", err)
	}
	if err := p.Challenge(tok); err != nil {
		t.Fatalf("Challenge: %v", err)
	}
	again, _ := p.Marshal()
	if !bytes.Equal(again, b) {
		t.Fatal("marshal after parse differs")
	}
	if p.Fingerprint() != r.Keys.Signing.Fingerprint || len(p.Fingerprint()) != 19 {
		t.Fatalf("fingerprint %q", p.Fingerprint())
	}
}

func TestPaperRecord(t *testing.T) {
	r := NewPaperRecord(Custodian{Name: "dave", Team: "security"}, "safe 2, HQ", testTime)
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Verify(); err != nil {
		t.Fatal(err)
	}
	if p.Keys != nil || p.Paper.Location != "safe 2, HQ" {
		t.Fatalf("paper record: %+v", p)
	}
	if err := p.Matches(newSoftToken(t, "1")); !errors.Is(err, ErrWrongToken) {
		t.Fatalf("paper record matched a token: %v", err)
	}
}

// TestRecordTamper edits one field at a time, keeping the canonical form, and
// checks that verification fails naming that field.
func TestRecordTamper(t *testing.T) {
	tok := newSoftToken(t, "18392011")
	other := newSoftToken(t, "20044187")
	otherRec := signedRecord(t, other)
	tests := []struct {
		field string
		edit  func(r *Record)
		want  string
	}{
		{"custodian.name", func(r *Record) { r.Custodian.Name = "mallory" }, "custodian.name: was changed"},
		{"custodian.email", func(r *Record) { r.Custodian.Email = "mallory@example.com" }, "custodian.email: was changed"},
		{"custodian.email", func(r *Record) { r.Custodian.Email = "" }, "custodian.email: was removed"},
		{"custodian.team", func(r *Record) { r.Custodian.Team = "" }, "custodian.team: was removed"},
		{"token.serial", func(r *Record) { r.Token.Serial = "1" }, "token.serial: was changed"},
		{"token.label", func(r *Record) { r.Token.Label = "x" }, "token.label: was added"},
		{"token.uri", func(r *Record) { r.Token.URI = "piv:serial=1" }, "token.uri: was changed"},
		{"enrolled-at", func(r *Record) { r.EnrolledAt = "2027-01-01T00:00:00Z" }, "enrolled-at: was changed"},
		{"pin-policy", func(r *Record) { r.Keys.KeyAgreement.PINPolicy = "never" }, "keys.key-agreement.pin-policy: was changed"},
		{"touch-policy", func(r *Record) { r.Keys.Signing.TouchPolicy = "never" }, "keys.signing.touch-policy: was changed"},
		{"slot", func(r *Record) { r.Keys.KeyAgreement.ID = "83" }, "keys.key-agreement.id: was changed"},
		{"public key swapped", func(r *Record) {
			r.Keys.KeyAgreement.PublicKey = otherRec.Keys.KeyAgreement.PublicKey
			r.Keys.KeyAgreement.Fingerprint = otherRec.Keys.KeyAgreement.Fingerprint
		}, "keys.key-agreement.public-key: was changed"},
		{"fingerprint", func(r *Record) { r.Keys.Signing.Fingerprint = "0000 0000 0000 0000" }, "keys.signing.fingerprint: does not match"},
		{"digest too", func(r *Record) {
			r.Custodian.Name = "mallory"
			r.Digests["custodian.name"] = fieldDigest("custodian.name", "mallory")
		}, "signature: does not verify"},
		{"signature", func(r *Record) { r.Signature = otherRec.Signature }, "signature: does not verify"},
		{"all of it", func(r *Record) {
			r.Keys = otherRec.Keys
			r.Digests = otherRec.Digests
			r.Signature = otherRec.Signature
		}, "token.serial: was changed"}, // other's digests name the first differing field
		{"unknown digest", func(r *Record) { r.Digests["x"] = "00" }, `field-digests: lists unknown field "x"`},
		{"kind", func(r *Record) { r.Token.Kind = "tpm" }, `token.kind: unknown kind "tpm"`},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			r := signedRecord(t, tok)
			tt.edit(r)
			b, err := r.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParseRecord(b)
			if err == nil {
				err = p.Verify()
			}
			if err == nil {
				t.Fatal("tampered record verified")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestRecordTamperBytes edits the JSON text the way a person with an editor
// would, and checks the error names the field or the line.
func TestRecordTamperBytes(t *testing.T) {
	tok := newSoftToken(t, "18392011")
	b, _ := signedRecord(t, tok).Marshal()
	tests := []struct {
		name, old, new, want string
	}{
		{"email", `"alice@example.com"`, `"eve@example.com"`, "custodian.email: was changed"},
		{"name spacing", `"name": "alice"`, `"name":"alice"`, "not in canonical form at line 4"},
		{"name and spacing", `"name": "alice"`, `"name":"eve"`, "custodian.name: was changed"},
		{"unknown field", `"team": "sre"`, `"team": "sre", "role": "x"`, `unknown field "role"`},
		{"format", RecordFormat, "breakglass.enrollment/v2", "newer than this breakglass understands"},
		{"not json", `{`, `[`, "not JSON"},
		{"trailing", "\"\n}\n", "\"\n}\n{}", "trailing data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Contains(b, []byte(tt.old)) {
				t.Fatalf("test data lacks %q", tt.old)
			}
			mangled := bytes.Replace(b, []byte(tt.old), []byte(tt.new), 1)
			p, err := ParseRecord(mangled)
			if err == nil {
				err = p.Verify()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	// Every single-byte change is caught.
	for i := range b {
		m := bytes.Clone(b)
		m[i] ^= 0x01
		p, err := ParseRecord(m)
		if err == nil {
			err = p.Verify()
		}
		if err == nil {
			t.Fatalf("flipping a bit of byte %d (%q) went unnoticed", i, b[i])
		}
	}
}

func TestWrongToken(t *testing.T) {
	alice := newSoftToken(t, "18392011")
	bob := newSoftToken(t, "20044187")
	r := signedRecord(t, alice)
	err := r.Matches(bob)
	var wt *WrongTokenError
	if !errors.As(err, &wt) || !errors.Is(err, ErrWrongToken) {
		t.Fatalf("Matches(bob) = %v", err)
	}
	if wt.Expected != "alice" || wt.Token != "piv 20044187" {
		t.Fatalf("WrongTokenError %+v", wt)
	}
	// Same public keys, different private key: Challenge catches it.
	liar := newSoftToken(t, "18392011")
	liar.kx, liar.sig = bob.kx, alice.sig
	r2 := signedRecord(t, alice)
	r2.Keys.KeyAgreement, _ = newRecordKey("82", alice.kx.PublicKey())
	if err := r2.Challenge(liar); !errors.Is(err, ErrWrongToken) {
		t.Fatalf("Challenge(liar) = %v", err)
	}
}

func TestSignWrongKey(t *testing.T) {
	alice := newSoftToken(t, "1")
	bob := newSoftToken(t, "2")
	r, _ := NewRecord(Custodian{Name: "alice"}, alice.Info(), alice.kx.PublicKey(), alice.sig.Public(), testTime)
	if err := r.Sign(bob.sig); err == nil {
		t.Fatal("signed with another token's key")
	}
}

func TestFingerprint(t *testing.T) {
	tok := newSoftToken(t, "1")
	fp, err := Fingerprint(tok.sig.Public())
	if err != nil {
		t.Fatal(err)
	}
	if len(fp) != 19 || strings.Count(fp, " ") != 3 {
		t.Fatalf("fingerprint %q", fp)
	}
	fp2, _ := Fingerprint(&tok.sig.PublicKey)
	if fp != fp2 {
		t.Fatal("fingerprint not stable")
	}
}

func FuzzParseRecord(f *testing.F) {
	tok := newSoftToken(f, "18392011")
	b, _ := signedRecord(f, tok).Marshal()
	f.Add(b)
	p, _ := NewPaperRecord(Custodian{Name: "dave"}, "safe", testTime).Marshal()
	f.Add(p)
	if seeds, _ := filepath.Glob("testdata/*.card.json"); len(seeds) > 0 {
		for _, s := range seeds {
			if b, err := os.ReadFile(s); err == nil {
				f.Add(b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRecord(b)
		if err != nil {
			if r != nil {
				t.Fatal("non-nil record with an error")
			}
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("accepted a second encoding of the same record:\n%q\n%q", b, out)
		}
	})
}
