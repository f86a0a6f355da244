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
//	awssigningclock DURATION  move the clock the server checks signatures
//	                          against (to expire presigned requests)
//	awsiam newkey USER        create an access key outside breakglass
//	                          (its id in $EXTRAKEY)
//	awsiam deletekey USER ID  delete an access key outside breakglass
//	                          (@FILE: the id is in FILE)
//	awsiam user NAME          create an untagged user /breakglass/NAME
//	awsiam addgroup USER GROUP [POLICYARN]
//	                          add USER to GROUP (created if missing, with
//	                          the managed policy POLICYARN attached)
//	awsiam attachuser USER ARN, awsiam attachrole ROLE ARN
//	                          attach a managed policy
//	awsiam userpolicy USER NAME DOC, awsiam rolepolicy ROLE NAME DOC
//	                          put an inline policy (DOC is JSON, or @FILE);
//	                          DOC "-" deletes it
//	awsiam calls ACTION N     assert the server saw N calls of ACTION
//	awsiam nosecret           assert that no break-glass user's secret key
//	                          is in a file under $WORK or in the last
//	                          command's stdout or stderr
//
// and for alerts (SNS and EventBridge on the server):
//
//	awssns confirm            follow every subscription confirmation link
//	awssns delivered ENDPOINT REGEXP
//	                          assert a notification to ENDPOINT matches
//	                          REGEXP (with !, that none does)
//	awsalert disable RULE     disable an EventBridge rule outside breakglass
//
// and, to play someone who copied a released key, with credentials files
// in the credential_process JSON shape (as breakglass unseal --out writes
// the sealed key; session credentials add SessionToken and Expiration):
//
//	awssts token KEYFILE OUT  sts:GetSessionToken with KEYFILE's key; the
//	                          session credentials go to OUT
//	awssts assume CREDS ROLEARN NAME
//	                          sts:AssumeRole with SourceIdentity NAME; prints
//	                          the session's ARN, or with ! the error on
//	                          stderr
//	awssts whoami CREDS       sts:GetCallerIdentity; prints the ARN
//
// and for a trail's log files in S3 (the server's trail delivers its
// recorded calls to the bucket):
//
//	awstrail bucket NAME [PREFIX]
//	                          make the trail's bucket
//	awstrail env NAME REGION  set $TRAILDIR (the folder of today's log
//	                          files, by the server's clock), $TRAILSTAMP
//	                          (YYYYMMDDTHHMMZ, now) and $TRAILKEY (the log
//	                          file the calls made now are in)
//	awstrail put [-gzip] NAME KEY FILE
//	                          put FILE (gzipped with -gzip) into the bucket
//	                          as KEY, beside or in place of a log file

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
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
	"awssigningclock": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: awssigningclock DURATION")
		}
		d, err := time.ParseDuration(args[0])
		ts.Check(err)
		awsServerOf(ts).AdvanceSigningClock(d)
	},
	"awssts":   awsSTSCmd,
	"awstrail": awsTrailCmd,
	"awssns":   awsSNSCmd,
	"awsalert": awsAlertCmd,
	"awsiam": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) < 1 || (neg && args[0] != "nosecret") {
			ts.Fatalf("usage: awsiam newkey USER | deletekey USER ID | user NAME | addgroup USER GROUP [ARN] | attachuser USER ARN | attachrole ROLE ARN | userpolicy USER NAME DOC | rolepolicy ROLE NAME DOC | calls ACTION N | nosecret")
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
		case "addgroup":
			if len(args) != 3 && len(args) != 4 {
				ts.Fatalf("usage: awsiam addgroup USER GROUP [POLICYARN]")
			}
			_, err := c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: &args[2]})
			var exists *iamtypes.EntityAlreadyExistsException
			if !errors.As(err, &exists) {
				ts.Check(err)
			}
			if len(args) == 4 {
				_, err := c.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: &args[2], PolicyArn: &args[3]})
				ts.Check(err)
			}
			_, err = c.AddUserToGroup(ctx, &iam.AddUserToGroupInput{UserName: &args[1], GroupName: &args[2]})
			ts.Check(err)
		case "attachuser", "attachrole":
			if len(args) != 3 {
				ts.Fatalf("usage: awsiam %s NAME POLICYARN", args[0])
			}
			var err error
			if args[0] == "attachuser" {
				_, err = c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: &args[1], PolicyArn: &args[2]})
			} else {
				_, err = c.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: &args[1], PolicyArn: &args[2]})
			}
			ts.Check(err)
		case "userpolicy", "rolepolicy":
			if len(args) != 4 {
				ts.Fatalf("usage: awsiam %s NAME POLICYNAME DOC|@FILE|-", args[0])
			}
			doc := args[3]
			if f, ok := strings.CutPrefix(doc, "@"); ok {
				doc = ts.ReadFile(f)
			}
			var err error
			switch {
			case args[0] == "userpolicy" && doc == "-":
				_, err = c.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: &args[1], PolicyName: &args[2]})
			case args[0] == "userpolicy":
				_, err = c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &args[1], PolicyName: &args[2], PolicyDocument: &doc})
			case doc == "-":
				_, err = c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &args[1], PolicyName: &args[2]})
			default:
				_, err = c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &args[1], PolicyName: &args[2], PolicyDocument: &doc})
			}
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

func awsSNSCmd(ts *testscript.TestScript, neg bool, args []string) {
	srv := awsServerOf(ts)
	switch {
	case len(args) == 1 && args[0] == "confirm" && !neg:
		for _, d := range srv.Deliveries() {
			if d.Type == "SubscriptionConfirmation" {
				resp, err := http.Get(d.SubscribeURL)
				ts.Check(err)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					ts.Fatalf("confirming %s: %s", d.Endpoint, resp.Status)
				}
			}
		}
	case len(args) == 3 && args[0] == "delivered":
		re, err := regexp.Compile(args[2])
		ts.Check(err)
		found := false
		for _, d := range srv.Deliveries() {
			if d.Type == "Notification" && d.Endpoint == args[1] {
				ts.Logf("delivered to %s: %s", d.Endpoint, d.Message)
				found = found || re.MatchString(d.Message)
			}
		}
		switch {
		case !found && !neg:
			ts.Fatalf("no notification to %s matches %s", args[1], args[2])
		case found && neg:
			ts.Fatalf("a notification to %s matches %s", args[1], args[2])
		}
	default:
		ts.Fatalf("usage: awssns confirm | delivered ENDPOINT REGEXP")
	}
}

func awsAlertCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 || args[0] != "disable" {
		ts.Fatalf("usage: awsalert disable RULE")
	}
	srv := awsServerOf(ts)
	admin := srv.AdminCredentials()
	eb := eventbridge.NewFromConfig(awssdk.Config{Region: "us-east-1", BaseEndpoint: awssdk.String(srv.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(admin.AccessKeyID, admin.SecretAccessKey, "")})
	ctx := context.Background()
	r, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: &args[1]})
	ts.Check(err)
	_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: &args[1], EventPattern: r.EventPattern, State: ebtypes.RuleStateDisabled})
	ts.Check(err)
}

// scriptCreds is a credentials file of the awssts script command: the
// credential_process JSON shape.
type scriptCreds struct {
	Version         int
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string
	SessionToken    string `json:",omitempty"`
	Expiration      string `json:",omitempty"`
}

func awsSTSCmd(ts *testscript.TestScript, neg bool, args []string) {
	usage := "usage: awssts token KEYFILE OUT | assume CREDS ROLEARN NAME | whoami CREDS"
	if len(args) < 2 || (neg && args[0] != "assume") {
		ts.Fatalf("%s", usage)
	}
	srv := awsServerOf(ts)
	var cr scriptCreds
	ts.Check(json.Unmarshal([]byte(ts.ReadFile(args[1])), &cr))
	cfg := awssdk.Config{Region: "us-east-1", BaseEndpoint: awssdk.String(srv.URL()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken)}
	c := sts.NewFromConfig(cfg)
	ctx := context.Background()
	switch args[0] {
	case "token":
		if len(args) != 3 {
			ts.Fatalf("%s", usage)
		}
		out, err := c.GetSessionToken(ctx, &sts.GetSessionTokenInput{})
		ts.Check(err)
		b, err := json.Marshal(scriptCreds{Version: 1, AccessKeyID: awssdk.ToString(out.Credentials.AccessKeyId),
			SecretAccessKey: awssdk.ToString(out.Credentials.SecretAccessKey), SessionToken: awssdk.ToString(out.Credentials.SessionToken),
			Expiration: out.Credentials.Expiration.UTC().Format(time.RFC3339)})
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[2]), b, 0o600))
	case "assume":
		if len(args) != 4 {
			ts.Fatalf("%s", usage)
		}
		out, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: &args[2], RoleSessionName: &args[3], SourceIdentity: &args[3]})
		switch {
		case err != nil && neg:
			fmt.Fprintln(ts.Stderr(), err)
		case err != nil:
			ts.Fatalf("AssumeRole: %v", err)
		case neg:
			ts.Fatalf("AssumeRole succeeded as %s", awssdk.ToString(out.AssumedRoleUser.Arn))
		default:
			fmt.Fprintln(ts.Stdout(), awssdk.ToString(out.AssumedRoleUser.Arn))
		}
	case "whoami":
		out, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		ts.Check(err)
		fmt.Fprintln(ts.Stdout(), awssdk.ToString(out.Arn))
	default:
		ts.Fatalf("%s", usage)
	}
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
		// [root]: the script can mount (a small tmpfs plays a full disk).
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
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

// The aws scripts play a person at a terminal too (pty_script_test.go).
func init() {
	for name, f := range ptyScriptCmds() {
		awsScriptCmds[name] = f
	}
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

func awsTrailCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: awstrail bucket NAME [PREFIX [ORG-ID]] | env NAME REGION | put [-gzip] NAME KEY FILE")
	}
	srv := awsServerOf(ts)
	switch args[0] {
	case "bucket":
		prefix, org := "", ""
		if len(args) > 2 {
			prefix = args[2]
		}
		if len(args) > 3 {
			org = args[3]
		}
		srv.AddOrgTrailBucket(args[1], prefix, org)
	case "env":
		if len(args) != 3 {
			ts.Fatalf("usage: awstrail env NAME REGION")
		}
		now := srv.Now().UTC()
		key := srv.TrailLogKey(args[1], args[2], now)
		ts.Setenv("TRAILKEY", key)
		ts.Setenv("TRAILDIR", key[:strings.LastIndex(key, "/")+1])
		ts.Setenv("TRAILSTAMP", now.Format("20060102T1504Z"))
	case "put":
		gz := len(args) > 1 && args[1] == "-gzip"
		if gz {
			args = args[1:]
		}
		if len(args) != 4 {
			ts.Fatalf("usage: awstrail put [-gzip] NAME KEY FILE")
		}
		b, err := os.ReadFile(ts.MkAbs(args[3]))
		ts.Check(err)
		if gz {
			var z bytes.Buffer
			w := gzip.NewWriter(&z)
			w.Write(b)
			ts.Check(w.Close())
			b = z.Bytes()
		}
		ts.Check(srv.PutTrailObject(args[1], args[2], b))
	default:
		ts.Fatalf("awstrail: unknown %q", args[0])
	}
}
