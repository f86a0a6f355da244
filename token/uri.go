package token

import (
	"errors"
	"fmt"
	"strings"
)

// A URI names a token, and optionally its keys, in one string:
//
//	piv:serial=18392011;slot=82;sign-slot=83
//	pkcs11:token=alice;id=%01?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin
//
// The pkcs11 form is RFC 7512: path attributes separated by ";", then
// optional query attributes after "?" separated by "&", values
// percent-encoded. The piv form borrows the same syntax: serial (decimal, as
// printed on the key), reader (PC/SC reader name), slot (the key-agreement
// slot, hex) and sign-slot (the signing slot, hex).
//
// Attributes keep their order; String re-encodes them with every byte
// outside the RFC 3986 unreserved set (and ":" "@" "/" "." "~" in values)
// percent-encoded, so a parsed URI always prints the same way.
type URI struct {
	Scheme string // "piv" or "pkcs11"
	Path   []Attr
	Query  []Attr
}

// An Attr is one name=value pair of a URI. Value is decoded (raw bytes for
// a PKCS#11 id).
type Attr struct {
	Name  string
	Value string
}

// Schemes breakglass understands.
const (
	SchemePIV    = "piv"
	SchemePKCS11 = "pkcs11"
)

// ParseURI parses a piv: or pkcs11: URI.
func ParseURI(s string) (*URI, error) {
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("token URI %q: missing scheme (want piv: or pkcs11:)", s)
	}
	scheme = strings.ToLower(scheme)
	if scheme != SchemePIV && scheme != SchemePKCS11 {
		return nil, fmt.Errorf("token URI %q: unknown scheme %q (want piv: or pkcs11:)", s, scheme)
	}
	u := &URI{Scheme: scheme}
	path, query, _ := strings.Cut(rest, "?")
	var err error
	if u.Path, err = parseAttrs(path, ";"); err != nil {
		return nil, fmt.Errorf("token URI %q: %v", s, err)
	}
	if u.Query, err = parseAttrs(query, "&"); err != nil {
		return nil, fmt.Errorf("token URI %q: %v", s, err)
	}
	return u, nil
}

func parseAttrs(s, sep string) ([]Attr, error) {
	if s == "" {
		return nil, nil
	}
	var attrs []Attr
	seen := map[string]bool{}
	for _, part := range strings.Split(s, sep) {
		name, value, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("attribute %q is not name=value", part)
		}
		for _, c := range name {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return nil, fmt.Errorf("attribute name %q: invalid character %q", name, c)
			}
		}
		if seen[name] {
			return nil, fmt.Errorf("attribute %q appears twice", name)
		}
		seen[name] = true
		v, err := pctDecode(value)
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %v", name, err)
		}
		attrs = append(attrs, Attr{name, v})
	}
	return attrs, nil
}

func pctDecode(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", errors.New("bad percent-encoding")
		}
		b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
		i += 2
	}
	return b.String(), nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func pctEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("-._~:@/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// String formats u in canonical form.
func (u *URI) String() string {
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteByte(':')
	for i, a := range u.Path {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(a.Name + "=" + pctEncode(a.Value))
	}
	for i, a := range u.Query {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(a.Name + "=" + pctEncode(a.Value))
	}
	return b.String()
}

// Get returns the value of the path attribute name.
func (u *URI) Get(name string) (string, bool) { return get(u.Path, name) }

// GetQuery returns the value of the query attribute name.
func (u *URI) GetQuery(name string) (string, bool) { return get(u.Query, name) }

// Set sets (or adds) the path attribute name.
func (u *URI) Set(name, value string) { u.Path = set(u.Path, name, value) }

// SetQuery sets (or adds) the query attribute name.
func (u *URI) SetQuery(name, value string) { u.Query = set(u.Query, name, value) }

// Without returns a copy of u without the query attributes listed in names
// (for example "pin-value", which must never be stored in a record).
func (u *URI) Without(names ...string) *URI {
	c := &URI{Scheme: u.Scheme, Path: append([]Attr(nil), u.Path...)}
	for _, a := range u.Query {
		drop := false
		for _, n := range names {
			drop = drop || a.Name == n
		}
		if !drop {
			c.Query = append(c.Query, a)
		}
	}
	return c
}

func get(attrs []Attr, name string) (string, bool) {
	for _, a := range attrs {
		if a.Name == name {
			return a.Value, true
		}
	}
	return "", false
}

func set(attrs []Attr, name, value string) []Attr {
	for i := range attrs {
		if attrs[i].Name == name {
			attrs[i].Value = value
			return attrs
		}
	}
	return append(attrs, Attr{name, value})
}
