package casedir

import (
	"errors"
	"slices"
	"testing"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/tokentest"
)

func TestNewGenesis(t *testing.T) {
	c, recs, keys := newCase(t)
	p := people{recs, keys}
	g, err := NewGenesis([]*token.Record{recs["alice"], recs["bob"]}, 2, false)
	if err != nil || len(g.Founders) != 2 || g.Founders[0] != p.member("alice") || g.Founders[1] != p.member("bob") || g.AdmitSigners != 2 || g.Migration {
		t.Fatalf("NewGenesis = %+v, %v", g, err)
	}
	// The genesis it builds is one the replay accepts.
	if _, err := c.AppendCosigned(-1, logbook.GenesisEntry(g), recs["alice"], keys["alice"], p.co("bob")...); err != nil {
		t.Fatal(err)
	}
	var pe *PolicyRangeError
	for _, k := range []int{0, 3} {
		if _, err := NewGenesis([]*token.Record{recs["alice"], recs["bob"]}, k, false); !errors.As(err, &pe) || pe.Founders != 2 {
			t.Errorf("admit-signers %d: %v", k, err)
		}
	}
	addRecord(t, c, p, "alice2", "alice")
	var de *DuplicateFounderError
	if _, err := NewGenesis([]*token.Record{recs["alice"], p.recs["alice2"]}, 1, true); !errors.As(err, &de) || de.Name != "alice" {
		t.Fatalf("two records named alice: %v", err)
	}
}

func TestAdmitRules(t *testing.T) {
	c, p := admittingCase(t, 1)
	addRecord(t, c, p, "carol", "carol")
	c = reopen(t, c)
	a, err := c.Admission()
	if err != nil {
		t.Fatal(err)
	}
	recs, err := c.Records()
	if err != nil {
		t.Fatal(err)
	}
	if w := a.Waiting(recs, "carol"); len(w) != 1 || w[0].Fingerprint() != p.recs["carol"].Fingerprint() {
		t.Fatalf("Waiting(carol) = %v", w)
	}
	if w := a.Waiting(recs, "alice"); len(w) != 0 {
		t.Fatalf("an admitted token waits: %v", w)
	}
	var ne *NoEnrollError
	if _, err := a.Admit(p.recs["carol"]); !errors.As(err, &ne) {
		t.Fatalf("admit before enrolling: %v", err)
	}
	if _, err := c.Append(-1, logbook.Entry{Kind: logbook.KindEnroll, Reason: "enroll carol"}, p.recs["carol"], p.keys["carol"]); err != nil {
		t.Fatal(err)
	}
	c = reopen(t, c)
	a, _ = c.Admission()
	ad, err := a.Admit(p.recs["carol"])
	if err != nil || ad.Member != p.member("carol") || ad.Enroll != 1 || ad.Replaces != "" {
		t.Fatalf("Admit(carol) = %+v, %v", ad, err)
	}
	// The admit it builds is one the replay accepts.
	if _, err := c.Append(-1, logbook.AdmitEntry(ad), p.recs["alice"], p.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	c = reopen(t, c)
	a, _ = c.Admission()
	var ae *AdmittedError
	if _, err := a.Admit(p.recs["carol"]); !errors.As(err, &ae) || ae.Since != 2 {
		t.Fatalf("admitting carol twice: %v", err)
	}

	// A new card of alice replaces her admitted one.
	addRecord(t, c, p, "alice2", "alice")
	c = reopen(t, c)
	if _, err := c.Append(-1, logbook.Entry{Kind: logbook.KindEnroll, Reason: "enroll alice"}, p.recs["alice2"], p.keys["alice2"]); err != nil {
		t.Fatal(err)
	}
	c = reopen(t, c)
	a, _ = c.Admission()
	if ad, err := a.Admit(p.recs["alice2"]); err != nil || ad.Replaces != p.recs["alice"].Fingerprint() {
		t.Fatalf("Admit(alice's new card) = %+v, %v", ad, err)
	}
}

func TestRetireRules(t *testing.T) {
	c, p := admittingCase(t, 2)
	a, _ := c.Admission()
	var tf *TooFewLeftError
	if err := a.CheckRetire(p.member("alice")); !errors.As(err, &tf) || tf.Left != 1 || tf.Policy != 2 {
		t.Fatalf("retiring one of two with admit-signers 2: %v", err)
	}
	c, p = admittingCase(t, 1)
	a, _ = c.Admission()
	if err := a.CheckRetire(p.member("bob")); err != nil {
		t.Fatalf("retiring bob: %v", err)
	}
	addRecord(t, c, p, "carol", "carol")
	var nr *NotRetirableError
	if err := a.CheckRetire(p.member("carol")); !errors.As(err, &nr) || nr.RetiredAt != -1 {
		t.Fatalf("retiring a token never admitted: %v", err)
	}
	if _, err := c.Append(-1, logbook.RetireEntry(p.member("bob")), p.recs["alice"], p.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	a, _ = reopen(t, c).Admission()
	if err := a.CheckRetire(p.member("bob")); !errors.As(err, &nr) || nr.RetiredAt != 1 || nr.Error() != p.member("bob").String()+" was retired already (entry 1)" {
		t.Fatalf("retiring bob twice: %v", err)
	}
}

func TestNotAdmittedReason(t *testing.T) {
	c, p := admittingCase(t, 1)
	addRecord(t, c, p, "carol", "carol")
	if _, err := c.Append(-1, logbook.RetireEntry(p.member("bob")), p.recs["alice"], p.keys["alice"]); err != nil {
		t.Fatal(err)
	}
	a, _ := reopen(t, c).Admission()
	if got := a.NotAdmittedReason(p.recs["bob"].Fingerprint()); got != "retired in entry 1" {
		t.Errorf("bob: %q", got)
	}
	if got := a.NotAdmittedReason(p.recs["carol"].Fingerprint()); got != "never admitted" {
		t.Errorf("carol: %q", got)
	}
}

func TestFounders(t *testing.T) {
	c, recs, _ := newCase(t)
	person := func(n string) (*token.Record, error) {
		if r, ok := recs[n]; ok {
			return r, nil
		}
		return nil, &NotEnrolledError{Name: n, Dir: c.Dir}
	}
	for _, tc := range []struct {
		names   []string
		want    []string
		wantErr bool
	}{
		{nil, []string{"alice", "bob"}, false}, // every record with a token: not erin (paper)
		{[]string{"bob"}, []string{"bob"}, false},
		{[]string{"bob", "alice", "bob"}, []string{"bob", "alice"}, false},
		{[]string{"alice", "mallory"}, nil, true},
	} {
		got, err := c.Founders(tc.names, person)
		var ne *NotEnrolledError
		if tc.wantErr != errors.As(err, &ne) || (err != nil && !tc.wantErr) {
			t.Errorf("Founders(%q): %v", tc.names, err)
			continue
		}
		var names []string
		for _, r := range got {
			names = append(names, r.Custodian.Name)
		}
		if !slices.Equal(names, tc.want) {
			t.Errorf("Founders(%q) = %q, want %q", tc.names, names, tc.want)
		}
	}
}

func TestGenesisSigners(t *testing.T) {
	_, recs, keys := newCase(t)
	recs["carol"], keys["carol"] = tokentest.SoftRecord(t, "carol")
	founders := []*token.Record{recs["alice"], recs["bob"], recs["carol"]}
	person := func(n string) (*token.Record, error) {
		if r, ok := recs[n]; ok {
			return r, nil
		}
		return nil, &NotEnrolledError{Name: n}
	}
	for _, tc := range []struct {
		name      string
		migration bool
		k         int
		as        []string
		want      []string
		wantErr   any // nil, a sentinel, or a pointer to an error type
	}{
		{"new logbook: every founder", false, 2, nil, []string{"alice", "bob", "carol"}, nil},
		{"new logbook: --as refused", false, 1, []string{"alice"}, nil, ErrNewGenesisSigners},
		{"migration: every founder by default", true, 2, nil, []string{"alice", "bob", "carol"}, nil},
		{"migration: the named, in order", true, 2, []string{"carol", "alice"}, []string{"carol", "alice"}, nil},
		{"migration: a name twice counts once", true, 2, []string{"bob", "bob"}, nil, new(*TooFewSignersError)},
		{"migration: fewer than admit-signers", true, 3, []string{"alice", "bob"}, nil, new(*TooFewSignersError)},
		{"migration: not a founder", true, 1, []string{"alice", "erin"}, nil, new(*NotFounderError)},
		{"migration: unknown name", true, 1, []string{"mallory", "alice"}, nil, new(*NotEnrolledError)},
		{"migration: one of one", true, 1, []string{"bob"}, []string{"bob"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := logbook.Genesis{AdmitSigners: tc.k, Migration: tc.migration}
			got, err := GenesisSigners(g, founders, tc.as, person)
			switch want := tc.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatalf("GenesisSigners: %v", err)
				}
			case error:
				if !errors.Is(err, want) {
					t.Fatalf("GenesisSigners: %v, want %v", err, want)
				}
			default:
				if !errors.As(err, want) {
					t.Fatalf("GenesisSigners: %v, want a %T", err, want)
				}
			}
			var names []string
			for _, r := range got {
				names = append(names, r.Custodian.Name)
			}
			if !slices.Equal(names, tc.want) {
				t.Fatalf("signers %q, want %q", names, tc.want)
			}
		})
	}
	var nf *NotFounderError
	if _, err := GenesisSigners(logbook.Genesis{AdmitSigners: 1, Migration: true}, founders, []string{"erin"}, person); !errors.As(err, &nf) || nf.Name != "erin" {
		t.Fatalf("not a founder: %v, want one naming erin", err)
	}
	var tf *TooFewSignersError
	if _, err := GenesisSigners(logbook.Genesis{AdmitSigners: 3, Migration: true}, founders, []string{"alice", "bob", "alice"}, person); !errors.As(err, &tf) || tf.Need != 3 || tf.Have != 2 {
		t.Fatalf("too few: %v, want need 3, have 2", err)
	}
}

func TestDefaultReasons(t *testing.T) {
	for _, tc := range []struct {
		g    logbook.Genesis
		size int64
		want string
	}{
		{logbook.Genesis{}, 0, "the founding custodians of the case"},
		{logbook.Genesis{Migration: true}, 1, "migration: what came before (1 entry) was signed by whoever had a record in the case; from here on the logbook decides who signs"},
		{logbook.Genesis{Migration: true}, 12, "migration: what came before (12 entries) was signed by whoever had a record in the case; from here on the logbook decides who signs"},
	} {
		if got := GenesisReason(tc.g, tc.size); got != tc.want {
			t.Errorf("GenesisReason(%+v, %d) = %q, want %q", tc.g, tc.size, got, tc.want)
		}
	}
	if got := AdmitReason(logbook.Admit{Member: logbook.Member{Name: "dave"}}); got != "admit dave" {
		t.Errorf("AdmitReason = %q", got)
	}
}

func TestCheckAdmitters(t *testing.T) {
	c, p := admittingCase(t, 2)
	a, err := c.Admission()
	if err != nil {
		t.Fatal(err)
	}
	var tf *TooFewSignersError
	if err := a.CheckAdmitters([]*token.Record{p.recs["alice"]}); !errors.As(err, &tf) || tf.Need != 2 || tf.Have != 1 {
		t.Fatalf("one admitter where the policy asks 2: %v", err)
	}
	if err := a.CheckAdmitters([]*token.Record{p.recs["alice"], p.recs["bob"]}); err != nil {
		t.Fatalf("two admitters: %v", err)
	}
}
