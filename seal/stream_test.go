package seal

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// payload returns n deterministic bytes as a stream.
func payload(n int64) io.Reader { return io.LimitReader(detRand(99), n) }

// sealOpenFile seals n bytes to dir/x.glass, then unseals with two taps,
// and returns the SHA-256 of the plaintext read back.
func sealOpenFile(t testing.TB, dir string, n int64, binary bool) [32]byte {
	name := filepath.Join(dir, "x.glass")
	out, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	p := basicParams(t, 2, 3)
	p.BinaryPayload = binary
	if _, err := Seal(out, payload(n), p, nil); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	f, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	u := f.NewUnseal()
	u.Tap(testKey(t, 0))
	u.Tap(testKey(t, 2))
	r, err := u.Open()
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if m, err := io.Copy(h, r); err != nil || m != n {
		t.Fatalf("read %d of %d bytes: %v", m, n, err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// TestStreamingMemory seals and unseals a large payload in a child process
// and checks the child's peak RSS. BREAKGLASS_STREAM_MIB sets the size
// (default 64; the brief's goal is 1024 MiB under 64 MiB of RSS).
func TestStreamingMemory(t *testing.T) {
	if dir := os.Getenv("BREAKGLASS_STREAM_CHILD"); dir != "" {
		n, _ := strconv.ParseInt(os.Getenv("BREAKGLASS_STREAM_MIB"), 10, 64)
		got := sealOpenFile(t, dir, n<<20, os.Getenv("BREAKGLASS_STREAM_BINARY") != "")
		h := sha256.New()
		io.Copy(h, payload(n<<20))
		if !bytes.Equal(got[:], h.Sum(nil)) {
			t.Fatal("plaintext differs")
		}
		return
	}
	mib := os.Getenv("BREAKGLASS_STREAM_MIB")
	if mib == "" {
		mib = "64"
	}
	for _, binary := range []string{"", "1"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStreamingMemory$")
		cmd.Env = append(os.Environ(), "BREAKGLASS_STREAM_CHILD="+t.TempDir(), "BREAKGLASS_STREAM_MIB="+mib,
			"BREAKGLASS_STREAM_BINARY="+binary)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss >> 10 // MiB
		const limit = 64
		t.Logf("sealed and unsealed %s MiB (binary payload: %q) with a peak RSS of %d MiB", mib, binary, rss)
		if rss >= limit {
			t.Fatalf("peak RSS %d MiB, want under %d MiB", rss, limit)
		}
	}
}

const benchSize = 64 << 20

// BenchmarkSealOpen seals then unseals (two software taps) a 64 MiB
// payload through a file; compare with BenchmarkAgeArmor and, for the
// binary payload, BenchmarkAgeBinary.
func BenchmarkSealOpen(b *testing.B) {
	for _, binary := range []bool{false, true} {
		b.Run(fmt.Sprintf("binary=%v", binary), func(b *testing.B) {
			dir := b.TempDir()
			b.SetBytes(benchSize)
			for b.Loop() {
				sealOpenFile(b, dir, benchSize, binary)
			}
		})
	}
}

// BenchmarkAgeArmor is the baseline: age alone, armored, same file path.
func BenchmarkAgeArmor(b *testing.B) { benchAge(b, true) }

// BenchmarkAgeBinary is age alone without armor.
func BenchmarkAgeBinary(b *testing.B) { benchAge(b, false) }

func benchAge(b *testing.B, armored bool) {
	dir := b.TempDir()
	id, _ := age.GenerateX25519Identity()
	b.SetBytes(benchSize)
	for b.Loop() {
		name := filepath.Join(dir, "x.age")
		out, _ := os.Create(name)
		var w io.Writer = out
		var aw io.WriteCloser
		if armored {
			aw = armor.NewWriter(out)
			w = aw
		}
		ew, _ := age.Encrypt(w, id.Recipient())
		io.Copy(ew, payload(benchSize))
		ew.Close()
		if aw != nil {
			aw.Close()
		}
		out.Close()
		in, _ := os.Open(name)
		var r io.Reader = in
		if armored {
			r = armor.NewReader(in)
		}
		dr, err := age.Decrypt(r, id)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(sha256.New(), dr)
		in.Close()
	}
}

// BenchmarkTap measures one tap with a software key: find the custodian,
// unwrap the p256tag share (one ECDH), check binding and commitment.
func BenchmarkTap(b *testing.B) {
	file, _ := sealString(b, "x", basicParams(b, 2, 3), 1)
	f, _ := Parse(bytes.NewReader(file))
	k := testKey(b, 0)
	for b.Loop() {
		u := f.NewUnseal()
		if _, err := u.Tap(k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkECDH is the software key's own ECDH, to subtract from BenchmarkTap.
func BenchmarkECDH(b *testing.B) {
	k, o := testKey(b, 0), testKey(b, 1)
	for b.Loop() {
		k.ECDH(o.PublicKey())
	}
}

// BenchmarkCombine is the SLIP-0039 combine and the checks Open makes.
func BenchmarkDrill(b *testing.B) {
	file, _ := sealString(b, "x", basicParams(b, 2, 3), 1)
	for b.Loop() {
		f, _ := Parse(bytes.NewReader(file))
		u := f.NewUnseal()
		u.Tap(testKey(b, 0))
		u.Tap(testKey(b, 1))
		if err := u.Drill(); err != nil {
			b.Fatal(err)
		}
	}
}
