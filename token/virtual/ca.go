package virtual

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/internal/secret"
)

// CAName is the subject common name of every virtual test CA. It says plainly
// that keys chaining to it live on a virtual card, not on a YubiKey.
const CAName = "breakglass VIRTUAL TEST CA (not a hardware key)"

// A CA is the per-installation test CA that virtual cards' attestation
// certificates chain to. It plays the part of Yubico's PIV root for virtual
// cards; it is never Yubico's key, and an enrollment that chains to it must
// never be trusted as a hardware token.
type CA struct {
	// Cert is the self-signed CA certificate (ca.pem).
	Cert *x509.Certificate
	// Dir is the directory holding ca.pem and ca.key.
	Dir string
	key *ecdsa.PrivateKey
}

// CertPool returns a pool holding only the CA certificate, for
// piv.Verifier{Roots: pool}.
func (ca *CA) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// DefaultCADir returns $XDG_CONFIG_HOME/breakglass/virtual-ca, or
// ~/.config/breakglass/virtual-ca.
func DefaultCADir() (string, error) {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "breakglass", "virtual-ca"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("locating the virtual test CA: %v (set XDG_CONFIG_HOME or pass a CA directory)", err)
	}
	return filepath.Join(home, ".config", "breakglass", "virtual-ca"), nil
}

// TestRoots loads the test CA's certificate from dir (DefaultCADir when
// empty) as a pool, without creating the CA: for a verifier that accepts
// virtual cards (tests and rehearsals only).
func TestRoots(dir string) (*x509.CertPool, error) {
	if dir == "" {
		d, err := DefaultCADir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	b, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("no virtual test CA: %v", err)
	}
	pool := x509.NewCertPool()
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("virtual test CA: %v", err)
		}
		pool.AddCert(c)
	}
	return pool, nil
}

// TestCA loads the test CA in dir (DefaultCADir if empty), creating it on
// first use: ca.pem (mode 0644) and ca.key (mode 0600). Concurrent callers,
// in this process or others, get the same CA.
func TestCA(dir string) (*CA, error) {
	if dir == "" {
		d, err := DefaultCADir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("virtual test CA: %v", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("virtual test CA: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return nil, fmt.Errorf("virtual test CA: locking %s: %v", dir, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	ca, err := loadCA(dir)
	if err == nil {
		return ca, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return createCA(dir)
}

func loadCA(dir string) (*CA, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		return nil, err
	}
	defer secret.Wipe(keyPEM)
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("virtual test CA %s: ca.pem holds no certificate", dir)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("virtual test CA %s: ca.pem: %v", dir, err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("virtual test CA %s: ca.key holds no private key", dir)
	}
	defer secret.Wipe(kb.Bytes)
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("virtual test CA %s: ca.key: %v", dir, err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("virtual test CA %s: ca.key does not match ca.pem", dir)
	}
	return &CA{Cert: cert, Dir: dir, key: key}, nil
}

func createCA(dir string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			CommonName:         CAName,
			Organization:       []string{"breakglass"},
			OrganizationalUnit: []string{"virtual cards - TEST ONLY"},
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(30, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLen:            1,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	defer secret.Wipe(p8)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})
	defer secret.Wipe(keyPEM)
	if err := atomicfile.Replace(filepath.Join(dir, "ca.key"), 0o600, keyPEM, nil); err != nil {
		return nil, fmt.Errorf("virtual test CA: %v", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := atomicfile.Replace(filepath.Join(dir, "ca.pem"), 0o644, certPEM, nil); err != nil {
		return nil, fmt.Errorf("virtual test CA: %v", err)
	}
	return &CA{Cert: cert, Dir: dir, key: key}, nil
}

// randomSerial returns a random positive 128-bit certificate serial number.
func randomSerial() *big.Int {
	b := make([]byte, 16)
	rand.Read(b)
	b[0] &= 0x7F
	b[0] |= 0x40 // keep it 16 bytes long
	return new(big.Int).SetBytes(b)
}

// newAttestationIdentity creates a card's F9 key and its certificate,
// issued by the test CA.
func (ca *CA) newAttestationIdentity(serial uint32) (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject: pkix.Name{
			CommonName:   fmt.Sprintf("breakglass virtual PIV attestation %d", serial),
			Organization: []string{"breakglass"},
			SerialNumber: fmt.Sprint(serial),
		},
		NotBefore:             ca.Cert.NotBefore,
		NotAfter:              ca.Cert.NotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	return key, der, nil
}
