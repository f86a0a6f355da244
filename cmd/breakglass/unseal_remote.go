package main

// Remote custodians, the CLI side of package remote (docs/format-remote.md).
// The operator writes a request bound to a fresh ephemeral age key (unseal
// request); a custodian taps it on their own machine (tap), which
// re-encrypts their share to that key; the operator's unseal takes the
// response (--response) beside local taps. The request's private key stays
// with the operator in REQ.key (0600) and is deleted when an unseal has used
// it, so a response opens one unseal only.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"
	xterm "golang.org/x/term"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/internal/qrtext"
	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/seal/remote"
)

func unsealRequestCommand() *cli.Command {
	return &cli.Command{
		Name:      "request",
		Usage:     "write a request for a remote custodian's tap",
		ArgsUsage: "NAME.glass",
		Description: `request writes a short text request that a custodian who cannot come to the
laptop taps on their own machine (breakglass tap REQ.txt). Their response
(breakglass unseal … --request REQ.txt --response RESP.txt) is encrypted to a
fresh key that only this request's REQ.txt.key (kept here, mode 0600) opens,
and that key is deleted once an unseal has used it.

To cross an air gap, --qr also shows the request as a QR code on standard
error and --png writes it as a QR code image to FILE.png. The code holds
exactly the text of FILE: a custodian saves what their reader decodes as
REQ.txt. A request is about 430 bytes, a version 16 code 89 columns wide.

EXAMPLES
   breakglass unseal request prod-aws.glass --reason "SSO down" --ticket INC-4711 \
     --use-case "SSO is down" --out req.txt
   # send req.txt (mail, chat, QR); get resp.txt back, then
   breakglass unseal prod-aws.glass --reason "SSO down" --ticket INC-4711 \
     --use-case "SSO is down" --request req.txt --response resp.txt --out key.txt

   # show the request as a QR code for the custodian's phone, and keep
   # req.txt.png to print
   breakglass unseal request prod-aws.glass --reason "SSO down" --ticket INC-4711 \
     --use-case "SSO is down" --out req.txt --qr --png`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "reason", Usage: "why the secret is needed"},
			&cli.StringFlag{Name: "ticket", Usage: "incident or ticket `ID`"},
			&cli.StringFlag{Name: "use-case", Usage: "one of the use cases sealed in the file"},
			&cli.StringFlag{Name: "operator", Usage: "who is unsealing (default $USER)"},
			&cli.DurationFlag{Name: "valid", Value: time.Hour, Usage: "how long the request can be answered"},
			&cli.StringFlag{Name: "out", Value: "request.txt", Usage: "write the request to `FILE` (its key to FILE.key)"},
			qrFlag("request"), pngFlag("request"),
		}, caseFlags()...),
		Action: runUnsealRequest,
	}
}

func runUnsealRequest(c *cli.Context) error {
	if err := requireFlagsOrAsk(c, "reason", "ticket"); err != nil {
		return err
	}
	if c.NArg() != 1 {
		return oneArg(c, "sealed secret, NAME.glass")
	}
	if err := askFlags(c, "reason", "ticket"); err != nil {
		return err
	}
	path := c.Args().First()
	f, file, err := readGlass(path)
	if err != nil {
		return err
	}
	file.Close()
	// The operator is named as the unseal will name them (their logbook
	// name in a case with a logbook), and the file must be the logged one:
	// custodians approve exactly this.
	cl, err := newCeremonyLog(c, f, c.String("operator"))
	if err != nil {
		return err
	}
	if err := checkLoggedHeader(cl.log, f, path, false); err != nil {
		return err
	}
	uc, err := chooseUseCase(c, f.Header)
	if err != nil {
		return err
	}
	out := c.String("out")
	for _, p := range []string{out, out + ".key", out + ".png"} {
		if p == out+".png" && !c.Bool("png") {
			continue
		}
		if err := checkNewFile(p); err != nil {
			return err
		}
	}
	req, id, err := remote.NewRequest(f, cl.Operator, c.String("reason"), c.String("ticket"), uc, time.Now(), c.Duration("valid"))
	if err != nil {
		return err
	}
	keyLine := []byte(id.String() + "\n")
	defer secret.Wipe(keyLine)
	if err := writeNewFile(out+".key", 0o600, false, func(w io.Writer) error { _, err := w.Write(keyLine); return err }); err != nil {
		return err
	}
	text := req.Marshal()
	code, err := textQR(c, "request", text)
	if err != nil {
		os.Remove(out + ".key")
		return err
	}
	if err := writeQRImage(c, code, out); err != nil {
		os.Remove(out + ".key")
		return err
	}
	if err := writeNewFile(out, 0o644, false, func(w io.Writer) error {
		_, err := w.Write(text)
		return err
	}); err != nil {
		os.Remove(out + ".key")
		removeQRImage(c, code, out)
		return err
	}
	showQR(c, code, out)
	infof("wrote request %s for %s to %s (valid until %s); its key stays in %s.key", req.Short(), f.Header.Name, out, req.ExpiresAt.Format(time.RFC3339), out)
	return nil
}

// loadRequestKey reads a request and its ephemeral identity.
func loadRequestKey(path string) (*remote.Request, *age.X25519Identity, error) {
	req, err := readRequestFile(path)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(path + ".key")
	if err != nil {
		return nil, nil, withHints(fmt.Errorf("request %s has no key (%s.key): it was already used, or was made on another machine", req.Short(), path),
			"write a new request with breakglass unseal request, and have the custodian tap that one")
	}
	defer secret.Wipe(kb)
	id, err := age.ParseX25519Identity(strings.TrimSpace(string(kb)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s.key: %v", path, err)
	}
	if id.Recipient().String() != req.Recipient {
		return nil, nil, fmt.Errorf("%s.key does not belong to %s", path, path)
	}
	return req, id, nil
}

// Remote requests and responses as QR codes: --qr shows one on standard
// error, --png writes FILE.png beside FILE. The code carries exactly the
// file's text; the text stays the canonical form, so text that does not
// fit one code is sent as text, with a warning.

func qrFlag(what string) cli.Flag {
	return &cli.BoolFlag{Name: "qr", Usage: "also show the " + what + " as a QR code on standard error"}
}

func pngFlag(what string) cli.Flag {
	return &cli.BoolFlag{Name: "png", Usage: "also write the " + what + " as a QR code image to FILE.png (FILE is --out)"}
}

// qrScale is the PNG pixels per module of a request or response.
const qrScale = 6

// textQR encodes text for --qr and --png, before anything is written. It
// returns nil when neither is asked for, or, with a warning, when the
// text does not fit one code.
func textQR(c *cli.Context, what string, text []byte) (*qrtext.Code, error) {
	if !c.Bool("qr") && !c.Bool("png") {
		return nil, nil
	}
	code, err := qrtext.Encode(string(text))
	var tl *qrtext.TooLargeError
	if errors.As(err, &tl) {
		infof("warning: the %s is %d bytes, more than one QR code holds (%d); no QR code: send the text file", what, tl.Len, qrtext.MaxBytes)
		return nil, nil
	}
	return code, err
}

// writeQRImage writes out.png for --png.
func writeQRImage(c *cli.Context, code *qrtext.Code, out string) error {
	if code == nil || !c.Bool("png") {
		return nil
	}
	img, err := code.PNG(qrScale)
	if err != nil {
		return err
	}
	return writeNewFile(out+".png", 0o644, false, func(w io.Writer) error { _, err := w.Write(img); return err })
}

// removeQRImage takes back what writeQRImage wrote.
func removeQRImage(c *cli.Context, code *qrtext.Code, out string) {
	if code != nil && c.Bool("png") {
		os.Remove(out + ".png")
	}
}

// showQR prints the code for --qr on standard error, drawn for a
// light-on-dark terminal, and says where the image went for --png.
func showQR(c *cli.Context, code *qrtext.Code, out string) {
	if code == nil {
		return
	}
	if c.Bool("png") {
		infof("QR code of %s written to %s.png", out, out)
	}
	if !c.Bool("qr") {
		return
	}
	infof("QR code of %s (version %d, %d columns); scan it, then check that the text matches:", out, code.Version(), code.Width())
	if cols := terminalColumns(os.Stderr); cols > 0 && cols < code.Width() {
		infof("warning: the terminal is %d columns wide: widen it (or make the font smaller) to scan, or use --png", cols)
	}
	os.Stderr.Write(code.Text(qrtext.LightInk))
}

// terminalColumns is the width of the terminal f, or 0 when f is not one.
func terminalColumns(f *os.File) int {
	w, _, err := xterm.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return w
}

// readRequestFile reads a request (unseal's --request, tap's REQ.txt).
func readRequestFile(path string) (*remote.Request, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, withHints(fmt.Errorf("cannot read the request: %v", atomicfile.UnwrapPath(err)), "give the file the operator sent")
	}
	r, err := remote.ParseRequest(qrtext.Scanned(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
