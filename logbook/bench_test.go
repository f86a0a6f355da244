package logbook

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// rawSigner is a software note signer without the self-check, to build big
// benchmark logbooks faster. Its signatures are what token.NewNoteSigner
// makes.
type rawSigner struct {
	note.Signer
	k *ecdsa.PrivateKey
}

func (s rawSigner) Sign(msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand.Reader, s.k, d[:])
}

// benchLog returns a logbook of n entries signed by alice, bob and carol,
// cached in the temporary directory across runs (building 100,000 entries
// takes half a minute of signing).
func benchLog(b *testing.B, n int) string {
	dir := filepath.Join(os.TempDir(), "breakglass-logbook-bench-v1-"+strconv.Itoa(n))
	if _, err := os.Stat(filepath.Join(dir, checkpointFile)); err == nil {
		return dir
	}
	b.Logf("building a %d-entry logbook in %s", n, dir)
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := Create(tmp, testOrigin); err != nil {
		b.Fatal(err)
	}
	var signers []note.Signer
	for _, name := range []string{"alice", "bob", "carol"} {
		signers = append(signers, rawSigner{testSigner(b, name), testKey(name)})
	}
	hs := &hashStore{}
	var all []byte
	var root tlog.Hash
	for i := range n {
		s := signers[i%len(signers)]
		e := Entry{Origin: testOrigin, Index: int64(i), Time: testT0.Add(time.Duration(i) * time.Second),
			Kind: KindNote, Actor: s.Name(), Key: s.(rawSigner).Signer.(interface{ Fingerprint() string }).Fingerprint(),
			Reason: "benchmark entry " + strconv.Itoa(i), Ticket: "BENCH-1", Details: map[string]string{"n": strconv.Itoa(i)}}
		if i > 0 {
			e.Prev = root
		}
		text, err := e.MarshalText()
		if err != nil {
			b.Fatal(err)
		}
		signed, err := note.Sign(&note.Note{Text: string(text)}, s)
		if err != nil {
			b.Fatal(err)
		}
		if err := hs.add(tlog.RecordHash(signed)); err != nil {
			b.Fatal(err)
		}
		if root, err = hs.root(int64(i + 1)); err != nil {
			b.Fatal(err)
		}
		all = append(all, signed...)
	}
	c, err := signCheckpoint(Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: int64(n), Hash: root}}, signers[0])
	if err != nil {
		b.Fatal(err)
	}
	writeFile(b, tmp, entriesFile, all)
	writeFile(b, tmp, checkpointFile, c.Signed)
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkVerify verifies a whole logbook: every signature (in parallel),
// every hash link, the Merkle tree and the checkpoint. Goal for 100,000
// entries: under 2 s on 2 cores.
func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			dir := benchLog(b, n)
			roster := testRoster(b)
			for b.Loop() {
				l, err := Open(dir, roster)
				if err != nil {
					b.Fatal(err)
				}
				if l.Size() != int64(n) {
					b.Fatalf("size %d", l.Size())
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(n), "µs/entry")
		})
	}
}

// fakeSigner and fakeVerifier stand in for a token whose signature costs
// nothing, to time Append's own work (hashing, writes, fsyncs, rename).
type fakeSigner struct{}

func (fakeSigner) Name() string                    { return "fake" }
func (fakeSigner) KeyHash() uint32                 { return 1 }
func (fakeSigner) Sign(msg []byte) ([]byte, error) { return make([]byte, 64), nil }

type fakeVerifier struct{ fakeSigner }

func (fakeVerifier) Verify(msg, sig []byte) bool { return true }

// BenchmarkAppend appends one entry: write + fsync, checkpoint write + fsync
// + rename + directory fsync. Goal, excluding the token's signature: under
// 10 ms.
func BenchmarkAppend(b *testing.B) {
	for _, tc := range []struct {
		name string
		s    note.Signer
		v    note.Verifiers
	}{
		{"signature=none", fakeSigner{}, note.VerifierList(fakeVerifier{})},
		{"signature=ecdsa-p256-software", testSigner(b, "alice"), testRoster(b)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := Entry{Time: testT0, Kind: KindNote, Reason: "benchmark", Details: map[string]string{"a": "b"}}
			if _, ok := tc.s.(fakeSigner); ok {
				e.Key = "none"
			}
			dir := filepath.Join(b.TempDir(), "lb")
			if err := Create(dir, testOrigin); err != nil {
				b.Fatal(err)
			}
			l, err := Open(dir, tc.v)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := l.Append(l.Size(), e, tc.s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
