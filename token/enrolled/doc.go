// Package enrolled opens the token an enrollment record describes.
//
// An enrolled person's token (a PIV card or a PKCS#11 token) signs for
// them: logbook entries (a note, a seal, the start and the end of an
// unseal), a card test. [Opener.Open] finds it from the record, opens it
// and checks that it holds the record's keys. When another token is in
// hand instead, the error says whose it is, from the enrollment records in
// the case's roster directory: "token piv 1234 is not alice's enrolled
// token: it is bob's card (serial 1234, expected 5678)".
//
// # Memory for one command
//
// One command may open the same person's token several times: the
// operator of an unseal signs its start and its release, and their card
// may tap in between as a custodian's. An [Opener] remembers, for the
// length of one command:
//
//   - the PIN of each enrolled person whose token has already signed with
//     it, so that it is typed once. A PIN is remembered only once a
//     signature made with it succeeded ([Opener.Proven]): a wrong PIN is
//     asked for again, never replayed;
//   - the reader each person's PIV card was last opened in, which is tried
//     before every reader is scanned (and every card on the way opened)
//     again.
//
// [Opener.Forget] wipes every PIN when the command ends. There is no
// process-wide state: a program holds one Opener per command.
package enrolled
