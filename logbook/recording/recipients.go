package recording

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/plugin"
	"filippo.io/age/tag"
)

// ParseRecipients reads an auditors file: one age recipient per line, as
// the age CLI's -R files hold them; empty lines and lines starting with #
// are skipped. It accepts X25519 (age1…), post-quantum hybrid (age1pq1…),
// tagged (age1tag1…, age1tagpq1…) and plugin recipients (age1NAME1…, run
// through age-plugin-NAME with ui). Errors name the line, never its text
// (a private key pasted by mistake is not echoed).
func ParseRecipients(r io.Reader, ui *plugin.ClientUI) ([]age.Recipient, error) {
	var rs []age.Recipient
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("line %d: not UTF-8", n)
		}
		rc, err := parseRecipient(line, ui)
		if err != nil {
			if strings.HasPrefix(line, "AGE-") {
				return nil, fmt.Errorf("line %d: a private key, not a recipient: remove it, and treat it as leaked", n)
			}
			return nil, fmt.Errorf("line %d: not an age recipient (%v)", n, err)
		}
		rs = append(rs, rc)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("no recipients")
	}
	return rs, nil
}

// parseRecipient is the age CLI's choice by prefix.
func parseRecipient(s string, ui *plugin.ClientUI) (age.Recipient, error) {
	switch {
	case strings.HasPrefix(s, "age1tag1") || strings.HasPrefix(s, "age1tagpq1"):
		return tag.ParseRecipient(s)
	case strings.HasPrefix(s, "age1pq1"):
		return age.ParseHybridRecipient(s)
	case strings.HasPrefix(s, "age1") && strings.Count(s, "1") > 1:
		if _, _, err := plugin.ParseRecipient(s); err != nil {
			return nil, err
		}
		return plugin.NewRecipient(s, ui)
	case strings.HasPrefix(s, "age1"):
		return age.ParseX25519Recipient(s)
	}
	return nil, fmt.Errorf("unknown recipient type")
}

// ParseIdentities reads an age identity file, as the age CLI's -i files
// hold them: X25519 and hybrid keys (AGE-SECRET-KEY-…) and plugin
// identities (AGE-PLUGIN-…, run through age-plugin-NAME with ui).
func ParseIdentities(r io.Reader, ui *plugin.ClientUI) ([]age.Identity, error) {
	var ids []age.Identity
	sc := bufio.NewScanner(io.LimitReader(r, 1<<20))
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasPrefix(line, "AGE-PLUGIN-") {
			id, err := plugin.NewIdentity(line, ui)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", n, err)
			}
			ids = append(ids, id)
			continue
		}
		got, err := age.ParseIdentities(strings.NewReader(line))
		if err != nil {
			return nil, fmt.Errorf("line %d: not an age identity", n)
		}
		ids = append(ids, got...)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no identities")
	}
	return ids, nil
}
