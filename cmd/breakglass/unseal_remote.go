package main

// Remote custodians. The operator writes a request bound to a fresh
// ephemeral age key (unseal request); a custodian taps it on their own
// machine (tap), which re-encrypts their share to that key; the operator's
// unseal takes the response (--response) beside local taps.
//
// A request is short text:
//
//	-----BEGIN BREAKGLASS UNSEAL REQUEST-----
//	request: 9f1c…            16 random bytes, hex
//	secret: prod-aws
//	header-hash: …            of the .glass, hex
//	operator: …
//	reason: …
//	ticket: …
//	use-case: …
//	created-at: 2026-11-24T04:00:00Z
//	expires-at: 2026-11-24T05:00:00Z
//	recipient: age1…          the ephemeral key
//	-----END BREAKGLASS UNSEAL REQUEST-----
//
// Its private key stays with the operator in REQ.key (0600) and is deleted
// when an unseal has used it, so a response opens one unseal only. A
// response names the request and custodian, carries the custodian's
// approval signature and signing key, and holds their share plaintext
// encrypted to the request's key.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/urfave/cli/v2"
	xterm "golang.org/x/term"

	"github.com/breakglass/breakglass/internal/qrtext"
	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/token"
)

const (
	requestBegin  = "-----BEGIN BREAKGLASS UNSEAL REQUEST-----"
	requestEnd    = "-----END BREAKGLASS UNSEAL REQUEST-----"
	responseBegin = "-----BEGIN BREAKGLASS TAP RESPONSE-----"
	responseEnd   = "-----END BREAKGLASS TAP RESPONSE-----"
)

var requestFields = []string{"request", "secret", "header-hash", "operator", "reason", "ticket", "use-case", "created-at", "expires-at", "recipient"}
var responseFields = []string{"request", "custodian", "index", "signing-key", "approval-time", "signature"}

// remoteRequest is a parsed unseal request.
type remoteRequest struct {
	fields map[string]string
}

func (r *remoteRequest) get(k string) string { return r.fields[k] }

// marshalBlock writes "key: value" lines between BEGIN and END.
func marshalBlock(begin, end string, keys []string, fields map[string]string) []byte {
	var b bytes.Buffer
	b.WriteString(begin + "\n")
	for _, k := range keys {
		b.WriteString(k + ": " + strings.ReplaceAll(fields[k], "\n", " ") + "\n")
	}
	b.WriteString(end + "\n")
	return b.Bytes()
}

// parseBlock reads the "key: value" lines of a request or response, in
// exactly the order of keys; rest is what follows the END line.
func parseBlock(b []byte, begin, end string, keys []string) (map[string]string, []byte, error) {
	lines := strings.SplitAfter(string(b), "\n")
	if len(lines) < len(keys)+2 || lines[0] != begin+"\n" {
		return nil, nil, fmt.Errorf("not a %s (no %s line)", strings.ToLower(strings.Trim(begin, "- ")), begin)
	}
	f := map[string]string{}
	for i, k := range keys {
		l := strings.TrimSuffix(lines[i+1], "\n")
		v, ok := strings.CutPrefix(l, k+": ")
		if !ok || !strings.HasSuffix(lines[i+1], "\n") {
			return nil, nil, fmt.Errorf("line %d: expected %q", i+2, k)
		}
		f[k] = v
	}
	if lines[len(keys)+1] != end+"\n" {
		return nil, nil, fmt.Errorf("line %d: expected %s", len(keys)+2, end)
	}
	n := 0
	for _, l := range lines[:len(keys)+2] {
		n += len(l)
	}
	return f, b[n:], nil
}

func parseRequest(b []byte) (*remoteRequest, error) {
	f, rest, err := parseBlock(b, requestBegin, requestEnd, requestFields)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, errors.New("unexpected text after the END line")
	}
	if id, err := hex.DecodeString(f["request"]); err != nil || len(id) != 16 {
		return nil, errors.New("request id is not 32 hex digits")
	}
	if h, err := hex.DecodeString(f["header-hash"]); err != nil || len(h) != 32 {
		return nil, errors.New("header-hash is not 64 hex digits")
	}
	for _, k := range []string{"created-at", "expires-at"} {
		if _, err := time.Parse(time.RFC3339, f[k]); err != nil {
			return nil, fmt.Errorf("%s is not an RFC 3339 time", k)
		}
	}
	if _, err := age.ParseX25519Recipient(f["recipient"]); err != nil {
		return nil, fmt.Errorf("recipient: %v", err)
	}
	return &remoteRequest{fields: f}, nil
}

func (r *remoteRequest) request() request {
	return request{Action: "unseal (remote tap)", Operator: r.get("operator"), Reason: r.get("reason"),
		Ticket: r.get("ticket"), UseCase: r.get("use-case"), RequestID: r.get("request")}
}

func (r *remoteRequest) expiresAt() time.Time {
	t, _ := time.Parse(time.RFC3339, r.get("expires-at"))
	return t
}

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
		return usageError("want one sealed secret: breakglass unseal request NAME.glass --reason … --ticket …")
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
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return err
	}
	rid := make([]byte, 16)
	rand.Read(rid)
	h := f.HeaderHash()
	op := cl.name
	now := time.Now().UTC().Truncate(time.Second)
	fields := map[string]string{
		"request": hex.EncodeToString(rid), "secret": f.Header.Name, "header-hash": hex.EncodeToString(h[:]),
		"operator": op, "reason": c.String("reason"), "ticket": c.String("ticket"), "use-case": uc,
		"created-at": now.Format(time.RFC3339), "expires-at": now.Add(c.Duration("valid")).Format(time.RFC3339),
		"recipient": id.Recipient().String(),
	}
	keyLine := []byte(id.String() + "\n")
	defer secret.Wipe(keyLine)
	if err := writeNewFile(out+".key", 0o600, false, func(w io.Writer) error { _, err := w.Write(keyLine); return err }); err != nil {
		return err
	}
	text := marshalBlock(requestBegin, requestEnd, requestFields, fields)
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
	infof("wrote request %s for %s to %s (valid until %s); its key stays in %s.key", fields["request"][:8], f.Header.Name, out, fields["expires-at"], out)
	return nil
}

// loadRequestKey reads a request and its ephemeral identity.
func loadRequestKey(path string) (*remoteRequest, *age.X25519Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, withHints(fmt.Errorf("--request: %v", unwrapPathError(err)), "give the request file unseal request wrote")
	}
	req, err := parseRequest(scannedText(b))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	kb, err := os.ReadFile(path + ".key")
	if err != nil {
		return nil, nil, withHints(fmt.Errorf("request %s has no key (%s.key): it was already used, or was made on another machine", req.get("request")[:8], path),
			"write a new request with breakglass unseal request, and have the custodian tap that one")
	}
	defer secret.Wipe(kb)
	id, err := age.ParseX25519Identity(strings.TrimSpace(string(kb)))
	if err != nil {
		return nil, nil, fmt.Errorf("%s.key: %v", path, err)
	}
	if id.Recipient().String() != req.get("recipient") {
		return nil, nil, fmt.Errorf("%s.key does not belong to %s", path, path)
	}
	return req, id, nil
}

// addResponses adds --response files to the ceremony. It checks each
// against the request, the sealed file and the roster before its share is
// used.
func (cm *ceremony) addResponses(reqPath string, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	if reqPath == "" {
		return usageError("--response needs --request REQ.txt (the request the responses answer)")
	}
	req, id, err := loadRequestKey(reqPath)
	if err != nil {
		return err
	}
	h := cm.f.HeaderHash()
	if req.get("header-hash") != hex.EncodeToString(h[:]) {
		return withHints(fmt.Errorf("request %s is for another sealed secret (or an older version of it)", req.get("request")[:8]),
			"write a new request for this file")
	}
	if time.Now().After(req.expiresAt()) {
		return withHints(fmt.Errorf("request %s expired at %s", req.get("request")[:8], req.get("expires-at")), "write a new request")
	}
	if req.get("operator") != cm.req.Operator {
		return withHints(fmt.Errorf("request %s was made for the operator %s, but this unseal is run by %s: the custodians approved %s, nothing was tapped",
			req.get("request")[:8], req.get("operator"), cm.req.Operator, req.get("operator")),
			"the operator who wrote the request runs the unseal (--operator "+req.get("operator")+"), or writes a new request for the custodians to tap")
	}
	if req.get("reason") != cm.req.Reason || req.get("ticket") != cm.req.Ticket || req.get("use-case") != cm.req.UseCase {
		return withHints(errors.New("--reason, --ticket and --use-case differ from the request's"),
			"the remote custodians approved the request: unseal with the same reason, ticket and use case")
	}
	for _, p := range paths {
		if err := cm.addResponse(req, id, p); err != nil {
			return err
		}
	}
	// The key has done its job: no later unseal can use these responses.
	os.Remove(reqPath + ".key")
	return nil
}

func (cm *ceremony) addResponse(req *remoteRequest, id *age.X25519Identity, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return withHints(fmt.Errorf("--response: %v", unwrapPathError(err)), "check the path")
	}
	f, rest, err := parseBlock(scannedText(b), responseBegin, responseEnd, responseFields)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	reject := func(why string) error {
		return withHints(fmt.Errorf("response %s rejected: %s", path, why), "ask the custodian to tap the current request again")
	}
	if f["request"] != req.get("request") {
		return reject("it answers another request (" + shortID(f["request"]) + ", not " + req.get("request")[:8] + ")")
	}
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(rest)), id)
	if err != nil {
		return reject("it does not open with this request's key: " + err.Error())
	}
	pt, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return reject(err.Error())
	}
	defer secret.Wipe(pt)
	m, idx, err := seal.ShareMnemonic(pt)
	if err != nil {
		return reject(err.Error())
	}
	defer secret.Wipe(m)
	cs := cm.f.Header.Custodians()
	if idx < 0 || idx >= len(cs) || cs[idx].Name != f["custodian"] || fmt.Sprint(idx) != f["index"] {
		return reject("the share is not marked for custodian " + f["custodian"])
	}
	hh := cm.f.HeaderHash()
	if !bytes.Contains(pt, []byte("header-hash: "+hex.EncodeToString(hh[:])+"\n")) {
		return reject("the share belongs to another sealed secret")
	}
	// The approval: signed by the custodian's enrolled signing key.
	der, err := base64.StdEncoding.DecodeString(f["signing-key"])
	if err != nil {
		return reject("signing-key is not base64")
	}
	pk, err := x509.ParsePKIXPublicKey(der)
	pub, ok := pk.(*ecdsa.PublicKey)
	if err != nil || !ok {
		return reject("signing-key is not an ECDSA public key")
	}
	fp, _ := token.Fingerprint(pub)
	if cs[idx].Fingerprint != "" && strings.ReplaceAll(fp, " ", "") != cs[idx].Fingerprint {
		return reject("it is not signed by " + f["custodian"] + "'s enrolled key")
	}
	at, err := time.Parse(time.RFC3339, f["approval-time"])
	if err != nil {
		return reject("approval-time is not an RFC 3339 time")
	}
	msg := approvalMessage(cm.f, req.request(), f["custodian"], at)
	sig, err := base64.StdEncoding.DecodeString(f["signature"])
	digest := sha256.Sum256(msg)
	if err != nil || !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return reject("the approval signature does not verify")
	}
	got, err := cm.u.AddMnemonic(string(m))
	if err != nil {
		if errors.Is(err, seal.ErrAlreadyTapped) {
			infof("%s: %s has already tapped; skipped", path, f["custodian"])
			return nil
		}
		return reject(err.Error())
	}
	if got != idx {
		return reject("the share is another custodian's")
	}
	a := &approval{Custodian: f["custodian"], Index: idx, Token: "remote", KeyFingerprint: fp, Message: msg, Signature: sig, At: at}
	cm.approvals = append(cm.approvals, a)
	infof("tap %d of %d: %s (remote, %s) … ok (approval %s)", cm.tapped(), cm.tapped()+tapsNeeded(cm.u.Progress()), f["custodian"], path, a.Fingerprint())
	return nil
}

func shortID(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
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

// scannedText undoes what carrying a request or response as a QR code
// adds: readers such as zbarimg end their output with one more newline,
// and others drop the final one. It ends b with exactly one newline;
// everything else must be as written.
func scannedText(b []byte) []byte {
	t := bytes.TrimRight(b, "\r\n")
	if len(t) == 0 {
		return b
	}
	return append(t[:len(t):len(t)], '\n')
}

// terminalColumns is the width of the terminal f, or 0 when f is not one.
func terminalColumns(f *os.File) int {
	w, _, err := xterm.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return w
}

// readRequestFile is used by tap.
func readRequestFile(path string) (*remoteRequest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, withHints(fmt.Errorf("cannot read the request: %v", unwrapPathError(err)), "give the file the operator sent")
	}
	r, err := parseRequest(scannedText(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
