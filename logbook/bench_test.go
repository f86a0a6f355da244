package logbook

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/breakglass/breakglass/internal/ecdsabatch"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// rawSigner is a software note signer with randomized rather than RFC 6979
// nonces, to build big benchmark logbooks faster. Its signatures are what
// token.NewNoteSigner makes: normalised to even R, unless odd is set, when
// they are left in whichever form ECDSA gave (odd R half the time), as
// signers before normalisation wrote them.
type rawSigner struct {
	note.Signer
	k   *ecdsa.PrivateKey
	odd bool
}

func (s rawSigner) Sign(msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, s.k, d[:])
	if err != nil || s.odd {
		return sig, err
	}
	return ecdsabatch.Normalize(&s.k.PublicKey, d[:], sig)
}

// benchLog returns a logbook of n entries signed by alice, bob and carol,
// cached in the temporary directory across runs (building 100,000 entries
// takes about a minute of signing).
func benchLog(b *testing.B, n int) string {
	dir := filepath.Join(os.TempDir(), "breakglass-logbook-bench-v2-"+strconv.Itoa(n))
	if _, err := os.Stat(filepath.Join(dir, checkpointFile)); err == nil {
		return dir
	}
	b.Logf("building a %d-entry logbook in %s", n, dir)
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	writeBigLog(b, tmp, n, false, nil)
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		b.Fatal(err)
	}
	return dir
}

// writeBigLog creates a logbook of n note entries in dir, signed in turn by
// alice, bob and carol with rawSigner (odd: not normalised). edit, if not
// nil, may change each signed record before it is hashed into the tree, so
// that a bad signature is the only thing wrong with the logbook.
func writeBigLog(t testing.TB, dir string, n int, odd bool, edit func(i int, signed []byte) []byte) {
	if err := Create(dir, testOrigin); err != nil {
		t.Fatal(err)
	}
	var signers []note.Signer
	for _, name := range []string{"alice", "bob", "carol"} {
		signers = append(signers, rawSigner{Signer: testSigner(t, name), k: testKey(name), odd: odd})
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
			t.Fatal(err)
		}
		signed, err := note.Sign(&note.Note{Text: string(text)}, s)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			signed = edit(i, signed)
		}
		if err := hs.add(tlog.RecordHash(signed)); err != nil {
			t.Fatal(err)
		}
		if root, err = hs.root(int64(i + 1)); err != nil {
			t.Fatal(err)
		}
		all = append(all, signed...)
	}
	c, err := signCheckpoint(Checkpoint{Origin: testOrigin, Tree: tlog.Tree{N: int64(n), Hash: root}}, signers[(n-1)%len(signers)]) // the actor of the last entry signs it
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, entriesFile, all)
	writeFile(t, dir, checkpointFile, c.Signed)
}

// BenchmarkVerify verifies a whole logbook: every signature (in parallel),
// every hash link, the Merkle tree and the checkpoint. Goal for 100,000
// entries: under 2 s on 2 cores.
func BenchmarkVerify(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			dir := benchLog(b, n)
			roster := testRoster(b)
			cpu0 := cpuTime(b)
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
			// CPU time of the whole process (all cores): on a shared
			// machine, wall time varies with the load, this much less.
			b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// cpuTime returns the user and system CPU time used by the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
				e.Key = "0000 0000 0000 0001" // any well-formed fingerprint: nothing checks it
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
