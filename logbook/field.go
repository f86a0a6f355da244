package logbook

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxOneLine is how long OneLine lets a value be, in bytes.
const maxOneLine = 300

// OneLine makes s fit a logbook value (see docs/format-logbook.md): every
// control character (C0, DEL and C1, newlines included) becomes a space,
// invalid UTF-8 becomes U+FFFD, it is cut to at most 300 bytes on a
// character boundary, and leading and trailing spaces go. The result is
// empty or a valid value.
func OneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	if len(s) > maxOneLine {
		cut := maxOneLine
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return strings.TrimSpace(s)
}

// CleanDetails makes every value of d OneLine, and drops the empty ones.
func CleanDetails(d map[string]string) map[string]string {
	for k, v := range d {
		if v = OneLine(v); v == "" {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	return d
}
