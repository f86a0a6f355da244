// Package seal seals a secret to k of n custodians and unseals it one tap at
// a time.
//
// A sealed secret is a .glass file. Its payload is a standard age file
// encrypted to a fresh X25519 identity; that identity's 32-byte scalar is
// split into SLIP-0039 shares; each token custodian's share is a standalone
// age file with one p256tag stanza for the P-256 key on their token, and a
// paper custodian's share is the SLIP-0039 mnemonic itself. A text header
// names the secret, its scope and permitted use cases, the roster and its
// thresholds, and binds all of it together.
//
// # Format
//
// docs/format-glass.md specifies the format byte by byte; the vectors in
// testdata/vectors are checked both ways by the tests, and docs/vectors-p256tag.md
// (testdata/p256tag) pins the p256tag stanza. In short:
//
//	-----BEGIN BREAKGLASS SEALED SECRET-----
//	version: 1
//	… header: name, scope, use cases, key id, roster, recipient …
//	share: 0
//	-----BEGIN AGE ENCRYPTED FILE-----   (custodian 0's p256tag age file)
//	…
//	mac: …        HMAC of the header hash, keyed from the split identity
//	digest: …     SHA-256 of everything above, against accidental damage
//	-----END BREAKGLASS SEALED SECRET-----
//	-----BEGIN AGE ENCRYPTED FILE-----     (the payload)
//	…
//
// # Sealing and unsealing
//
// [Seal] needs only public keys: each [Custodian] carries the age1tag1…
// recipient of its token's key-agreement key (see [TagRecipient]). It
// streams the secret, so memory use does not grow with its size, and it
// returns the paper custodians' mnemonics for printing.
//
// [Parse] reads and checks the sealed block; [File.HeaderHash] is the value
// the logbook's seal entry signs. [File.NewUnseal] starts an [Unseal]:
// [Unseal.Tap] takes one token, as a [crypto/ecdh.KeyExchanger] (a PIV card
// or PKCS#11 token implements it; tests use software *ecdh.PrivateKey);
// [Unseal.AddMnemonic] takes a paper share; [Unseal.Progress] says who has
// tapped and who is still needed; [Unseal.Open] streams the secret once
// enough groups are complete, and [Unseal.Drill] checks the shares without
// decrypting anything. [Reseal] writes a new file with a fresh identity
// and fresh shares.
//
// # Threat model
//
// Each layer is checked before the next one spends anything:
//
//   - Parse verifies the digest, so a damaged file never reaches a token.
//   - Before a token is used, Tap checks that its key is in the roster, that
//     its custodian has not tapped, and that the share is still needed. The
//     p256tag tag is checked before the one ECDH.
//   - A share binds the header hash and the custodian index; a share from
//     another file, or from before a reseal, is named as such.
//   - Every share has a commitment in the header, so a wrong or corrupted
//     share is detected and its custodian named before anything is combined.
//   - After combining, the identity must derive the header's recipient and
//     the header MAC (keyed from the identity) must verify before a byte of
//     payload is decrypted.
//   - The caller compares the header hash with the logbook's signed seal
//     entry before the first tap: that is what stops a forged file whose
//     digest was recomputed.
//
// Errors are typed: a [*ShareError] names the custodian and wraps one of
// the Err values ([ErrNotInRoster], [ErrAlreadyTapped], [ErrWrongToken],
// [ErrOtherFile], [ErrBeforeReseal], [ErrBadShare], …); a [*FormatError]
// names the line of a malformed file. No error carries secret material.
//
// Secret bytes (the scalar, mnemonics, share values) are wiped after use.
// Go strings cannot be wiped: the AGE-SECRET-KEY string handed to age, the
// mnemonics returned for printing and age's own copy of the identity live
// until the garbage collector reclaims them.
//
// # Recovery without breakglass
//
// With k shares and standard tools: decrypt each token share block with
// `age -d` and an identity or plugin for the token, read the mnemonic: line,
// combine the mnemonics with any SLIP-0039 tool (empty passphrase), encode
// the 32-byte result as Bech32 with prefix AGE-SECRET-KEY- (upper case;
// [IdentityString] does this), and decrypt the payload with `age -d -i`.
package seal
