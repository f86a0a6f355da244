package witness

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// ConfigFile is the witnesses file in a logbook directory.
const ConfigFile = "witnesses"

// DefaultTimeout bounds each exchange with a witness when the witnesses file
// sets no timeout.
const DefaultTimeout = 10 * time.Second

// A Witness is one witness of a logbook, as the witnesses file names it.
type Witness struct {
	Name     string    // the witness's key name, e.g. witness.example.com/security
	Verifier *Verifier // its cosignature/v1 key
	// URL is its submission prefix (add-checkpoint is URL + "/add-checkpoint"),
	// or "" for a witness reached only by an offline exchange.
	URL string
}

// A Config is a logbook's witnesses file: who witnesses the logbook and how
// many of them must cosign.
type Config struct {
	Witnesses []*Witness
	Quorum    int           // cosignatures needed, 1 ≤ Quorum ≤ len(Witnesses)
	Timeout   time.Duration // per exchange with a witness
}

// ErrNoConfig: the logbook has no witnesses file.
var ErrNoConfig = errors.New("the logbook has no witnesses file")

// A ConfigError is a witnesses file that does not parse, with the line.
type ConfigError struct {
	Path string
	Line int // 0 when the problem is not on one line
	Msg  string
}

func (e *ConfigError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.Path, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

// ReadConfig reads the witnesses file of the logbook in logDir. Without one
// it returns ErrNoConfig.
func ReadConfig(logDir string) (*Config, error) {
	path := filepath.Join(logDir, ConfigFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoConfig
	} else if err != nil {
		return nil, err
	}
	c, err := ParseConfig(b)
	var ce *ConfigError
	if errors.As(err, &ce) {
		ce.Path = path
	}
	return c, err
}

// ParseConfig parses a witnesses file (docs/format-logbook.md, "Witnesses"):
// lines "quorum K", "timeout DURATION" and "witness VKEY [URL]"; blank lines
// and lines starting with "#" are ignored. Errors are *ConfigError.
func ParseConfig(b []byte) (*Config, error) {
	c := &Config{}
	bad := func(line int, format string, args ...any) error {
		return &ConfigError{Path: ConfigFile, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if len(b) > 1<<16 {
		return nil, bad(0, "too large (%d bytes)", len(b))
	}
	quorumLine, timeoutLine := 0, 0
	names, keys := map[string]int{}, map[string]int{}
	for i, line := range strings.Split(string(bytes.TrimSuffix(b, []byte("\n"))), "\n") {
		n := i + 1
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "quorum":
			if quorumLine != 0 {
				return nil, bad(n, "a second quorum line (the first is line %d)", quorumLine)
			}
			quorumLine = n
			if len(f) != 2 {
				return nil, bad(n, "want: quorum K")
			}
			q, err := strconv.Atoi(f[1])
			if err != nil || q < 1 || strconv.Itoa(q) != f[1] {
				return nil, bad(n, "quorum %q: want a number of witnesses, at least 1", f[1])
			}
			c.Quorum = q
		case "timeout":
			if timeoutLine != 0 {
				return nil, bad(n, "a second timeout line (the first is line %d)", timeoutLine)
			}
			timeoutLine = n
			if len(f) != 2 {
				return nil, bad(n, "want: timeout DURATION, e.g. timeout 10s")
			}
			d, err := time.ParseDuration(f[1])
			if err != nil || d <= 0 || d > 10*time.Minute {
				return nil, bad(n, "timeout %q: want a duration between 1ms and 10m, e.g. 10s", f[1])
			}
			c.Timeout = d
		case "witness":
			if len(f) < 2 || len(f) > 3 {
				return nil, bad(n, "want: witness VKEY [URL]")
			}
			v, err := NewVerifier(f[1])
			if err != nil {
				return nil, bad(n, "%v", err)
			}
			if prev, ok := names[v.Name()]; ok {
				return nil, bad(n, "witness %s is already named on line %d", v.Name(), prev)
			}
			if prev, ok := keys[string(v.key)]; ok {
				return nil, bad(n, "witness %s has the key of the witness on line %d", v.Name(), prev)
			}
			names[v.Name()], keys[string(v.key)] = n, n
			w := &Witness{Name: v.Name(), Verifier: v}
			if len(f) == 3 {
				u, err := url.Parse(f[2])
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
					return nil, bad(n, "witness %s: URL %q: want http(s)://HOST[/PREFIX]", v.Name(), f[2])
				}
				w.URL = strings.TrimSuffix(f[2], "/")
			}
			c.Witnesses = append(c.Witnesses, w)
		default:
			return nil, bad(n, "unknown line %q: want quorum, timeout or witness", f[0])
		}
	}
	switch {
	case len(c.Witnesses) == 0:
		return nil, bad(0, "names no witness (want lines: witness VKEY URL)")
	case quorumLine == 0:
		return nil, bad(0, "has no quorum line (want: quorum K, e.g. quorum %d)", len(c.Witnesses)/2+1)
	case c.Quorum > len(c.Witnesses):
		return nil, bad(quorumLine, "quorum %d, but only %d witnesses are named", c.Quorum, len(c.Witnesses))
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return c, nil
}

// Verifiers returns the witnesses' cosignature verifiers.
func (c *Config) Verifiers() note.Verifiers {
	var vs []note.Verifier
	if c != nil {
		for _, w := range c.Witnesses {
			vs = append(vs, w.Verifier)
		}
	}
	return note.VerifierList(vs...)
}

// Witness returns the witness named name, or nil.
func (c *Config) Witness(name string) *Witness {
	if c == nil {
		return nil
	}
	for _, w := range c.Witnesses {
		if w.Name == name {
			return w
		}
	}
	return nil
}
