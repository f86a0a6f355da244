package witness

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestOfflineExchange: a request file taken to a witness, and its answer
// brought back, whether bare cosignature lines or a cosigned checkpoint.
func TestOfflineExchange(t *testing.T) {
	alice := newPerson(t, "alice")
	w := startWitness(t, "w1.example", alice)
	c := mustConfig(t, configFor(1, "5s", w))
	l, dir := newLog(t, alice, 3, "a")

	req, err := Request(l, 0)
	if err != nil {
		t.Fatal(err)
	}
	cosigs, _, err := w.AddCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	// Bare lines are for the latest checkpoint only: after another entry
	// they verify against nothing.
	appendNotes(t, l, alice, 1, "a")
	var re *ResponseError
	if _, err := StoreResponse(dir, l.Checkpoint().Signed, cosigs, c); !errors.As(err, &re) {
		t.Fatalf("stale cosignature lines: %v, want a ResponseError", err)
	}
	if st := check(t, l, dir, c); st.Witnessed != 0 {
		t.Fatalf("a refused response stored something: %q", st.Summary())
	}

	req, err = Request(l, 0)
	if err != nil {
		t.Fatal(err)
	}
	// w has cosigned size 3: a request from 0 is refused, from 3 accepted.
	if _, _, err := w.AddCheckpoint(req); err == nil {
		t.Fatal("the witness accepted a request from the wrong old size")
	}
	if req, err = Request(l, 3); err != nil {
		t.Fatal(err)
	}
	cosigs, cosigned, err := w.AddCheckpoint(req)
	if err != nil {
		t.Fatal(err)
	}
	// A tampered line does not verify.
	bad := slices.Clone(cosigs)
	bad[len(bad)-3] ^= 1
	if _, err := StoreResponse(dir, l.Checkpoint().Signed, bad, c); !errors.As(err, &re) {
		t.Fatalf("tampered cosignature: %v, want a ResponseError", err)
	}
	names, err := StoreResponse(dir, l.Checkpoint().Signed, cosigned, c)
	if err != nil || fmt.Sprint(names) != "[w1.example]" {
		t.Fatalf("cosigned checkpoint: %v, %v", names, err)
	}
	st := check(t, l, dir, c)
	if st.Witnessed != 4 {
		t.Fatalf("after the response: %q", st.Summary())
	}
	// The stored checkpoint keeps alice's signature.
	notes, err := readCosigned(dir, testOrigin)
	if err != nil || len(notes) != 1 || len(notes[0].lines) != 2 {
		t.Fatalf("cosigned file: %v, %v", notes, err)
	}
}

func TestEvidence(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&Error{Kind: Ahead}, true},
		{fmt.Errorf("cosign: %w", &Error{Kind: Inconsistent}), true},
		{&Error{Kind: Unreachable}, false},
		{&Error{Kind: UnknownLog}, false},
		{errors.New("ahead"), false},
		{nil, false},
	} {
		if got := Evidence(c.err); got != c.want {
			t.Errorf("Evidence(%v) = %v", c.err, got)
		}
	}
}
