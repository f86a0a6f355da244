package main

// Scripts for the aws commands, in testdata/script-aws. They run the real
// binary (through the wrappers of seal_script_test.go) against virtual
// YubiKeys on pcscd and a loopback IAM/STS server (package awstest)
// started in this test process by the script command awsserver.
//
// Each script sees what the seal scripts see ($CARDS with alice, bob, carol
// and dave, $READER_NAME, BREAKGLASS_PIN, BREAKGLASS_VIRTUAL_CA) and these
// commands:
//
//	awsserver                 start a fresh account; sets AWS_ENDPOINT_URL,
//	                          AWS_SHARED_CREDENTIALS_FILE (the admin key),
//	                          AWS_REGION and $ACCOUNT
//	awsfail ACTION CODE N     the next N calls of ACTION fail with CODE
//	awsadvance DURATION       move the server's clock
//	awsiam newkey USER        create an access key outside breakglass
//	                          (its id in $EXTRAKEY)
//	awsiam deletekey USER ID  delete an access key outside breakglass
//	                          (@FILE: the id is in FILE)
//	awsiam user NAME          create an untagged user /breakglass/NAME
//	awsiam calls ACTION N     assert the server saw N calls of ACTION
//	awsiam nosecret           assert that no break-glass user's secret key
//	                          is in a file under $WORK or in the last
//	                          command's stdout or stderr

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/breakglass/breakglass/aws/awstest"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

// awsServers are the scripts' loopback servers, by work directory.
var awsServers sync.Map // string -> *awstest.Server

func awsServerOf(ts *testscript.TestScript) *awstest.Server {
	v, ok := awsServers.Load(ts.Getenv("WORK"))
	if !ok {
		ts.Fatalf("no AWS server: run awsserver first")
	}
	return v.(*awstest.Server)
}

var awsScriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"glassforge": glassForgeCmd,
	"awsserver": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 0 {
			ts.Fatalf("usage: awsserver")
		}
		work := ts.Getenv("WORK")
		ts.Check(os.MkdirAll(filepath.Join(work, ".awsstate"), 0o700))
		srv, err := awstest.NewServer(awstest.Options{StatePath: filepath.Join(work, ".awsstate", "state.json")})
		ts.Check(err)
		awsServers.Store(work, srv)
		ts.Defer(func() { srv.Close(); awsServers.Delete(work) })
		creds := filepath.Join(work, ".admin.credentials")
		ts.Check(srv.WriteCredentialsFile(creds))
		ts.Setenv("AWS_ENDPOINT_URL", srv.URL())
		ts.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
		ts.Setenv("AWS_CONFIG_FILE", filepath.Join(work, ".aws-config-none"))
		ts.Setenv("AWS_REGION", "us-east-1")
		ts.Setenv("ACCOUNT", srv.AccountID())
		for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"} {
			ts.Setenv(k, "")
		}
	},
	"awsfail": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 3 {
			ts.Fatalf("usage: awsfail ACTION CODE N")
		}
		n, err := strconv.Atoi(args[2])
		ts.Check(err)
		awsServerOf(ts).FailNext(args[0], args[1], n)
	},
	"awsadvance": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: awsadvance DURATION")
		}
		d, err := time.ParseDuration(args[0])
		ts.Check(err)
		awsServerOf(ts).Advance(d)
	},
	"awsiam": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 1 || (neg && args[0] != "nosecret") {
			ts.Fatalf("usage: awsiam newkey USER | deletekey USER ID | user NAME | calls ACTION N | nosecret")
		}
		srv := awsServerOf(ts)
		admin := srv.AdminCredentials()
		cfg := awssdk.Config{Region: "us-east-1", BaseEndpoint: awssdk.String(srv.URL()),
			Credentials: credentials.NewStaticCredentialsProvider(admin.AccessKeyID, admin.SecretAccessKey, "")}
		c := iam.NewFromConfig(cfg)
		ctx := context.Background()
		switch args[0] {
		case "newkey":
			out, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: &args[1]})
			ts.Check(err)
			ts.Logf("created %s outside breakglass", awssdk.ToString(out.AccessKey.AccessKeyId))
			ts.Setenv("EXTRAKEY", awssdk.ToString(out.AccessKey.AccessKeyId))
		case "deletekey":
			if len(args) != 3 {
				ts.Fatalf("usage: awsiam deletekey USER KEYID")
			}
			id := args[2]
			if f, ok := strings.CutPrefix(id, "@"); ok {
				id = strings.TrimSpace(ts.ReadFile(f))
			}
			_, err := c.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: &args[1], AccessKeyId: &id})
			ts.Check(err)
		case "user":
			_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: &args[1], Path: awssdk.String("/breakglass/")})
			ts.Check(err)
		case "nosecret":
			// No long-term secret of a break-glass user in any file of the
			// work directory, nor in the last command's output.
			var st struct {
				Keys map[string]struct{ Secret, User string }
			}
			ts.Check(json.Unmarshal([]byte(ts.ReadFile(filepath.Join(ts.Getenv("WORK"), ".awsstate", "state.json"))), &st))
			var secrets []string
			for _, k := range st.Keys {
				if strings.HasPrefix(k.User, "breakglass-") {
					secrets = append(secrets, k.Secret)
				}
			}
			if len(secrets) == 0 {
				ts.Fatalf("nosecret: no break-glass key was ever issued")
			}
			texts := map[string]string{"stdout": ts.ReadFile("stdout"), "stderr": ts.ReadFile("stderr")}
			ts.Check(filepath.WalkDir(ts.Getenv("WORK"), func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					if d != nil && d.Name() == ".awsstate" {
						return filepath.SkipDir
					}
					return err
				}
				b, err := os.ReadFile(path)
				texts[path] = string(b)
				return err
			}))
			leak := ""
			for name, text := range texts {
				for _, sec := range secrets {
					if strings.Contains(text, sec) {
						leak = name
					}
				}
			}
			switch {
			case leak != "" && !neg:
				ts.Fatalf("a break-glass secret access key is in %s", leak)
			case leak == "" && neg:
				ts.Fatalf("no break-glass secret access key found anywhere")
			}
		case "calls":
			if len(args) != 3 {
				ts.Fatalf("usage: awsiam calls ACTION N")
			}
			if got := strconv.Itoa(srv.Calls(args[1])); got != args[2] {
				ts.Fatalf("%s: %s calls, want %s", args[1], got, args[2])
			}
		default:
			ts.Fatalf("awsiam: unknown %q", args[0])
		}
	},
}

// TestAWSScripts runs the scripts that need no card: the roster is paper
// custodians (erin, frank, gina), whose shares go to files with
// --paper-out and come back with --mnemonic-file.
func TestAWSScripts(t *testing.T) {
	recs := t.TempDir()
	for _, name := range []string{"erin", "frank", "gina"} {
		r := token.NewPaperRecord(token.Custodian{Name: name}, "safe", time.Now())
		b, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(recs, name+".card.json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := sealScriptBin(t)
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/script-aws",
		Cmds: awsScriptCmds,
		Setup: func(e *testscript.Env) error {
			awsScriptEnv(e, bin, recs)
			return nil
		},
	})
}

// TestAWSCardScripts runs the scripts with two virtual YubiKeys, alice and
// bob, a paper custodian, erin, and a logbook signed with the cards. Two
// cards are enough for every path (taps, signatures, a card that is not
// needed) and keep the shared readers free for other tests.
func TestAWSCardScripts(t *testing.T) {
	names := []string{"alice", "bob"}
	cards := vcardtest.Start(t, len(names))
	recs := t.TempDir()
	for i, c := range cards {
		enrollVirtual(t, c, names[i], recs, sealTestPIN)
	}
	paper := token.NewPaperRecord(token.Custodian{Name: "erin"}, "safe", time.Now())
	pb, err := paper.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(recs, "erin.card.json"), pb, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := sealScriptBin(t)
	var one sync.Mutex // the cards are shared: one script at a time
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/script-aws-cards",
		Cmds: awsScriptCmds,
		Setup: func(e *testscript.Env) error {
			one.Lock()
			e.Defer(one.Unlock)
			awsScriptEnv(e, bin, recs)
			for i, c := range cards {
				e.Setenv("READER_"+names[i], c.Reader)
				e.Setenv("SERIAL_"+names[i], fmt.Sprint(c.Serial))
			}
			return nil
		},
	})
}

func awsScriptEnv(e *testscript.Env, bin, recs string) {
	e.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	e.Setenv("CARDS", recs)
	e.Setenv("BREAKGLASS_PIN", sealTestPIN)
	e.Setenv("BREAKGLASS_VIRTUAL_CA", vcardtest.CADir())
	e.Setenv("USER", "operator")
	e.Setenv("HOME", e.WorkDir)
	e.Setenv("SHELL", "/bin/sh")
}
