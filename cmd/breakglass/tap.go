package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv"
	"github.com/breakglass/breakglass/token/pkcs11"
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
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "glass", Usage: "the sealed secret `NAME.glass` the request is for"},
			&cli.StringFlag{Name: "out", Value: "response.txt", Usage: "write the response to `FILE`"},
			&cli.GenericFlag{Name: "reader", Value: &listFlag{}, Usage: "use the card in reader `NAME` (repeatable; default: every reader)"},
			&cli.GenericFlag{Name: "pkcs11", Value: &listFlag{}, Usage: "use the PKCS#11 token at `URI`"},
			&cli.DurationFlag{Name: "wait", Value: 2 * time.Minute, Usage: "how long to wait for the card"},
			pinFileFlag, pinTriesUnknownFlag,
			qrFlag("response"), pngFlag("response"),
		},
		Action: runTap,
	}
}

func runTap(c *cli.Context) error {
	if err := requireFlags(c, "glass"); err != nil {
		return err
	}
	if c.NArg() != 1 {
		return usageError("want one request: breakglass tap REQ.txt --glass NAME.glass")
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
	h := f.HeaderHash()
	if req.get("header-hash") != hex.EncodeToString(h[:]) {
		return withHints(fmt.Errorf("the request is for another version of %s (header hash %s…, this file has %s…)",
			req.get("secret"), req.get("header-hash")[:12], hex.EncodeToString(h[:6])),
			"git pull the case, or ask the operator which file they unseal")
	}
	if time.Now().After(req.expiresAt()) {
		return withHints(fmt.Errorf("the request expired at %s", req.get("expires-at")), "ask the operator for a new request")
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
	infof("request %s: %s asks to unseal %s", req.get("request")[:8], req.get("operator"), req.get("secret"))
	infof("  reason: %s; ticket: %s; use case: %s", req.get("reason"), req.get("ticket"), req.get("use-case"))
	tok, idx, err := findTapToken(c, f)
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
	sig := tok.SigningKey()
	pub, ok := sig.Public().(*ecdsa.PublicKey)
	if !ok {
		return errors.New("the card's signing key is not ECDSA")
	}
	fp, _ := token.Fingerprint(pub)
	infof("%s: approve with the PIN, then touch the card when it blinks", who)
	at := time.Now().UTC().Truncate(time.Second)
	msg := approvalMessage(f, req.request(), cu.Name, at)
	digest := sha256.Sum256(msg)
	s, err := sig.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return explainTapError(who, err)
	}
	if !ecdsa.VerifyASN1(pub, digest[:], s) {
		return errors.New("the card returned an approval signature that does not verify")
	}
	block, err := shareBlock(glassPath, idx)
	if err != nil {
		return err
	}
	id, err := seal.NewTagIdentity(tok.KeyAgreementKey())
	if err != nil {
		return err
	}
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(block)), id)
	if err != nil {
		return explainTapError(who, err)
	}
	pt, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return explainTapError(who, err)
	}
	defer secret.Wipe(pt)
	if _, _, err := seal.ShareMnemonic(pt); err != nil {
		return fmt.Errorf("%s: the share does not parse: %v", who, err)
	}
	rcpt, err := age.ParseX25519Recipient(req.get("recipient"))
	if err != nil {
		return err
	}
	var enc bytes.Buffer
	aw := armor.NewWriter(&enc)
	ew, err := age.Encrypt(aw, rcpt)
	if err == nil {
		_, err = ew.Write(pt)
	}
	if err == nil {
		err = ew.Close()
	}
	if err == nil {
		err = aw.Close()
	}
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return err
	}
	fields := map[string]string{
		"request": req.get("request"), "custodian": cu.Name, "index": strconv.Itoa(idx),
		"signing-key": base64.StdEncoding.EncodeToString(der), "approval-time": at.Format(time.RFC3339),
		"signature": base64.StdEncoding.EncodeToString(s),
	}
	resp := append(marshalBlock(responseBegin, responseEnd, responseFields, fields), enc.Bytes()...)
	code, err := textQR(c, "response", resp)
	if err != nil {
		return err
	}
	if err := writeQRImage(c, code, out); err != nil {
		return err
	}
	if err := writeNewFile(out, 0o644, false, func(w io.Writer) error { _, err := w.Write(resp); return err }); err != nil {
		removeQRImage(c, code, out)
		return err
	}
	showQR(c, code, out)
	a := &approval{Message: msg, Signature: s}
	infof("tapped as %s; approval %s (key %s); send %s to the operator", cu.Name, a.Fingerprint(), fp, out)
	return nil
}

// findTapToken waits for a card that is in the roster.
func findTapToken(c *cli.Context, f *seal.File) (token.Token, int, error) {
	deadline := time.Now().Add(c.Duration("wait"))
	readers := listValues(c, "reader", false)
	uris := listValues(c, "pkcs11", false)
	told := map[string]bool{}
	var who string
	pin := func() ([]byte, error) { return pinSource(c, who)() }
	try := func(tok token.Token) (token.Token, int, bool) {
		idx, err := f.Custodian(tok.KeyAgreementKey().PublicKey())
		if err != nil {
			if !told[tok.Info().Name()] {
				infof("%s is not in the roster of %s; ignored", tok.Info().Name(), f.Header.Name)
				told[tok.Info().Name()] = true
			}
			tok.Close()
			return nil, 0, false
		}
		who = f.Header.Custodians()[idx].Name + " (" + tok.Info().Name() + ")"
		return tok, idx, true
	}
	for {
		for _, u := range uris {
			if tok, err := pkcs11.Open(u, pkcs11.Options{PIN: pin, ConfirmUnknownTries: confirmUnknownTries(c)}); err == nil {
				if t, idx, ok := try(tok); ok {
					return t, idx, nil
				}
			}
		}
		var found []piv.Found
		if len(readers) == 0 && len(uris) == 0 {
			found, _ = piv.Find(piv.Selector{})
		}
		for _, r := range readers {
			if fs, err := piv.Find(piv.Selector{Reader: r}); err == nil {
				found = append(found, fs...)
			}
		}
		for _, fc := range found {
			tok, err := piv.Open(piv.Options{Selector: piv.Selector{Serial: fc.Serial, Reader: fc.Reader}, PIN: pin})
			if err != nil {
				continue
			}
			if t, idx, ok := try(tok); ok {
				return t, idx, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, 0, withHints(fmt.Errorf("no card of a custodian of %s appeared within %s", f.Header.Name, c.Duration("wait")),
				"insert your card (or give --pkcs11 URI) and run tap again")
		}
		if len(told) == 0 && !told["waiting"] {
			told["waiting"] = true
			infof("waiting for your card…")
		}
		time.Sleep(250 * time.Millisecond)
	}
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
