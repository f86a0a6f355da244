package remote

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/token"
)

// custodian is a software stand-in for a token: its two keys.
type custodian struct {
	kx  *ecdh.PrivateKey
	sig *ecdsa.PrivateKey
}

func newCustodian(t testing.TB) custodian {
	kx, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return custodian{kx, sig}
}

// sealTo seals secret 2 of len(cs) to the custodians and parses it.
func sealTo(t testing.TB, name, secret string, cs []custodian) *seal.File {
	t.Helper()
	p := seal.Params{Name: name, SealedBy: "t", Threshold: 2, UseCases: []string{"SSO is down"}}
	for i, c := range cs {
		r, err := seal.TagRecipient(c.kx.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		fp, _ := token.Fingerprint(&c.sig.PublicKey)
		p.Custodians = append(p.Custodians, seal.Custodian{Name: []string{"alice", "bob", "carol"}[i], Kind: seal.KindPIV,
			Fingerprint: strings.ReplaceAll(fp, " ", ""), Recipient: r.String()})
	}
	var b bytes.Buffer
	if _, err := seal.Seal(&b, strings.NewReader(secret), p, nil); err != nil {
		t.Fatal(err)
	}
	f, err := seal.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

var now = time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC)

// exchange runs the custodian's side for custodian idx and returns the
// response as text.
func exchange(t testing.TB, f *seal.File, req *Request, c custodian, idx int) []byte {
	t.Helper()
	resp, _, err := Answer(f, req, idx, c.kx, c.sig, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	b, err := resp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	cs := []custodian{newCustodian(t), newCustodian(t), newCustodian(t)}
	f := sealTo(t, "prod", "the secret", cs)
	req, id, err := NewRequest(f, "dana", "SSO\noutage", "INC-1", "SSO is down", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	text := req.Marshal()
	got, err := ParseRequest(text)
	if err != nil {
		t.Fatal(err)
	}
	if *got != *req || got.Reason != "SSO outage" || req.CheckFile(f) != nil || req.Expired(now.Add(59*time.Minute)) || !req.Expired(now.Add(61*time.Minute)) {
		t.Fatalf("request round trip: %+v", got)
	}

	u := f.NewUnseal()
	for _, idx := range []int{1, 2} {
		resp, err := ParseResponse(exchange(t, f, got, cs[idx], idx))
		if err != nil {
			t.Fatal(err)
		}
		m, a, err := resp.Open(f, req, id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Index != idx || a.Token != "remote" || approval.Verify(&cs[idx].sig.PublicKey, a.Message, a.Signature) != nil {
			t.Fatalf("approval %+v", a)
		}
		if !bytes.Contains(a.Message, []byte("\nrequest: "+req.ID+"\n")) || !bytes.Contains(a.Message, []byte("\noperator: dana\n")) {
			t.Fatalf("approval does not name the request and operator:\n%s", a.Message)
		}
		if n, err := u.AddMnemonic(string(m)); err != nil || n != idx {
			t.Fatalf("AddMnemonic = %d, %v", n, err)
		}
	}
	// The two remote shares rebuild the identity the header names.
	if err := u.Drill(); err != nil {
		t.Fatal(err)
	}
}

// TestRejects: each response the operator must refuse, and why.
func TestRejects(t *testing.T) {
	cs := []custodian{newCustodian(t), newCustodian(t), newCustodian(t)}
	f := sealTo(t, "prod", "the secret", cs)
	other := sealTo(t, "staging", "harmless", cs)
	req, id, _ := NewRequest(f, "dana", "r", "T", "SSO is down", now, time.Hour)
	req2, id2, _ := NewRequest(f, "dana", "r", "T", "SSO is down", now, time.Hour)
	good := exchange(t, f, req, cs[1], 1)

	edit := func(old, new string) []byte { return bytes.Replace(good, []byte(old), []byte(new), 1) }
	impostor := newCustodian(t)
	forOther, _, _ := NewRequest(other, "dana", "r", "T", "SSO is down", now, time.Hour)
	forOther.ID, forOther.Recipient = req.ID, req.Recipient
	spliced := exchange(t, other, forOther, cs[1], 1)
	byImpostor := func() []byte {
		resp, _, err := Answer(f, req, 1, cs[1].kx, impostor.sig, now)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := resp.Marshal()
		return b
	}()
	for _, tc := range []struct {
		name string
		resp []byte
		req  *Request
		id   *age.X25519Identity
		want error
	}{
		{"another request", good, req2, id2, ErrOtherRequest},
		{"another request's key", good, req, id2, ErrNotOpened},
		{"custodian renamed", edit("custodian: bob\n", "custodian: carol\n"), req, id, ErrNotMarked},
		{"index changed", edit("index: 1\n", "index: 2\n"), req, id, ErrNotMarked},
		{"a share of another secret", spliced, req, id, ErrOtherFile},
		{"signed by a key not enrolled", byImpostor, req, id, ErrNotEnrolled},
		{"approval time changed", edit("approval-time: 2026-11-24T04:01:00Z", "approval-time: 2026-11-24T04:02:00Z"), req, id, approval.ErrBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := ParseResponse(tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			m, a, err := resp.Open(f, tc.req, tc.id)
			var re *RejectError
			if !errors.Is(err, tc.want) || !errors.As(err, &re) || m != nil || a != nil {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestCheckFile(t *testing.T) {
	cs := []custodian{newCustodian(t), newCustodian(t)}
	f := sealTo(t, "prod", "s", cs)
	other := sealTo(t, "prod", "s2", cs)
	req, _, _ := NewRequest(f, "dana", "r", "T", "SSO is down", now, time.Hour)
	for _, tc := range []struct {
		name  string
		edit  func(r *Request)
		file  *seal.File
		field string
	}{
		{"another version", func(r *Request) {}, other, "header-hash"},
		{"another secret", func(r *Request) { r.Secret = "staging" }, f, "secret"},
		{"a use case not sealed", func(r *Request) { r.UseCase = "curious" }, f, "use-case"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := *req
			tc.edit(&r)
			var me *MismatchError
			if err := r.CheckFile(tc.file); !errors.As(err, &me) || me.Field != tc.field {
				t.Fatalf("got %v, want a %s mismatch", err, tc.field)
			}
		})
	}
}

func FuzzParseRequest(f *testing.F) {
	cs := []custodian{newCustodian(f), newCustodian(f)}
	file := sealTo(f, "prod", "s", cs)
	req, _, _ := NewRequest(file, "dana", "r", "T", "SSO is down", now, time.Hour)
	f.Add(req.Marshal())
	f.Add(bytes.Replace(req.Marshal(), []byte("Z\n"), []byte("+00:00\n"), 1))
	f.Add([]byte(requestBegin + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			if r != nil {
				t.Fatal("a rejected request returned a value")
			}
			return
		}
		if out := r.Marshal(); !bytes.Equal(out, b) {
			t.Fatalf("accepted a second encoding:\n%q\nre-encodes as\n%q", b, out)
		}
	})
}

func FuzzParseResponse(f *testing.F) {
	cs := []custodian{newCustodian(f), newCustodian(f)}
	file := sealTo(f, "prod", "s", cs)
	req, _, _ := NewRequest(file, "dana", "r", "T", "SSO is down", now, time.Hour)
	good := exchange(f, file, req, cs[0], 0)
	f.Add(good)
	f.Add(bytes.Replace(good, []byte("index: 0"), []byte("index: 00"), 1))
	f.Add([]byte(responseBegin + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseResponse(b)
		if err != nil {
			if r != nil {
				t.Fatal("a rejected response returned a value")
			}
			return
		}
		out, err := r.Marshal()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("accepted a second encoding:\n%q\nre-encodes as\n%q (%v)", b, out, err)
		}
	})
}
