package logbook

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxOneLine is how long OneLine lets free text be, in bytes.
const maxOneLine = 300

// Value makes s a logbook value (see docs/format-logbook.md) without
// losing any of it that can be kept: every control character (C0, DEL and
// C1, newlines included) becomes a space, invalid UTF-8 becomes U+FFFD, and
// leading and trailing spaces go. The result is empty or a valid value.
// Machine values (approvals, signatures, lists of names) go in whole this
// way, however long.
func Value(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError))))
}

// OneLine is Value for free text (an error message, a reason typed at a
// prompt): it is also cut to at most 300 bytes, on a character boundary.
func OneLine(s string) string {
	s = Value(s)
	if len(s) > maxOneLine {
		cut := maxOneLine
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.TrimSpace(s[:cut])
	}
	return s
}

// CleanDetails makes every value of d a Value, and drops the empty ones.
// It cuts nothing: free text in a detail is OneLine'd by whoever puts it
// there.
func CleanDetails(d map[string]string) map[string]string {
	for k, v := range d {
		if v = Value(v); v == "" {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	return d
}
