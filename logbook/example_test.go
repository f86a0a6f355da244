package logbook_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/token"
	"golang.org/x/mod/sumdb/note"
)

// A custodian's token key signs each entry; the roster's verifiers check
// them. Here a software key stands in for the token.
func ExampleLog_Append() {
	dir, _ := os.MkdirTemp("", "logbook-example")
	defer os.RemoveAll(dir)
	dir = filepath.Join(dir, "logbook")

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // on a card in real life
	alice, _ := token.NewNoteSigner("alice", key)
	aliceV, _ := token.NewNoteVerifier("alice", &key.PublicKey)
	roster := note.VerifierList(aliceV)

	if err := logbook.Create(dir, "breakglass.example/acme/prod"); err != nil {
		log.Fatal(err)
	}
	l, err := logbook.Open(dir, roster)
	if err != nil {
		log.Fatal(err)
	}
	ckpt, err := l.Append(l.Size(), logbook.Entry{
		Time:    time.Date(2026, 11, 24, 4, 0, 0, 0, time.UTC),
		Kind:    logbook.KindDrill,
		Secret:  "prod-aws",
		Reason:  "quarterly drill",
		Details: map[string]string{logbook.DetailResult: "pass", logbook.DetailTapped: "alice,bob"},
	}, alice)
	if err != nil {
		log.Fatal(err)
	}

	l, err = logbook.Verify(dir, roster, ckpt.Signed)
	if err != nil {
		log.Fatal(err)
	}
	e := l.Entries()[0]
	fmt.Println(e.Index, e.Kind, e.Actor, e.Secret, e.Details["result"])
	// The checkpoint, for the paper journal: origin, size, root hash, then
	// alice's signature line.
	fmt.Println(strings.Count(string(ckpt.Signed), "\n"), "lines; size", ckpt.N)
	// Output:
	// 0 drill alice prod-aws pass
	// 5 lines; size 1
}
