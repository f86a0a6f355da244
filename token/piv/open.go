package piv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/breakglass/breakglass/token"
	"github.com/breakglass/breakglass/token/piv/internal/pcsc"
)

// Looking at a card without getting stuck on it.
//
// piv-go's Open connects to the card exclusively, then begins a transaction
// and selects the PIV application. When either of those fails, it returns
// the error but never disconnects (go-piv/piv-go v2.6.0, piv.go,
// client.Open): the process keeps an exclusive connection that nothing can
// close, and every later connection to that reader, from this process or
// another (card list, ykman), fails with a sharing violation until the
// process exits. That is what happens when a card is put back in a reader
// and polled before it has settled: pcscd connects it, and the first
// command fails. A card reinserted after a wrong PIN was then never seen
// again by the unseal waiting for it.
//
// So nothing here calls piv-go's Open on a card it has not just seen answer:
// Find looks at every reader with probe, a connection of its own that it
// always closes, and a card is opened with piv-go only right after probe
// found it working. What is left is a card pulled out in the milliseconds
// between the two, which piv-go still mishandles.

// probe connects to the card in reader, selects the PIV application, reads
// the serial number and disconnects, whatever happens.
func probe(reader string) (uint32, error) {
	c, err := pcsc.Connect(reader)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if err := selectApp(c, aidPIV); err != nil {
		return 0, err
	}
	v, sw, err := c.Transmit([]byte{0x00, 0xFD, 0x00, 0x00, 0x00}) // GET VERSION (Yubico)
	if err != nil {
		return 0, err
	}
	if sw != 0x9000 || len(v) != 3 {
		return 0, fmt.Errorf("GET VERSION: card answered %04X: not a YubiKey-compatible PIV card", sw)
	}
	get := []byte{0x00, 0xF8, 0x00, 0x00, 0x00} // GET SERIAL (Yubico, firmware 5+)
	if v[0] < 5 {
		// Older YubiKeys tell their serial in the YubiKey application.
		if err := selectApp(c, aidYubiKey); err != nil {
			return 0, err
		}
		get = []byte{0x00, 0x01, 0x10, 0x00, 0x00}
	}
	s, sw, err := c.Transmit(get)
	if err != nil {
		return 0, err
	}
	if sw != 0x9000 || len(s) != 4 {
		return 0, fmt.Errorf("GET SERIAL: card answered %04X", sw)
	}
	return binary.BigEndian.Uint32(s), nil
}

var (
	aidPIV     = []byte{0xA0, 0x00, 0x00, 0x03, 0x08}
	aidYubiKey = []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x20, 0x01, 0x01}
)

func selectApp(c *pcsc.Conn, aid []byte) error {
	_, sw, err := c.Transmit(append([]byte{0x00, 0xA4, 0x04, 0x00, byte(len(aid))}, aid...))
	if err != nil {
		return err
	}
	if sw != 0x9000 {
		return fmt.Errorf("selecting application %X: card answered %04X", aid, sw)
	}
	return nil
}

// translatePCSC turns a PC/SC error of package pcsc into a token error, as
// translate does for piv-go's.
func translatePCSC(name string, err error) (error, bool) {
	var pe *pcsc.Error
	if !errors.As(err, &pe) {
		return nil, false
	}
	what, reason := pcsc.Message(pe.RC), notPresentReason(pe.RC)
	if what == "PC/SC error" {
		what, reason = "the card did not answer (removed, or not ready yet)", token.Removed
	}
	return &token.NotPresentError{What: name + ": " + what, Cause: err, Reason: reason}, true
}

// notPresentReason classifies a PC/SC return code for advice.
func notPresentReason(rc uint32) token.NotPresentReason {
	switch rc {
	case pcsc.NoService:
		return token.NoDaemon
	case pcsc.RemovedCard, pcsc.ResetCard:
		return token.Removed
	case pcsc.SharingViol:
		return token.InUse
	}
	return token.NotPresentUnknown
}

// settleTime is how long a card that does not answer as it should is given
// before it counts as gone: a card just put in is still being powered up,
// and pcscd may even report it absent for a moment after it answered (it
// notices the removal and the insertion late), or another program uses it
// for a moment.
const settleTime = 2 * time.Second

// settling reports whether err, from Find or Open, may be such a moment,
// worth trying again during settleTime: any PC/SC error but those that say
// the daemon or the reader itself is gone.
func settling(err error) bool {
	var pe *pcsc.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.RC {
	case pcsc.NoService, pcsc.NoReaders, pcsc.UnknownReader, pcsc.ReaderUnavail:
		return false
	}
	return true
}
