package virtual

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/breakglass/breakglass/internal/secret"
)

// stateVersion is the version of the state file format.
const stateVersion = 1

// state is everything a card keeps across power cycles and restarts. It is
// stored as JSON in the state file, mode 0600, replaced atomically.
type state struct {
	Version  int     `json:"version"`
	Serial   uint32  `json:"serial"`
	Firmware [3]byte `json:"firmware"`
	// FormFactor is the Yubico form factor byte (attestation extension .3.9).
	FormFactor byte `json:"form_factor"`

	PIN        []byte `json:"pin"` // unpadded
	PINTries   int    `json:"pin_tries"`
	PINMax     int    `json:"pin_max"`
	PUK        []byte `json:"puk"`
	PUKTries   int    `json:"puk_tries"`
	PUKMax     int    `json:"puk_max"`
	MgmtAlg    byte   `json:"mgmt_alg"`
	MgmtKey    []byte `json:"mgmt_key"`
	MgmtTouch  bool   `json:"mgmt_touch,omitempty"`
	PINChanged bool   `json:"pin_changed,omitempty"`
	PUKChanged bool   `json:"puk_changed,omitempty"`

	// Keys maps a key reference (e.g. 0x9a, 0xf9) to its key.
	Keys map[byte]*slotKey `json:"keys"`
	// Objects maps a data object tag (e.g. 0x5fc105) to the value of its 53 template.
	Objects map[uint32][]byte `json:"objects"`
}

// slotKey is an asymmetric key held in a slot.
type slotKey struct {
	Alg         byte   `json:"alg"`     // algP256 or algP384
	Private     []byte `json:"private"` // raw scalar
	PINPolicy   byte   `json:"pin_policy"`
	TouchPolicy byte   `json:"touch_policy"`
	Origin      byte   `json:"origin"` // originGenerated or originImported
}

// Algorithm identifiers (SP 800-78-4, Yubico).
const (
	alg3DES   = 0x03
	algAES128 = 0x08
	algAES192 = 0x0A
	algAES256 = 0x0C
	algP256   = 0x11
	algP384   = 0x14
	algPIN    = 0xFF
)

const (
	originGenerated = 0x01
	originImported  = 0x02
)

// Policies (as GENERATE tags AA/AB and metadata tag 02 encode them).
const (
	pinDefault = 0x00
	pinNever   = 0x01
	pinOnce    = 0x02
	pinAlways  = 0x03

	touchDefault = 0x00
	touchNever   = 0x01
	touchAlways  = 0x02
	touchCached  = 0x03
)

var (
	defaultPIN     = []byte("123456")
	defaultPUK     = []byte("12345678")
	defaultMgmtKey = []byte{
		1, 2, 3, 4, 5, 6, 7, 8,
		1, 2, 3, 4, 5, 6, 7, 8,
		1, 2, 3, 4, 5, 6, 7, 8,
	}
)

const defaultTries = 3

// curve returns the curve of an EC algorithm.
func curve(alg byte) (elliptic.Curve, ecdh.Curve, bool) {
	switch alg {
	case algP256:
		return elliptic.P256(), ecdh.P256(), true
	case algP384:
		return elliptic.P384(), ecdh.P384(), true
	}
	return nil, nil, false
}

// ecdsaKey returns the slot key as an ECDSA private key.
func (k *slotKey) ecdsaKey() (*ecdsa.PrivateKey, error) {
	c, _, ok := curve(k.Alg)
	if !ok {
		return nil, fmt.Errorf("unsupported key algorithm %#x", k.Alg)
	}
	return ecdsa.ParseRawPrivateKey(c, k.Private)
}

// resetCredentials restores PIN, PUK and management key to the defaults
// for the firmware.
func (s *state) resetCredentials() {
	s.PIN = append([]byte(nil), defaultPIN...)
	s.PUK = append([]byte(nil), defaultPUK...)
	s.PINTries, s.PINMax = defaultTries, defaultTries
	s.PUKTries, s.PUKMax = defaultTries, defaultTries
	s.PINChanged, s.PUKChanged = false, false
	s.MgmtKey = append([]byte(nil), defaultMgmtKey...)
	s.MgmtAlg = alg3DES
	if s.Firmware[0] > 5 || s.Firmware[0] == 5 && s.Firmware[1] >= 7 {
		s.MgmtAlg = algAES192
	}
	s.MgmtTouch = false
}

// validate checks a state read from disk, so a corrupt or tampered file is
// reported instead of making the card misbehave.
func (s *state) validate() error {
	if s.Version != stateVersion {
		return fmt.Errorf("unsupported state version %d", s.Version)
	}
	if len(s.PIN) < 1 || len(s.PIN) > 8 || len(s.PUK) < 1 || len(s.PUK) > 8 {
		return errors.New("bad PIN or PUK")
	}
	if s.PINMax < 1 || s.PINMax > 255 || s.PUKMax < 1 || s.PUKMax > 255 ||
		s.PINTries < 0 || s.PINTries > s.PINMax || s.PUKTries < 0 || s.PUKTries > s.PUKMax {
		return errors.New("bad retry counters")
	}
	if n, ok := mgmtKeyLen(s.MgmtAlg); !ok || len(s.MgmtKey) != n {
		return errors.New("bad management key")
	}
	for ref, k := range s.Keys {
		if k == nil {
			return fmt.Errorf("empty key in slot %02x", ref)
		}
		if _, err := k.ecdsaKey(); err != nil {
			return fmt.Errorf("key in slot %02x: %v", ref, err)
		}
		if k.PINPolicy < pinNever || k.PINPolicy > pinAlways ||
			k.TouchPolicy < touchNever || k.TouchPolicy > touchCached {
			return fmt.Errorf("key in slot %02x: bad policy", ref)
		}
	}
	if s.Keys[keyAttestation] == nil {
		return errors.New("no attestation key")
	}
	if _, ok := s.Objects[objAttestationCert]; !ok {
		return errors.New("no attestation certificate")
	}
	return nil
}

func mgmtKeyLen(alg byte) (int, bool) {
	switch alg {
	case alg3DES, algAES192:
		return 24, true
	case algAES128:
		return 16, true
	case algAES256:
		return 32, true
	}
	return 0, false
}

// loadState reads and validates a state file.
func loadState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer secret.Wipe(b)
	s := new(state)
	if err := json.Unmarshal(b, s); err != nil {
		return nil, fmt.Errorf("virtual card state %s: %v", path, err)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("virtual card state %s: %v", path, err)
	}
	return s, nil
}

// save writes the state atomically: a temporary file in the same directory,
// fsync, rename, then fsync of the directory.
func (s *state) save(path string) error {
	b, err := json.MarshalIndent(s, "", "\t")
	if err != nil {
		return err
	}
	defer secret.Wipe(b)
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		return err
	}
	if _, err := f.Write([]byte{'\n'}); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
