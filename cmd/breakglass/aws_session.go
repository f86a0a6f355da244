package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/session"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/token"
)

const awsSessionHelp = `session turns k custodians' taps into personal, short-lived AWS credentials.

It unseals the long-term access key sealed by aws provision (k taps, as in
breakglass unseal), exchanges it at once for STS credentials of the emergency
role with SourceIdentity and RoleSessionName set to the operator's enrolled
name (CloudTrail shows who acted), for --duration (at most the role's
limit), and wipes the long-term key. That key never leaves memory.

The session goes to exactly one place:
   --exec [-- CMD …]  the environment of CMD (default: your $SHELL); nothing
                      is written to disk
   --console          a console sign-in URL (valid 15 minutes; treat it as
                      a secret)
   --json             the credential_process JSON (Version 1, with
                      Expiration), for a pipe
   --export           shell export lines, for eval "$(…)"
   --presign          no session here: an AssumeRole request presigned with
                      the key, for another machine to send (see below)

With --exec, CMD gets your environment without other AWS credentials and
without the token PINs and PUKs breakglass reads: no BREAKGLASS_*PIN* or
*PUK* variable, no variable holding a PIN breakglass read, nor the path of
--pin-file.

With a logbook in the case, the operator must be enrolled (--operator NAME)
and the file's header must be the one the logbook recorded (else nothing is
tapped); an unseal-start entry signed by the operator's card, a tap entry
per tap and the release (operator, the long-term key id, the session key id,
expiry, reason, ticket, use case, who tapped), signed by the operator's card,
are recorded; if any cannot be, nothing is released. A secret with an open
release (not yet revoked) is refused: one person at a time.
--concurrent-release REASON overrides that, and is recorded.

If AWS cannot be reached, throttles, refuses, or the sealed key no longer
works, nothing is released and the failed attempt is recorded.

On an air-gapped laptop, --presign never touches the network: after the taps
it signs an STS AssumeRole request with the long-term key (SigV4 query-string
authentication: SourceIdentity the operator, --duration, valid for
--request-valid, at most 5 minutes), wipes the key, and hands the request over
as one line of text (standard output, or --out FILE) and, with --qr, a QR code
on standard error (--png writes FILE.png too). The release is recorded with the
request's SHA-256 and expiry before the request is shown. Any networked machine
sends it with breakglass aws redeem, which never learns the key. The text holds
the key id, not the secret, but until it expires anyone holding it can redeem
it: hand it over directly, and redeem it at once. The laptop's clock must be
right: AWS refuses a request signed more than 15 minutes off its own.

After the incident: breakglass aws revoke NAME.glass.

` + recordedSessionsHelp + `

EXAMPLES
   # a shell with the session (YubiKeys)
   breakglass aws session prod.glass --reason "SSO outage" --ticket INC-4711 \
     --use-case "SSO is down" --operator alice --exec

   # one command
   breakglass aws session prod.glass --reason r --ticket INC-1 --exec -- \
     aws sts get-caller-identity

   # the console
   breakglass aws session prod.glass --reason r --ticket INC-1 --console

   # air-gapped: a presigned request as text and QR code, redeemed elsewhere
   breakglass aws session prod.glass --reason r --ticket INC-1 --presign \
     --out req.txt --qr
   breakglass aws redeem req.txt --exec        # on the networked machine

   # rehearsal: virtual cards and the loopback server
   BREAKGLASS_PIN=123456 breakglass aws session demo.glass --reason drill \
     --ticket T-1 --endpoint-url http://127.0.0.1:4599 --export`

func awsSessionCommand() *cli.Command {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "reason", Usage: "why access is needed (recorded; asked for when not given)"},
		&cli.StringFlag{Name: "ticket", Usage: "incident or ticket `ID` (recorded; asked for when not given)"},
		&cli.StringFlag{Name: "use-case", Usage: "one of the use cases sealed in the file (asked for when not given)"},
		&cli.DurationFlag{Name: "duration", Value: time.Hour, Usage: "session length, 15m up to the role's maximum"},
		&cli.BoolFlag{Name: "exec", Usage: "run the command after -- (default $SHELL) with the session in its environment"},
		&cli.BoolFlag{Name: "console", Usage: "print a console sign-in URL"},
		&cli.BoolFlag{Name: "json", Usage: "print the credential_process JSON"},
		&cli.BoolFlag{Name: "export", Usage: "print shell export lines"},
		&cli.BoolFlag{Name: "force-tty", Usage: "print --json or --export even when standard output is a terminal"},
		&cli.BoolFlag{Name: "presign", Usage: "print an AssumeRole request presigned with the key, for aws redeem on a networked machine"},
		&cli.DurationFlag{Name: "request-valid", Value: aws.MaxPresignExpiry, Usage: "with --presign: how long the request can be redeemed, 1m to 5m"},
		&cli.StringFlag{Name: "out", Usage: "with --presign: write the request to `FILE` (0600) instead of standard output"},
		qrFlag("presigned request"), pngFlag("presigned request"),
		concurrentReleaseFlag,
		&cli.StringFlag{Name: "federation-url", Usage: "console federation endpoint `URL` (default AWS's, or the rehearsal server's)"},
		&cli.StringFlag{Name: "region", Usage: "AWS `REGION` for STS (default us-east-1)"},
		&cli.StringFlag{Name: "endpoint-url", Usage: "send the STS request to `URL` (the rehearsal server; AWS_ENDPOINT_URL works too)"},
	}
	flags = append(flags, recordFlags()...)
	flags = append(flags, tapFlags()...)
	flags = append(flags, caseFlags()...)
	return &cli.Command{
		Name:        "session",
		Usage:       "unseal with k taps and open a personal, short-lived AWS session",
		ArgsUsage:   "NAME.glass (--exec [-- CMD ARGS…] | --console | --json | --export | --presign)",
		Description: awsSessionHelp,
		Flags:       flags,
		Action:      runAWSSession,
	}
}

// awsSessionOptions are session's checked command line.
type awsSessionOptions struct {
	path     string
	mode     string // exec, console, json, export, presign
	cmd      []string
	duration time.Duration
	// presign only
	requestValid time.Duration
	out          string
}

// awsOutputMode checks where a session goes (--exec, --console, --json,
// --export and, for aws session, --presign) and the command after --exec.
func awsOutputMode(c *cli.Context, args []string, modes ...string) (string, []string, error) {
	cmd := args
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	var given []string
	mode := ""
	for _, m := range modes {
		if c.Bool(m) {
			given = append(given, "--"+m)
			mode = m
		}
	}
	names := "--" + strings.Join(modes, ", --")
	switch {
	case len(given) == 0:
		return "", nil, usageError("say where the session goes: %s (--exec [-- CMD …])", names)
	case len(given) > 1:
		return "", nil, usageError("give only one of %s", strings.Join(given, ", "))
	case mode != "exec" && len(cmd) > 0:
		return "", nil, usageError("unexpected arguments %q (did you mean --exec -- CMD …?)", cmd)
	case (mode == "json" || mode == "export") && isTerminal(os.Stdout) && !c.Bool("force-tty"):
		return "", nil, withHints(errors.New("standard output is a terminal; breakglass does not print credentials on the screen"),
			`use --exec, or capture the output: eval "$(breakglass aws … --export)"; --force-tty if you really must`)
	}
	if mode == "exec" && len(cmd) == 0 {
		sh := os.Getenv("SHELL")
		if sh == "" {
			sh = "/bin/sh"
		}
		cmd = []string{sh}
	}
	return mode, cmd, nil
}

func awsSessionArgs(c *cli.Context) (*awsSessionOptions, error) {
	args := c.Args().Slice()
	if len(args) == 0 {
		return nil, usageError("missing the sealed key: breakglass aws session NAME.glass --reason … --ticket … --exec")
	}
	o := &awsSessionOptions{path: args[0], duration: c.Duration("duration"), requestValid: c.Duration("request-valid"), out: c.String("out")}
	var err error
	if o.mode, o.cmd, err = awsOutputMode(c, args[1:], "exec", "console", "json", "export", "presign"); err != nil {
		return nil, err
	}
	switch {
	case o.duration < 15*time.Minute || o.duration > 12*time.Hour || o.duration%time.Second != 0:
		return nil, usageError("--duration %s: use whole seconds from 15m to 12h (and at most the role's maximum)", o.duration)
	case o.mode != "presign" && (c.IsSet("request-valid") || o.out != "" || c.Bool("qr") || c.Bool("png")):
		return nil, usageError("--request-valid, --out, --qr and --png go with --presign")
	case o.mode == "presign" && (o.requestValid < time.Minute || o.requestValid > aws.MaxPresignExpiry || o.requestValid%time.Second != 0):
		return nil, usageError("--request-valid %s: use whole seconds from 1m to %s", o.requestValid, aws.MaxPresignExpiry)
	case c.Bool("png") && o.out == "":
		return nil, usageError("--png writes FILE.png beside --out FILE: give --out")
	}
	if err := checkRecordFlags(c, o.mode == "exec"); err != nil {
		return nil, err
	}
	if o.out != "" {
		if err := checkNewFile(o.out); err != nil {
			return nil, err
		}
		if c.Bool("png") {
			if err := checkNewFile(o.out + ".png"); err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

func runAWSSession(c *cli.Context) (err error) {
	if err := requireFlagsOrAsk(c, "reason", "ticket"); err != nil {
		return err
	}
	o, err := awsSessionArgs(c)
	if err != nil {
		return err
	}
	f, file, err := readGlass(o.path)
	if err != nil {
		return err
	}
	defer file.Close()
	h := f.Header
	if err := awsGlassHeader(o.path, h); err != nil {
		return err
	}
	// The role's limit, when the provisioning record is at hand: refuse
	// before anyone taps.
	if _, err := os.Stat(aws.RecordPath(o.path)); err == nil {
		if _, spec, err := loadAWSRecord(o.path, h); err != nil {
			return err
		} else if max := spec.MaxSession; max > 0 && o.duration > max {
			return withHints(fmt.Errorf("--duration %s: %w (%s allows %s)", o.duration, aws.ErrDurationTooLong, h.Scope, max),
				fmt.Sprintf("ask for at most --duration %s; nothing was unsealed", max))
		}
	}
	ac, err := openAWSCase(c)
	if err != nil {
		return err
	}
	operator := c.String("operator")
	if operator == "" {
		operator = currentUser()
	}
	opRec, err := ac.person(operator, ac.log != nil)
	if err != nil {
		return err
	}
	if opRec != nil {
		if operator, err = actorName(opRec); err != nil {
			return err
		}
	}
	if !aws.ValidOperator(operator) {
		return usageError("operator name %q cannot be an AWS source identity: use 2 to 64 letters, digits or +=,.@_-", operator)
	}
	// As in unseal: the header is the logged one, no one else holds the
	// key, and the unseal-start entry lands on top of what was checked,
	// all before the first tap.
	if err := checkLoggedHeader(ac.log, f, o.path, false); err != nil {
		return err
	}
	size := int64(-1)
	if ac.log != nil {
		size = ac.log.Size()
	}
	concurrent, err := checkOpenReleases(c, ac.entries(), h, o.path)
	if err != nil {
		return err
	}
	if err := askFlags(c, "reason", "ticket"); err != nil {
		return err
	}
	uc, err := chooseUseCase(c, h)
	if err != nil {
		return err
	}
	cl := ceremonyLogOf(c, ac.cd, ac.log, f, operator, opRec)
	tapReq := approval.Request{Action: "aws session", Operator: operator,
		Reason: c.String("reason"), Ticket: c.String("ticket"), UseCase: uc}
	cl.SetRequest(tapReq)
	var es *execSession
	if o.mode == "exec" {
		if es, err = prepareExec(c, cl, "aws session"); err != nil {
			return err
		}
		defer es.abandon()
	}
	startDetails := map[string]string{"concurrent-release": concurrent, "output": o.mode, logbook.DetailKeyID: h.KeyID}
	if err := cl.logOperator(cl.Entry(logbook.KindUnsealStart, startDetails), size); err != nil {
		var ce *logbook.ConflictError
		if errors.As(err, &ce) {
			return withHints(errors.New("the logbook changed while the session was being checked; nothing was tapped"), "run the command again")
		}
		return withHints(fmt.Errorf("the session could not be started: %w", err), "nothing was tapped or released")
	}
	cm := newCeremony(c, f, tapReq)
	cm.onTap = cl.onTap
	defer func() { cl.endSession(err, session.Tapped(cm.approvals)) }() // an abort, unless closed
	if err := cm.run(context.Background()); err != nil {
		return err
	}
	if err := cl.logTaps(cm.approvals); err != nil {
		return withHints(fmt.Errorf("a tap could not be recorded, so nothing was released: %w", err), "fix the logbook and start again")
	}
	key, err := awsOpenSealedKey(cm.u, h)
	if err != nil {
		return err
	}
	req := aws.Request{RoleARN: h.Scope, Operator: operator, Duration: o.duration,
		Region: c.String("region"), Endpoint: awsEndpoint(c)}
	tapped := session.Tapped(cm.approvals)
	release := session.AWSRelease{KeyID: h.KeyID, RoleARN: h.Scope, Output: o.mode, Tapped: tapped, Concurrent: concurrent}
	failed := func(err error, what string) error {
		if rerr := ac.logEntry(cl.AWSFailed(h.KeyID, tapped, err), opRec, -1); rerr != nil {
			reportError(os.Stderr, fmt.Errorf("the failed attempt could not be recorded: %w", rerr))
		} else {
			cl.closed = true // the note names the session
		}
		return awsErr(what+" for "+operator+" (nothing was released)", err)
	}
	if o.mode == "presign" {
		// No network: the key signs a request and is wiped.
		p, err := aws.Presign(context.Background(), *key, req, o.requestValid, time.Now())
		key.Wipe()
		if err != nil {
			return failed(err, "no presigned request")
		}
		release.RequestSHA256, release.RequestSigned, release.RequestExpires = p.Hash(), p.SignedAt, p.Expires
		release.Expires = p.LatestEnd()
		e := cl.AWSRelease(release)
		if err := awsLogRelease(ac, e, opRec, concurrent != ""); err != nil {
			return withHints(fmt.Errorf("the release could not be recorded, so the presigned request was not shown: %w", err),
				"nothing was released; fix the logbook and start again")
		}
		return awsHandOver(c, o, p, ac.log != nil)
	}
	ctx, cancel := awsContext(c)
	defer cancel()
	sess, err := aws.Session(ctx, *key, req)
	key.Wipe()
	if err != nil {
		return failed(err, "no session")
	}
	defer sess.Wipe()

	release.SessionKeyID, release.AssumedRoleARN, release.Expires = sess.AccessKeyID, sess.AssumedRoleARN, sess.Expiration
	e := cl.AWSRelease(release)
	e.Details = es.releaseDetails(e.Details)
	if err := awsLogRelease(ac, e, opRec, concurrent != ""); err != nil {
		return withHints(fmt.Errorf("the release could not be recorded, so nothing was released: %w", err),
			"the STS session "+sess.AccessKeyID+" exists in AWS until "+sess.Expiration.UTC().Format(time.RFC3339)+
				": run breakglass aws revoke "+o.path+" to end it")
	}
	cl.closed = true
	infof("session for %s as %s until %s (session key %s)", operator, sess.AssumedRoleARN,
		sess.Expiration.Local().Format("15:04 MST"), sess.AccessKeyID)
	return awsDeliver(c, o, sess, req, es)
}

// awsLogRelease appends the release (caseDir.logRelease), or warns
// that it is not recorded when the case has no logbook.
func awsLogRelease(ac *awsCase, e logbook.Entry, actor *token.Record, concurrent bool) error {
	if ac.log == nil {
		return ac.logEntry(e, actor, -1)
	}
	return ac.cd.logRelease(ac.c, e, actor, concurrent)
}

// awsOpenSealedKey decrypts the sealed key after the taps and checks it is
// the key the header names.
func awsOpenSealedKey(u *seal.Unseal, h *seal.Header) (*aws.Credentials, error) {
	r, err := u.Open()
	if err != nil {
		return nil, openErr(err)
	}
	key, err := aws.ReadSealedKey(r, h.KeyID)
	var me *aws.KeyIDMismatchError
	switch {
	case errors.As(err, &me):
		return nil, withHints(fmt.Errorf("%w (nothing was released)", err),
			"the file is not as provisioned: restore it from git and compare its header hash with the logbook")
	case err != nil:
		return nil, withHints(fmt.Errorf("decrypting %s: %w (nothing was released)", h.Name, err),
			"use breakglass unseal for secrets not made by breakglass aws provision")
	}
	return key, nil
}

// awsDeliver hands the session to its one destination (with --exec, es
// records it).
func awsDeliver(c *cli.Context, o *awsSessionOptions, sess *aws.STSCredentials, req aws.Request, es *execSession) error {
	switch o.mode {
	case "json":
		b, err := aws.CredentialProcessJSON(sess)
		if err != nil {
			return err
		}
		defer secret.Wipe(b)
		_, err = os.Stdout.Write(append(b, '\n'))
		return err
	case "export":
		b := aws.ExportLines(sess)
		defer secret.Wipe(b)
		_, err := os.Stdout.Write(b)
		return err
	case "console":
		fed := c.String("federation-url")
		if fed == "" && req.Endpoint != "" {
			fed = strings.TrimSuffix(req.Endpoint, "/") + "/federation"
		}
		ctx, cancel := awsContext(c)
		defer cancel()
		u, err := aws.ConsoleURL(ctx, sess, fed)
		if err != nil {
			return awsErr("console sign-in", err)
		}
		fmt.Fprintln(os.Stdout, u)
		infof("open the URL within 15 minutes; it signs in as %s", sess.AssumedRoleARN)
		return nil
	}
	return awsExec(es, o.cmd, sess, req, execEnviron(c, awsSessionEnvDrop...))
}

// awsSessionEnvDrop are variables that would make a child use other
// credentials than the session's.
var awsSessionEnvDrop = []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CREDENTIAL_EXPIRATION",
	"AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"}

// awsExec runs args with the session in its environment, recorded by es
// and ended when the session expires; env is the rest of it (execEnviron,
// without awsSessionEnvDrop).
func awsExec(es *execSession, args []string, sess *aws.STSCredentials, req aws.Request, env []string) error {
	env = append(env, aws.Environ(sess)...)
	env = append(env, "BREAKGLASS_AWS_SESSION="+sess.AssumedRoleARN)
	if req.Endpoint != "" {
		env = append(env, "AWS_ENDPOINT_URL="+req.Endpoint)
	}
	if req.Region != "" {
		env = append(env, "AWS_REGION="+req.Region)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	infof("running %s with the session in its environment (until %s); exit it when done", args[0],
		sess.Expiration.Local().Format("15:04 MST"))
	err := es.run(cmd, sess.Expiration)
	var he *hintError
	if errors.As(err, &he) && len(he.hints) == 0 && !time.Now().Before(sess.Expiration) {
		he.hints = append(he.hints, "the session expired at "+sess.Expiration.UTC().Format(time.RFC3339)+"; start a new one with breakglass aws session")
	}
	if err != nil {
		return err
	}
	infof("session handed back; after the incident run breakglass aws revoke")
	return nil
}
