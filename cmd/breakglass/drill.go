package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/session"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
)

const drillVerifyHelp = `drill verify proves that the custodians can still open a sealed secret,
without revealing it: K taps reconstruct the split identity, breakglass checks
that it derives the recipient recorded in the header and that the header MAC
verifies, then wipes everything. Nothing is decrypted and nothing but the
result is printed. Run it in every quarterly drill.

Each tap is approved by the custodian's card exactly as in an unseal (action
"drill").

In a case with a logbook the operator (--operator NAME) must be enrolled,
the file's header is checked against the logbook's seal entry before the
first tap, and the result (pass or fail, who tapped; aborted after Ctrl-C)
is appended as a drill entry signed by the operator's card. See
docs/runbook-drill.md.

EXAMPLES
   # YubiKeys (PIV)
   breakglass drill verify prod-aws.glass --ticket DRILL-2026Q4

   # PKCS#11 tokens
   breakglass drill verify prod-db.glass \
     --pkcs11 'pkcs11:token=ops-hsm?module-path=/usr/lib/softhsm/libsofthsm2.so'

   # virtual cards, PIN from the environment, machine-readable result
   BREAKGLASS_PIN=123456 breakglass drill verify demo.glass --json \
     --reader "Virtual PCD 00 00" --reader "Virtual PCD 00 01"`

func drillCommand() *cli.Command {
	return &cli.Command{
		Name:  "drill",
		Usage: "rehearse the break-glass procedure without revealing secrets",
		Subcommands: []*cli.Command{{
			Name:        "verify",
			Usage:       "prove that k taps reconstruct a sealed secret's key, decrypting nothing",
			ArgsUsage:   "NAME.glass",
			Description: drillVerifyHelp,
			Flags: append([]cli.Flag{
				&cli.StringFlag{Name: "reason", Value: "drill", Usage: "recorded in every approval"},
				&cli.StringFlag{Name: "ticket", Usage: "drill ticket `ID`"},
				&cli.BoolFlag{Name: "json", Usage: "print the result as JSON on stdout"},
			}, append(tapFlags(), caseFlags()...)...),
			Action: runDrillVerify,
		}, drillRunCommand(), drillStatusCommand(), drillScheduleCommand(), drillReportCommand()},
	}
}

type drillResult struct {
	File       string      `json:"file"`
	Name       string      `json:"name"`
	HeaderHash string      `json:"header-hash"`
	Recipient  string      `json:"recipient"`
	Result     string      `json:"result"`
	Taps       []tapRecord `json:"taps"`
}

type tapRecord struct {
	Custodian string `json:"custodian"`
	Token     string `json:"token"`
	Approval  string `json:"approval"`
}

func (cm *tapCeremony) tapRecords() []tapRecord {
	var out []tapRecord
	for _, a := range cm.approvals {
		out = append(out, tapRecord{Custodian: a.Custodian, Token: a.Token, Approval: a.Fingerprint()})
	}
	return out
}

// drillStart is what drill verify and drill run share before the first
// tap: the sealed file, the drill lead (with a logbook, enrolled, and the
// header the logged one; a secret sealed before the logbook existed gets
// a warning), and the ceremony approving the drill.
type drillStart struct {
	path string
	f    *seal.File
	file *os.File // the .glass, open: the payload is read after the taps
	cl   *ceremonyLog
	cm   *tapCeremony
}

// startDrill prepares the drill of the one argument; check, when set,
// refuses the file before the case is opened. The caller closes file.
func startDrill(c *cli.Context, sub string, check func(path string, h *seal.Header) error) (*drillStart, error) {
	if c.NArg() != 1 {
		return nil, usageError("want exactly one sealed secret: breakglass drill %s NAME.glass", sub)
	}
	d := &drillStart{path: c.Args().First()}
	var err error
	if d.f, d.file, err = readGlass(d.path); err != nil {
		return nil, err
	}
	if err = d.start(c, check); err != nil {
		d.file.Close()
		return nil, err
	}
	return d, nil
}

func (d *drillStart) start(c *cli.Context, check func(path string, h *seal.Header) error) (err error) {
	if check != nil {
		if err := check(d.path, d.f.Header); err != nil {
			return err
		}
	}
	if d.cl, err = newCeremonyLog(c, d.f, c.String("operator")); err != nil {
		return err
	}
	if err := checkLoggedHeader(d.cl.log, d.f, d.path, true); err != nil {
		return err
	}
	req := approval.Request{Action: "drill", Operator: d.cl.Operator, Reason: c.String("reason"), Ticket: c.String("ticket")}
	d.cl.SetRequest(req)
	d.cm = newCeremony(c, d.f, req)
	return nil
}

// approvalsDetail is a drill entry's approvals detail:
// "custodian=fingerprint,…".
func approvalsDetail(as []*approval.Approval) string {
	var out []string
	for _, a := range as {
		out = append(out, a.Custodian+"="+strings.ReplaceAll(a.Fingerprint(), " ", ""))
	}
	return strings.Join(out, ",")
}

func runDrillVerify(c *cli.Context) error {
	ds, err := startDrill(c, "verify", nil)
	if err != nil {
		return err
	}
	defer ds.file.Close()
	path, f, cl, cm := ds.path, ds.f, ds.cl, ds.cm
	// The drill entry: pass, fail (the taps did not reconstruct the key)
	// or aborted (too few taps: interrupted, the window ran out), who
	// tapped.
	result := logbook.DrillAborted
	err = cm.run(context.Background())
	if err == nil {
		err = openErr(cm.u.Drill())
		result = map[bool]string{true: logbook.DrillPass, false: logbook.DrillFail}[err == nil]
	}
	d := map[string]string{logbook.DetailResult: result, logbook.DetailTapped: session.Tapped(cm.approvals)}
	if err != nil {
		d["error"] = logbook.OneLine(err.Error())
	}
	d["approvals"] = approvalsDetail(cm.approvals)
	if result == logbook.DrillAborted && cl.log != nil {
		infof("the drill was stopped (Ctrl-C); recording it as aborted, not as failed")
	}
	if rerr := cl.logOperator(cl.Entry(logbook.KindDrill, d), -1); rerr != nil {
		rerr = fmt.Errorf("the drill result (%s) could not be recorded: %w", result, rerr)
		if err != nil {
			reportError(os.Stderr, rerr)
			return err
		}
		return rerr
	}
	if err != nil {
		return err
	}
	h := f.HeaderHash()
	res := drillResult{File: path, Name: f.Header.Name, HeaderHash: hex.EncodeToString(h[:]),
		Recipient: f.Header.Recipient, Result: "ok", Taps: cm.tapRecords()}
	if c.Bool("json") {
		return printJSON(res)
	}
	infof("drill passed: %d taps reconstruct the key of %s (%s); nothing was decrypted", len(res.Taps), f.Header.Name, f.Header.Recipient)
	return nil
}
