package main

import (
	"fmt"
	"path/filepath"

	"github.com/urfave/cli/v2"
)

const cardTestHelp = `A tap with nothing at stake: proves that the token in hand still holds the
keys of an enrollment record. breakglass runs ECDH on the token against a
fresh ephemeral key and checks the result, then has the token sign a fresh
random challenge and checks the signature with the record's key. It needs
the PIN and a touch, exactly like a real tap, and changes nothing. Drills
use it.

If the card in hand belongs to someone else, the error names its owner when
their record sits next to FILE.

EXAMPLES
   breakglass card test alice.card.json
   breakglass card test --reader "Virtual PCD 00 00" alice.card.json
   breakglass card test --module /usr/lib/softhsm/libsofthsm2.so bob.card.json`

// cardCheckCommand is `card test` (the file is not named card_test.go, which
// Go would take for a test file).
func cardCheckCommand() *cli.Command {
	return &cli.Command{
		Name:        "test",
		Usage:       "prove the token in hand still holds the enrolled keys",
		ArgsUsage:   "FILE",
		Description: cardTestHelp,
		Flags:       []cli.Flag{readerFlag, moduleFlag, pinFileFlag, pinTriesUnknownFlag},
		Action:      runCardTest,
	}
}

func runCardTest(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageError("card test needs exactly one enrollment record FILE")
	}
	path := c.Args().First()
	rec, err := readRecord(path)
	if err != nil {
		return err
	}
	if err := rec.Verify(); err != nil {
		return explainToken(fmt.Errorf("%s: %w", path, err))
	}
	if rec.Keys == nil {
		return withHints(fmt.Errorf("%s is a paper custodian: there is no token to test", rec.Custodian.Name),
			"paper custodians rehearse by reading their share aloud during a drill")
	}
	tok, err := openRecordToken(c, rec, filepath.Dir(path), "to test it")
	if err != nil {
		return explainToken(err)
	}
	defer tok.Close()
	infof("testing %s's token %s; enter the PIN and touch it when it blinks", rec.Custodian.Name, tok.Info().Name())
	if err := rec.Challenge(tok); err != nil {
		return explainToken(err)
	}
	fmt.Printf("ok: %s's token %s holds the enrolled keys (%s)\n", rec.Custodian.Name, tok.Info().Name(), rec.Keys.Signing.Fingerprint)
	return nil
}
