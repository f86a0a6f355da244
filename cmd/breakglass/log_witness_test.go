package main

// Tests of the witness commands (log witness, log cosign) beyond the
// scripts: a kill -9 of log witness serve during a burst of requests, and
// the cosignatures it makes checked by an independent implementation
// (sigsum-go).
//
// The scripts (testdata/script-log*/log_witness*.txt) also see:
//
//	freeport VAR           sets $VAR to a free loopback address, 127.0.0.1:PORT
//	waitfor ADDR           waits (10s at most) until ADDR accepts connections
//	expand SRC DST         writes SRC to DST with $VARs expanded
//	envfile VAR FILE       sets $VAR to FILE's contents, without the final newline
//	fakewitness MODE VAR   serves a witness that misbehaves (slow: never
//	                       answers; garbage: answers 200 with nonsense) on
//	                       loopback for the rest of the script; $VAR is its URL

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	sigsumcp "sigsum.org/sigsum-go/pkg/checkpoint"
	sigsumcrypto "sigsum.org/sigsum-go/pkg/crypto"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/witness"
	"github.com/breakglass/breakglass/token"
)

func witnessScriptCmds() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 1 {
				ts.Fatalf("usage: freeport VAR")
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			ts.Check(err)
			ts.Setenv(args[0], ln.Addr().String())
			ln.Close()
		},
		"waitfor": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 1 {
				ts.Fatalf("usage: waitfor ADDR")
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				c, err := net.DialTimeout("tcp", args[0], time.Second)
				if err == nil {
					c.Close()
					return
				}
				if time.Now().After(deadline) {
					ts.Fatalf("waitfor %s: %v", args[0], err)
				}
				time.Sleep(20 * time.Millisecond)
			}
		},
		"expand": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: expand SRC DST")
			}
			b, err := os.ReadFile(ts.MkAbs(args[0]))
			ts.Check(err)
			ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(os.Expand(string(b), ts.Getenv)), 0o644))
		},
		"envfile": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: envfile VAR FILE")
			}
			b, err := os.ReadFile(ts.MkAbs(args[1]))
			ts.Check(err)
			ts.Setenv(args[0], strings.TrimSuffix(string(b), "\n"))
		},
		"fakewitness": func(ts *testscript.TestScript, neg bool, args []string) {
			if neg || len(args) != 2 {
				ts.Fatalf("usage: fakewitness slow|garbage VAR")
			}
			release := make(chan struct{})
			var h http.HandlerFunc
			switch args[0] {
			case "slow":
				h = func(w http.ResponseWriter, r *http.Request) {
					select {
					case <-release:
					case <-r.Context().Done():
					}
				}
			case "garbage":
				h = func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, "<html><body>It works!</body></html>\n")
				}
			default:
				ts.Fatalf("fakewitness: unknown mode %q", args[0])
			}
			srv := httptest.NewServer(h)
			ts.Defer(func() { close(release); srv.Close() })
			ts.Setenv(args[1], srv.URL)
		},
	}
}

// witnessFork is one history of a test log: the signed checkpoint of each
// size, and the consistency proofs to it from every smaller size.
type witnessFork struct {
	signed [][]byte           // by size (index 0 unused)
	hash   []tlog.Hash        // by size
	proofs [][]tlog.TreeProof // by size, then old size
}

// buildWitnessForks makes two histories of one logbook, signed by alice's
// soft key, sharing their first shared entries, each top entries long.
func buildWitnessForks(t *testing.T, shared, top int) (forks [2]witnessFork, vkey string) {
	t.Helper()
	r, s := softRecord(t, "alice")
	pub, _ := r.SigningPublicKey()
	vkey, err := token.NoteVerifierKey("alice", pub)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := token.NewNoteVerifier("alice", pub)
	ns, err := token.NewNoteSigner("alice", s)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(t.TempDir(), "base")
	if err := logbook.Create(base, fixtureOrigin); err != nil {
		t.Fatal(err)
	}
	add := func(l *logbook.Log, tag string) {
		i := l.Size()
		e := logbook.Entry{Kind: logbook.KindNote, Reason: tag + " note " + strconv.FormatInt(i, 10), Time: fixtureT0.Add(time.Duration(i) * time.Minute)}
		if _, err := l.Append(i, e, ns); err != nil {
			t.Fatal(err)
		}
	}
	l, err := logbook.Open(base, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	for range shared {
		add(l, "shared")
	}
	for k, tag := range []string{"A", "B"} {
		dir := filepath.Join(t.TempDir(), tag)
		if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
			t.Fatal(err)
		}
		l, err := logbook.Open(dir, note.VerifierList(v))
		if err != nil {
			t.Fatal(err)
		}
		f := witnessFork{signed: make([][]byte, top+1), hash: make([]tlog.Hash, top+1), proofs: make([][]tlog.TreeProof, top+1)}
		for n := 1; n <= top; n++ {
			if int64(n) > l.Size() {
				add(l, tag)
			}
			if int64(n) < l.Size() {
				continue // shared entries: only the checkpoint at the top of the prefix is kept
			}
			ck := l.Checkpoint()
			f.signed[n], f.hash[n] = ck.Signed, ck.Hash
			for old := int64(0); old <= int64(n); old++ {
				p, err := l.ProveConsistency(old)
				if err != nil {
					t.Fatal(err)
				}
				f.proofs[n] = append(f.proofs[n], p)
			}
		}
		forks[k] = f
	}
	return forks, vkey
}

// startWitnessProcess runs `breakglass log witness serve` (this test binary)
// and returns its URL and process.
func startWitnessProcess(t *testing.T, key, state string) (string, *exec.Cmd) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "log", "witness", "serve", "--key", key, "--state", state, "--addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "BREAKGLASS_LOGTEST_MAIN=breakglass")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("log witness serve: %v; stderr:\n%s", err, stderr.String())
	}
	url := strings.TrimSpace(line)
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("log witness serve printed %q", url)
	}
	return url, cmd
}

// TestWitnessServeKill9 sends bursts of add-checkpoint requests, from two
// histories of one logbook, to `breakglass log witness serve`, kills it with
// SIGKILL in the middle of each burst and restarts it on the same state
// directory: across all rounds it must never cosign two different
// checkpoints of one size. Every cosignature it makes must also verify with
// sigsum-go, an independent cosignature/v1 implementation.
func TestWitnessServeKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a witness process through many kills")
	}
	const top = 60
	forks, logKey := buildWitnessForks(t, 4, top)
	dir := t.TempDir()
	keyFile, state := filepath.Join(dir, "w.key"), filepath.Join(dir, "state")
	skey, vkey, err := witness.GenerateKey("w1.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := witness.AddLog(state, fixtureOrigin, []string{logKey}); err != nil {
		t.Fatal(err)
	}
	v, err := witness.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	// sigsum-go's view of the witness key and of each checkpoint.
	var nv sigsumcp.NoteVerifier
	if err := nv.FromString(vkey); err != nil {
		t.Fatal(err)
	}
	sigsumCheck := func(signed []byte, cosigs []byte) error {
		text, _, _ := bytes.Cut(signed, []byte("\n\n"))
		parts := strings.Split(string(text), "\n")
		var cp sigsumcp.Checkpoint
		cp.Origin = parts[0]
		size, _ := strconv.ParseUint(parts[1], 10, 64)
		cp.Size = size
		cp.RootHash, _ = sigsumcrypto.HashFromBase64(parts[2])
		lines, err := sigsumcp.CosignatureLinesFromASCII(bytes.NewReader(cosigs))
		if err != nil {
			return err
		}
		_, err = cp.VerifyCosignatureByKey(lines, &nv.PublicKey)
		return err
	}

	var mu sync.Mutex
	cosigned := map[int64]tlog.Hash{}
	var oks, refused, failed, kills int
	rng := rand.New(rand.NewPCG(3, 4))
	for round := 0; round < 8; round++ {
		url, cmd := startWitnessProcess(t, keyFile, state)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for g := 0; g < 6; g++ {
			seed := rng.Uint64()
			wg.Go(func() {
				r := rand.New(rand.NewPCG(seed, 1))
				hc := &http.Client{Timeout: 5 * time.Second}
				known := int64(0)
				for ctx.Err() == nil {
					f := &forks[r.IntN(2)]
					n := min(max(known, 4)+int64(r.IntN(3)), top)
					old := min(known, n)
					body := witness.FormatRequest(old, f.proofs[n][old], f.signed[n])
					req, _ := http.NewRequestWithContext(ctx, "POST", url+"/add-checkpoint", bytes.NewReader(body))
					resp, err := hc.Do(req)
					if err != nil {
						mu.Lock()
						failed++
						mu.Unlock()
						continue // killed: wait for the end of the round
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					mu.Lock()
					switch resp.StatusCode {
					case 200:
						if _, err := note.Open(append(bytes.Clone(f.signed[n]), b...), note.VerifierList(v)); err != nil {
							t.Errorf("cosignature %q does not verify: %v", b, err)
						}
						if err := sigsumCheck(f.signed[n], b); err != nil {
							t.Errorf("sigsum-go rejects the cosignature %q: %v", b, err)
						}
						if h, ok := cosigned[n]; ok && h != f.hash[n] {
							t.Errorf("the witness cosigned two different checkpoints of size %d", n)
						}
						cosigned[n] = f.hash[n]
						oks++
						known = n
					case 409:
						known, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
						refused++
					default:
						refused++
					}
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(50+rng.IntN(250)) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		kills++
		time.Sleep(20 * time.Millisecond) // let requests in flight fail
		cancel()
		wg.Wait()
	}
	// After all that, the state still opens and holds a consistent head.
	url, cmd := startWitnessProcess(t, keyFile, state)
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", bytes.NewReader(witness.FormatRequest(0, nil, forks[0].signed[4])))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cmd.Process.Signal(os.Interrupt)
	cmd.Wait()
	if resp.StatusCode != 409 && len(cosigned) > 0 {
		t.Errorf("a request from size 0 after the rounds: %d, want 409", resp.StatusCode)
	}
	if oks < 20 || kills < 8 {
		t.Fatalf("%d cosignatures, %d refusals, %d failures, %d kills: the test did not exercise much", oks, refused, failed, kills)
	}
	t.Logf("%d cosignatures of %d sizes, %d refusals, %d failed requests, %d kills", oks, len(cosigned), refused, failed, kills)
}
