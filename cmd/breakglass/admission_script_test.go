package main

// Script commands with which the admission attack scripts play someone who
// can write to the case repository and holds a token of their own (the
// attacks of issue #14): they sign with their own card, checking
// signatures the way breakglass did before admission (against every record
// in the directory), and write the files directly.
//
//	logsign CASE RECORD READER KIND TEXT   append a KIND entry (reason TEXT),
//	                                       signed by the card in READER
//	logresign CASE N RECORD READER         drop the entries after the first N
//	                                       and sign a checkpoint of N entries
//	                                       with the card in READER
//	recordas NAME RECORD READER OUT        the record of the card in READER,
//	                                       re-issued under NAME, self-signed

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
)

// scriptCard opens the PIV card in reader with the record at path, its PIN
// from BREAKGLASS_PIN.
func scriptCard(ts *testscript.TestScript, path, reader string) (*token.Record, *piv.Token) {
	r, err := casedir.ReadRecord(ts.MkAbs(path))
	ts.Check(err)
	pin := ts.Getenv("BREAKGLASS_PIN")
	tok, err := piv.OpenRecord(r, piv.Selector{Reader: reader}, func() ([]byte, error) { return []byte(pin), nil })
	ts.Check(err)
	ts.Check(token.VerifyPIN(tok))
	return r, tok
}

// rawLog opens the case's logbook with every record of the directory as a
// verifier, without the admission rules.
func rawLog(ts *testscript.TestScript, dir string) *logbook.Log {
	c, err := casedir.Open(ts.MkAbs(dir), nil)
	ts.Check(err)
	vs, err := c.Verifiers()
	ts.Check(err)
	l, err := logbook.Open(c.LogDir(), vs)
	ts.Check(err)
	return l
}

func logSignCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 5 {
		ts.Fatalf("usage: logsign CASE RECORD READER KIND TEXT")
	}
	l := rawLog(ts, args[0])
	r, tok := scriptCard(ts, args[1], args[2])
	defer tok.Close()
	name, err := casedir.ActorName(r)
	ts.Check(err)
	ns, err := token.NewNoteSigner(name, tok.SigningKey())
	ts.Check(err)
	_, err = l.Append(l.Size(), logbook.Entry{Kind: logbook.Kind(args[3]), Reason: args[4], Key: r.Fingerprint()}, ns)
	ts.Check(err)
}

func logResignCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: logresign CASE N RECORD READER")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	l := rawLog(ts, args[0])
	if int64(n) >= l.Size() {
		ts.Fatalf("logresign: the logbook holds %d entries", l.Size())
	}
	var kept []byte
	var stored []tlog.Hash
	for i, e := range l.Entries()[:n] {
		kept = append(kept, e.Signed...)
		hs, err := tlog.StoredHashes(int64(i), e.Signed, hashReaderOf(stored))
		ts.Check(err)
		stored = append(stored, hs...)
	}
	root, err := tlog.TreeHash(int64(n), hashReaderOf(stored))
	ts.Check(err)
	r, tok := scriptCard(ts, args[2], args[3])
	defer tok.Close()
	name, err := casedir.ActorName(r)
	ts.Check(err)
	ns, err := token.NewNoteSigner(name, tok.SigningKey())
	ts.Check(err)
	text, err := logbook.Checkpoint{Origin: l.Origin(), Tree: tlog.Tree{N: int64(n), Hash: root}}.MarshalText()
	ts.Check(err)
	signed, err := note.Sign(&note.Note{Text: string(text)}, ns)
	ts.Check(err)
	dir := filepath.Join(ts.MkAbs(args[0]), casedir.LogbookDir)
	ts.Check(os.WriteFile(filepath.Join(dir, "entries"), kept, 0o644))
	ts.Check(os.WriteFile(filepath.Join(dir, "checkpoint"), signed, 0o644))
}

type hashReaderOf []tlog.Hash

func (h hashReaderOf) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = h[x]
	}
	return out, nil
}

func recordAsCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: recordas NAME RECORD READER OUT")
	}
	r, tok := scriptCard(ts, args[1], args[2])
	defer tok.Close()
	r2 := *r
	r2.Custodian.Name, r2.Signature, r2.Digests = args[0], "", nil
	ts.Check(r2.Sign(tok.SigningKey()))
	b, err := r2.Marshal()
	ts.Check(err)
	if bytes.Equal(b, nil) {
		ts.Fatalf("recordas: empty record")
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[3]), b, 0o644))
}
