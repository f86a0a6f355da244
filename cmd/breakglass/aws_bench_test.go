package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/breakglass/breakglass/aws/awstest"
	"github.com/breakglass/breakglass/token"
)

// BenchmarkAWSSession measures aws session's own time, taps excluded:
// parse the .glass, combine the shares (paper shares here, so no card is
// waited for), decrypt the key, AssumeRole against the loopback server,
// print the credential_process JSON. The target is under 300 ms.
func BenchmarkAWSSession(b *testing.B) {
	srv, err := awstest.NewServer(awstest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	dir := b.TempDir()
	b.Chdir(dir)
	if err := srv.WriteCredentialsFile("admin.credentials"); err != nil {
		b.Fatal(err)
	}
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "admin.credentials"))
	b.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	b.Setenv("AWS_ENDPOINT_URL", srv.URL())
	b.Setenv("AWS_REGION", "us-east-1")
	for _, name := range []string{"erin", "frank"} {
		pb, _ := token.NewPaperRecord(token.Custodian{Name: name}, "safe", time.Now()).Marshal()
		if err := os.WriteFile(name+".card.json", pb, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.Mkdir("paper", 0o700); err != nil {
		b.Fatal(err)
	}
	quiet(b)
	if code := run([]string{"breakglass", "aws", "provision", "--name", "prod", "--account", srv.AccountID(), "--owner", "sre",
		"--role-policy", "arn:aws:iam::aws:policy/ReadOnlyAccess", "--to", "erin.card.json,frank.card.json", "--threshold", "2",
		"--paper-out", "paper"}); code != 0 {
		b.Fatalf("provision: exit %d", code)
	}
	args := []string{"breakglass", "aws", "session", "prod.glass", "--reason", "bench", "--ticket", "B-1", "--operator", "erin",
		"--mnemonic-file", "paper/prod-erin.paper.txt", "--mnemonic-file", "paper/prod-frank.paper.txt", "--json"}
	b.ResetTimer()
	for b.Loop() {
		if code := run(args); code != 0 {
			b.Fatalf("session: exit %d", code)
		}
	}
	b.StopTimer()
	if per := b.Elapsed() / time.Duration(b.N); per > 300*time.Millisecond {
		b.Errorf("aws session takes %v without taps, more than 300ms", per)
	}
}

// quiet sends the process's stdout and stderr to /dev/null for the rest
// of the benchmark.
func quiet(b *testing.B) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = null, null
	b.Cleanup(func() { os.Stdout, os.Stderr = stdout, stderr; null.Close() })
}
