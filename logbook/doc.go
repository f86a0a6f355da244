// Package logbook keeps breakglass's journal: the append-only, signed,
// hash-linked record of every enrollment, seal, unseal, tap, release, drill
// and revocation of a case.
//
// The manual break-glass method keeps a paper journal that auditors check.
// The logbook is that journal as evidence an auditor can verify without
// trusting the laptop it was written on: each entry is signed by the token of
// the person who acted, each entry commits to everything before it, and the
// tree head (a checkpoint) is short enough to write on paper or paste into a
// ticket. Given an older checkpoint, [Verify] proves that the logbook has only
// been appended to since.
//
// # Format
//
// The format is specified in docs/format-logbook.md, with test vectors in
// testdata/vectors. In short, a logbook is a directory holding
//
//   - origin: one line naming the case, e.g. "breakglass.example/acme/prod";
//   - entries: the entries, one after another, each a C2SP signed note
//     (c2sp.org/signed-note) whose text is one "keyword value" line per
//     field, signed by the actor's token key (ECDSA P-256, signature type
//     0x02, see token.NewNoteSigner);
//   - checkpoint: the latest C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint)
//     over the RFC 6962 Merkle tree whose leaves are the signed entries,
//     signed by whoever appended last.
//
// Each entry after the first carries the Merkle tree hash of all entries
// before it ("prev"), so its signature covers the whole history as it was
// then. Checkpoints and entries open with golang.org/x/mod/sumdb/note; hashes
// and consistency proofs are golang.org/x/mod/sumdb/tlog's.
//
// A log has no key of its own: no private key ever lives in a file. The
// person who appends signs both the entry and the new checkpoint (signing
// keys are enrolled with touch policy "cached", so that is one touch).
//
// # Admission
//
// Three kinds decide who may sign (docs/format-logbook.md, "Admission"): a
// genesis names the founding custodians and how many admitted custodians
// must sign an admit ([GenesisEntry], [Entry.Genesis]), an admit lets an
// enrolled token sign ([AdmitEntry]), a retire ends that ([RetireEntry]).
// Their details have strict formats, checked by MarshalText and so by the
// parser. A genesis or admit carries several signature lines: [Log.Append]
// takes cosigners. This package checks signatures against the verifiers it
// is given; replaying who was admitted when is package logbook/casedir's
// job, which vets each append with [Log.SetAppendCheck].
//
// # Reading
//
// [Open] and [Verify] check everything (every signature against the roster's
// [note.Verifiers], who signed each entry, every hash link, the tree against
// the checkpoint, and consistency with given older checkpoints) before they
// return any entry. The first problem comes back as a *[VerifyError] naming
// the entry. [InsecureReadUnverified] reads a damaged logbook for forensics;
// nothing it returns is evidence.
//
// Signatures are checked on every core, in blocks of 4096 entries, each block
// first as one randomised batch (internal/ecdsabatch: about a sixth of the
// cost of checking each signature alone). A block whose batch fails is
// checked again one signature at a time, so what is accepted and the entry an
// error names are exactly those of checking every signature on its own; the
// batch only makes the common case fast. Signatures that breakglass makes are
// normalised for it (docs/format-logbook.md); others just take the slow path.
//
// # Writing
//
// [Log.Append] is compare-and-swap: it appends only if the logbook still
// holds the number of entries the caller decided on, so a check such as "no
// release of this secret is open" ([OpenReleases]) and the append that
// depends on it cannot be separated by another process's append. The entry
// and its checkpoint are signed first, without any lock: a token may wait
// for a PIN or a touch, and no reader or writer ever waits on that. Then,
// under an exclusive flock(2) that serialises appends from several
// processes (readers take it shared), the append checks that the log is
// still the one it signed on top of (else a conflict: the caller signs
// again on the new size), the entry is written and fsynced, the checkpoint
// is written to a temporary file, fsynced and renamed over the old one, and
// the directory is fsynced; the checkpoint is the commit record. A crash
// leaves at most one unfinished entry after the committed ones, which
// readers ignore and the next append overwrites. The lock is thus held for
// milliseconds; a process that has to wait for it longer is told who holds
// it ([LockWait]).
//
// # What the logbook cannot do
//
// Anyone who holds a roster key can rewrite the history after their own
// entries and re-sign it; only checkpoints held elsewhere catch that, and
// removing the last entry is indistinguishable from a crash before its
// commit unless a checkpoint covering it was. Witnesses (package
// logbook/witness, c2sp.org/tlog-witness) hold them as a matter of routine;
// checkpoints published on paper or in tickets do too.
//
// No secret ever goes into the logbook: only names, hashes, key ids, people
// and reasons.
package logbook
