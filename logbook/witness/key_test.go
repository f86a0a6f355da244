package witness

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	sigsumcp "sigsum.org/sigsum-go/pkg/checkpoint"
	sigsumcrypto "sigsum.org/sigsum-go/pkg/crypto"
)

const testCheckpoint = "breakglass.example/acme/prod\n8\n7gdFL2XVENtRUbIJ5w2mjp2o7WH1i7XOe+QtwBfMGKg=\n"

func TestKeyRoundTrip(t *testing.T) {
	skey, vkey, err := GenerateKey("witness.example.com/security")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(skey, "PRIVATE+KEY+witness.example.com/security+") || !strings.HasPrefix(vkey, "witness.example.com/security+") {
		t.Fatalf("keys %q, %q", skey, vkey)
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	if VerifierKey(s) != vkey {
		t.Fatalf("torchwood's verifier key %q, GenerateKey's %q", VerifierKey(s), vkey)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if v.Name() != s.Name() || v.KeyHash() != s.KeyHash() || v.String() != vkey {
		t.Fatalf("verifier %s %08x, signer %s %08x", v.Name(), v.KeyHash(), s.Name(), s.KeyHash())
	}
	signed, err := note.Sign(&note.Note{Text: testCheckpoint}, s)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	ts, err := Timestamp(n.Sigs[0])
	if err != nil || time.Since(ts) > time.Minute || time.Until(ts) > time.Minute {
		t.Fatalf("timestamp %v, %v", ts, err)
	}
	// A mangled checkpoint or signature does not verify.
	if _, err := note.Open(bytes.Replace(signed, []byte("\n8\n"), []byte("\n9\n"), 1), note.VerifierList(v)); err == nil {
		t.Fatal("a cosignature verified for another tree size")
	}
	sig := n.Sigs[0]
	raw, _ := base64.StdEncoding.DecodeString(sig.Base64)
	binary.BigEndian.PutUint64(raw[4:], binary.BigEndian.Uint64(raw[4:])+1)
	if v.Verify([]byte(testCheckpoint), raw[4:]) {
		t.Fatal("a cosignature verified with another timestamp")
	}
	if v.Verify([]byte("not a checkpoint\n"), raw[4:]) {
		t.Fatal("verified a non-checkpoint")
	}
}

func TestKeyRejects(t *testing.T) {
	skey, vkey, _ := GenerateKey("w.example")
	_, edvkey, _ := note.GenerateKey(nil, "w.example")
	for _, tc := range []struct{ vkey, want string }{
		{"", "malformed witness key"},
		{"w.example+1234+AAAA", "malformed witness key"},
		{edvkey, "signature type 0x01, want 0x04"},
		{strings.Replace(vkey, "w.example+", "w2.example+", 1), "key ID does not match"},
		{vkey[:len(vkey)-4], "want type 0x04 and a 32-byte Ed25519 public key"},
		{skey, "malformed witness key"},
	} {
		if _, err := NewVerifier(tc.vkey); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewVerifier(%q) = %v; want an error containing %q", tc.vkey, err, tc.want)
		}
	}
	for _, tc := range []struct{ skey, want string }{
		{vkey, "not a witness private key"},
		{strings.Replace(skey, "+w.example+", "+w3.example+", 1), "key ID does not match"},
	} {
		if _, err := NewSigner(tc.skey); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewSigner(%q) = %v; want an error containing %q", tc.skey, err, tc.want)
		}
	}
	if _, _, err := GenerateKey("two words"); err == nil {
		t.Error("GenerateKey accepted a name with a space")
	}
}

// TestCosignatureInteropSigsum checks cosignature/v1 against an independent
// implementation, sigsum-go: its cosignatures verify with ours, and ours
// (made by torchwood's signer) with its verifier.
func TestCosignatureInteropSigsum(t *testing.T) {
	const name = "witness.example.com/sigsum"
	pub, signer, err := sigsumcrypto.NewKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	var cp sigsumcp.Checkpoint
	cp.Origin = testOrigin
	cp.Size = 8
	cp.RootHash, _ = sigsumcrypto.HashFromBase64("7gdFL2XVENtRUbIJ5w2mjp2o7WH1i7XOe+QtwBfMGKg=")
	if got := cp.FormatCheckpoint(cp.Origin); got != testCheckpoint {
		t.Fatalf("sigsum formats the checkpoint as %q", got)
	}

	// sigsum-go cosigns; breakglass verifies.
	cs, err := cp.Cosign(signer, uint64(time.Now().Unix()))
	if err != nil {
		t.Fatal(err)
	}
	var line bytes.Buffer
	(&sigsumcp.CosignatureLine{KeyName: name, KeyId: sigsumcp.NewWitnessKeyId(name, &pub), Cosignature: cs}).ToASCII(&line)
	vkey := sigsumcp.NewNoteVerifier(name, sigsumcp.SigTypeCosignature, &pub)
	v, err := NewVerifier(vkey.String())
	if err != nil {
		t.Fatalf("sigsum's verifier key %q: %v", vkey.String(), err)
	}
	if _, err := note.Open([]byte(testCheckpoint+"\n"+line.String()), note.VerifierList(v)); err != nil {
		t.Fatalf("sigsum-go's cosignature does not verify with ours: %v\n%s", err, line.String())
	}

	// torchwood cosigns (as log witness serve does); sigsum-go verifies.
	priv := sigsumcrypto.PrivateKey(signer.Private())
	ts, err := torchwood.NewCosignatureSigner(name, ed25519.NewKeyFromSeed(priv[:]))
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: testCheckpoint}, ts)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := sigsumcp.CosignatureLinesFromASCII(bytes.NewReader(signed[len(testCheckpoint)+1:]))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cp.VerifyCosignatureByKey(lines, &pub); err != nil {
		t.Fatalf("sigsum-go rejects torchwood's cosignature: %v", err)
	}
	if VerifierKey(ts) != vkey.String() {
		t.Fatalf("torchwood's verifier key %q, sigsum's %q", VerifierKey(ts), vkey.String())
	}
}
