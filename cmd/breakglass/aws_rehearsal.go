package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws/awstest"
)

const awsRehearsalHelp = `Runs a small IAM/STS server on loopback that behaves like the parts of AWS
breakglass uses: the query protocol, SigV4 signatures checked against the keys it
issued (presigned requests too), identity and trust policies, SourceIdentity,
session durations, access-key last use and the console federation endpoint; and
for alerts and evidence, SNS topics and subscriptions, EventBridge rules that fire
on the calls it records, CloudTrail LookupEvents over those calls and, with
--trail-bucket, a trail's log files of them in an S3 bucket (ListObjectsV2 and
GetObject, path-style, for aws audit --trail-bucket). It sends no
mail and calls no URL: what an alert would deliver is listed, as JSON, at
ENDPOINT/_awstest/deliveries, and fetching a confirmation's SubscribeURL
confirms that subscription. With it the whole procedure —
provision, session, revoke, check, audit — and any AWS client pointed at it with
--endpoint-url can be rehearsed offline, on one laptop.

It is not AWS: nothing it issues works anywhere else. It listens on loopback only.

On start it writes administrator credentials for the fake account (shared
credentials format, mode 0600) to --admin-credentials, and prints its endpoint.
With --state the account survives restarts (the file holds secret keys; mode 0600).

EXAMPLES
  Start a rehearsal account and use it with the AWS CLI:
    breakglass aws rehearsal-server --addr 127.0.0.1:4599 \
        --admin-credentials ./rehearsal.credentials --state ./rehearsal.json &
    AWS_SHARED_CREDENTIALS_FILE=./rehearsal.credentials \
        aws --endpoint-url http://127.0.0.1:4599 sts get-caller-identity

  Print the endpoint as JSON for a script:
    breakglass aws rehearsal-server --admin-credentials creds --json`

func awsRehearsalServerCommand() *cli.Command {
	return &cli.Command{
		Name:        "rehearsal-server",
		Usage:       "run an offline IAM/STS stand-in for rehearsals and tests",
		Description: awsRehearsalHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:0", Usage: "loopback `HOST:PORT` to listen on (port 0 picks one)"},
			&cli.StringFlag{Name: "state", Usage: "keep the fake account in `FILE` across restarts"},
			&cli.StringFlag{Name: "admin-credentials", Usage: "write the administrator's credentials to `FILE`", Required: true},
			&cli.StringFlag{Name: "account", Usage: "12-digit account `ID` of the fake account"},
			&cli.BoolFlag{Name: "json", Usage: "print the endpoint as JSON on stdout"},
			&cli.BoolFlag{Name: "verbose", Usage: "log one line per request on stderr (never secrets)"},
			&cli.StringFlag{Name: "trail-bucket", Usage: "serve a trail's log files of the recorded calls in the S3 `BUCKET`"},
			&cli.StringFlag{Name: "trail-prefix", Usage: "the trail's key `PREFIX` in --trail-bucket"},
			&cli.StringFlag{Name: "trail-org-id", Usage: "deliver as the trail of the organization `ID` (o-…), under AWSLogs/ID/ACCOUNT/"},
		},
		Action: runAWSRehearsalServer,
	}
}

func runAWSRehearsalServer(c *cli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	addr := c.String("addr")
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError("--addr %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return withHints(fmt.Errorf("--addr %q is not a loopback address", addr),
			"the rehearsal server holds fake secrets and listens on loopback only, e.g. --addr 127.0.0.1:4599")
	}
	if (c.IsSet("trail-prefix") || c.IsSet("trail-org-id")) && c.String("trail-bucket") == "" {
		return usageError("--trail-prefix and --trail-org-id need --trail-bucket")
	}
	opts := awstest.Options{Addr: addr, StatePath: c.String("state"), AccountID: c.String("account")}
	if c.Bool("verbose") {
		opts.Logf = func(format string, args ...any) { infof("aws: "+format, args...) }
	}
	srv, err := awstest.NewServer(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	if b := c.String("trail-bucket"); b != "" {
		srv.AddOrgTrailBucket(b, c.String("trail-prefix"), c.String("trail-org-id"))
	}
	credPath := c.String("admin-credentials")
	if err := srv.WriteCredentialsFile(credPath); err != nil {
		return withHints(err, "choose a writable path for --admin-credentials")
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]string{
			"endpoint":          srv.URL(),
			"federation":        srv.FederationURL(),
			"account":           srv.AccountID(),
			"admin_credentials": credPath,
		}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(c.App.Writer, "%s\n", srv.URL())
	}
	infof("rehearsal IAM/STS for account %s at %s (not AWS); admin credentials in %s", srv.AccountID(), srv.URL(), credPath)
	infof("stop with Ctrl-C")

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	if ctx.Err() == context.Canceled {
		infof("rehearsal server stopped")
	}
	return nil
}
