package pkcs11

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/breakglass/breakglass/token"
)

// PKCS#11 has no count of PIN tries left, only flags: CKF_USER_PIN_COUNT_LOW
// ("an incorrect user PIN has been entered at least once since the last
// successful authentication"), CKF_USER_PIN_FINAL_TRY and
// CKF_USER_PIN_LOCKED. A token may set none of them (and SoftHSM2 never
// sets the last two), so after a wrong PIN breakglass cannot know whether
// the next wrong PIN blocks the token. Its promise never to spend the last
// try then holds only if someone confirms the next try: login asks
// Options.ConfirmUnknownTries, and refuses without it, whenever the token
// says a wrong PIN was entered since its last successful login
// (CKF_USER_PIN_COUNT_LOW) or breakglass saw the token refuse a PIN while
// setting no flag at all. The latter is remembered across runs, in a file
// per token under the user's state directory, until a login succeeds.

// pinFlags are the flags that say anything about the tries left.
const pinFlags = p11.CKF_USER_PIN_COUNT_LOW | p11.CKF_USER_PIN_FINAL_TRY | p11.CKF_USER_PIN_LOCKED

// testingOnlyFlags, if set, changes the token flags login sees, so that a
// test can make SoftHSM2 look like a token that sets no PIN flag.
var testingOnlyFlags func(uint) uint

func (t *Token) tokenFlags() (uint, error) {
	ti, err := t.mod.ctx.GetTokenInfo(t.slot)
	if err != nil {
		return 0, translate(t.info.Name(), err)
	}
	if testingOnlyFlags != nil {
		return testingOnlyFlags(ti.Flags), nil
	}
	return ti.Flags, nil
}

// triesUnknown reports whether a wrong PIN was entered on the token since
// its last successful login, so that the tries left are unknown.
func (t *Token) triesUnknown(flags uint) bool {
	return flags&p11.CKF_USER_PIN_COUNT_LOW != 0 || wrongPINs.seen(t.info)
}

// wrongPINs remembers tokens that refused a PIN without setting a PIN flag:
// in this process, and in a file per token in StateDir (best effort: a
// directory that cannot be written leaves the memory of this process).
var wrongPINs = &wrongPINLedger{mem: map[string]bool{}}

type wrongPINLedger struct {
	mu  sync.Mutex
	mem map[string]bool
}

// StateDir is where breakglass remembers PKCS#11 tokens that refused a PIN
// without saying so in their flags: $XDG_STATE_HOME/breakglass/pkcs11-wrong-pin,
// or ~/.local/state/breakglass/pkcs11-wrong-pin.
func StateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "breakglass", "pkcs11-wrong-pin"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "state", "breakglass", "pkcs11-wrong-pin"), nil
}

// ledgerKey names a token by its serial number and label (a token seen
// through two modules is one token).
func ledgerKey(info token.Info) string {
	h := sha256.Sum256([]byte("breakglass pkcs11 wrong PIN\n" + info.Serial + "\n" + info.Label))
	return hex.EncodeToString(h[:16])
}

func (l *wrongPINLedger) path(info token.Info) string {
	dir, err := StateDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, ledgerKey(info))
}

func (l *wrongPINLedger) seen(info token.Info) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mem[ledgerKey(info)] {
		return true
	}
	if p := l.path(info); p != "" {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

func (l *wrongPINLedger) mark(info token.Info) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mem[ledgerKey(info)] = true
	if p := l.path(info); p != "" && os.MkdirAll(filepath.Dir(p), 0o700) == nil {
		note := fmt.Sprintf("%s refused a PIN at %s and does not say how many tries are left\n", info.Name(), time.Now().UTC().Format(time.RFC3339))
		os.WriteFile(p, []byte(note), 0o600)
	}
}

func (l *wrongPINLedger) clear(info token.Info) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.mem, ledgerKey(info))
	if p := l.path(info); p != "" {
		os.Remove(p)
	}
}
