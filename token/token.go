package token

import (
	"crypto"
	"crypto/ecdh"
	"errors"
	"fmt"
	"strings"
)

// Kind names a kind of token.
type Kind string

// The token kinds breakglass knows.
const (
	KindPIV    Kind = "piv"    // a PIV smart card such as a YubiKey, through PC/SC
	KindPKCS11 Kind = "pkcs11" // any PKCS#11 token or HSM, through its module
	KindPaper  Kind = "paper"  // a printed SLIP-0039 share kept in a safe; no keys
)

// Info identifies an open token and where its breakglass keys live.
type Info struct {
	Kind     Kind
	Serial   string // the token's serial number, as the token reports it
	URI      string // piv: or pkcs11: URI that finds this token again (see ParseURI)
	Reader   string // PC/SC reader name (PIV only); it changes from port to port
	Label    string // PKCS#11 token label, or a model description
	Firmware string // "5.7.1" for a YubiKey; the PKCS#11 firmware version otherwise

	// KeyAgreementID and SigningID locate the two keys: a PIV slot in hex
	// ("82") or a PKCS#11 CKA_ID in hex.
	KeyAgreementID string
	SigningID      string
}

// Name is a short human name for the token: its kind and serial.
func (i Info) Name() string {
	if i.Serial != "" {
		return string(i.Kind) + " " + i.Serial
	}
	if i.Label != "" {
		return string(i.Kind) + " " + i.Label
	}
	return i.URI
}

// Token is an open hardware token holding a custodian's two breakglass keys.
//
// Private-key operations run on the token. The first operation that needs
// the PIN reads the token's retry counter (which costs no try) and returns a
// *PINError without trying when one try or none is left; a PIN the token
// refuses comes back as a *PINError with the tries that remain. A token
// pulled out mid-operation gives an error wrapping ErrNotPresent.
type Token interface {
	// Info identifies the token and its keys.
	Info() Info
	// KeyAgreementKey is the P-256 key used to unwrap shares. Its ECDH
	// method runs on the token and returns the shared x-coordinate.
	KeyAgreementKey() ecdh.KeyExchanger
	// SigningKey is the separate P-256 key that signs enrollment records
	// and logbook entries (ECDSA on the token, ASN.1 signatures).
	SigningKey() crypto.Signer
	// PINRetries reports how many PIN tries are left, without spending
	// one. It returns -1 when the token does not say (PKCS#11 tokens only
	// report "low" and "final try").
	PINRetries() (int, error)
	// Close releases the token; keys obtained from it stop working.
	Close() error
}

// A PINVerifier is a Token that can verify its PIN before any key is used.
// A command that will change something and then sign its logbook entry
// verifies first, so that a wrong PIN stops it before anything changed
// (no entry, no change). VerifyPIN never spends the last try; it returns a
// *PINError as a private-key operation would.
type PINVerifier interface {
	VerifyPIN() error
}

// VerifyPIN verifies t's PIN now when t is a PINVerifier, and does nothing
// otherwise.
func VerifyPIN(t Token) error {
	if v, ok := t.(PINVerifier); ok {
		return v.VerifyPIN()
	}
	return nil
}

// PINFunc supplies a PIN when a token needs one. Tokens call it lazily, at
// most once per Open, and wipe the returned slice after use.
type PINFunc func() ([]byte, error)

// Sentinel errors returned (wrapped) by every backend.
var (
	// ErrNotPresent means the token cannot be reached: it was removed, there
	// is no reader, pcscd is not running, or the PKCS#11 module reports no
	// token. The wrapped cause says which.
	ErrNotPresent = errors.New("token not present")
	// ErrWrongToken means the token in hand is not the one expected.
	ErrWrongToken = errors.New("wrong token")
	// ErrNotEnrolled means the token holds no breakglass keys where expected.
	ErrNotEnrolled = errors.New("token holds no breakglass keys")
	// ErrSlotInUse means enrollment would overwrite an existing key.
	ErrSlotInUse = errors.New("slot already holds a key")
	// ErrTouchTimeout means the token wanted a touch and did not get one.
	ErrTouchTimeout = errors.New("token was not touched in time")
	// ErrCancelled means the PIN prompt was abandoned.
	ErrCancelled = errors.New("cancelled")
)

// A PINError reports a refused PIN, or a PIN breakglass refused to try.
type PINError struct {
	Token   string // serial or URI, for messages
	Retries int    // left, as the token reports; 0 means blocked, -1 unknown
	// Tried is true when a PIN was sent and the token refused it; false
	// when breakglass did not try because trying could block the token:
	// with Retries -1, because a wrong PIN was entered since the token's
	// last successful login and it cannot say how many tries are left
	// (PKCS#11), and nobody confirmed another try.
	Tried bool
	// PUK is true when the error is about the PUK rather than the PIN.
	PUK bool
}

func (e *PINError) Error() string {
	what := "PIN"
	if e.PUK {
		what = "PUK"
	}
	tries := "tries"
	if e.Retries == 1 {
		tries = "try"
	}
	switch {
	case e.Retries == 0:
		return fmt.Sprintf("token %s: %s is blocked", e.Token, what)
	case e.Tried && e.Retries < 0:
		return fmt.Sprintf("token %s: wrong %s; breakglass cannot see how many tries are left", e.Token, what)
	case e.Tried:
		return fmt.Sprintf("token %s: wrong %s, %d %s left", e.Token, what, e.Retries, tries)
	case e.Retries < 0:
		return fmt.Sprintf("token %s: a wrong %s was entered since its last successful login, and breakglass cannot see how many tries are left; it will not try another without confirmation", e.Token, what)
	default:
		return fmt.Sprintf("token %s has %d %s %s left; breakglass will not spend it", e.Token, e.Retries, what, tries)
	}
}

// SafeToTry reports whether a PIN may be sent to a token that reports
// retries tries left: only when at least two are left, so that a wrong PIN
// never blocks the token. retries < 0 (unknown) is treated as safe here;
// backends that know only "final try" report it as 1, and the PKCS#11
// backend asks for confirmation before a try when the count is unknown
// after a wrong PIN.
func SafeToTry(retries int) bool {
	return retries < 0 || retries > 1
}

// A WrongTokenError reports that the token in hand does not hold the keys of
// the expected enrollment record.
type WrongTokenError struct {
	Token    string // the token in hand
	Expected string // whose token was expected (custodian name)
	Reason   string // what differs
}

func (e *WrongTokenError) Error() string {
	s := fmt.Sprintf("token %s is not %s's enrolled token", e.Token, e.Expected)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func (e *WrongTokenError) Unwrap() error { return ErrWrongToken }

// A NotPresentError carries a reason a token cannot be reached, and the
// low-level cause.
type NotPresentError struct {
	What  string // "no reader", "pcscd is not running", "card removed", …
	Cause error
	// Reason classifies What for advice (see [WhyNotPresent]); zero when
	// nothing more is known.
	Reason NotPresentReason
}

// NotPresentReason says why a token cannot be reached, so that a caller
// can advise without reading the message.
type NotPresentReason int

// Why a token cannot be reached. A lower value is the more basic problem:
// [WhyNotPresent] reports the lowest it finds.
const (
	NotPresentUnknown NotPresentReason = iota
	NoDaemon                           // the PC/SC daemon (pcscd) is not running
	Removed                            // the card was removed or reset, or a PKCS#11 token went away
	InUse                              // another program holds the card
	NoSuchToken                        // a PKCS#11 module has no such token (or no slot at all)
)

// WhyNotPresent is the most basic reason that err, or an error it wraps,
// gives for a token that cannot be reached: NotPresentUnknown when err is
// no *NotPresentError or none says why.
func WhyNotPresent(err error) NotPresentReason {
	best := NotPresentUnknown
	var walk func(error)
	walk = func(e error) {
		for e != nil {
			if np, ok := e.(*NotPresentError); ok && np.Reason != NotPresentUnknown && (best == NotPresentUnknown || np.Reason < best) {
				best = np.Reason
			}
			switch u := e.(type) {
			case interface{ Unwrap() []error }:
				for _, x := range u.Unwrap() {
					walk(x)
				}
				return
			case interface{ Unwrap() error }:
				e = u.Unwrap()
			default:
				return
			}
		}
	}
	walk(err)
	return best
}

func (e *NotPresentError) Error() string {
	if e.Cause == nil {
		return e.What
	}
	return e.What + ": " + e.Cause.Error()
}

func (e *NotPresentError) Is(target error) bool { return target == ErrNotPresent }
func (e *NotPresentError) Unwrap() error        { return e.Cause }

// ParsePolicy normalises a PIN or touch policy name ("never", "once",
// "always", "cached") and reports whether it is one of allowed.
func ParsePolicy(s string, allowed ...string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, a := range allowed {
		if s == a {
			return s, true
		}
	}
	return "", false
}
