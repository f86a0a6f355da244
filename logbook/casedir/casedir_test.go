package casedir

import (
	"bytes"
	"crypto/ecdsa"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breakglass/breakglass/token/tokentest"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
)

func writeRecord(t testing.TB, r *token.Record, path string) {
	t.Helper()
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// newCase is a case with alice and bob (software tokens) and erin (paper),
// and a logbook.
func newCase(t *testing.T) (*Case, map[string]*token.Record, map[string]*ecdsa.PrivateKey) {
	dir := t.TempDir()
	recs, keys := map[string]*token.Record{}, map[string]*ecdsa.PrivateKey{}
	for _, n := range []string{"alice", "bob"} {
		recs[n], keys[n] = tokentest.SoftRecord(t, n)
		writeRecord(t, recs[n], filepath.Join(dir, CustodiansDir, n+".card.json"))
	}
	recs["erin"] = token.NewPaperRecord(token.Custodian{Name: "erin"}, "safe", time.Now())
	writeRecord(t, recs["erin"], filepath.Join(dir, "erin.card.json"))
	if err := logbook.Create(filepath.Join(dir, LogbookDir), "breakglass.example/test/casedir"); err != nil {
		t.Fatal(err)
	}
	c, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, recs, keys
}

func sealFor(t *testing.T, recs ...*token.Record) *seal.File {
	t.Helper()
	p := seal.Params{Name: "demo", SealedBy: "alice", Threshold: 1}
	for _, r := range recs {
		cu, err := seal.CustodianOf(r)
		if err != nil {
			t.Fatal(err)
		}
		p.Custodians = append(p.Custodians, cu)
	}
	var b bytes.Buffer
	if _, err := seal.Seal(&b, strings.NewReader("s"), p, nil); err != nil {
		t.Fatal(err)
	}
	f, err := seal.Parse(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRecordsAndAppend(t *testing.T) {
	c, recs, keys := newCase(t)
	got, err := c.Records()
	if err != nil || len(got) != 3 {
		t.Fatalf("records: %d, %v", len(got), err)
	}
	f := sealFor(t, recs["alice"], recs["bob"])
	h := f.HeaderHash()

	// No seal entry yet: the header is not vouched for.
	l, _ := c.Log()
	var he *HeaderError
	if err := CheckLoggedHeader(l, f); !errors.As(err, &he) || he.Entry != nil {
		t.Fatalf("unlogged header: %v", err)
	}
	// alice appends the seal; bob's key cannot sign as alice.
	e := logbook.Entry{Kind: logbook.KindSeal, Secret: "demo", HeaderHash: h[:], Reason: "test"}
	var wt *WrongTokenError
	if _, err := c.Append(-1, e, recs["alice"], keys["bob"]); !errors.As(err, &wt) {
		t.Fatalf("signed with another's key: %v", err)
	}
	if _, err := c.Append(-1, e, recs["alice"], keys["alice"]); err != nil {
		t.Fatal(err)
	}
	if err := CheckLoggedHeader(l, f); err != nil {
		t.Fatalf("logged header: %v", err)
	}
	if other := sealFor(t, recs["alice"]); !errors.As(CheckLoggedHeader(l, other), &he) || he.Entry == nil {
		t.Fatal("a header other than the logged one passed")
	}
	// Check-then-append: a stale size is a conflict.
	var ce *logbook.ConflictError
	if _, err := c.Append(0, logbook.Entry{Kind: logbook.KindNote, Reason: "late"}, recs["bob"], keys["bob"]); !errors.As(err, &ce) {
		t.Fatalf("stale size: %v", err)
	}
	// Paper custodians and strangers cannot sign.
	if _, err := c.Append(-1, e, recs["erin"], keys["bob"]); !errors.Is(err, ErrNoSigner) {
		t.Fatalf("paper signer: %v", err)
	}
	mallory, mk := tokentest.SoftRecord(t, "mallory")
	var nr *NotInRosterError
	if _, err := c.Append(-1, e, mallory, mk); !errors.As(err, &nr) {
		t.Fatalf("stranger: %v", err)
	}
}

func TestRecordsRefusesABadRecord(t *testing.T) {
	c, recs, _ := newCase(t)
	b, _ := recs["bob"].Marshal()
	path := filepath.Join(c.Dir, CustodiansDir, "bob.card.json")
	os.WriteFile(path, bytes.Replace(b, []byte(`"bob"`), []byte(`"eve"`), 1), 0o644)
	var re *RecordError
	if _, err := c.Records(); !errors.As(err, &re) || re.Path != path || re.Read {
		t.Fatalf("edited record: %v", err)
	}
}

func TestPerson(t *testing.T) {
	c, _, _ := newCase(t)
	if r, err := c.Person("alice"); err != nil || r.Custodian.Name != "alice" {
		t.Fatalf("alice: %v", err)
	}
	var ne *NotEnrolledError
	if _, err := c.Person("erin"); !errors.As(err, &ne) || strings.Join(ne.Names, ",") != "alice,bob" {
		t.Fatalf("a paper custodian acts: %v", err)
	}
}

func TestCheckEnrolledRoster(t *testing.T) {
	c, recs, _ := newCase(t)
	if err := c.CheckEnrolledRoster(sealFor(t, recs["alice"], recs["erin"]).Header, nil); err != nil {
		t.Fatal(err)
	}
	mallory, _ := tokentest.SoftRecord(t, "mallory")
	var re *RosterError
	if err := c.CheckEnrolledRoster(sealFor(t, recs["alice"], mallory).Header, nil); !errors.As(err, &re) || re.Custodian != "mallory" {
		t.Fatalf("a stranger passed: %v", err)
	}
	// alice's fingerprint under bob's name.
	f := sealFor(t, recs["alice"])
	h := *f.Header
	h.Groups = []seal.Group{{Threshold: 1, Custodians: []seal.Custodian{h.Groups[0].Custodians[0]}}}
	h.Groups[0].Custodians[0].Name = "bob"
	if err := c.CheckEnrolledRoster(&h, nil); !errors.As(err, &re) || re.Record == "" {
		t.Fatalf("a renamed custodian passed: %v", err)
	}
	boom := errors.New("attestation")
	if err := c.CheckEnrolledRoster(sealFor(t, recs["alice"]).Header, func(*token.Record, string) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("attestation not asked: %v", err)
	}
}

func TestActorName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"Alice Smith", "Alice_Smith"},
		{"Dave O+Brien", "Dave_O-Brien"},
		{"José\tGarcía", "José_García"},
		{"a\u2003b", "a_b"},
		{"bad\x00name", ""},
	} {
		got, err := ActorName(&token.Record{Custodian: token.Custodian{Name: tc.in}})
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("ActorName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
