// Package piv is the PIV backend of package token: YubiKeys and other PIV
// cards reached through the PC/SC daemon, with github.com/go-piv/piv-go/v2.
// It is the only place in breakglass that sees status words.
//
// # Keys and slots
//
// [Enroll] generates two P-256 keys on the card, in the retired
// key-management slots 82–95 (NIST SP 800-73-4 Part 1, Table 4b), so that
// 9a, 9c, 9d and 9e stay free: a key-agreement key (default PIN policy
// "once", touch "always") and a signing key (PIN "once", touch "cached", so
// one touch covers a tap's approval signature and its ECDH). By default the
// first two free slots are used. It never overwrites a key unless told to
// (token.ErrSlotInUse). Each slot also gets a label certificate (subject
// "breakglass key agreement" or "breakglass signing", signed by a throwaway
// key) so that breakglass and PKCS#11 modules can find the keys; it proves
// nothing.
//
// # Factory-fresh cards
//
// A card that still has its factory PIN or PUK must get new ones during
// enrollment (EnrollOptions.NewSecrets). A factory management key is
// replaced by a random 24-byte key (AES-192 on firmware 5.4 and later)
// stored PIN-protected on the card the way ykman does it: the key in the
// protected data object 5FC109 (piv-go's Metadata), and flag 02 in the
// admin data object 5FFF00, which piv-go cannot write, so a minimal PC/SC
// path (internal/pcsc) does. That same path reads GET METADATA for the PIN,
// PUK and management key (default flags, retry counters) without spending
// a try. No default credential survives enrollment.
//
// # PIN safety
//
// Before any VERIFY the backend reads the retry counter and refuses, with a
// *token.PINError, when one try or none is left. A PIN is asked at most once
// per open token and wiped on Close. While it is asked the card is released
// (closed, and opened again in the same reader afterwards): nobody holds a
// card exclusively while waiting for a person.
//
// # Never stuck on a card
//
// piv-go's Open keeps an exclusive connection it cannot close when the card
// fails between connecting and selecting the PIV application, as a card
// just put back does; the reader then stays blocked for every program until
// the process exits. [Find] therefore looks at readers through a connection
// of its own that it always closes, and a card is opened with piv-go only
// right after it answered (open.go).
//
// # Attestation
//
// [VerifyAttestation] checks the slot attestation certificates in an
// enrollment record against Yubico's PIV roots (embedded in piv-go) or the
// given roots, and that the attested key, slot, serial, firmware and
// policies are the record's. The virtual card's test CA is never trusted
// unless the caller passes it explicitly.
//
// # Errors
//
// PC/SC failures become token.ErrNotPresent with a plain reason ("the PC/SC
// daemon (pcscd) is not running", "the card was removed"); a refused PIN a
// *token.PINError; a touch that never came token.ErrTouchTimeout.
package piv
