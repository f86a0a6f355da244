// Package witness has a breakglass logbook's checkpoints cosigned by
// witnesses that other teams run, so that rewriting the logbook's history
// after the fact is caught by someone other than the people who can write
// to the case.
//
// It speaks the protocols the transparency-log world runs on, so the same
// witness software and networks serve breakglass logbooks and other logs:
//
//   - c2sp.org/tlog-witness: a log POSTs "old SIZE", a consistency proof
//     from that size and its new signed checkpoint to the witness's
//     add-checkpoint endpoint; the witness checks the checkpoint's
//     signature against the log's keys and the proof against the latest
//     checkpoint it cosigned for that origin, persists the new one, and
//     answers with its cosignature. It refuses a size other than its own
//     (409 Conflict with its size), a proof that does not verify and a
//     different checkpoint of the same size (422), so it never cosigns two
//     histories of one log.
//   - c2sp.org/tlog-cosignature: the answer is a signed-note signature line
//     of type 0x04 (cosignature/v1), an Ed25519 signature over
//     "cosignature/v1\ntime T\n" and the checkpoint, with the timestamp T.
//
// The cosigner and checkpoint parsing are filippo.io/torchwood's
// ([torchwood.NewCosignatureSigner], [torchwood.ParseCheckpoint]). torchwood's
// own witness (litewitness) lives in an internal package over SQLite, and
// v0.6.1 builds a cosignature verifier only from a private key, so the HTTP
// handler, its file-based state and the [Verifier] are here, written from
// the specs; tests check both directions against torchwood and sigsum-go.
//
// # In the case
//
// A logbook directory (package logbook) gains two files, specified in
// docs/format-logbook.md:
//
//   - witnesses ([ConfigFile]): who witnesses the logbook and how many must
//     cosign, edited by hand:
//
//     quorum 2
//     timeout 10s
//     witness witness.example.com/security+3a4b5c6d+BNuV… https://witness.example.com/security
//     witness audit.example.org/w1+0f1e2d3c+BKk3… https://audit.example.org/w1
//     witness offsite.example.net/w+9a8b7c6d+BFe2…
//
//   - cosigned ([CosignedFile]): the checkpoints witnesses cosigned, each
//     as a signed note carrying the actor's signature and the witnesses'
//     cosignature lines, in increasing size ([Store]).
//
// [Cosign] sends the latest checkpoint to every witness and stores what
// they answer; [Check] verifies the stored cosignatures and how far a
// quorum has witnessed the logbook, and fails with an [*InconsistentError]
// when a cosigned checkpoint is not a prefix of the logbook (history was
// rewritten or removed after it was witnessed).
//
// # Running a witness
//
// A [Server] keeps its state in a directory: the logs it witnesses with the
// keys allowed to sign their checkpoints ([AddLog], [ReadLogs]) and the
// latest cosigned checkpoint of each. It holds an flock(2) on the directory
// for as long as it runs, and replaces a log's checkpoint file atomically
// (write, fsync, rename, fsync the directory) before it answers, so a crash
// at any point leaves it with the old or the new checkpoint and it never
// cosigns two different checkpoints of the same size. Its key is made by
// [GenerateKey] and read by [NewSigner].
//
// # What witnesses cannot do
//
// A witness sees only checkpoints, never entries: it proves that the history
// it cosigned was only ever extended, not that the entries are true. Entries
// appended but not yet cosigned (on an air-gapped laptop, say) can still be
// removed without a trace until they are; cosign as soon as the network is
// back. A copy of the case that is behind another (git pull not done) looks,
// to the witness, like a rewrite once it appends: pull first.
package witness
