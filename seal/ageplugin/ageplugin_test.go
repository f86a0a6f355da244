package ageplugin

import (
	"strings"
	"testing"
	"time"

	"filippo.io/age/plugin"

	"github.com/breakglass/breakglass/token"
)

func TestIdentity(t *testing.T) {
	r := &token.Record{Custodian: token.Custodian{Name: "alice"},
		Token: token.RecordToken{Kind: token.KindPIV, URI: "piv:serial=10000002"},
		Keys:  &token.RecordKeys{KeyAgreement: token.RecordKey{ID: "82"}, Signing: token.RecordKey{ID: "83"}}}
	id, err := Identity(r)
	if err != nil {
		t.Fatal(err)
	}
	name, data, err := plugin.ParseIdentity(id)
	if err != nil || name != Name || !strings.HasPrefix(id, "AGE-PLUGIN-BREAKGLASS-1") {
		t.Fatalf("%s: %s, %v", id, name, err)
	}
	u, err := token.ParseURI(string(data))
	get := func(k string) string { v, _ := u.Get(k); return v }
	if err != nil || get("serial") != "10000002" || get("slot") != "82" || get("sign-slot") != "83" {
		t.Fatalf("identity names %q", data)
	}
	paper := token.NewPaperRecord(token.Custodian{Name: "erin"}, "safe", time.Now())
	if _, err := Identity(paper); err == nil || !strings.Contains(err.Error(), "paper") {
		t.Fatalf("paper: %v", err)
	}
}
