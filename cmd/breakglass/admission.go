package main

// Admission on the command line (docs/format-logbook.md, "Admission"): the
// genesis that log init and log genesis record, card admit and card
// retire, and what log verify and the roster checks say about records the
// logbook did not admit.

import (
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/logbook"
	"github.com/breakglass/breakglass/logbook/casedir"
	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/enrolled"
)

// A tapSigner is the signing key of an enrolled person's token that opens
// the token only when it signs, and closes it again: the founders of a
// genesis and the admitters of an admit tap one after another, each with
// their PIN and a touch.
type tapSigner struct {
	c       *cli.Context
	r       *token.Record
	dir     string
	purpose string
	pub     *ecdsa.PublicKey
}

func newTapSigner(c *cli.Context, r *token.Record, dir, purpose string) (*tapSigner, error) {
	pub, err := r.SigningPublicKey()
	if err != nil {
		return nil, err
	}
	return &tapSigner{c: c, r: r, dir: dir, purpose: purpose, pub: pub}, nil
}

func (s *tapSigner) Public() crypto.PublicKey { return s.pub }

func (s *tapSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	infof("%s %s: enter the PIN and touch the token if asked", enrolled.Label(s.r), s.purpose)
	tok, err := openRecordToken(s.c, s.r, s.dir, s.purpose)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s's token %s: %w", s.r.Custodian.Name, s.purpose, explainToken(err))
	}
	defer tok.Close()
	if err := token.VerifyPIN(tok); err != nil {
		return nil, fmt.Errorf("%s %s: %w", enrolled.Label(s.r), s.purpose, err)
	}
	tokenOpener(s.c).Proven(s.r)
	touchNote(s.r, s.purpose)
	return tok.SigningKey().Sign(rand, digest, opts)
}

// logCosigned appends e signed by actor's token and then by each of
// cosigners' tokens, opened one after another (each taps: PIN and touch).
func (cd *caseDir) logCosigned(c *cli.Context, e logbook.Entry, actor *token.Record, cosigners []*token.Record) (logbook.Checkpoint, error) {
	purpose := signPurpose(e)
	var cos []casedir.Cosigner
	for _, r := range cosigners {
		s, err := newTapSigner(c, r, cd.Dir, purpose)
		if err != nil {
			return logbook.Checkpoint{}, err
		}
		cos = append(cos, casedir.Cosigner{Record: r, Signer: s})
	}
	infof("%s %s: enter the PIN and touch the token if asked", enrolled.Label(actor), purpose)
	tok, err := openActorToken(c, cd.Dir, actor, e)
	if err != nil {
		return logbook.Checkpoint{}, err
	}
	defer tok.Close()
	ck, err := cd.appender.AppendCosigned(e, actor, tok.SigningKey(), cos...)
	if err != nil {
		return ck, actorError(logError(recordError(err)))
	}
	return ck, nil
}

// ---- log genesis (and log init) ----

const logGenesisHelp = `log genesis records the logbook's genesis: the founding custodians, whose
tokens may sign from then on, and how many admitted custodians must sign the
admission of another (--admit-signers, default 1). From the genesis on, the
logbook alone decides who may sign: a *.card.json file in the case is a copy
for convenience, trusted only once the logbook admitted its key (card admit)
and until it retires it (card retire).

log init records the genesis of a new case itself when the founders'
records are in the case; log genesis is for the rest:

  - a logbook created before its founders enrolled (log init found none);
  - a logbook from before admission (log verify says "not admitted"): the
    genesis is then a migration. It admits the case's current roster (or
    the --founder records), and says in the logbook that it is a migration:
    the entries before it were signed by whoever had a record in the case.

The founders are --founder NAME (repeatable: a record file, or a custodian's
name in the case), else every enrollment record with a token in the case.
Read the list it prints: everyone on it may sign from now on. A genesis at
entry 0 is signed by every founder; a migration by --as NAME (repeatable),
by default every founder, and at least --admit-signers of them. The first
signer signs the checkpoint too. Each founder's token is opened in turn:
PIN, then touch.

EXAMPLES
   # a case whose logbook has entries but no genesis
   breakglass log genesis
   # only alice and bob admitted, both sign, admits need both
   breakglass log genesis --founder alice --founder bob --admit-signers 2
   # migration signed by two of the roster
   breakglass log genesis --as alice --as bob`

func logGenesisCommand() *cli.Command {
	return &cli.Command{
		Name:        "genesis",
		Usage:       "record the founding custodians: from then on the logbook decides who may sign",
		ArgsUsage:   " ",
		Description: logGenesisHelp,
		Flags: append(genesisFlags(),
			&cli.GenericFlag{Name: "as", Value: &listFlag{}, Usage: "a migration is signed by `NAME` (repeatable; default: every founder)"},
			&cli.StringFlag{Name: "reason", Usage: "why, in your words (recorded)"},
			&cli.StringFlag{Name: "ticket", Usage: "a change ticket `ID` (recorded)"},
		),
		Action: runLogGenesis,
	}
}

// genesisFlags are the flags log init and log genesis share.
func genesisFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.GenericFlag{Name: "founder", Value: &listFlag{}, Usage: "a founding custodian: record `FILE` or name in the case (repeatable; default: every record with a token)"},
		&cli.IntFlag{Name: "admit-signers", Value: 1, Usage: "how many admitted custodians must sign an admit (`K`)"},
		pinFileFlag, pinTriesUnknownFlag,
	}, caseFlags()...)
}

func runLogGenesis(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c)
	}
	cd, l, err := openRequiredLog(c)
	if err != nil {
		return err
	}
	founders, err := chooseFounders(c, cd)
	if err != nil {
		return err
	}
	if len(founders) == 0 {
		return withHints(fmt.Errorf("the case %s has no enrollment record with a token to found the logbook", cd.Dir),
			"enroll the founders first: breakglass card enroll --name NAME …")
	}
	return logGenesis(c, cd, l, founders)
}

// chooseFounders is --founder, else every record with a token in the case
// (casedir.Case.Founders).
func chooseFounders(c *cli.Context, cd *caseDir) ([]*token.Record, error) {
	fs, err := cd.Founders(listValues(c, "founder", true), cd.person)
	return fs, recordError(err)
}

// logGenesis appends the genesis naming founders: at entry 0 signed by
// all of them, else (a migration) by --as or all of them.
func logGenesis(c *cli.Context, cd *caseDir, l *logbook.Log, founders []*token.Record) error {
	a, err := cd.Admission()
	if err != nil {
		return logError(err)
	}
	if a.Genesis != nil {
		return withHints(fmt.Errorf("the logbook of %s has its genesis already (entry %d)", cd.Dir, a.Genesis.Index),
			"admit a custodian with breakglass card admit NAME --as ADMITTER")
	}
	g, err := casedir.NewGenesis(founders, c.Int("admit-signers"), l.Size() > 0)
	var de *casedir.DuplicateFounderError
	var pe *casedir.PolicyRangeError
	switch {
	case errors.As(err, &de):
		return withHints(err, "name the founders with --founder FILE, one record per person")
	case errors.As(err, &pe):
		return usageError("--admit-signers %d: must be between 1 and the %d founders", pe.Policy, pe.Founders)
	case err != nil:
		return err
	}
	var as []string
	if lookupFlag(c.Command.Flags, "as") != nil {
		as = listValues(c, "as", true)
	}
	signers, err := casedir.GenesisSigners(g, founders, as, cd.person)
	var nf *casedir.NotFounderError
	var tf *casedir.TooFewSignersError
	switch {
	case errors.Is(err, casedir.ErrNewGenesisSigners):
		return usageError("--as is for a migration: the genesis of a new logbook is signed by every founder")
	case errors.As(err, &nf):
		return usageError("--as %s: only founders sign the genesis", nf.Name)
	case errors.As(err, &tf):
		return usageError("a migration is signed by at least --admit-signers (%d) founders; --as names %d", tf.Need, tf.Have)
	case err != nil:
		return err
	}
	e := logbook.GenesisEntry(g)
	e.Reason, e.Ticket = c.String("reason"), c.String("ticket")
	if e.Reason == "" {
		e.Reason = casedir.GenesisReason(g, l.Size())
	}
	for _, m := range g.Founders {
		infof("founder: %s", m)
	}
	infof("an admit needs %d admitted %s; %s sign the genesis", g.AdmitSigners, map[bool]string{true: "custodian", false: "custodians"}[g.AdmitSigners == 1], logPlural(int64(len(signers)), "founder", "founders"))
	ck, err := cd.logCosigned(c, e, signers[0], signers[1:])
	if err != nil {
		return err
	}
	infof("recorded the genesis as entry %d of %s: the logbook now decides who may sign", ck.N-1, l.Origin())
	return nil
}

// ---- card admit, card retire ----

const cardAdmitHelp = `card admit lets an enrolled token sign in a case whose logbook decides who
signs (it has a genesis: see log genesis). NAME is the custodian's name or
their record file; the token's own enroll entry must be in the logbook
(card enroll writes it into a case with a logbook: it is the request to be
admitted). Until admitted, the token signs nothing but that entry, and seal
--to refuses its record.

--as names the admitted custodians who admit it (repeatable): as many as the
genesis's admit-signers policy asks, each tapping their token (PIN and
touch). A person replacing a card: admitting the new card of a name that has
an admitted key retires the old one in the same entry (one name, one key).

EXAMPLES
   breakglass card enroll --name dave --piv        # dave, in the case
   breakglass card admit dave --as alice
   breakglass card admit custodians/dave.card.json --as alice --as bob --ticket CHG-7`

func cardAdmitCommand() *cli.Command {
	return &cli.Command{
		Name:        "admit",
		Usage:       "let an enrolled token sign in the case's logbook",
		ArgsUsage:   "NAME",
		Description: cardAdmitHelp,
		Flags: append([]cli.Flag{
			&cli.GenericFlag{Name: "as", Value: &listFlag{}, Usage: "the admitted custodian `NAME` who admits (repeatable)"},
			&cli.StringFlag{Name: "reason", Usage: "why, in your words (recorded)"},
			&cli.StringFlag{Name: "ticket", Usage: "a change ticket `ID` (recorded)"},
			pinFileFlag, pinTriesUnknownFlag,
		}, caseFlags()...),
		Action: runCardAdmit,
	}
}

const cardRetireHelp = `card retire ends a token's right to sign in a case whose logbook decides who
signs: a lost or broken card, a person leaving. Its later signatures fail,
naming the entry, and seal --to refuses its record. NAME is the custodian's
name or record file; --as is the admitted custodian who retires it (it may
be NAME themselves). Sealed secrets still name the retired card: reseal them
without it.

A retire that would leave fewer admitted custodians than an admit needs is
refused: admit a successor first. To replace a card, card admit the new one:
that retires the old in the same entry.

EXAMPLES
   breakglass card retire bob --as alice --reason "card lost" --ticket INC-77`

func cardRetireCommand() *cli.Command {
	return &cli.Command{
		Name:        "retire",
		Usage:       "end a token's right to sign in the case's logbook",
		ArgsUsage:   "NAME",
		Description: cardRetireHelp,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "as", Usage: "the admitted custodian `NAME` who retires it"},
			&cli.StringFlag{Name: "reason", Usage: "why, in your words (recorded)"},
			&cli.StringFlag{Name: "ticket", Usage: "a ticket `ID` (recorded)"},
			pinFileFlag, pinTriesUnknownFlag,
		}, caseFlags()...),
		Action: runCardRetire,
	}
}

// requireAdmitting opens the case's logbook, which must have a genesis.
func requireAdmitting(c *cli.Context) (*caseDir, *logbook.Log, *casedir.Admission, error) {
	cd, l, err := openRequiredLog(c)
	if err != nil {
		return nil, nil, nil, err
	}
	a, err := cd.Admission()
	if err != nil {
		return nil, nil, nil, logError(err)
	}
	if a.Genesis == nil {
		return nil, nil, nil, withHints(fmt.Errorf("the logbook of %s has no genesis, so it does not decide who signs: every record in the case does", cd.Dir),
			"record the genesis first: breakglass log genesis (see its --help)")
	}
	return cd, l, a, nil
}

// admissionRecord finds the record NAME names for admit: a record file, or
// the one record in the case of that name the logbook has not admitted.
func admissionRecord(cd *caseDir, a *casedir.Admission, name string) (*token.Record, error) {
	if strings.HasSuffix(name, ".json") {
		return cd.person(name)
	}
	recs, err := cd.Records()
	if err != nil {
		return nil, err
	}
	found := a.Waiting(recs, name)
	switch len(found) {
	case 0:
		return nil, withHints(fmt.Errorf("the case %s has no record of %s waiting to be admitted", cd.Dir, name),
			"enroll the token into the case first: breakglass card enroll --name "+name+" …")
	case 1:
		return found[0], nil
	}
	return nil, withHints(fmt.Errorf("the case %s has %d records of %s not admitted", cd.Dir, len(found), name),
		"name the record file: breakglass card admit custodians/FILE.card.json …")
}

func runCardAdmit(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("card admit takes one NAME (a custodian's name or record file)")
	}
	as := listValues(c, "as", true)
	if len(as) == 0 {
		return usageError("card admit needs --as NAME: the admitted custodian who admits")
	}
	cd, l, a, err := requireAdmitting(c)
	if err != nil {
		return err
	}
	r, err := admissionRecord(cd, a, c.Args().First())
	if err != nil {
		return err
	}
	ad, err := a.Admit(r)
	var ne *casedir.NoEnrollError
	if errors.As(err, &ne) {
		return withHints(err,
			"a token asks to be admitted by enrolling into the case: breakglass card enroll --name "+r.Custodian.Name+" … --case "+cd.Dir)
	}
	if err != nil {
		return err
	}
	m, name := ad.Member, ad.Name
	if ad.Replaces != "" {
		infof("%s has the admitted key %s: admitting the new card retires it", name, ad.Replaces)
	}
	var signers []*token.Record
	for _, n := range as {
		s, err := cd.person(n)
		if err != nil {
			return err
		}
		if err := cd.checkActor(s); err != nil {
			return err
		}
		if !slices.Contains(signers, s) {
			signers = append(signers, s)
		}
	}
	var tf *casedir.TooFewSignersError
	if err := a.CheckAdmitters(signers); errors.As(err, &tf) {
		return usageError("an admit needs %d admitted custodians (the genesis's admit-signers); --as names %d", tf.Need, tf.Have)
	}
	e := logbook.AdmitEntry(ad)
	e.Reason, e.Ticket = c.String("reason"), c.String("ticket")
	if e.Reason == "" {
		e.Reason = casedir.AdmitReason(ad)
	}
	ck, err := cd.logCosigned(c, e, signers[0], signers[1:])
	if err != nil {
		return err
	}
	infof("admitted %s as entry %d of %s: it may sign from now on", m, ck.N-1, l.Origin())
	return nil
}

func runCardRetire(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("card retire takes one NAME (a custodian's name or record file)")
	}
	if c.String("as") == "" {
		return usageError("card retire needs --as NAME: the admitted custodian who retires the token")
	}
	cd, l, a, err := requireAdmitting(c)
	if err != nil {
		return err
	}
	r, err := cd.person(c.Args().First())
	if err != nil {
		return err
	}
	name, err := actorName(r)
	if err != nil {
		return err
	}
	m := logbook.Member{Name: name, Fingerprint: r.Fingerprint()}
	err = a.CheckRetire(m)
	var tf *casedir.TooFewLeftError
	if errors.As(err, &tf) {
		return withHints(err, "admit a successor first (breakglass card admit NAME --as …)")
	}
	if err != nil {
		return err
	}
	e := logbook.RetireEntry(m)
	e.Reason, e.Ticket = c.String("reason"), c.String("ticket")
	ck, err := cd.logSignedAs(c, e, c.String("as"))
	if err != nil {
		return err
	}
	infof("retired %s as entry %d of %s: its signatures fail from now on", m, ck.N-1, l.Origin())
	if len(a.Members())-1 > 0 {
		infof("secrets sealed to %s still name the retired card: reseal them without it", r.Custodian.Name)
	}
	return nil
}

// logSignedAs appends e signed by the admitted person as names.
func (cd *caseDir) logSignedAs(c *cli.Context, e logbook.Entry, as string) (logbook.Checkpoint, error) {
	actor, err := cd.person(as)
	if err != nil {
		return logbook.Checkpoint{}, err
	}
	return cd.logSigned(c, e, actor, -1)
}

// ---- reports and refusals ----

// notAdmittedError adds hints to a *casedir.NotAdmittedError.
func notAdmittedHints(err error) error {
	var na *casedir.NotAdmittedError
	if !errors.As(err, &na) {
		return err
	}
	if na.RetiredAt >= 0 {
		return withHints(err, "a retired card signs nothing: enroll a new card (breakglass card enroll) and have it admitted (breakglass card admit "+na.Name+" --as ADMITTER)")
	}
	if !na.Enrolled {
		return withHints(err, "the logbook decides who signs, not the *.card.json files: enroll the token into the case (breakglass card enroll), then breakglass card admit "+na.Name+" --as ADMITTER",
			"a record nobody enrolled may have been dropped into the case: ask who added it (git log "+na.Dir+")")
	}
	return withHints(err, "the logbook decides who signs, not the *.card.json files: breakglass card admit "+na.Name+" --as ADMITTER")
}

// reportAdmission is log verify's report of who may sign: a line on w,
// and one per record in the case that the logbook did not admit.
func reportAdmission(w io.Writer, cd *caseDir) error {
	a, err := cd.Admission()
	if err != nil {
		return logError(err)
	}
	if a == nil {
		return nil
	}
	if a.Genesis == nil {
		fmt.Fprintf(w, "admission: not admitted: the logbook has no genesis, so every enrollment record in the case may sign\n")
		infof("migrate: breakglass log genesis --case %s records a genesis that admits the current roster (see its --help); the logbook then decides who may sign", cd.Dir)
		return nil
	}
	var names []string
	for _, m := range a.Members() {
		names = append(names, m.Name)
	}
	fmt.Fprintf(w, "admission: %s admitted since the genesis (entry %d): %s; an admit needs %d\n",
		logPlural(int64(len(names)), "custodian", "custodians"), a.Genesis.Index, strings.Join(names, ", "), a.Policy)
	bad, err := cd.NotAdmitted()
	if err != nil {
		return err
	}
	recs, _ := cd.Records()
	for _, i := range bad {
		r := recs[i]
		fmt.Fprintf(w, "not admitted: %s (%s, key %s): %s, never trusted\n", cd.RecordPath(i), r.Custodian.Name, r.Fingerprint(), a.NotAdmittedReason(r.Fingerprint()))
	}
	return nil
}

// checkRecordAdmitted refuses a record of path for seal --to and aws
// provision --to that the case's logbook has not admitted.
func checkRecordAdmitted(c *cli.Context, r *token.Record, path string) error {
	if lookupFlag(c.Command.Flags, "case") == nil {
		return nil
	}
	cd, err := openCase(c)
	if err != nil || !cd.HasLog() {
		return nil
	}
	if err := cd.CheckAdmitted(r); err != nil {
		var na *casedir.NotAdmittedError
		if errors.As(err, &na) {
			return notAdmittedHints(fmt.Errorf("%s: %w, so nothing is sealed to it", path, err))
		}
		return logError(err)
	}
	return nil
}
