// Package token is the small interface the rest of breakglass uses to talk
// to a custodian's hardware token, and the enrollment record that describes
// that token in public.
//
// # Tokens
//
// A [Token] holds two P-256 keys generated on the device: a key-agreement
// key, exposed as a [crypto/ecdh.KeyExchanger] whose ECDH runs on the token
// (filippo.io/hpke and age's p256tag recipient build on it), and a separate
// signing key, exposed as a [crypto.Signer] (ECDSA on the token, ASN.1
// signatures). No private key ever exists outside the token. Backends live in
// sub-packages: token/piv for PIV cards such as YubiKeys (through pcscd and
// piv-go), token/pkcs11 for any PKCS#11 module (SoftHSM2, OpenSC, libykcs11,
// an HSM). A third kind, paper, has no keys at all: a paper custodian's share
// is a SLIP-0039 mnemonic kept in a safe.
//
// Tokens are named by URIs ([ParseURI]): "piv:serial=18392011;slot=82;sign-slot=83"
// for a PIV card, and RFC 7512 "pkcs11:" URIs, whose module-path and
// pin-source query attributes say which module to load and where the PIN is.
//
// # PINs
//
// This package never touches a terminal: PINs arrive through a [PINFunc]
// from the command line layer. Backends read the token's retry counter
// before every PIN verification (reading costs no try) and refuse to try
// when one try or none is left ([SafeToTry]), returning a [*PINError] whose
// Tried field is false. A PIN the token refused comes back as a *PINError
// with Tried set and the tries that remain. breakglass never blocks a card.
//
// # Errors
//
// Backends translate their low-level failures into a few errors the caller
// can branch on with [errors.Is] and [errors.As]: [ErrNotPresent] (no reader,
// pcscd not running, card removed mid-operation; the wrapped
// [*NotPresentError] says which), [ErrWrongToken] and [*WrongTokenError]
// (the token in hand is someone else's), [ErrNotEnrolled], [ErrSlotInUse],
// [ErrTouchTimeout], and [*PINError]. Only the command line turns them into
// hints.
//
// # Enrollment records
//
// A [Record] is a stable, versioned JSON document ("format":
// "breakglass.enrollment/v1") describing one custodian's token: name,
// contact, team, token kind, serial and URI, the slots or key ids, both
// public keys (base64 DER SubjectPublicKeyInfo) with their fingerprints, PIN
// and touch policies, firmware, enrollment time, and for PIV the attestation
// certificates of both slots plus the card's attestation intermediate (slot
// f9). Verifying the attestation chain is token/piv's job.
//
// The encoding is canonical: the fields in a fixed order, two-space
// indentation, map keys sorted, a final newline. [ParseRecord] rejects any
// other encoding of the same content, so parse and [Record.Marshal] round-trip
// byte for byte.
//
// A token record is self-signed by the token's own signing key (proof of
// possession): the signature is ECDSA over SHA-256 of the context line
// "breakglass enrollment record v1\n" followed by the canonical record
// without its signature. Beside it, "field-digests" maps every non-empty
// field (as a dotted path such as "custodian.email") to the first 8 bytes of
// SHA-256("breakglass enrollment field" 0x00 path 0x00 value). The digests
// are covered by the signature; they exist so that [Record.Verify] can say
// which field was edited by hand, instead of only "bad signature". Paper
// records carry neither signature nor digests: there is no key to sign with,
// and verification says so.
//
// # Fingerprints
//
// Keys are shown to people as [Fingerprint]s: the first 8 bytes of SHA-256
// over the DER SubjectPublicKeyInfo, in hex groups of four ("3f2a 91c0 7b44
// e1d2"). A record's own short name is its signing key's fingerprint.
//
// # Proving a token in hand
//
// [Record.Matches] compares a token's public keys with a record, and
// [Record.Challenge] proves the private keys are still there with nothing
// at stake: ECDH against a fresh ephemeral key, checked in software, and a
// signature over a fresh random challenge. `breakglass card test` and drills
// use it.
package token
