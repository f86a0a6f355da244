package seal

import (
	"bytes"
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
