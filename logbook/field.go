package logbook

import "strings"

// OneLine makes s fit a logbook value: control characters become spaces,
// and it is cut at 300 bytes.
func OneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

// Field is OneLine without leading or trailing space.
func Field(s string) string { return strings.TrimSpace(OneLine(s)) }

// CleanDetails makes every value of d a Field, and drops the empty ones.
func CleanDetails(d map[string]string) map[string]string {
	for k, v := range d {
		if v = Field(v); v == "" {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	return d
}
