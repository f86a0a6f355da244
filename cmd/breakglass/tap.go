package main

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/ceremony"
	"github.com/breakglass/breakglass/seal/remote"
	"github.com/breakglass/breakglass/token"
)

const tapHelp = `tap answers an operator's unseal request from a custodian's own machine. It
shows what the request asks (secret, operator, reason, ticket, use case), finds
your card, has it sign the approval and open your share, and writes a response
in which your share is encrypted to the request's one-time key: only the
operator's waiting unseal can open it.

You need the sealed secret (the case repository) and the request file. A
request that arrived as a QR code is the decoded text saved as a file.

To send the response back across an air gap, --qr also shows it as a QR
code on standard error and --png writes it as a QR code image to FILE.png;
the code holds exactly the text of FILE, which the operator saves as
RESP.txt. A response is about 1,250 bytes: a version 29 code, 141 columns
wide, so --png (or a wide terminal) is the practical way.

EXAMPLES
   # a YubiKey (PIV)
   breakglass tap req.txt --glass prod-aws.glass --out resp.txt

   # a PKCS#11 token
   breakglass tap req.txt --glass prod-db.glass --out resp.txt \
     --pkcs11 'pkcs11:token=ops-hsm?module-path=/usr/lib/softhsm/libsofthsm2.so'

   # a virtual card in a rehearsal
   BREAKGLASS_PIN=123456 breakglass tap req.txt --glass demo.glass --out resp.txt \
     --reader "Virtual PCD 00 00"

   # the request came as a QR code; answer with one (resp.txt.png)
   zbarimg --raw -q req.png > req.txt   # or your phone's reader
   breakglass tap req.txt --glass prod-aws.glass --out resp.txt --png`

func tapCommand() *cli.Command {
	return &cli.Command{
		Name:        "tap",
		Usage:       "tap a remote unseal request with your card",
		ArgsUsage:   "REQ.txt",
		Description: tapHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "glass", Usage: "the sealed secret `NAME.glass` the request is for"},
			&cli.StringFlag{Name: "out", Value: "response.txt", Usage: "write the response to `FILE`"},
			&cli.GenericFlag{Name: "reader", Value: &listFlag{}, Usage: "use the card in reader `NAME` (repeatable; default: every reader)"},
			&cli.GenericFlag{Name: "pkcs11", Value: &listFlag{}, Usage: "use the PKCS#11 token at `URI`"},
			&cli.DurationFlag{Name: "wait", Value: 2 * time.Minute, Usage: "how long to wait for the card"},
			pinFileFlag, pinTriesUnknownFlag,
			qrFlag("response"), pngFlag("response"),
		}, caseFlags()...),
		Action: runTap,
	}
}

func runTap(c *cli.Context) error {
	if err := requireFlags(c, "glass"); err != nil {
		return err
	}
	if c.NArg() != 1 {
		return oneArg(c, "request, REQ.txt", "breakglass tap REQ.txt --glass NAME.glass")
	}
	req, err := readRequestFile(c.Args().First())
	if err != nil {
		return err
	}
	glassPath := c.String("glass")
	f, file, err := readGlass(glassPath)
	if err != nil {
		return err
	}
	file.Close()
	if err := checkRequestAgainstFile(req, f, glassPath); err != nil {
		return err
	}
	// The file is what the card approves and what the share must belong
	// to; with a logbook in the custodian's case it must be the logged one.
	_, l, err := openCaseLog(c)
	if err != nil {
		return err
	}
	if err := checkLoggedHeader(l, f, glassPath, false); err != nil {
		return err
	}
	out := c.String("out")
	if err := checkNewFile(out); err != nil {
		return err
	}
	if c.Bool("png") {
		if err := checkNewFile(out + ".png"); err != nil {
			return err
		}
	}
	if err := secret.Hold(); err != nil {
		return err
	}
	// What the custodian approves is what the file says; the request only
	// adds who asks and why, and was checked against the file above.
	h := f.Header
	infof("request %s: %s asks to unseal %s (%s)", req.Short(), req.Operator, h.Name, glassPath)
	var sealed []string
	if h.Scope != "" {
		sealed = append(sealed, "scope "+h.Scope)
	}
	if h.KeyID != "" {
		sealed = append(sealed, "access key "+h.KeyID)
	}
	if len(sealed) > 0 {
		infof("  sealed: %s", strings.Join(sealed, ", "))
	}
	infof("  reason: %s; ticket: %s; use case: %s", req.Reason, req.Ticket, req.UseCase)
	purpose := "to approve " + req.Operator + "'s unseal of " + h.Name
	if req.Ticket != "" {
		purpose += " (" + req.Ticket + ")"
	}
	tok, idx, err := findTapToken(c, f, purpose)
	if err != nil {
		return err
	}
	defer tok.Close()
	cu := f.Header.Custodians()[idx]
	who := fmt.Sprintf("%s (%s)", cu.Name, tok.Info().Name())
	if r, err := tok.PINRetries(); err == nil && r >= 0 && !token.SafeToTry(r) {
		return withHints(fmt.Errorf("%s: %w", who, &token.PINError{Token: tok.Info().Name(), Retries: r}),
			"unblock the PIN with the PUK first, or let another custodian tap")
	}
	infof("%s: approve with the PIN, then touch the card when it blinks", who)
	// The share is opened and checked against the file the card approved
	// (its header-hash and custodian lines, its commitment) before it is
	// re-encrypted for the operator.
	resp, a, err := remote.Answer(f, req, idx, tok.KeyAgreementKey(), tok.SigningKey(), time.Now())
	if err != nil {
		return explainShareError(who, glassPath, err)
	}
	text, err := resp.Marshal()
	if err != nil {
		return err
	}
	code, err := textQR(c, "response", text)
	if err != nil {
		return err
	}
	if err := writeQRImage(c, code, out); err != nil {
		return err
	}
	if err := writeNewFile(out, 0o644, false, func(w io.Writer) error { _, err := w.Write(text); return err }); err != nil {
		removeQRImage(c, code, out)
		return err
	}
	showQR(c, code, out)
	infof("tapped as %s; approval %s (key %s); send %s to the operator", cu.Name, a.Fingerprint(), a.KeyFingerprint, out)
	return nil
}

// findTapToken waits for a card that is in the roster; purpose says in the
// PIN prompt what the PIN is for. It looks at the readers as the ceremony
// does (package ceremony's Watch): a card is opened once while it stays in
// its reader.
func findTapToken(c *cli.Context, f *seal.File, purpose string) (token.Token, int, error) {
	deadline := time.Now().Add(c.Duration("wait"))
	readers := listValues(c, "reader", false)
	uris := listValues(c, "pkcs11", false)
	w := &ceremony.Watch{Finder: &ceremony.Poller{Readers: readers, AllReaders: len(readers) == 0 && len(uris) == 0, PKCS11: uris}}
	var who string
	pin := func() ([]byte, error) { return pinSource(c, withPurpose(who, purpose))() }
	tok, idx, err := ceremony.FindCustodian(w, f, deadline, 250*time.Millisecond,
		func(card ceremony.Card) (token.Token, error) { return card.Open(pin, confirmUnknownTries(c)) },
		func(tok token.Token) {
			infof("%s is not in the roster of %s; ignored", tok.Info().Name(), f.Header.Name)
		},
		func() { infof("waiting for your card…") })
	if err != nil {
		return nil, 0, withHints(fmt.Errorf("no card of a custodian of %s appeared within %s", f.Header.Name, c.Duration("wait")),
			"insert your card (or give --pkcs11 URI) and run tap again")
	}
	who = f.Header.Custodians()[idx].Name + " (" + tok.Info().Name() + ")"
	return tok, idx, nil
}

// checkRequestAgainstFile checks an unseal request against the sealed file
// it names, before any card is used: the same header, the same secret
// name, a use case sealed in the file, and not expired.
func checkRequestAgainstFile(req *remote.Request, f *seal.File, path string) error {
	var me *remote.MismatchError
	if err := req.CheckFile(f); errors.As(err, &me) {
		switch me.Field {
		case "header-hash":
			return withHints(fmt.Errorf("the request is for another version of %s (header hash %s…, %s has %s…); nothing was tapped",
				req.Secret, req.HeaderHash[:12], path, me.FileShort),
				"git pull the case, or ask the operator which file they unseal")
		case "secret":
			return withHints(fmt.Errorf("the request names the secret %q, but %s seals %q; nothing was tapped", req.Secret, path, f.Header.Name),
				"the request or the file was tampered with: ask the operator for a new request, and compare the file with the case's history (git log -p "+path+")")
		default:
			return withHints(fmt.Errorf("the request's use case %q is not one sealed in %s; nothing was tapped", req.UseCase, path),
				"the permitted use cases are: "+strings.Join(me.UseCases, "; "), "ask the operator for a new request")
		}
	} else if err != nil {
		return err
	}
	if req.Expired(time.Now()) {
		return withHints(fmt.Errorf("the request expired at %s", req.ExpiresAt.Format(time.RFC3339)), "ask the operator for a new request")
	}
	return nil
}

// explainShareError turns a share that failed OpenShare's checks into what
// the custodian should do.
func explainShareError(who, path string, err error) error {
	switch {
	case errors.Is(err, seal.ErrOtherFile), errors.Is(err, seal.ErrBeforeReseal), errors.Is(err, seal.ErrBadShare):
		return withHints(fmt.Errorf("%s: %s: %w; nothing was sent", who, path, err),
			"the file was tampered with (a share block copied in from another secret): do not tap for it",
			"restore it from the case's history (git log -p "+path+") and tell the other custodians")
	}
	return explainTapError(who, err)
}

func explainTapError(who string, err error) error {
	var pe *token.PINError
	switch {
	case errors.As(err, &pe) && pe.Retries < 0:
		return withHints(fmt.Errorf("%s: %w", who, pe), unknownTriesHints(pe)...)
	case errors.As(err, &pe):
		return withHints(fmt.Errorf("%s: %w", who, pe), "check the PIN; with one try left, unblock it with the PUK first")
	case errors.Is(err, token.ErrNotPresent):
		return withHints(fmt.Errorf("%s was removed", who), "insert it and run tap again")
	case errors.Is(err, token.ErrTouchTimeout):
		return withHints(fmt.Errorf("%s was not touched in time", who), "run tap again and touch the card when it blinks")
	}
	return fmt.Errorf("%s: %w", who, err)
}
