package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"filippo.io/torchwood"
	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/logbook/witness"
	"github.com/breakglass/breakglass/token"
)

const logWitnessHelp = `A witness cosigns a logbook's checkpoints for another team, and only ever a
checkpoint that extends the one it cosigned before, so the team that writes
the logbook cannot rewrite its history unnoticed. It speaks the C2SP
protocols of transparency logs (c2sp.org/tlog-witness: POST /add-checkpoint;
c2sp.org/tlog-cosignature: Ed25519 cosignature/v1), so any such witness can
witness a breakglass logbook, and this one can witness other logs.

Run one on a machine the logbook's custodians do not control (security's,
audit's, a second site's):

   breakglass log witness keygen --name witness.example.com/security --key witness.key
   breakglass log witness add-log --state state --case /path/to/a/copy/of/the/case
   breakglass log witness serve --key witness.key --state state --addr 0.0.0.0:7380

and give the case's keepers the verifier key keygen printed, for their
CASE/logbook/witnesses:

   witness witness.example.com/security+3a4b5c6d+BNuV… https://witness.example.com/security`

func logWitnessCommand() *cli.Command {
	return &cli.Command{
		Name:        "witness",
		Usage:       "run a witness that cosigns logbook checkpoints (C2SP tlog-witness)",
		Description: logWitnessHelp,
		Subcommands: []*cli.Command{
			logWitnessKeygenCommand(),
			logWitnessAddLogCommand(),
			logWitnessServeCommand(),
			logWitnessSignCommand(),
		},
	}
}

const logWitnessKeygenHelp = `log witness keygen makes a witness's Ed25519 key, writes it to --key FILE
(created with mode 0600, never overwritten) and prints its verifier key, the
line the case's keepers put in CASE/logbook/witnesses after "witness".

The name identifies the witness in every cosignature; make it a schema-less
URL of your organisation, such as witness.example.com/security.

EXAMPLES
   breakglass log witness keygen --name witness.example.com/security --key /etc/breakglass/witness.key`

func logWitnessKeygenCommand() *cli.Command {
	return &cli.Command{
		Name:        "keygen",
		Usage:       "make a witness key and print its verifier key",
		ArgsUsage:   " ",
		Description: logWitnessKeygenHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "the witness's `NAME`, e.g. witness.example.com/security"},
			&cli.StringFlag{Name: "key", Usage: "write the private key to `FILE`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError("log witness keygen takes no arguments (got %q)", c.Args().First())
			}
			if c.String("name") == "" || c.String("key") == "" {
				return usageError("log witness keygen needs --name NAME and --key FILE")
			}
			skey, vkey, err := witness.GenerateKey(c.String("name"))
			if err != nil {
				return usageError("%v", err)
			}
			path := c.String("key")
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return withHints(fmt.Errorf("cannot write the witness key: %v", err), "choose another --key; an existing key is never overwritten")
			}
			_, err = io.WriteString(f, skey+"\n")
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(path)
				return fmt.Errorf("cannot write the witness key %s: %v", path, err)
			}
			infof("wrote the private key of witness %s to %s; keep it secret and backed up", c.String("name"), path)
			infof("the case's keepers add to CASE/logbook/witnesses: witness VKEY URL, with the verifier key below")
			fmt.Fprintln(stdout(c), vkey)
			return nil
		},
	}
}

// readWitnessKey reads a --key file made by log witness keygen.
func readWitnessKey(path string) (*torchwood.CosignatureSigner, error) {
	if path == "" {
		return nil, usageError("--key FILE is required (make one with breakglass log witness keygen)")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, withHints(fmt.Errorf("--key %s: %v", path, atomicfile.UnwrapPath(err)), "make one with breakglass log witness keygen")
	}
	if fi.Mode().Perm()&0o077 != 0 {
		infof("warning: the witness key %s can be read by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %v", path, atomicfile.UnwrapPath(err))
	}
	s, err := witness.NewSigner(string(b))
	if err != nil {
		return nil, withHints(fmt.Errorf("--key %s: %v", path, err), "a witness key is what breakglass log witness keygen writes")
	}
	return s, nil
}

const logWitnessAddLogHelp = `log witness add-log lets the witness in --state DIR cosign a logbook: it
records the logbook's origin and the verifier keys that may sign its
checkpoints, replacing those it had. A running witness reads them on every
request.

With --case, the origin and keys come from a copy of the case: its logbook's
origin and its custodians' signing keys (run it again when custodians join
or leave). Otherwise give --origin and one --log-key per key (the
NAME+KEYID+KEY verifier keys of signed notes: Ed25519, or ECDSA as
breakglass custodians' tokens sign), which also works for logs other than
breakglass logbooks.

EXAMPLES
   breakglass log witness add-log --state /var/lib/breakglass-witness --case ~/cases/prod-aws
   breakglass log witness add-log --state state --origin example.com/log --log-key example.com/log+abcd1234+AX…`

func logWitnessAddLogCommand() *cli.Command {
	return &cli.Command{
		Name:        "add-log",
		Usage:       "let the witness cosign a logbook (its origin and signing keys)",
		ArgsUsage:   " ",
		Description: logWitnessAddLogHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "state", Usage: "the witness's state `DIR`"},
			&cli.StringFlag{Name: "origin", Usage: "the log's `ORIGIN` (without --case)"},
			&cli.GenericFlag{Name: "log-key", Value: &listFlag{}, Usage: "a verifier `KEY` that may sign the log's checkpoints (repeatable; without --case)"},
		}, caseFlags()...),
		Action: runLogWitnessAddLog,
	}
}

func runLogWitnessAddLog(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("log witness add-log takes no arguments (got %q)", c.Args().First())
	}
	state := c.String("state")
	if state == "" {
		return usageError("log witness add-log needs --state DIR")
	}
	origin, keys := c.String("origin"), listValues(c, "log-key", false)
	var names []string
	switch {
	case c.String("case") != "" && (origin != "" || len(keys) > 0):
		return usageError("--case gives the origin and keys: drop --origin and --log-key, or --case")
	case c.String("case") != "":
		cd, l, err := openRequiredLog(c)
		if err != nil {
			return err
		}
		recs, err := cd.Records()
		if err != nil {
			return err
		}
		origin = l.Origin()
		for _, r := range recs {
			if r.Keys == nil {
				continue
			}
			name, err := casedir.ActorName(r)
			if err != nil {
				return err
			}
			pub, err := r.SigningPublicKey()
			if err != nil {
				return err
			}
			k, err := token.NoteVerifierKey(name, pub)
			if err != nil {
				return err
			}
			keys = append(keys, k)
			names = append(names, name)
		}
		if len(keys) == 0 {
			return fmt.Errorf("the case %s has no custodian with a signing key", cd.Dir)
		}
	case origin == "" || len(keys) == 0:
		return usageError("log witness add-log needs --case DIR, or --origin ORIGIN and --log-key KEY")
	}
	if err := witness.AddLog(state, origin, keys); err != nil {
		return err
	}
	if names == nil {
		infof("the witness in %s cosigns %s, signed by %s", state, origin, logPlural(int64(len(keys)), "key", "keys"))
	} else {
		infof("the witness in %s cosigns %s, signed by %s", state, origin, strings.Join(names, ", "))
	}
	return nil
}

const logWitnessServeHelp = `log witness serve runs the witness: POST /add-checkpoint as c2sp.org/tlog-witness
specifies, and GET /HASH/checkpoint (HASH the hex SHA-256 of a log's origin),
the latest checkpoint it cosigned, for monitors.

It cosigns a checkpoint of a log that add-log listed, signed by one of the
log's keys, only if it extends the latest one it cosigned for that log (a
consistency proof from that size). It answers 409 Conflict with its size to
a client that names another old size, and refuses a rollback or a fork. It
writes the new checkpoint to --state DIR (write, fsync, rename) before it
answers, so it never cosigns two different checkpoints of one size, however
it is stopped. One process at a time serves a state directory.

It prints its URL on standard output once it listens (useful with
--addr 127.0.0.1:0), and a line per request on standard error. SIGINT or
SIGTERM stops it.

EXAMPLES
   breakglass log witness serve --key witness.key --state state
   breakglass log witness serve --key witness.key --state state --addr 0.0.0.0:7380`

func logWitnessServeCommand() *cli.Command {
	return &cli.Command{
		Name:        "serve",
		Usage:       "serve the witness over HTTP",
		ArgsUsage:   " ",
		Description: logWitnessServeHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "the witness key `FILE` (log witness keygen)"},
			&cli.StringFlag{Name: "state", Usage: "the witness's state `DIR`"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:7380", Usage: "listen on `HOST:PORT`"},
		},
		Action: runLogWitnessServe,
	}
}

func runLogWitnessServe(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("log witness serve takes no arguments (got %q)", c.Args().First())
	}
	if c.String("state") == "" {
		return usageError("log witness serve needs --state DIR")
	}
	signer, err := readWitnessKey(c.String("key"))
	if err != nil {
		return err
	}
	srv, err := witness.OpenServer(c.String("state"), signer)
	if errors.Is(err, witness.ErrStateInUse) {
		return withHints(err, "stop the other witness first; one process serves a state directory")
	} else if err != nil {
		return fmt.Errorf("witness state %s: %v", c.String("state"), atomicfile.UnwrapPath(err))
	}
	defer srv.Close()
	logs, err := witness.ReadLogs(c.String("state"))
	if err != nil {
		return err
	}
	if len(logs) == 0 {
		infof("the witness cosigns no log yet: add one with breakglass log witness add-log --state %s --case CASE", c.String("state"))
	}
	srv.Logf = func(format string, args ...any) { infof("witness: "+format, args...) }
	ln, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return withHints(fmt.Errorf("cannot listen on %s: %v", c.String("addr"), err), "choose another --addr HOST:PORT")
	}
	url := "http://" + ln.Addr().String()
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	infof("witness %s (%s) serving %s on %s", signer.Name(), witness.VerifierKey(signer), c.String("state"), url)
	fmt.Fprintln(stdout(c), url)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	infof("witness %s stopped", signer.Name())
	return err
}

const logWitnessSignHelp = `log witness sign is the witness for an offline exchange: it reads an
add-checkpoint request (breakglass log cosign --request-out FILE) on standard
input or from --in FILE, checks it exactly as log witness serve would, against
and into the same --state DIR, and writes the cosigned checkpoint to standard
output, which breakglass log cosign --response FILE stores in the case.

It refuses what serve refuses; when the request starts from another size than
the witness's, it says which, for a new request with --old.

EXAMPLES
   breakglass log witness sign --key witness.key --state state < request.txt > response.txt`

func logWitnessSignCommand() *cli.Command {
	return &cli.Command{
		Name:        "sign",
		Usage:       "cosign an add-checkpoint request file (offline exchange)",
		ArgsUsage:   " ",
		Description: logWitnessSignHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "key", Usage: "the witness key `FILE` (log witness keygen)"},
			&cli.StringFlag{Name: "state", Usage: "the witness's state `DIR`"},
			&cli.StringFlag{Name: "in", Usage: "read the request from `FILE` instead of standard input"},
		},
		Action: runLogWitnessSign,
	}
}

func runLogWitnessSign(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageError("log witness sign takes no arguments (got %q)", c.Args().First())
	}
	if c.String("state") == "" {
		return usageError("log witness sign needs --state DIR")
	}
	signer, err := readWitnessKey(c.String("key"))
	if err != nil {
		return err
	}
	var body []byte
	if in := c.String("in"); in != "" {
		body, err = os.ReadFile(in)
	} else {
		body, err = io.ReadAll(io.LimitReader(os.Stdin, 1<<20+1))
	}
	if err != nil {
		return fmt.Errorf("reading the request: %v", atomicfile.UnwrapPath(err))
	}
	srv, err := witness.OpenServer(c.String("state"), signer)
	if errors.Is(err, witness.ErrStateInUse) {
		return withHints(err, "a witness is serving this state: send the request to it instead (curl --data-binary @FILE URL/add-checkpoint)")
	} else if err != nil {
		return fmt.Errorf("witness state %s: %v", c.String("state"), atomicfile.UnwrapPath(err))
	}
	defer srv.Close()
	_, cosigned, err := srv.AddCheckpoint(body)
	var re *witness.RequestError
	if errors.As(err, &re) {
		if re.Status == http.StatusConflict {
			return withHints(fmt.Errorf("the request starts from size %s, but the witness has cosigned %d entries", requestOld(body), re.Size),
				fmt.Sprintf("make a new request from that size: breakglass log cosign --witness %s --request-out FILE --old %d", signer.Name(), re.Size))
		}
		return fmt.Errorf("the witness refuses the checkpoint (%d %s): %s", re.Status, http.StatusText(re.Status), re.Msg)
	} else if err != nil {
		return err
	}
	infof("witness %s cosigned the checkpoint", signer.Name())
	_, err = stdout(c).Write(cosigned)
	return err
}

func requestOld(body []byte) string {
	first, _, _ := strings.Cut(string(body), "\n")
	return strings.TrimPrefix(first, "old ")
}
