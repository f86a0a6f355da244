package session

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/breakglass/breakglass/internal/term"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/seal/ceremony"
	"github.com/breakglass/breakglass/token"
)

// people are the signers of a test logbook, each with a fresh P-256 key.
type people map[string]note.Signer

func newLog(t *testing.T, names ...string) (*logbook.Log, people) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "logbook")
	if err := logbook.Create(dir, "breakglass.example/test/case"); err != nil {
		t.Fatal(err)
	}
	ps := people{}
	var vs []note.Verifier
	for _, n := range names {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s, err := token.NewNoteSigner(n, crypto.Signer(k))
		if err != nil {
			t.Fatal(err)
		}
		v, err := token.NewNoteVerifier(n, &k.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		ps[n] = s
		vs = append(vs, v)
	}
	l, err := logbook.Open(dir, note.VerifierList(vs...))
	if err != nil {
		t.Fatal(err)
	}
	return l, ps
}

func (ps people) add(t *testing.T, l *logbook.Log, who string, e logbook.Entry) {
	t.Helper()
	if _, err := l.Append(l.Size(), e, ps[who]); err != nil {
		t.Fatalf("append %s: %v", e.Kind, err)
	}
}

func TestEntryCarriesTheSession(t *testing.T) {
	s := New("carol", "prod-aws", []byte{1, 2, 3})
	if len(s.ID) != 16 || strings.Trim(s.ID, "0123456789abcdef") != "" {
		t.Fatalf("session id %q: want 16 hex digits", s.ID)
	}
	if New("carol", "prod-aws", nil).ID == s.ID {
		t.Fatal("two sessions share an id")
	}
	s.SetRequest(approval.Request{Reason: "  SSO\noutage ", Ticket: "INC-1\t", UseCase: "idp"})
	e := s.Entry(logbook.KindUnsealStart, map[string]string{"output": "env", "concurrent-release": "", "x": " a\rb "})
	if e.Kind != logbook.KindUnsealStart || e.Secret != "prod-aws" || string(e.HeaderHash) != "\x01\x02\x03" {
		t.Fatalf("entry %+v: kind, secret or header hash lost", e)
	}
	if e.Reason != "SSO outage" || e.Ticket != "INC-1" || e.UseCase != "idp" {
		t.Fatalf("request fields %q %q %q: want one line, trimmed", e.Reason, e.Ticket, e.UseCase)
	}
	want := map[string]string{logbook.DetailOperator: "carol", logbook.DetailSession: s.ID, "output": "env", "x": "a b"}
	if fmt.Sprint(e.Details) != fmt.Sprint(want) {
		t.Fatalf("details %v, want %v (empty values dropped)", e.Details, want)
	}
	// Entries do not share their details.
	e.Details["output"] = "changed"
	if s.Entry(logbook.KindDrill, nil).Details["output"] != "" {
		t.Fatal("an entry's details leak into the next")
	}
}

// TestTapKeepsTheApproval: a tap entry carries the whole approval and its
// signature, so that the logbook says exactly what each custodian approved
// and anyone can check it with the custodian's signing key. (A real
// approval is about 250 bytes, 340 in base64; the entry used to cut every
// detail at 300 bytes.)
func TestTapKeepsTheApproval(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	req := approval.Request{Action: "unseal", Operator: "carol", Reason: "SSO outage: the identity provider is down", Ticket: "INC-4711", UseCase: "SSO is down"}
	msg := approval.Message("prod-aws", [32]byte{1, 2, 3}, req, "alice", time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC))
	sig, err := approval.Sign(key, msg)
	if err != nil {
		t.Fatal(err)
	}
	s := New("carol", "prod-aws", nil)
	e := s.Tap(&approval.Approval{Custodian: "alice", Token: "piv 1", Message: msg, Signature: sig, KeyFingerprint: "3f2a 91c0"})
	got, err := base64.StdEncoding.DecodeString(e.Details["approval"])
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("approval detail (%d bytes) decodes to %q, %v; want the %d-byte message", len(e.Details["approval"]), got, err, len(msg))
	}
	gotSig, err := base64.StdEncoding.DecodeString(e.Details["approval-signature"])
	if err != nil || approval.Verify(&key.PublicKey, got, gotSig) != nil {
		t.Fatalf("the approval in the entry does not verify: %v", err)
	}
}

func TestTap(t *testing.T) {
	s := New("carol", "prod-aws", nil)
	paper := s.Tap(&approval.Approval{Custodian: "alice", Token: "paper", Message: []byte("msg")})
	if paper.Kind != logbook.KindTap || paper.Details["custodian"] != "alice" || paper.Details["token"] != "paper" ||
		paper.Details["approval"] != base64.StdEncoding.EncodeToString([]byte("msg")) || paper.Details[logbook.DetailSession] != s.ID {
		t.Fatalf("paper tap %v", paper.Details)
	}
	if _, ok := paper.Details["approval-signature"]; ok {
		t.Fatal("an unsigned approval has a signature detail")
	}
	a := &approval.Approval{Custodian: "bob", Token: "piv 1", Message: []byte("msg"), Signature: []byte("sig"), KeyFingerprint: "3f2a 91c0"}
	signed := s.Tap(a)
	if signed.Details["approval-signature"] != base64.StdEncoding.EncodeToString([]byte("sig")) ||
		signed.Details["approval-key"] != "3f2a91c0" || signed.Details["approval-fingerprint"] != strings.ReplaceAll(a.Fingerprint(), " ", "") {
		t.Fatalf("signed tap %v", signed.Details)
	}
	if got := Tapped([]*approval.Approval{{Custodian: "alice"}, {Custodian: "bob"}}); got != "alice,bob" {
		t.Fatalf("Tapped = %q", got)
	}
}

func TestAbort(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("tap: %w", term.ErrInterrupted), "interrupted: the operator stopped the unseal (Ctrl-C)"},
		{&ceremony.StopError{Window: 5 * time.Minute}, "timed out: the unseal window of 5m0s ran out"},
		{nil, "ended without a release"},
		{errors.New("card\nremoved"), "failed: card\nremoved"},
	} {
		if got := AbortReason(c.err); got != c.want {
			t.Errorf("AbortReason(%v) = %q, want %q", c.err, got, c.want)
		}
	}
	s := New("carol", "prod-aws", nil)
	e := s.Abort(errors.New("card\nremoved"), "alice", 7)
	if e.Kind != logbook.KindNote || e.Reason != "failed: card removed" || e.Details[logbook.DetailAction] != logbook.ActionAbort ||
		e.Details[DetailUnsealStart] != "7" || e.Details[logbook.DetailTapped] != "alice" || e.Details[logbook.DetailSession] != s.ID {
		t.Fatalf("abort %+v", e)
	}
	// An abort closes the session it names.
	st := s.Entry(logbook.KindUnsealStart, nil)
	st.Index = 7
	if open := logbook.OpenSessions([]*logbook.Entry{&st, &e}); len(open) != 0 {
		t.Fatalf("the abort left %d sessions open", len(open))
	}
}

func TestOneReleaseAtATime(t *testing.T) {
	l, ps := newLog(t, "alice", "bob")
	if err := CheckOpenRelease(l.Entries(), "prod-aws"); err != nil {
		t.Fatalf("no release yet: %v", err)
	}
	alice := New("alice", "prod-aws", nil)
	alice.SetRequest(approval.Request{Ticket: "INC-1"})
	ps.add(t, l, "alice", alice.Entry(logbook.KindRelease, nil))
	var oe *OpenReleaseError
	if err := CheckOpenRelease(l.Entries(), "prod-aws"); !errors.As(err, &oe) || oe.Who != "alice" ||
		!strings.Contains(err.Error(), "released to alice") || !strings.Contains(err.Error(), "ticket INC-1") {
		t.Fatalf("CheckOpenRelease = %v, want alice's open release", err)
	}
	if err := CheckOpenRelease(l.Entries(), "other"); err != nil {
		t.Fatalf("another secret: %v", err)
	}

	bob := New("bob", "prod-aws", nil)
	calls := 0
	err := AppendRelease(l, "prod-aws", false, func(int64) error { calls++; return nil })
	var re *RaceError
	if !errors.As(err, &re) || calls != 0 {
		t.Fatalf("AppendRelease over an open release = %v after %d appends, want a RaceError and none", err, calls)
	}
	err = AppendRelease(l, "prod-aws", true, func(size int64) error {
		_, err := l.Append(size, bob.Entry(logbook.KindRelease, nil), ps["bob"])
		return err
	})
	if err != nil || l.Size() != 2 {
		t.Fatalf("a concurrent release: %v (size %d)", err, l.Size())
	}
}

func TestAppendReleaseChecksAgainAfterAConflict(t *testing.T) {
	l, ps := newLog(t, "alice", "bob")
	bob := New("bob", "prod-aws", nil)
	var sizes []int64
	err := AppendRelease(l, "prod-aws", false, func(size int64) error {
		sizes = append(sizes, size)
		if len(sizes) == 1 {
			// alice's release lands during bob's taps.
			ps.add(t, l, "alice", New("alice", "prod-aws", nil).Entry(logbook.KindRelease, nil))
		}
		_, err := l.Append(size, bob.Entry(logbook.KindRelease, nil), ps["bob"])
		return err
	})
	var re *RaceError
	if !errors.As(err, &re) || len(sizes) != 1 || l.Size() != 1 {
		t.Fatalf("AppendRelease = %v (appends at %v, size %d), want a RaceError after one conflict", err, sizes, l.Size())
	}
	always := AppendRelease(l, "other", false, func(int64) error { return &logbook.ConflictError{} })
	if !errors.Is(always, ErrBusy) {
		t.Fatalf("a logbook that keeps changing: %v", always)
	}
}

func TestCloseUnterminated(t *testing.T) {
	l, ps := newLog(t, "alice", "bob", "carol")
	killed := New("carol", "prod-aws", make([]byte, 32))
	killed.SetRequest(approval.Request{Ticket: "INC-2", UseCase: "idp"})
	ps.add(t, l, "carol", killed.Entry(logbook.KindUnsealStart, nil))
	ps.add(t, l, "alice", killed.Tap(&approval.Approval{Custodian: "alice", Token: "paper"}))
	running := New("bob", "db", nil)
	ps.add(t, l, "bob", running.Entry(logbook.KindUnsealStart, nil))
	lock, err := Hold(running.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()

	appendAt := func(size int64, e logbook.Entry) error {
		_, err := l.Append(size, e, ps["bob"])
		return err
	}
	// A stale size appends nothing: the caller's append reports the conflict.
	if n, err := CloseUnterminated(l, 1, appendAt, nil); n != 0 || err != nil || l.Size() != 3 {
		t.Fatalf("stale size: %d, %v", n, err)
	}
	var found []string
	n, err := CloseUnterminated(l, 3, appendAt, func(st *logbook.Entry) { found = append(found, Starter(st)) })
	if n != 1 || err != nil || fmt.Sprint(found) != "[carol]" {
		t.Fatalf("CloseUnterminated = %d, %v, found %v; want carol's session only", n, err, found)
	}
	e := l.Entries()[3]
	want := UnterminatedAbort(l.Entries()[:3], l.Entries()[0])
	if e.Kind != logbook.KindNote || e.Reason != UnterminatedReason || e.Ticket != "INC-2" || e.UseCase != "idp" ||
		e.Details[logbook.DetailSession] != killed.ID || e.Details[DetailUnsealStart] != "0" ||
		e.Details[logbook.DetailTapped] != "alice" || e.Details[logbook.DetailOperator] != "carol" || fmt.Sprint(e.Details) != fmt.Sprint(want.Details) {
		t.Fatalf("abort %+v", e)
	}
	open := logbook.OpenSessions(l.Entries())
	if len(open) != 1 || open[0].Details[logbook.DetailSession] != running.ID {
		t.Fatalf("open sessions after: %v", open)
	}
	// Once bob's process is gone, his session is unterminated too.
	lock.Release()
	if n, err := CloseUnterminated(l, -1, appendAt, nil); n != 1 || err != nil {
		t.Fatalf("after release: %d, %v", n, err)
	}
}

func TestLock(t *testing.T) {
	id := NewID()
	if Running(id) {
		t.Fatal("a session nobody holds is running")
	}
	lock, err := Hold(id)
	if err != nil {
		t.Fatal(err)
	}
	if !Running(id) {
		t.Fatal("a held session is not running")
	}
	path := lockPath(id)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no lock file: %v", err)
	}
	lock.Release()
	if Running(id) {
		t.Fatal("a released session is running")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the lock file outlives its release: %v", err)
	}
	// A file left behind by a killed process holds no lock.
	stale := NewID()
	if err := os.WriteFile(lockPath(stale), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if Running(stale) {
		t.Fatal("a stale lock file counts as running")
	}
	RemoveLock(stale)
	if _, err := os.Stat(lockPath(stale)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("RemoveLock left the file")
	}
	// Ids the logbook could carry are never paths.
	for _, bad := range []string{"", "../../etc/passwd", "ABC", strings.Repeat("a", 65)} {
		if lockPath(bad) != "" {
			t.Errorf("lockPath(%q) is a path", bad)
		}
		if _, err := Hold(bad); err == nil {
			t.Errorf("Hold(%q) took a lock", bad)
		}
	}
}

func TestShown(t *testing.T) {
	s := New("alice", "prod-aws", nil)
	tap := s.Tap(&approval.Approval{Custodian: "erin", Token: "paper"})
	tap.Actor = "alice"
	own := s.Tap(&approval.Approval{Custodian: "bob", Token: "piv 1"})
	own.Actor = "bob"
	if got := ShownActor(&tap); got != "erin (paper, recorded by alice)" {
		t.Errorf("recorded tap: %q", got)
	}
	if got := ShownActor(&own); got != "bob" {
		t.Errorf("own tap: %q", got)
	}
	abort := s.Abort(nil, "bob", 3)
	if ShownKind(&abort) != "abort" || ShownKind(&tap) != "tap" {
		t.Errorf("kinds %q %q", ShownKind(&abort), ShownKind(&tap))
	}
	if got, want := Result(&abort), "session "+s.ID+" (unseal-start 3), tapped bob"; got != want {
		t.Errorf("abort result %q, want %q", got, want)
	}
	drill := s.Entry(logbook.KindDrill, map[string]string{logbook.DetailResult: "fail", "error": "card removed"})
	if got := Result(&drill); got != "fail, no taps: card removed" {
		t.Errorf("drill result %q", got)
	}
	if got := Result(&tap); got != "" {
		t.Errorf("tap result %q", got)
	}
}
