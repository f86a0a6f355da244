package virtual

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/breakglass/breakglass/internal/secret"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"
)

// Firmware is a YubiKey firmware version the card reports.
type Firmware struct{ Major, Minor, Patch byte }

// Firmware versions a virtual card can pretend to run. They differ in the
// factory management key: 3DES up to 5.6, AES-192 from 5.7.
var (
	Firmware543 = Firmware{5, 4, 3}
	Firmware571 = Firmware{5, 7, 1}
)

func (f Firmware) String() string { return fmt.Sprintf("%d.%d.%d", f.Major, f.Minor, f.Patch) }

// Default timeouts, as on a YubiKey.
const (
	DefaultTouchTimeout = 15 * time.Second
	DefaultTouchCache   = 15 * time.Second
)

// Options configure a virtual card.
type Options struct {
	// StateFile holds the card's keys, objects, PIN, PUK, management key and
	// counters. It is created (mode 0600) if absent.
	StateFile string
	// Serial of a new card; 0 picks a random one. Ignored when StateFile exists.
	Serial uint32
	// Firmware of a new card; zero means Firmware571. Ignored when StateFile exists.
	Firmware Firmware
	// CADir is the test CA directory that a new card's attestation
	// certificate chains to; empty means DefaultCADir().
	CADir string

	// Touch is how the card answers touch requests.
	Touch Touch
	// TouchTimeout is how long an operation waits for a touch before failing
	// with 6982; zero means DefaultTouchTimeout.
	TouchTimeout time.Duration
	// TouchCache is how long a touch satisfies keys with the cached touch
	// policy; zero means DefaultTouchCache.
	TouchCache time.Duration
	// TouchPrompt and TouchInput are the terminal for TouchInteractive;
	// nil means os.Stderr and os.Stdin.
	TouchPrompt io.Writer
	TouchInput  io.Reader

	// OnConnect, if set, is called when vpcd has accepted the card (its
	// first message on a new connection); OnDisconnect when that connection
	// ends. Both run on Serve's goroutine.
	OnConnect    func()
	OnDisconnect func()
}

// A Card is a virtual YubiKey 5 with the PIV applet. Drive it in-process with
// Transmit, or plug it into pcscd with Serve.
type Card struct {
	opts    Options
	presser presser

	mu   sync.Mutex // guards st and sess; held for a whole command
	st   *state
	sess session

	abortMu  sync.Mutex
	abort    context.CancelFunc // ends the current session's waits
	abortCtx context.Context

	link link // vpcd connection, see vpcd.go
}

// New opens the card whose state is in opts.StateFile, creating the card
// (and, if needed, the test CA) when the file does not exist.
func New(opts Options) (*Card, error) {
	if opts.StateFile == "" {
		return nil, errors.New("virtual card: no state file")
	}
	if opts.TouchTimeout <= 0 {
		opts.TouchTimeout = DefaultTouchTimeout
	}
	if opts.TouchCache <= 0 {
		opts.TouchCache = DefaultTouchCache
	}
	if opts.TouchPrompt == nil {
		opts.TouchPrompt = os.Stderr
	}
	if opts.TouchInput == nil {
		opts.TouchInput = os.Stdin
	}
	c := &Card{opts: opts}
	c.presser.in = opts.TouchInput
	st, err := loadState(opts.StateFile)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		st, err = newState(opts)
		if err != nil {
			return nil, err
		}
		if err := st.save(opts.StateFile); err != nil {
			return nil, fmt.Errorf("virtual card: writing state: %v", err)
		}
	default:
		return nil, err
	}
	c.st = st
	c.newSession()
	c.link.init()
	return c, nil
}

// newState makes a factory-fresh card.
func newState(opts Options) (*state, error) {
	st := &state{
		Version:    stateVersion,
		Serial:     opts.Serial,
		Firmware:   [3]byte{opts.Firmware.Major, opts.Firmware.Minor, opts.Firmware.Patch},
		FormFactor: formFactorUSBAKeychain,
		Keys:       map[byte]*slotKey{},
		Objects:    map[uint32][]byte{},
	}
	if opts.Firmware == (Firmware{}) {
		st.Firmware = [3]byte{5, 7, 1}
	}
	for st.Serial == 0 {
		var b [4]byte
		rand.Read(b[:])
		st.Serial = binary.BigEndian.Uint32(b[:]) % 90000000 // YubiKey-like 8 digits
		if st.Serial < 10000000 {
			st.Serial += 10000000
		}
	}
	st.resetCredentials()
	ca, err := TestCA(opts.CADir)
	if err != nil {
		return nil, err
	}
	key, der, err := ca.newAttestationIdentity(st.Serial)
	if err != nil {
		return nil, fmt.Errorf("virtual card: attestation key: %v", err)
	}
	st.Keys[keyAttestation] = &slotKey{
		Alg:         algP256,
		Private:     mustRaw(key),
		PINPolicy:   pinNever,
		TouchPolicy: touchNever,
		Origin:      originImported,
	}
	st.Objects[objAttestationCert] = certObject(der)
	return st, nil
}

// Serial returns the card's serial number.
func (c *Card) Serial() uint32 { return c.st.Serial }

// Firmware returns the firmware version the card reports.
func (c *Card) Firmware() Firmware {
	f := c.st.Firmware
	return Firmware{f[0], f[1], f[2]}
}

// StateFile returns the path of the card's state file.
func (c *Card) StateFile() string { return c.opts.StateFile }

// Transmit sends one command APDU to the card and returns the response APDU
// (data followed by the status word). It never fails: a malformed command
// gets the status word a YubiKey would send.
func (c *Card) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.transmit(apdu)
}

// SetTouch changes how the card answers touch requests from now on, as if
// the person holding it changed their mind (a test card that ignored one
// request and answers the next). A request being waited for is not
// affected.
func (c *Card) SetTouch(t Touch) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.opts.Touch = t
}

// PowerCycle starts a new session, as when pcscd powers the card off and
// on or resets it: PIN verification, management key authentication, the
// touch cache, the selected applet and pending chains are forgotten.
func (c *Card) PowerCycle() {
	c.cancelWaits()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.newSession()
}

// cancelWaits ends a touch wait in progress, if any.
func (c *Card) cancelWaits() {
	c.abortMu.Lock()
	defer c.abortMu.Unlock()
	if c.abort != nil {
		c.abort()
	}
}

// newSession resets session state. c.mu must be held (or c not yet shared).
func (c *Card) newSession() {
	c.sess.wipe()
	c.sess = session{}
	c.abortMu.Lock()
	if c.abort != nil {
		c.abort()
	}
	c.abortCtx, c.abort = context.WithCancel(context.Background())
	c.abortMu.Unlock()
}

func (c *Card) sessionContext() context.Context {
	c.abortMu.Lock()
	defer c.abortMu.Unlock()
	return c.abortCtx
}

// save persists the state; on failure the command answers 6581 (memory failure).
func (c *Card) save() error {
	if err := c.st.save(c.opts.StateFile); err != nil {
		return swError(swMemoryFailure)
	}
	return nil
}

// session is what a card forgets on power loss.
type session struct {
	selected    applet
	pinVerified bool
	pinFresh    bool // VERIFY succeeded; consumed by a PIN-always key
	mgmtAuth    bool
	witness     []byte // mutual authentication in progress
	challenge   []byte // one-way authentication in progress
	lastTouch   time.Time
	pending     []byte // response data not yet fetched with GET RESPONSE
	chain       *command
}

func (s *session) wipe() {
	secret.Wipe(s.witness)
	secret.Wipe(s.challenge)
	secret.Wipe(s.pending)
	if s.chain != nil {
		secret.Wipe(s.chain.data)
	}
}

type applet int

const (
	appletNone applet = iota
	appletPIV
	appletManagement
)
