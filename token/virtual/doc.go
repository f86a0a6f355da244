// Package virtual is a virtual YubiKey 5: the PIV applet of a YubiKey, in Go,
// plugged into the real PC/SC stack through vsmartcard's vpcd reader driver.
// piv-go, yubico-piv-tool, OpenSC and libykcs11 talk to it through pcscd as
// to a real key. It is not a mock: independent clients are the judge of
// whether it behaves like a card, and the tests in this package run them.
//
// It exists for tests, for `make demo`, and for custodians who rehearse a
// ceremony without hardware. A virtual card is never a hardware token: its
// keys live in a state file, and its attestations chain to a local test CA.
//
// # Using a card
//
// [New] opens (or creates) a card from its state file. [Card.Serve] connects
// it to a vpcd reader ("127.0.0.1:35963" is "Virtual PCD 00 00") and keeps
// reconnecting while pcscd restarts; [Card.Remove] and [Card.Insert] pull it
// out of the reader and put it back. [Card.Transmit] drives it in-process,
// one APDU at a time. Tests use package vcardtest, which starts cards on
// free readers and waits until piv-go sees them; the command
// `breakglass card virtual` runs one card for people.
//
// # What it implements
//
// SELECT (also by the partial AID A0 00 00 03 08), GET VERSION, GET SERIAL,
// GET METADATA, VERIFY (including the empty retries query and the P1=FF
// reset), CHANGE REFERENCE DATA, RESET RETRY COUNTER, SET PIN RETRIES, RESET
// (only with PIN and PUK both blocked), GENERAL AUTHENTICATE (management key
// by mutual or one-way challenge, ECDSA signing, ECDH), SET MANAGEMENT KEY
// (3DES, AES-128/192/256), GENERATE ASYMMETRIC and IMPORT for P-256 and
// P-384 in slots 9a, 9c, 9d, 9e and 82–95, ATTEST, GET DATA and PUT DATA,
// command chaining, GET RESPONSE and extended-length APDUs, and the
// Management applet's device info (for piv-go's FormFactor). Status words
// are a YubiKey's. RSA is not offered (GENERATE answers 6A80).
//
// PIN policies never, once and always and touch policies never, always and
// cached (15 s) are enforced. Touch is configurable per card ([Touch]):
// automatic, after a delay, never (the operation fails with 6982 after
// [Options.TouchTimeout], 15 s by default, like a key nobody touches), or
// interactive (Enter on the terminal).
//
// Firmware 5.7.1 (the default) has an AES-192 factory management key,
// firmware 5.4.3 a 3DES one; both use the well-known default value. Debian
// 12's yubico-piv-tool 2.2.0 knows only 3DES management keys.
//
// # State
//
// The state file (JSON, mode 0600) holds the serial, firmware, PIN, PUK,
// management key, retry counters, keys (private scalars: the file is the
// card's secure element), data objects and the attestation key. It is
// rewritten atomically after every change (temporary file, fsync, rename),
// so counters survive a crash. A file that does not validate is refused.
// Power events from vpcd (power off, on, reset) and reconnections start a new
// session: PIN verification, management key authentication, the touch cache,
// the selected applet and pending chains are forgotten.
//
// # Attestation and the test CA
//
// Each card has its own attestation key (slot f9) and certificate, issued by
// a per-installation test CA ([TestCA], by default in
// $XDG_CONFIG_HOME/breakglass/virtual-ca) whose name says it is a VIRTUAL
// TEST CA. ATTEST returns certificates with Yubico's extensions (firmware
// .3.3, serial .3.7, policies .3.8, form factor .3.9), so piv-go verifies
// them with piv.Verifier{Roots: ca.CertPool()} — and never with Yubico's
// roots. Nothing here uses Yubico's keys.
//
// # Clients
//
// The tests drive the card through piv-go, yubico-piv-tool, and OpenSC's
// pkcs11-tool with OpenSC's PIV driver (opensc-pkcs11.so, 0.23) and Yubico's
// ykcs11 (libykcs11.so, 2.2.0): both modules list its objects, sign with a
// key generated on it and derive the same ECDH secret as Go. What they need
// is what a real YubiKey needs:
//
//   - Both modules build key objects from the certificates in the slots, so
//     a key is visible only once a certificate is stored next to it.
//   - OpenSC looks at the retired slots 82–95 only as far as the Key History
//     object (5FC10C, SP 800-73-4 part 1, 3.3.3) counts keys with on-card
//     certificates. A YubiKey does not keep that object by itself, and
//     neither does this card: whoever fills retired slots writes it.
//   - OpenSC's PKCS#11 module offers 16 virtual slots, 4 per reader, so with
//     its default configuration it sees only the first 4 PC/SC readers and
//     reports no token in the others. Raise max_virtual_slots (the tests use
//     an OPENSC_CONF of their own) when cards sit in later vpcd readers.
//   - libykcs11 lists only readers whose name starts with "Yubico".
//   - Debian 12's yubico-piv-tool (2.2.0, linked with OpenSSL 3) fails
//     selfsign-certificate before sending the card anything, with a real
//     YubiKey too (Yubico/yubico-piv-tool#388); sign certificates with
//     piv-go instead.
//
// # vpcd and pcscd
//
// The card is a TCP client of vpcd: 2-byte big-endian length, then the
// message. One-byte messages are control: 00 power off, 01 power on, 02
// reset (no reply) and 04 get ATR (answered with the YubiKey 5 ATR); longer
// ones are APDUs. pcscd drives all readers of one vpcd driver file through
// shared state, so each reader entry needs its own copy of the driver (see
// scripts/readers.sh), and a card waiting for a touch holds its reader.
package virtual
