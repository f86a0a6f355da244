package main

// The tap ceremony shared by unseal, drill verify, reseal and aws session,
// on the terminal: package ceremony collects the taps; this file gives it
// the flags, the PIN and paper prompts, and says what happens.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/internal/atomicfile"
	"github.com/breakglass/breakglass/internal/qrtext"
	"github.com/breakglass/breakglass/internal/secret"
	"github.com/breakglass/breakglass/seal"
	"github.com/breakglass/breakglass/seal/approval"
	"github.com/breakglass/breakglass/seal/ceremony"
	"github.com/breakglass/breakglass/token"
)

// tapFlags are the flags of every command that collects taps.
func tapFlags() []cli.Flag {
	return []cli.Flag{
		&cli.DurationFlag{Name: "window", Value: 10 * time.Minute, Usage: "how long taps are held before everything is wiped"},
		&cli.GenericFlag{Name: "reader", Value: &listFlag{}, Usage: "watch only the PC/SC reader `NAME` (repeatable; default: every reader)"},
		&cli.GenericFlag{Name: "pkcs11", Value: &listFlag{}, Usage: "also tap the PKCS#11 token at `URI` (repeatable)"},
		&cli.GenericFlag{Name: "mnemonic-file", Value: &listFlag{}, Usage: "a paper custodian's mnemonic, from `FILE` (repeatable)"},
		&cli.BoolFlag{Name: "paper", Usage: "ask paper custodians to type their mnemonics on the terminal"},
		&cli.StringFlag{Name: "operator", Usage: "who is unsealing (default $USER)"},
		pinFileFlag, pinTriesUnknownFlag,
	}
}

// tapCeremony is one command's ceremony: its flags, and after run the
// unseal and the approvals.
type tapCeremony struct {
	c   *cli.Context
	f   *seal.File
	req approval.Request

	// onTap, when set, runs after each token tap (ceremony.Options.OnTap).
	onTap func(token.Token, *approval.Approval) error
	// collectAll and absent: a drill run (ceremony.Options.CollectAll).
	collectAll bool
	absent     []string
	results    []ceremony.Result // after run: one per custodian

	u         *seal.Unseal         // after run: the taps gathered
	approvals []*approval.Approval // after run (also when it failed)
}

func newCeremony(c *cli.Context, f *seal.File, req approval.Request) *tapCeremony {
	if req.Operator == "" {
		req.Operator = c.String("operator")
	}
	if req.Operator == "" {
		req.Operator = currentUser()
	}
	return &tapCeremony{c: c, f: f, req: req}
}

// run collects taps until the policy is met. It returns an error, with
// everything gathered wiped, when the window runs out or on Ctrl-C.
func (t *tapCeremony) run(ctx context.Context) error {
	if err := secret.Hold(); err != nil {
		return withHints(err, "breakglass will not hold secrets in a process that can dump core")
	}
	c := t.c
	window := c.Duration("window")
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	h := t.f.Header
	if len(h.Groups) == 1 {
		infof("%s: %s custodians needed (%s)", h.Name, h.Policy(), strings.Join(custodianNames(h), ", "))
	} else {
		infof("%s: needs %s", h.Name, h.Policy())
	}
	var mnemonics []ceremony.Mnemonic
	wipe := func() {
		for _, m := range mnemonics {
			secret.Wipe(m.Words)
		}
	}
	for _, path := range listValues(c, "mnemonic-file", false) {
		b, err := os.ReadFile(path)
		if err != nil {
			wipe()
			return withHints(fmt.Errorf("--mnemonic-file: %v", atomicfile.UnwrapPath(err)), "check the path")
		}
		mnemonics = append(mnemonics, ceremony.Mnemonic{From: path, Words: b, Custodian: ceremony.MnemonicCustodian(b)})
	}
	rm, err := readResponses(c.String("request"), listValues(c, "response", false))
	if err != nil {
		wipe()
		return err
	}
	readers := listValues(c, "reader", false)
	obs := &tapObserver{window: window, secret: h.Name}
	cm := ceremony.New(t.f, t.req, ceremony.Options{
		Window:    window,
		Finder:    &ceremony.Poller{Readers: readers, AllReaders: len(readers) == 0, PKCS11: listValues(c, "pkcs11", false)},
		Prompter:  termPrompter{c},
		Observer:  obs,
		Mnemonics: mnemonics,
		Paper:     c.Bool("paper"),
		Remote:    rm,
		Records: func() []*token.Record {
			if cd, err := openCase(c); err == nil {
				recs, _ := cd.Records()
				return recs
			}
			return nil
		},
		PINMemory:  tokenOpener(c),
		OnTap:      t.onTap,
		CollectAll: t.collectAll,
		Absent:     t.absent,
	})
	obs.cm = cm
	t.u = cm.Unseal()
	err = cm.Run(ctx)
	t.approvals = cm.Approvals()
	t.results = cm.Results()
	return explainCeremony(err)
}

// readResponses reads --response files, and the request they answer with
// its key, for the ceremony; nil when there are none.
func readResponses(reqPath string, paths []string) (*ceremony.Remote, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	if reqPath == "" {
		return nil, usageError("--response needs --request REQ.txt (the request the responses answer)")
	}
	req, id, err := loadRequestKey(reqPath)
	if err != nil {
		return nil, err
	}
	rm := &ceremony.Remote{Request: req, Identity: id,
		// The key has done its job: no later unseal can use these responses.
		Spent: func() { os.Remove(reqPath + ".key") }}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, withHints(fmt.Errorf("--response: %v", atomicfile.UnwrapPath(err)), "check the path")
		}
		rm.Responses = append(rm.Responses, ceremony.Response{From: p, Text: qrtext.Scanned(b)})
	}
	return rm, nil
}

// explainCeremony adds hints to the errors of ceremony.Run.
func explainCeremony(err error) error {
	var (
		se  *ceremony.StopError
		re  *ceremony.RecordError
		me  *ceremony.MnemonicError
		rqe *ceremony.RequestError
		rse *ceremony.ResponseError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		hints := []string{"start again when " + se.Still + " can tap", "a longer --window gives custodians more time"}
		if !se.Interrupted {
			return withHints(err, hints...)
		}
		return withHints(err, hints[0])
	case errors.As(err, &re):
		return withHints(fmt.Errorf("%w; the shares gathered were wiped and nothing was released", err),
			"fix the logbook (breakglass log verify) and start again")
	case errors.As(err, &me):
		return withHints(err, "check the words against the paper; a share of another sealed secret or from before a reseal does not fit")
	case errors.As(err, &rqe):
		switch rqe.Problem {
		case ceremony.RequestOtherFile:
			return withHints(err, "write a new request for this file")
		case ceremony.RequestExpired:
			return withHints(err, "write a new request")
		case ceremony.RequestOtherOperator:
			return withHints(err, "the operator who wrote the request runs the unseal (--operator "+rqe.Request.Operator+"), or writes a new request for the custodians to tap")
		}
		return withHints(err, "the remote custodians approved the request: unseal with the same reason, ticket and use case")
	case errors.As(err, &rse) && !rse.Malformed:
		return withHints(err, "ask the custodian to tap the current request again")
	}
	return err
}

func custodianNames(h *seal.Header) []string {
	var out []string
	for _, c := range h.Custodians() {
		out = append(out, c.Name)
	}
	return out
}

// termPrompter is the ceremony's Prompter on the terminal (or
// BREAKGLASS_PIN, --pin-file).
type termPrompter struct{ c *cli.Context }

func (p termPrompter) PIN(ctx context.Context, label string) ([]byte, error) {
	return pinSourceContext(ctx, p.c, label)()
}

func (p termPrompter) Mnemonic(ctx context.Context) ([]byte, error) {
	return promptTTYContext(ctx, "paper share (SLIP-0039 words, hidden; empty line when done): ")
}

func (p termPrompter) ConfirmUnknownTries(info token.Info) bool {
	return confirmUnknownTries(p.c)(info)
}

// tapObserver says on standard error what happens in a ceremony.
type tapObserver struct {
	cm     *ceremony.Ceremony
	window time.Duration
	secret string // the sealed secret's name
}

func (o *tapObserver) Event(e ceremony.Event) {
	switch e.Kind {
	case ceremony.Waiting:
		infof("still needed: %s; waiting for the next card (window %s)", e.Still, o.window.Round(time.Second))
	case ceremony.Tapped:
		switch {
		case e.Extra:
			infof("%s … ok (approval %s); checked, not needed for the policy", e.Who, e.Approval.Fingerprint())
		case e.Via == ceremony.ViaPaper:
			infof("tap %d of %d: %s (paper) … ok", e.Tap, e.Of, e.Custodian)
		case e.Via == ceremony.ViaRemote:
			infof("tap %d of %d: %s (remote, %s) … ok (approval %s)", e.Tap, e.Of, e.Custodian, e.Token, e.Approval.Fingerprint())
		default:
			infof("tap %d of %d: %s … ok (approval %s)", e.Tap, e.Of, e.Who, e.Approval.Fingerprint())
		}
	case ceremony.Skipped:
		if e.Via == ceremony.ViaRemote {
			infof("%s: %s has already tapped; skipped", e.Token, e.Custodian)
		} else {
			infof("%s: %v; skipped", e.Token, e.Err)
		}
	case ceremony.Approve:
		infof("%s: approve with the PIN, then touch the card when it blinks", e.Who)
	case ceremony.Failed:
		o.failed(e)
	case ceremony.NotCustodian:
		label := e.Token
		if e.Owner != "" {
			label += " (" + e.Owner + ")"
		}
		infof("%s is not a custodian of %s; ignored", label, o.secret)
	case ceremony.NotNeeded:
		infof("%s: %v; not needed", e.Who, e.Err)
	case ceremony.WrongSigningKey:
		infof("%s: the card's signing key is not the one enrolled for %s; ignored", e.Token, e.Custodian)
	case ceremony.NotEnrolled:
		infof("%s in %q holds no breakglass keys; ignored", e.Token, e.Reader)
	case ceremony.Ignored:
		if e.Reader != "" {
			infof("%s in %q: %v; ignored (remove and reinsert it to try again)", e.Token, e.Reader, e.Err)
		} else {
			infof("%s: %v; ignored", e.Token, e.Err)
		}
	case ceremony.NotPresent:
		infof("%s is not present yet: %v", e.Token, e.Err)
	case ceremony.CannotLook:
		if errors.Is(e.Err, token.ErrNotPresent) {
			infof("%s", e.Err)
		} else {
			infof("cannot look for cards: %v", e.Err)
		}
	}
}

// failed says why a tap failed and what to do.
func (o *tapObserver) failed(e ceremony.Event) {
	who, err, name := e.Who, e.Err, e.Custodian
	var (
		pe *token.PINError
		me *ceremony.MnemonicError
		se *seal.ShareError
	)
	switch {
	case errors.As(err, &me):
		reportError(os.Stderr, explainCeremony(err))
	case errors.As(err, &pe) && (!pe.Tried || pe.Retries <= 1):
		o.refusePIN(who, name, pe)
	case errors.As(err, &pe):
		reportError(os.Stderr, withHints(fmt.Errorf("%s: %w", who, pe), "remove and reinsert the card to try again"))
	case errors.Is(err, token.ErrNotPresent):
		reportError(os.Stderr, withHints(fmt.Errorf("%s was removed before the tap completed", who),
			tapsKept(o.cm.Tapped())+"reinsert "+name+"'s card to tap again"))
	case errors.Is(err, token.ErrTouchTimeout):
		reportError(os.Stderr, withHints(fmt.Errorf("%s was not touched in time", who), "remove and reinsert the card, and touch it when it blinks"))
	case errors.Is(err, token.ErrCancelled):
		reportError(os.Stderr, withHints(fmt.Errorf("%s: PIN entry cancelled", who), "remove and reinsert the card to try again"))
	case errors.As(err, &se):
		reportError(os.Stderr, withHints(fmt.Errorf("%s: %w", who, se.Err),
			"this share cannot be used; another custodian may tap instead: "+o.cm.StillNeeded(name)))
	default:
		reportError(os.Stderr, withHints(fmt.Errorf("%s: %w", who, err), "remove and reinsert the card to try again"))
	}
}

func (o *tapObserver) refusePIN(who, name string, pe *token.PINError) {
	hints := []string{"unblock the PIN with the PUK (breakglass card pin unblock, or ykman piv access unblock-pin)"}
	if pe.Retries < 0 {
		hints = unknownTriesHints(pe)
	}
	if n := o.cm.StillNeeded(name); n != "" {
		hints = append(hints, "or let another custodian tap: "+n)
	}
	reportError(os.Stderr, withHints(fmt.Errorf("%s: %w", who, pe), hints...))
}

// tapsKept says that the taps made so far are kept: "the tap already made
// is kept; ", "the 2 taps already made are kept; ", or nothing before the
// first.
func tapsKept(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "the tap already made is kept; "
	}
	return fmt.Sprintf("the %d taps already made are kept; ", n)
}
