// Package vcardtest starts virtual YubiKeys (package virtual) behind the
// machine's real pcscd, for tests.
//
// Each card takes one vpcd reader. Readers are shared by every test process
// on the machine (go test runs packages in parallel), so a card holds an
// flock on /tmp/breakglass-vpcd-PORT.lock for as long as it runs; Start
// waits for a free reader rather than sharing one. Start returns only once
// pcscd sees the card and piv-go can open it, and stops the cards and frees
// the readers in t.Cleanup. A test that runs a card by other means, such as
// `breakglass card virtual` in a subprocess, takes a reader with Reserve and
// waits for its card with WaitCard and WaitGone.
//
// The readers are the ones scripts/readers.sh configures: "Yubico YubiKey
// Virtual PCD N 00 00" and "… 00 01" on ports 35965+2(N-2) and the next one,
// for N from 2 to 8, each entry with its own copy of the vpcd driver. (vpcd's
// own "Virtual PCD 00 0x" readers on 35963-35964 are left for people running
// cards by hand.) `make test` configures them and starts pcscd.
package vcardtest

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/breakglass/breakglass/token/virtual"
	"github.com/go-piv/piv-go/v2/piv"
)

// Port range of the vpcd readers.
const (
	FirstPort = 35965
	LastPort  = 35978
)

// How long Start waits for free readers and for pcscd to see a card, and
// how long pcscd needs to notice a card is gone: it polls vpcd readers every
// 0.4 s, and three polls are enough.
var (
	readerWait   = 3 * time.Minute
	presenceWait = 30 * time.Second
	removalWait  = 1200 * time.Millisecond
)

// ReaderName returns the PC/SC name of the vpcd reader on port.
func ReaderName(port int) string { return virtual.ReaderName(port) }

// A Card is a virtual card running in this test process.
type Card struct {
	// Reader is the PC/SC reader name, e.g. "Yubico YubiKey Virtual PCD 3 00 01".
	Reader string
	// Port is the vpcd port on 127.0.0.1.
	Port int
	// Serial is the card's serial number.
	Serial uint32
	// Card is the running card: Remove, Insert, Transmit, StateFile, ...
	*virtual.Card

	opts   virtual.Options
	lock   *os.File
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

type config struct {
	touch        virtual.Touch
	touchTimeout time.Duration
	serial       uint32
	firmware     virtual.Firmware
	pin, puk     string
	stateDir     string
}

// An Option configures the cards Start starts.
type Option func(*config)

// WithTouch sets the touch behaviour (default virtual.TouchAuto).
func WithTouch(t virtual.Touch) Option { return func(c *config) { c.touch = t } }

// WithTouchTimeout sets how long a card waits for a touch before answering
// 6982 (default 2 s, so TouchDeny tests are fast; a YubiKey waits 15 s).
func WithTouchTimeout(d time.Duration) Option { return func(c *config) { c.touchTimeout = d } }

// WithSerial numbers the cards serial, serial+1, ... (default random).
func WithSerial(serial uint32) Option { return func(c *config) { c.serial = serial } }

// WithFirmware sets the firmware (default virtual.Firmware571, whose factory
// management key is AES-192; virtual.Firmware543 has a 3DES one).
func WithFirmware(f virtual.Firmware) Option { return func(c *config) { c.firmware = f } }

// WithPIN sets the cards' PIN and PUK instead of 123456 and 12345678.
func WithPIN(pin, puk string) Option { return func(c *config) { c.pin, c.puk = pin, puk } }

// WithStateDir keeps the state files in dir (card-0.json, card-1.json, ...)
// instead of a fresh t.TempDir(); existing files are reused, so a test can
// start the same cards again.
func WithStateDir(dir string) Option { return func(c *config) { c.stateDir = dir } }

// CADir is where test cards keep their shared test CA.
func CADir() string {
	return filepath.Join("/tmp", fmt.Sprintf("breakglass-vcardtest-ca-%d", os.Getuid()))
}

// CA returns the test CA that the attestation certificates of cards started
// by Start chain to.
func CA(t testing.TB) *x509.Certificate {
	t.Helper()
	ca, err := virtual.TestCA(CADir())
	if err != nil {
		t.Fatalf("vcardtest: %v", err)
	}
	return ca.Cert
}

// Roots returns a pool holding CA(t), for piv.Verifier{Roots: ...}.
func Roots(t testing.TB) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(CA(t))
	return p
}

const hint = "the PC/SC stack is missing: run the tests with `make test`, which installs pcscd and vsmartcard-vpcd, configures the readers (scripts/readers.sh) and starts pcscd (scripts/pcscd.sh start)"

// Start starts n virtual cards on free vpcd readers with fresh state in
// t.TempDir() and stops them (and frees the readers) in t.Cleanup. It fails
// the test, with a hint to run `make test`, if pcscd or the vpcd readers are
// not available.
func Start(t testing.TB, n int, opts ...Option) []*Card {
	t.Helper()
	cfg := config{touchTimeout: 2 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	readers, err := piv.Cards()
	if err != nil {
		t.Fatalf("vcardtest: listing PC/SC readers: %v\n%s", err, hint)
	}
	dir := cfg.stateDir
	if dir == "" {
		dir = t.TempDir()
	}
	cards := make([]*Card, 0, n)
	t.Cleanup(func() {
		for _, c := range cards {
			c.release()
		}
	})
	deadline := time.Now().Add(readerWait)
	for i := 0; i < n; i++ {
		port, lock, err := takeReader(readers, deadline)
		if err != nil {
			t.Fatalf("vcardtest: %v", err)
		}
		c := &Card{Reader: readerFor(readers, port), Port: port, lock: lock}
		cards = append(cards, c)
		c.opts = virtual.Options{
			StateFile:    filepath.Join(dir, fmt.Sprintf("card-%d.json", i)),
			Firmware:     cfg.firmware,
			CADir:        CADir(),
			Touch:        cfg.touch,
			TouchTimeout: cfg.touchTimeout,
		}
		if cfg.serial != 0 {
			c.opts.Serial = cfg.serial + uint32(i)
		}
		vc, err := virtual.New(c.opts)
		if err != nil {
			t.Fatalf("vcardtest: %v", err)
		}
		c.Card, c.Serial = vc, vc.Serial()
		if cfg.pin != "" || cfg.puk != "" {
			if err := setSecrets(vc, cfg.pin, cfg.puk); err != nil {
				t.Fatalf("vcardtest: setting PIN/PUK: %v", err)
			}
		}
		c.serve()
	}
	for _, c := range cards {
		if err := c.waitPresent(true); err != nil {
			t.Fatalf("vcardtest: %v\n%s", err, hint)
		}
	}
	return cards
}

// readerFor returns the reader of port: the one named ReaderName(port), or
// ending with that name (scripts/readers.sh may prefix "Yubico YubiKey " so
// that libykcs11 accepts the readers).
func readerFor(readers []string, port int) string {
	name := ReaderName(port)
	for _, r := range readers {
		if r == name || strings.HasSuffix(r, " "+name) {
			return r
		}
	}
	return ""
}

// takeReader locks a free, configured reader, preferring high ports.
func takeReader(readers []string, deadline time.Time) (int, *os.File, error) {
	for {
		for port := LastPort; port >= FirstPort; port-- {
			if readerFor(readers, port) == "" {
				continue
			}
			f, err := os.OpenFile(fmt.Sprintf("/tmp/breakglass-vpcd-%d.lock", port), os.O_CREATE|os.O_RDWR, 0o666)
			if err != nil {
				return 0, nil, err
			}
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
				f.Close()
				continue
			}
			return port, f, nil
		}
		if time.Now().After(deadline) {
			return 0, nil, fmt.Errorf("no free vpcd reader after %v (readers: %q)\n%s", readerWait, readers, hint)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (c *Card) serve() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c.mu.Lock()
	c.cancel, c.done = cancel, done
	c.mu.Unlock()
	vc := c.Card
	go func() {
		defer close(done)
		vc.Serve(ctx, fmt.Sprintf("127.0.0.1:%d", c.Port))
	}()
}

// Stop unplugs the card and stops it, keeping its reader and state file, as
// when the process running a card exits. Restart starts it again.
func (c *Card) Stop() {
	c.mu.Lock()
	cancel, done := c.cancel, c.done
	c.cancel, c.done = nil, nil
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Restart stops the card and starts a new process's worth of it from its state
// file on the same reader, returning once piv-go sees it again.
func (c *Card) Restart(t testing.TB) {
	t.Helper()
	c.Stop()
	if err := c.waitPresent(false); err != nil {
		t.Fatalf("vcardtest: %v", err)
	}
	vc, err := virtual.New(c.opts)
	if err != nil {
		t.Fatalf("vcardtest: restarting card: %v", err)
	}
	c.Card = vc
	c.serve()
	if err := c.waitPresent(true); err != nil {
		t.Fatalf("vcardtest: %v", err)
	}
}

// WaitPresent waits until pcscd sees the card in its reader (after Insert)
// or, with present false, until pcscd has had time to notice that it is gone
// (after Remove). Close every piv-go handle on the reader before waiting for
// the card to come back: piv-go opens cards exclusively.
func (c *Card) WaitPresent(t testing.TB, present bool) {
	t.Helper()
	if err := c.waitPresent(present); err != nil {
		t.Fatalf("vcardtest: %v", err)
	}
}

func (c *Card) waitPresent(present bool) error {
	if !present {
		// Never probe a card that is going away: an SCardConnect racing
		// pcscd's removal handling can leave the reader unusable ("other
		// connections outstanding") until pcscd restarts.
		time.Sleep(removalWait)
		return nil
	}
	return waitSerial(c.Reader, c.Serial)
}

// waitSerial waits until piv-go opens reader and reads serial from its card.
func waitSerial(reader string, want uint32) error {
	deadline := time.Now().Add(presenceWait)
	for {
		yk, err := piv.Open(reader)
		var serial uint32
		if err == nil {
			serial, err = yk.Serial()
			yk.Close()
		}
		if err == nil && serial == want {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("serial %d", serial)
			}
			return fmt.Errorf("card %d did not appear in reader %q within %v (last seen: %v)", want, reader, presenceWait, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Reserve locks a free vpcd reader for a card the test runs by other means,
// such as `breakglass card virtual --port PORT` in a subprocess, and returns
// its port and PC/SC reader name. The test must stop its card before it
// ends; t.Cleanup frees the reader once pcscd has had time to see the card
// go. It waits for a free reader as Start does.
func Reserve(t testing.TB) (port int, reader string) {
	t.Helper()
	readers, err := piv.Cards()
	if err != nil {
		t.Fatalf("vcardtest: listing PC/SC readers: %v\n%s", err, hint)
	}
	port, lock, err := takeReader(readers, time.Now().Add(readerWait))
	if err != nil {
		t.Fatalf("vcardtest: %v", err)
	}
	t.Cleanup(func() {
		time.Sleep(removalWait)
		syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		lock.Close()
	})
	return port, readerFor(readers, port)
}

// WaitCard waits until piv-go can open reader and reads serial from the card
// in it, and fails the test (with a hint when the PC/SC stack is missing) if
// that takes longer than 30 s.
func WaitCard(t testing.TB, reader string, serial uint32) {
	t.Helper()
	if err := waitSerial(reader, serial); err != nil {
		t.Fatalf("vcardtest: %v", err)
	}
}

// WaitGone waits until pcscd has had time to notice that a card left its
// reader (after Remove or when the process running it stops), without
// probing the reader: a connection racing pcscd's removal handling can leave
// the reader unusable until pcscd restarts.
func WaitGone() { time.Sleep(removalWait) }

// Open opens the card with piv-go and closes it in t.Cleanup.
func (c *Card) Open(t testing.TB) *piv.YubiKey {
	t.Helper()
	yk, err := piv.Open(c.Reader)
	if err != nil {
		t.Fatalf("vcardtest: opening %q: %v", c.Reader, err)
	}
	t.Cleanup(func() { yk.Close() })
	return yk
}

// Close stops the card and frees its reader before the test ends; t.Cleanup
// does the same.
func (c *Card) Close() { c.release() }

func (c *Card) release() {
	if c.lock == nil {
		return
	}
	c.Stop()
	// Wait until pcscd has noticed the card is gone, so the next user of the
	// reader does not meet this card.
	c.waitPresent(false)
	if c.lock != nil {
		syscall.Flock(int(c.lock.Fd()), syscall.LOCK_UN)
		c.lock.Close()
		c.lock = nil
	}
}

// setSecrets changes the PIN and PUK of a fresh card through its APDU interface.
func setSecrets(c *virtual.Card, pin, puk string) error {
	apdu := func(b ...byte) error {
		r := c.Transmit(b)
		if sw := r[len(r)-2:]; sw[0] != 0x90 || sw[1] != 0 {
			return fmt.Errorf("card answered %X", sw)
		}
		return nil
	}
	pad := func(s string) []byte {
		b := []byte(s)
		for len(b) < 8 {
			b = append(b, 0xFF)
		}
		return b
	}
	change := func(p2 byte, old, next string) error {
		if len(next) < 6 || len(next) > 8 {
			return errors.New("PIN and PUK must have 6 to 8 characters")
		}
		return apdu(append([]byte{0x00, 0x24, 0x00, p2, 0x10}, append(pad(old), pad(next)...)...)...)
	}
	c.PowerCycle()
	defer c.PowerCycle()
	if err := apdu(0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08); err != nil {
		return err
	}
	if pin != "" {
		if err := change(0x80, "123456", pin); err != nil {
			return err
		}
	}
	if puk != "" {
		if err := change(0x81, "12345678", puk); err != nil {
			return err
		}
	}
	return nil
}
