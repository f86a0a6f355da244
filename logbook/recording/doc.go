// Package recording records a break-glass session: the command the
// operator runs with released credentials (aws session --exec, unseal
// --exec) runs on a pseudo-terminal, and what the terminal shows, what is
// typed and each resize go into an asciicast v2 recording (package
// internal/asciicast) that is encrypted to the case's auditors as it is
// written. Keystrokes never sit in plaintext on the laptop, and a
// recording is evidence next to the logbook: the logbook records its
// SHA-256, size, duration and why the session ended.
//
// # Format
//
// A recording file (NAME.cast.age) is a sequence of ASCII-armored age
// files, "segments", one after the other:
//
//	-----BEGIN AGE ENCRYPTED FILE-----    segment 0, to the auditors:
//	…                                     the recording key
//	-----END AGE ENCRYPTED FILE-----
//	-----BEGIN AGE ENCRYPTED FILE-----    segment 1, to the recording key:
//	…                                     the asciicast header and the
//	-----END AGE ENCRYPTED FILE-----      first events
//	-----BEGIN AGE ENCRYPTED FILE-----    segment 2: the next events
//	…
//
// Segment 0 holds a fresh X25519 identity, the recording key, as an age
// identity file (a comment line, then AGE-SECRET-KEY-1…), encrypted to the
// auditors' recipients. Every other segment is encrypted to that key's
// recipient, and holds whole asciicast lines; their plaintexts, in order,
// are the asciicast file.
//
// # Why segments
//
// An age file cannot be read until it is finished: its payload is
// ChaCha20-Poly1305 STREAM in 64 KiB chunks, and only the last chunk is
// marked as last, so a file cut short (breakglass killed with -9, the
// laptop's battery dead) fails to decrypt at its end, and whatever was in
// the unfinished 64 KiB chunk is lost. Typing makes a few bytes a second;
// waiting for full chunks would lose minutes. So the recorder ends the
// open age file every second (Options.FlushInterval) when anything was
// written to it, and starts the next one when there is more. A kill -9
// loses at most that second, and a reader returns every complete segment
// and then says where the file was cut ([TruncatedError]). A decrypter that
// stops at the last complete STREAM chunk of one long file would need
// age's internals and still lose up to 64 KiB; rewriting one file's last
// chunk in place is not something age's format allows.
//
// The segments are armored so that each can be found with standard tools
// by its BEGIN and END lines (binary age files laid end to end cannot be
// told apart without decrypting them). Armor costs a third more bytes on
// disk, and nothing on the terminal: the recorder encrypts and writes in
// its own goroutine.
//
// The recording key exists so that the auditors' identities are used once
// per recording, not once per segment: an auditor's key on a hardware
// token (a plugin identity) is asked to unwrap one file key, and a plugin
// recipient is run once when the recording starts, not every second. A
// segment costs one X25519 key agreement and about 250 bytes of header.
//
// # Reading it without breakglass
//
// With the age CLI and an auditor's identity (auditor.key):
//
//	awk '/^-----BEGIN AGE/{n++} {print > sprintf("seg%05d.age", n)}' REC.cast.age
//	age -d -i auditor.key seg00001.age > recording.key
//	for s in seg*.age; do [ $s = seg00001.age ] || age -d -i recording.key $s; done > REC.cast
//	asciinema play REC.cast
//
// # What vouches for a recording
//
// Anyone can encrypt to the auditors, and whoever can write to the case
// can replace a recording or cut segments out of it: age authenticates
// each segment, not the file. What vouches for the whole is the logbook:
// the session's end entry, signed by the operator's token, records the
// file's SHA-256 and size ([Result]), and breakglass replay and log verify
// --recordings compare. A session whose breakglass died has no such entry;
// the next command on the case records the hash of what it finds then
// ([EndUnterminated]), so the part written before that is vouched for
// only from then on.
//
// # Sessions
//
// [Create] makes the file (mode 0600, never overwriting) and locks it;
// [Recording.Run] runs the command on a pty and records until the session
// ends (see [End]); [Recording.Close] releases the lock once the end is in
// the logbook. [Live] tells a recording in progress from one whose
// recorder died: the lock is an flock(2), which dies with the process.
package recording
