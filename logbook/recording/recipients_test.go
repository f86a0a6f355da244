package recording

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/plugin"
	"filippo.io/age/tag"
	"filippo.io/nistec"
)

func TestParseRecipients(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	pq, _ := age.GenerateHybridIdentity()
	k, _ := ecdh.P256().GenerateKey(rand.Reader)
	pt, _ := nistec.NewP256Point().SetBytes(k.PublicKey().Bytes())
	tg, err := tag.NewClassicRecipient(pt.BytesCompressed())
	if err != nil {
		t.Fatal(err)
	}
	plug := plugin.EncodeRecipient("breakglass", []byte{1, 2, 3})
	ui := plugin.NewTerminalUI(func(string, ...any) {}, func(string, ...any) {})
	for _, tc := range []struct {
		name, in string
		n        int
		err      string
	}{
		{"x25519", "# auditors\n\n" + x.Recipient().String() + "\n", 1, ""},
		{"several", x.Recipient().String() + "\n  " + tg.String() + "  \n" + plug + "\n", 3, ""},
		{"hybrid", pq.Recipient().String(), 1, ""},
		{"empty", "# nobody\n", 0, "no recipients"},
		{"identity", x.String() + "\n", 0, "line 1: a private key, not a recipient: remove it, and treat it as leaked"},
		{"garbage", "# a\nage1nope\n", 0, "line 2: not an age recipient"},
		{"ssh", "ssh-ed25519 AAAA", 0, "line 1: not an age recipient (unknown recipient type)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseRecipients(strings.NewReader(tc.in), ui)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("error %v, want %s", err, tc.err)
				}
				if strings.Contains(err.Error(), "AGE-SECRET") {
					t.Errorf("the error shows the key: %v", err)
				}
				return
			}
			if err != nil || len(rs) != tc.n {
				t.Fatalf("%d recipients, %v", len(rs), err)
			}
		})
	}
}

func TestParseIdentities(t *testing.T) {
	x, _ := age.GenerateX25519Identity()
	ui := plugin.NewTerminalUI(func(string, ...any) {}, func(string, ...any) {})
	ids, err := ParseIdentities(strings.NewReader(fmt.Sprintf("# created: now\n# public key: %s\n%s\n%s\n",
		x.Recipient(), x, plugin.EncodeIdentity("breakglass", []byte{1}))), ui)
	if err != nil || len(ids) != 2 {
		t.Fatalf("%d identities, %v", len(ids), err)
	}
	if _, err := ParseIdentities(strings.NewReader(x.Recipient().String()), ui); err == nil || err.Error() != "line 1: not an age identity" {
		t.Errorf("a recipient as identity: %v", err)
	}
}
