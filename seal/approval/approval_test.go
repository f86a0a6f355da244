package approval

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	testHash = [32]byte{1, 2, 3}
	testTime = time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)
)

func TestMessage(t *testing.T) {
	m := string(Message("n", testHash, Request{Action: "unseal", Operator: "op", Reason: "a\nb", Ticket: "T-1", UseCase: "u"}, "a", testTime))
	want := "breakglass tap approval v1\naction: unseal\nsecret: n\nheader-hash: " + hex.EncodeToString(testHash[:]) +
		"\ncustodian: a\noperator: op\nreason: a b\nticket: T-1\nuse-case: u\ntime: 2026-11-24T04:00:00Z\n"
	if m != want {
		t.Fatalf("message:\n%s\nwant\n%s", m, want)
	}
	if r := string(Message("n", testHash, Request{Action: "x", RequestID: "9f"}, "a", testTime)); !strings.Contains(r, "\nrequest: 9f\ntime: ") {
		t.Fatalf("a remote tap's request id is not bound:\n%s", r)
	}
}

// TestMessageBindsEveryField: what the card signs changes with every field.
func TestMessageBindsEveryField(t *testing.T) {
	base := Request{Action: "unseal", Operator: "op", Reason: "r", Ticket: "T", UseCase: "u"}
	seen := map[string]string{string(Message("n", testHash, base, "a", testTime)): "base"}
	add := func(name string, m []byte) {
		if prev, ok := seen[string(m)]; ok {
			t.Errorf("%s signs the same message as %s", name, prev)
		}
		seen[string(m)] = name
	}
	for name, r := range map[string]Request{
		"action":   {Action: "drill", Operator: "op", Reason: "r", Ticket: "T", UseCase: "u"},
		"operator": {Action: "unseal", Operator: "op2", Reason: "r", Ticket: "T", UseCase: "u"},
		"reason":   {Action: "unseal", Operator: "op", Reason: "r2", Ticket: "T", UseCase: "u"},
		"ticket":   {Action: "unseal", Operator: "op", Reason: "r", Ticket: "T2", UseCase: "u"},
		"use case": {Action: "unseal", Operator: "op", Reason: "r", Ticket: "T", UseCase: "u2"},
		"request":  {Action: "unseal", Operator: "op", Reason: "r", Ticket: "T", UseCase: "u", RequestID: "ab"},
	} {
		add(name, Message("n", testHash, r, "a", testTime))
	}
	add("secret", Message("m", testHash, base, "a", testTime))
	add("header hash", Message("n", [32]byte{9}, base, "a", testTime))
	add("custodian", Message("n", testHash, base, "b", testTime))
	add("time", Message("n", testHash, base, "a", testTime.Add(time.Second)))
}

func TestSignVerify(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	msg := Message("n", testHash, Request{Action: "unseal"}, "a", testTime)
	sig, err := Sign(k, msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(&k.PublicKey, msg, sig); err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, err := range map[string]error{
		"another message": Verify(&k.PublicKey, append(msg, 'x'), sig),
		"another key":     Verify(&other.PublicKey, msg, sig),
		"no key":          Verify(nil, msg, sig),
	} {
		if !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	a := &Approval{Message: msg, Signature: sig}
	if f := a.Fingerprint(); len(f) != 19 || strings.Count(f, " ") != 3 {
		t.Fatalf("fingerprint %q", f)
	}
}
