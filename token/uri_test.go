package token

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		in      string
		want    *URI
		out     string // canonical form; "" means same as in
		wantErr string
	}{
		{in: "piv:serial=18392011;slot=82", want: &URI{Scheme: "piv", Path: []Attr{{"serial", "18392011"}, {"slot", "82"}}}},
		{in: "PIV:serial=1", want: &URI{Scheme: "piv", Path: []Attr{{"serial", "1"}}}, out: "piv:serial=1"},
		{in: "pkcs11:token=alice%20card;id=%01%FF?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
			want: &URI{Scheme: "pkcs11", Path: []Attr{{"token", "alice card"}, {"id", "\x01\xff"}},
				Query: []Attr{{"module-path", "/usr/lib/softhsm/libsofthsm2.so"}, {"pin-source", "file:/run/pin"}}}},
		{in: "pkcs11:", want: &URI{Scheme: "pkcs11"}},
		{in: "pkcs11:token=a;token=b", wantErr: "appears twice"},
		{in: "pkcs11:token", wantErr: "not name=value"},
		{in: "pkcs11:id=%0", wantErr: "bad percent-encoding"},
		{in: "pkcs11:Token=a", wantErr: "invalid character"},
		{in: "yubikey:slot-id=82", wantErr: "unknown scheme"},
		{in: "18392011", wantErr: "missing scheme"},
	}
	for _, tt := range tests {
		u, err := ParseURI(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseURI(%q) error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseURI(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(u, tt.want) {
			t.Errorf("ParseURI(%q) = %+v, want %+v", tt.in, u, tt.want)
		}
		out := tt.out
		if out == "" {
			out = tt.in
		}
		if u.String() != out {
			t.Errorf("String() = %q, want %q", u.String(), out)
		}
	}
}

func TestURIWithout(t *testing.T) {
	u, _ := ParseURI("pkcs11:token=a?pin-value=1234&module-path=/m.so")
	if got := u.Without("pin-value").String(); got != "pkcs11:token=a?module-path=/m.so" {
		t.Fatal(got)
	}
	if _, ok := u.GetQuery("pin-value"); !ok {
		t.Fatal("Without modified the original")
	}
}

func FuzzParseURI(f *testing.F) {
	f.Add("piv:serial=18392011;slot=82;sign-slot=83")
	f.Add("pkcs11:token=alice%20card;id=%01?module-path=/usr/lib/x.so&pin-source=file:/p")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		c := u.String()
		u2, err := ParseURI(c)
		if err != nil {
			t.Fatalf("canonical form %q does not parse: %v", c, err)
		}
		if !reflect.DeepEqual(u, u2) || u2.String() != c {
			t.Fatalf("round trip changed %q: %q", s, c)
		}
	})
}
