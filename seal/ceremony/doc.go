// Package ceremony collects the taps that open a sealed secret.
//
// An unseal, a drill, a reseal and an AWS session all begin the same way:
// custodians come one at a time with a hardware token (a PIV card such as a
// YubiKey, or a PKCS#11 token), a printed SLIP-0039 share, or a response
// from a remote tap, until the roster's policy (k of n, or groups of k of
// n) is met or the window runs out. This package is that ceremony. It owns
// the state machine; the program that drives it owns the screen.
//
// # A tap
//
// A token tap goes through the same steps every time, and stops at the
// first that fails, with the token left alone:
//
//  1. The token's key-agreement key must be a custodian's in the roster
//     (an enrolled card that is not is named by its owner).
//  2. The custodian's share must still be needed: not tapped already, and
//     their group not complete.
//  3. The token's signing key must be the one enrolled for the custodian.
//  4. The token must have at least two PIN tries left: the ceremony never
//     spends a token's last try (a blocked card is a lost custodian).
//  5. The token signs an approval ("breakglass tap approval v1", package
//     approval) that names the secret, its header hash, the operator, the
//     reason, the ticket and the use case: the PIN and the touch happen
//     here.
//  6. The token opens the custodian's share, which is checked against its
//     commitment in the header before it is kept.
//
// A paper share (typed or read from a file) and a remote response are
// checked against the header the same way; a remote response carries the
// custodian's signed approval.
//
// A tap that fails leaves the taps already made in place: the custodian
// may pull the card out and put it back to try again, or another custodian
// may tap instead. When the window runs out or the person stops the
// ceremony (the context ends, or a prompt returns [ErrInterrupted]),
// everything gathered is wiped and [Ceremony.Run] returns a [*StopError].
//
// # Driving a ceremony
//
// The ceremony never prints and never reads a terminal. It asks through a
// [Prompter] (a PIN, a typed share, a confirmation) and tells an
// [Observer] what happens, as [Event] values: "tap 1 of 3 by alice", a PIN
// refused with 2 tries left, a touch needed, a card pulled out. The
// breakglass command line renders them on the terminal; a TUI or a web
// page could drive the same ceremony.
//
// Tokens are found by a [Finder]; [Poller] is the one that looks at PC/SC
// readers and PKCS#11 tokens, one look at a time, and a token stays
// handled while it stays in its reader.
//
// # Drills: every custodian
//
// A ceremony normally stops as soon as the policy is met. With
// [Options.CollectAll] it goes on until every custodian has tapped (or the
// window ends): the shares past the policy are opened and checked, then
// wiped, not kept. [Ceremony.Results] gives one [Result] per custodian:
// who tapped, who failed and why, the PIN tries left and the token's
// firmware.
package ceremony
