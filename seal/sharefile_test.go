package seal

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"filippo.io/age/armor"
)

// TestShareFile: a custodian's share file is the block of the .glass after
// its "share: N" line, byte for byte.
func TestShareFile(t *testing.T) {
	file, _ := sealString(t, "hunter2", basicParams(t, 2, 3), 7)
	f, err := Parse(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for idx := range 3 {
		got, ok := f.ShareFile(idx)
		if !ok {
			t.Fatalf("no share file for custodian %d", idx)
		}
		_, after, found := strings.Cut(string(file), "\nshare: "+strconv.Itoa(idx)+"\n")
		end := strings.Index(after, armor.Footer+"\n")
		if !found || end < 0 {
			t.Fatalf("share %d not in the file", idx)
		}
		if want := after[:end+len(armor.Footer)+1]; string(got) != want {
			t.Fatalf("share %d:\n%s\nwant\n%s", idx, got, want)
		}
		if seen[string(got)] {
			t.Fatalf("share %d is another custodian's", idx)
		}
		seen[string(got)] = true
	}
	if _, ok := f.ShareFile(3); ok {
		t.Fatal("a share file for an index not in the roster")
	}
}

// TestCustodianShareFile: share export finds a custodian's share by name;
// a paper custodian's share is not in the file, and an unknown name says
// who is in the roster.
func TestCustodianShareFile(t *testing.T) {
	p := basicParams(t, 2, 3)
	p.Custodians[2].Kind, p.Custodians[2].Recipient = KindPaper, ""
	file, _ := sealString(t, "hunter2", p, 7)
	f, err := Parse(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		index int    // the share it is, -1 for an error
		err   string // the error's text
	}{
		{"custodian-0", 0, ""},
		{"custodian-1", 1, ""},
		{"custodian-2", -1, "custodian custodian-2: this custodian holds a paper share, not a token"},
		{"custodian-3", -1, "custodian-3 is not in the roster of prod-aws"},
		{"Custodian-0", -1, "Custodian-0 is not in the roster of prod-aws"},
		{"", -1, " is not in the roster of prod-aws"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := f.CustodianShareFile(c.name)
			if c.index >= 0 {
				want, _ := f.ShareFile(c.index)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("CustodianShareFile(%q) = %q, %v; want share %d", c.name, got, err, c.index)
				}
				return
			}
			if got != nil || err == nil || err.Error() != c.err {
				t.Fatalf("CustodianShareFile(%q) = %q, %v; want error %q", c.name, got, err, c.err)
			}
			var ue *UnknownCustodianError
			var se *ShareError
			switch {
			case errors.As(err, &ue):
				if ue.Name != c.name || ue.Secret != "prod-aws" || strings.Join(ue.Custodians, ",") != "custodian-0,custodian-1,custodian-2" {
					t.Errorf("unknown custodian error %+v", ue)
				}
			case errors.As(err, &se) && errors.Is(err, ErrPaperCustodian):
				if se.Index != 2 || se.Custodian != c.name {
					t.Errorf("paper custodian error %+v", se)
				}
			default:
				t.Errorf("error %v (%T) is neither an unknown nor a paper custodian", err, err)
			}
		})
	}
}
