package aws

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const testSecretKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

func TestSealedKeyRoundTrip(t *testing.T) {
	k := &Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: []byte(testSecretKey)}
	b, err := MarshalSealedKey(k)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"` + testSecretKey + `"}`
	if string(b) != want {
		t.Fatalf("marshal = %s, want %s", b, want)
	}
	// It is the credential_process shape any AWS client reads.
	var cp struct {
		Version         int
		AccessKeyId     string
		SecretAccessKey string
	}
	if err := json.Unmarshal(b, &cp); err != nil || cp.Version != 1 || cp.AccessKeyId != k.AccessKeyID || cp.SecretAccessKey != testSecretKey {
		t.Fatalf("not credential_process JSON: %+v, %v", cp, err)
	}
	got, err := ParseSealedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.AccessKeyID != k.AccessKeyID || string(got.SecretAccessKey) != testSecretKey {
		t.Fatalf("parse = %s", got.AccessKeyID)
	}
	// The parsed secret is a copy: wiping the plaintext leaves it intact,
	// and Wipe clears it.
	clear(b)
	if string(got.SecretAccessKey) != testSecretKey {
		t.Fatal("the parsed secret aliases the plaintext")
	}
	got.Wipe()
	if !bytes.Equal(got.SecretAccessKey, make([]byte, len(testSecretKey))) {
		t.Fatal("Wipe left the secret")
	}
}

func TestParseSealedKeyRejects(t *testing.T) {
	good := `{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"` + testSecretKey + `"}`
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"trailing newline", good + "\n"},
		{"spaces", strings.Replace(good, `,"Secret`, `, "Secret`, 1)},
		{"version 2", strings.Replace(good, `"Version":1`, `"Version":2`, 1)},
		{"lower-case key id", strings.Replace(good, "AKIAIOSFODNN7EXAMPLE", "akiaiosfodnn7example", 1)},
		{"short secret", strings.Replace(good, testSecretKey, "abc", 1)},
		{"quote in secret", strings.Replace(good, testSecretKey, testSecretKey+`","X":"`, 1)},
		{"session token", strings.Replace(good, `"}`, `","SessionToken":"x"}`, 1)},
		{"other secret", "correct horse battery staple"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseSealedKey([]byte(tt.in))
			if err == nil || k != nil {
				t.Fatalf("accepted %q", tt.in)
			}
			if strings.Contains(err.Error(), testSecretKey) {
				t.Fatal("the error quotes the secret")
			}
		})
	}
}

func FuzzParseSealedKey(f *testing.F) {
	f.Add([]byte(`{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"` + testSecretKey + `"}`))
	f.Add([]byte(`{"Version":1,"AccessKeyId":"A","SecretAccessKey":"B"}`))
	f.Add([]byte(`{"Version":1,"AccessKeyId":"AKIAIOSFODNN7EXAMPLE","SecretAccessKey":"","SecretAccessKey":"` + testSecretKey + `"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseSealedKey(b)
		if err != nil {
			return
		}
		// One encoding only: what parses marshals back to the input.
		out, err := MarshalSealedKey(k)
		if err != nil {
			t.Fatalf("parsed key does not marshal: %v", err)
		}
		if !bytes.Equal(out, b) {
			t.Fatalf("accepted a second encoding: %q → %q", b, out)
		}
		// And it means the same to a JSON reader.
		var cp struct{ AccessKeyId, SecretAccessKey string }
		if err := json.Unmarshal(b, &cp); err != nil || cp.AccessKeyId != k.AccessKeyID || cp.SecretAccessKey != string(k.SecretAccessKey) {
			t.Fatalf("JSON reads %q differently: %+v %v", b, cp, err)
		}
	})
}

func TestReadSealedKey(t *testing.T) {
	k := &Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: []byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")}
	b, err := MarshalSealedKey(k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadSealedKey(bytes.NewReader(b), k.AccessKeyID)
	if err != nil || got.AccessKeyID != k.AccessKeyID || !bytes.Equal(got.SecretAccessKey, k.SecretAccessKey) {
		t.Fatalf("ReadSealedKey = %+v, %v", got, err)
	}
	var me *KeyIDMismatchError
	if _, err := ReadSealedKey(bytes.NewReader(b), "AKIAOTHEROTHEROTHER0"); !errors.As(err, &me) || me.Sealed != k.AccessKeyID {
		t.Errorf("another key id: %v", err)
	}
	if _, err := ReadSealedKey(bytes.NewReader(bytes.Repeat([]byte("x"), MaxSealedKey+1)), k.AccessKeyID); !errors.Is(err, ErrSealedKeyTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if _, err := ReadSealedKey(strings.NewReader("not a key"), k.AccessKeyID); err == nil {
		t.Error("garbage accepted")
	}
}
