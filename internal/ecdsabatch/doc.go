// Package ecdsabatch checks many P-256 ECDSA signatures at once, five to
// seven times faster than checking them one by one when there are thousands,
// and normalises signatures so that they can be checked that way.
//
// It is an accelerator only: a [Batch] that verifies means every signature in
// it is valid (with overwhelming probability), and a Batch that does not
// verify says nothing about which signature is bad, so the caller checks the
// signatures again one by one with crypto/ecdsa. Accept/reject decisions and
// error messages therefore stay exactly those of standard ECDSA.
//
// # Why ECDSA does not batch, and how normalised signatures do
//
// An ECDSA signature (r, s) of the hash e by the key Q is valid when r and s
// are in [1, n−1] and the point R = s⁻¹(e·G + r·Q) is not the identity and
// has x(R) ≡ r (mod n). Only the x-coordinate of R is checked, so a verifier
// does not know R itself, and the equations of many signatures cannot be
// added up. (r, s) and (r, n−s) are both valid: the second gives −R, the
// mirror image of R, with the same x and the other y.
//
// A signer that, after signing, computes R and replaces s by n−s whenever R
// has an odd y-coordinate ([Normalize]) produces signatures whose R is
// lift_x(r): the point with x = r and even y, which anyone can compute from r
// with one square root. Nothing changes for standard verifiers; a batch
// verifier can now write every signature as the point equation
//
//	sᵢ⁻¹eᵢ·G + sᵢ⁻¹rᵢ·Qᵢ = Rᵢ,   Rᵢ = lift_x(rᵢ)
//
// which implies x(Rᵢ) = rᵢ, that is, ECDSA validity. [Batch.Add] refuses a
// signature whose r is not the x of a point (it cannot be valid unless
// x(R) = r + n, which happens with probability about 2⁻¹²⁸), and one that is
// not a normalised signature fails the batch, so the caller's one-by-one
// check decides it.
//
// # The batch equation
//
// [Batch.Verify] draws independent random 128-bit weights zᵢ from crypto/rand
// after the last signature was added, and checks the single equation
//
//	(Σᵢ zᵢsᵢ⁻¹eᵢ)·G + Σ_k (Σ_{i signed by Q_k} zᵢsᵢ⁻¹rᵢ)·Q_k = Σᵢ zᵢ·Rᵢ
//
// The left side is one fixed-base multiplication plus one variable-base
// multiplication per distinct public key (a logbook has few signers). The
// right side is a multi-scalar multiplication with short scalars, done with
// Pippenger's bucket method in signed digits: about 129/c·(N + 2ᶜ) point
// additions for N signatures and window width c, which comes to some 16
// additions per signature for a few thousand signatures, against roughly 300
// doublings and additions for one ECDSA verification; recovering each Rᵢ
// from rᵢ costs a square root. All the sᵢ are inverted with one modular
// inversion (Montgomery's trick). Below about eight signatures a batch costs
// more than checking them one by one.
//
// # Soundness
//
// Write Dᵢ = sᵢ⁻¹eᵢ·G + sᵢ⁻¹rᵢ·Qᵢ − Rᵢ. The batch equation says Σ zᵢDᵢ = 0.
// If every signature is valid, every Dᵢ is the identity and the batch passes.
// If some D_j is not, then, P-256 having prime order n and cofactor 1, D_j
// generates the whole group, and for any fixed values of the other weights
// at most one value of z_j modulo n makes the sum vanish. The weights are
// drawn after the signatures are fixed, so whoever chose the signatures
// cannot aim for that value; z_j being uniform over 2¹²⁸ values, the batch
// passes with probability at most 2⁻¹²⁸. No secret is involved anywhere, so
// the arithmetic need not be constant time.
package ecdsabatch
