package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/breakglass/breakglass/token/virtual"
)

const cardVirtualHelp = `Runs one virtual YubiKey 5 (PIV applet) and plugs it into pcscd through a
vsmartcard vpcd reader, so that breakglass, piv-go, yubico-piv-tool, OpenSC and
libykcs11 see it as a real key. Use it to rehearse enrollments, drills and
unseals on a laptop without hardware.

The card keeps its keys, certificates, PIN, PUK, management key and counters in
the --state file (mode 0600), created on first use with factory defaults: PIN
123456, PUK 12345678, management key 010203040506070801020304050607080102030405060708
(AES-192 on the default firmware 5.7.1, 3DES with --firmware 5.4.3).

Its attestation certificates chain to a per-installation VIRTUAL TEST CA in
--ca-dir (ca.pem and ca.key), never to Yubico. breakglass trusts such
enrollments only when explicitly told to.

The card runs until interrupted (SIGINT or SIGTERM), and then stops at once,
even while it waits for a touch. SIGUSR1 pulls it out of the reader, SIGUSR2
puts it back. It reconnects by itself when pcscd restarts.

Touch modes (--touch):
   auto             touch at once (tests)
   delay=DURATION   touch after DURATION, e.g. delay=2s
   deny             never touch: operations fail with 6982 after 15 s
   interactive      press Enter on this terminal to touch

EXAMPLES:
   # a card on the first vpcd reader ("Virtual PCD 00 00")
   breakglass card virtual --state alice.card --port 35963

   # a second card, with a fixed serial, that asks you to touch
   breakglass card virtual --state bob.card --port 35964 --serial 18392011 --touch interactive

   # pull the card out and put it back in
   kill -USR1 $PID; sleep 2; kill -USR2 $PID`

func cardVirtualCommand() *cli.Command {
	return &cli.Command{
		Name:        "virtual",
		Usage:       "run a virtual YubiKey-compatible PIV card on a vpcd reader",
		Description: cardVirtualHelp,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "state", Usage: "state `FILE` of the card (created if absent)", Required: true},
			&cli.IntFlag{Name: "port", Usage: "vpcd `PORT` of the reader", Value: 35963},
			&cli.StringFlag{Name: "host", Usage: "vpcd `HOST`", Value: "127.0.0.1"},
			&cli.StringFlag{Name: "serial", Usage: "serial `NUMBER` of a new card (default random)"},
			&cli.StringFlag{Name: "touch", Usage: "touch `MODE`: auto, delay=DURATION, deny or interactive", Value: "auto"},
			&cli.StringFlag{Name: "firmware", Usage: "firmware `VERSION` of a new card: 5.7.1 or 5.4.3", Value: "5.7.1"},
			&cli.StringFlag{Name: "ca-dir", Usage: "test CA `DIR` (default $XDG_CONFIG_HOME/breakglass/virtual-ca)"},
		},
		Action: runCardVirtual,
	}
}

func runCardVirtual(c *cli.Context) error {
	if c.NArg() > 0 {
		return noArgs(c)
	}
	touch, err := virtual.ParseTouch(c.String("touch"))
	if err != nil {
		return usageError("--touch: %v", err)
	}
	var serial uint64
	if s := c.String("serial"); s != "" {
		serial, err = strconv.ParseUint(s, 10, 32)
		if err != nil || serial == 0 {
			return usageError("--serial %q: want a number from 1 to 4294967295", s)
		}
	}
	var fw virtual.Firmware
	switch c.String("firmware") {
	case "5.7.1":
		fw = virtual.Firmware571
	case "5.4.3":
		fw = virtual.Firmware543
	default:
		return usageError("--firmware %q: want 5.7.1 or 5.4.3", c.String("firmware"))
	}
	port := c.Int("port")
	if port <= 0 || port > 65535 {
		return usageError("--port %d: want a TCP port", port)
	}
	addr := fmt.Sprintf("%s:%d", c.String("host"), port)
	reader := virtual.ReaderName(port)

	var card *virtual.Card
	connected := func() {
		infof("virtual card %d on port %d (reader %q)", card.Serial(), port, reader)
	}
	card, err = virtual.New(virtual.Options{
		StateFile:    c.String("state"),
		Serial:       uint32(serial),
		Firmware:     fw,
		CADir:        c.String("ca-dir"),
		Touch:        touch,
		OnConnect:    func() { connected() },
		OnDisconnect: func() { infof("virtual card %d disconnected from port %d", card.Serial(), port) },
	})
	if err != nil {
		return withHints(err,
			"check that the --state file is a virtual card state file, or choose a new path to create a card")
	}
	if f := card.Firmware(); c.IsSet("firmware") && f != fw {
		infof("card %d keeps its firmware %v (set when its state file was created)", card.Serial(), f)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				if s == syscall.SIGUSR1 {
					infof("virtual card %d removed", card.Serial())
					card.Remove()
				} else {
					infof("virtual card %d inserted", card.Serial())
					card.Insert()
				}
			}
		}
	}()
	infof("virtual card %d (firmware %v, touch %v) waiting for vpcd on %s", card.Serial(), card.Firmware(), touch, addr)
	if err := card.Serve(ctx, addr); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	infof("virtual card %d stopped", card.Serial())
	return nil
}
