package main

// The air-gapped release: aws session --presign hands over a presigned
// AssumeRole request (awsHandOver), aws redeem sends it from a networked
// machine. The format and the exchange are package aws's (Presign,
// ParsePresigned, Redeem).

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/aws"
	"github.com/breakglass/breakglass/internal/atomicfile"
)

// awsHandOver shows a presigned request: on standard output or in --out
// (0600), and as a QR code with --qr (--png: FILE.png).
func awsHandOver(c *cli.Context, o *awsSessionOptions, p *aws.Presigned, recorded bool) error {
	text := p.Text()
	code, err := textQR(c, "presigned request", text)
	if err != nil {
		return err
	}
	name := "the presigned request"
	if o.out != "" {
		if err := writeQRImage(c, code, o.out); err != nil {
			return err
		}
		if err := writeNewFile(o.out, 0o600, false, func(w io.Writer) error { _, err := w.Write(text); return err }); err != nil {
			removeQRImage(c, code, o.out)
			return err
		}
		name = o.out
	} else if _, err := os.Stdout.Write(text); err != nil {
		return err
	}
	showQR(c, code, name)
	infof("presigned AssumeRole for %s on %s (a %s session), signed with key %s; the key was wiped and never left this machine",
		p.Operator, p.RoleARN, p.Duration, p.KeyID)
	infof("redeem it before %s (%s from now) on a networked machine: breakglass aws redeem FILE --exec (or --json, --export, --console)",
		p.Expires.Local().Format("15:04:05 MST"), time.Until(p.Expires).Round(time.Second))
	infof("until then anyone holding it can redeem it: hand it over directly")
	if recorded {
		infof("the logbook's release entry names the request by its sha256 %s", p.Hash())
	}
	return nil
}

const awsRedeemHelp = `redeem sends a presigned AssumeRole request made on an air-gapped laptop by
breakglass aws session --presign, and hands the session over like aws session
does. It needs no case, no cards and no AWS credentials: any machine with the
binary and a network will do, and it never learns the long-term key (the
request holds its id, not its secret).

REQ is the request's file ("-": standard input), as the laptop wrote it or a QR
code reader decoded it. A request that has expired by this machine's clock is
not sent. Until it expires a request can be redeemed more than once, each time
a new session: redeem it at once, then delete it.

The session goes to exactly one place:
   --exec [-- CMD …]  the environment of CMD (default: your $SHELL)
   --console          a console sign-in URL (valid 15 minutes; a secret)
   --json             the credential_process JSON
   --export           shell export lines, for eval "$(…)"

The release was recorded on the laptop, with the request's SHA-256 and expiry;
aws audit matches the AssumeRole in CloudTrail to it.

EXAMPLES
   breakglass aws redeem req.txt --exec
   zbarimg --raw -q req.txt.png | breakglass aws redeem - --json > session.json
   breakglass aws redeem req.txt --exec -- aws sts get-caller-identity`

func awsRedeemCommand() *cli.Command {
	return &cli.Command{
		Name:        "redeem",
		Usage:       "send a presigned AssumeRole request (aws session --presign) and use the session",
		ArgsUsage:   "REQ|- (--exec [-- CMD ARGS…] | --console | --json | --export)",
		Description: awsRedeemHelp,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "exec", Usage: "run the command after -- (default $SHELL) with the session in its environment"},
			&cli.BoolFlag{Name: "console", Usage: "print a console sign-in URL"},
			&cli.BoolFlag{Name: "json", Usage: "print the credential_process JSON"},
			&cli.BoolFlag{Name: "export", Usage: "print shell export lines"},
			&cli.BoolFlag{Name: "force-tty", Usage: "print --json or --export even when standard output is a terminal"},
			&cli.StringFlag{Name: "federation-url", Usage: "console federation endpoint `URL` (default AWS's, or the rehearsal server's)"},
			&cli.StringFlag{Name: "endpoint-url", Usage: "AWS endpoint `URL` for the --exec command (default: the rehearsal server the request is for, if it is one)"},
		},
		Action: runAWSRedeem,
	}
}

func runAWSRedeem(c *cli.Context) error {
	args := c.Args().Slice()
	if len(args) == 0 {
		return usageError("missing the request: breakglass aws redeem REQ.txt --exec (or - for standard input)")
	}
	mode, cmd, err := awsOutputMode(c, args[1:], "exec", "console", "json", "export")
	if err != nil {
		return err
	}
	p, err := readPresigned(args[0])
	if err != nil {
		return err
	}
	infof("request for %s: role %s, a %s session, signed at %s with key %s, valid until %s",
		p.Operator, p.RoleARN, p.Duration, p.SignedAt.Local().Format("15:04:05"), p.KeyID, p.Expires.Local().Format("15:04:05 MST"))
	ctx, cancel := awsContext(c)
	defer cancel()
	sess, err := aws.Redeem(ctx, p, aws.RedeemOptions{})
	if err != nil {
		return redeemErr(p, err)
	}
	defer sess.Wipe()
	infof("session for %s as %s until %s (session key %s)", p.Operator, sess.AssumedRoleARN,
		sess.Expiration.Local().Format("15:04 MST"), sess.AccessKeyID)
	// The endpoint the session's users talk to: the rehearsal server the
	// request went to, unless one is named.
	endpoint := awsEndpoint(c)
	if u, _ := url.Parse(p.URL); endpoint == "" && u != nil && !strings.HasSuffix(u.Hostname(), ".amazonaws.com") {
		endpoint = u.Scheme + "://" + u.Host
	}
	o := &awsSessionOptions{mode: mode, cmd: cmd}
	// redeem runs on any networked machine, without the case and its
	// auditors' recipients: an --exec session here is not recorded.
	return awsDeliver(c, o, sess, aws.Request{Endpoint: endpoint, Region: p.Region}, &execSession{})
}

// readPresigned reads and parses REQ ("-": standard input).
func readPresigned(path string) (*aws.Presigned, error) {
	var b []byte
	var err error
	if path == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 64<<10))
	} else {
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, withHints(fmt.Errorf("reading the request: %v", atomicfile.UnwrapPath(err)), "give the file aws session --presign wrote, or - to read standard input")
	}
	p, err := aws.ParsePresigned(string(b))
	if err != nil {
		return nil, withHints(fmt.Errorf("%s: %w", path, err),
			"it must be the one line breakglass aws session --presign printed: copy or scan it again")
	}
	return p, nil
}

// redeemErr adds the hints of a failed redeem; nothing was released.
func redeemErr(p *aws.Presigned, err error) error {
	again := "make a new request on the air-gapped laptop (breakglass aws session … --presign, new taps), and redeem it within its " +
		aws.MaxPresignExpiry.String()
	switch {
	case errors.Is(err, aws.ErrRequestExpired):
		return withHints(fmt.Errorf("no session for %s: %w", p.Operator, err), again,
			"if it expired early, check the clocks of the laptop and of this machine (AWS allows 15 minutes' difference)")
	case errors.Is(err, aws.ErrRequestAltered):
		return withHints(fmt.Errorf("no session for %s: %w", p.Operator, err),
			"the text changed on its way: copy or scan it again from the laptop",
			"if it still fails, treat the request as tampered with, and "+again)
	case errors.Is(err, aws.ErrKeyInvalid):
		return withHints(fmt.Errorf("no session for %s: %w", p.Operator, err),
			"the key "+p.KeyID+" that signed the request is deleted or inactive (revoked or rotated since?): run breakglass aws check")
	}
	return awsErr("no session for "+p.Operator, err)
}
