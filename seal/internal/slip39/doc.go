// Package slip39 implements SLIP-0039, Shamir's Secret-Sharing for Mnemonic
// Codes: a master secret is encrypted with a passphrase, split into groups of
// shares, and each share is written as a list of words from a fixed list of
// 1024. breakglass splits the scalar of a sealed secret's age identity this
// way, so that any SLIP-0039 implementation can recover it if breakglass is
// lost.
//
// # Sets, groups and members
//
// A set of shares recovers the secret when GroupThreshold of its GroupCount
// groups are complete, a group being complete when MemberThreshold of its
// members are present. This expresses policies such as "2 of the security
// group and 1 of the platform group": two groups, both needed, the first
// with 2 of 3 members, the second with 1 of 1. At most 16 groups of at most
// 16 members; a group with threshold 1 has exactly one member.
//
// [Generate] makes a set, [Progress] reports how far a growing collection of
// shares is from recovering the secret (which groups are complete, how many
// more members each needs, and which shares to use), and [Combine] recovers
// the secret from exactly the shares needed.
//
// # What is checked
//
// Reading a share ([ParseMnemonic], [Share.UnmarshalText],
// [Share.UnmarshalBinary]) checks the length, the RS1024 checksum (any error
// in up to three words is detected), that the padding bits are zero and that
// the metadata is in range. Words are matched exactly, ignoring ASCII letter
// case; nothing is auto-corrected, and an accepted share has exactly one
// encoding. Combining checks that all shares belong to one set (identifier,
// extendable flag, iteration exponent, group threshold and count, length)
// and that no member appears twice, then, for every split with a threshold
// above 1, the 4-byte digest that SLIP-0039 stores at x = 254: too few shares
// relabelled as enough, a forged or a corrupted share give an error wrapping
// [ErrDigest] (with probability 1 − 2^-32), never a wrong secret. Two limits
// remain by design of the format: a group of threshold 1 has no digest, and a
// wrong passphrase is not detected (it decrypts to a different secret);
// callers that know what the secret must be (breakglass compares the
// recovered identity with the recipient in the header) check that.
//
// Errors wrap one of the exported sentinel errors; errors about one share
// of several are a [*ShareError] that names it by position. They name words,
// shares and groups by number (from 1) and never contain share values or
// words.
//
// # Format
//
// A share is 10-bit words, big-endian: the identifier (15 bits), the
// extendable flag (1), the iteration exponent (4), group index, group
// threshold − 1, group count − 1, member index, member threshold − 1 (4 bits
// each), the share value left-padded with at most 8 zero bits to a multiple
// of 10, and a 3-word RS1024 checksum over GF(1024) keyed by the string
// "shamir" or "shamir_extendable". A 16-byte secret makes 20-word shares, a
// 32-byte secret 33 words. [Share.MarshalBinary] packs the same words into
// ceil(10·words/8) bytes.
//
// Values are split over GF(256) with the AES polynomial. With threshold T ≥ 2
// each byte's polynomial passes through T−2 random shares at x = 0…T−3, the
// digest share D = HMAC-SHA256(R, S)[:4] ‖ R at x = 254 and the secret S at
// x = 255; shares are its values at x = 0…N−1. The group shares are the
// values of a split of the encrypted master secret; each group share is
// split again among the members.
//
// The master secret is encrypted by a 4-round Feistel network whose round
// function is PBKDF2-HMAC-SHA256 of the round number and passphrase, salted
// with the right half (prefixed by "shamir" and the identifier for sets
// that are not extendable), for 2500·2^e iterations per round. New sets are
// extendable; both kinds are read.
//
// # Side channels and hygiene
//
// The field arithmetic on share values is constant-time: multiplication is a
// fixed loop with masks instead of branches and inversion is a^254; no table
// is indexed by a secret byte. Lagrange coefficients depend only on the
// public x coordinates. Converting between words and values uses a map and
// a table indexed by the (secret) word values; that is not constant-time.
// Intermediate secrets (the encrypted master secret, group shares, digests,
// Feistel halves) are wiped after use, best effort: the passphrase passes
// through a string for crypto/pbkdf2, and [Share.Mnemonic] returns a string,
// neither of which can be wiped ([Share.AppendMnemonic] writes to a buffer
// that can). Callers wipe what they are given with [Share.Wipe] and clear.
//
// # Sources
//
// The format is SLIP-0039 (satoshilabs/slips, slip-0039.md). The word list
// wordlist.txt is slip-0039/wordlist.txt from that repository, byte for byte
// the same as shamir_mnemonic/wordlist.txt in trezor/python-shamir-mnemonic
// (MIT, Copyright 2019 SatoshiLabs; see testdata/README). The official
// test vectors in testdata/vectors.json come from trezor/python-shamir-mnemonic
// (MIT, Copyright 2019 SatoshiLabs); every one of them passes, both ways.
package slip39
