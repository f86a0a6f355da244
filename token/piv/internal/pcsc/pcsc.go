// Package pcsc sends raw APDUs to a card through the PC/SC daemon, for the
// few PIV commands piv-go does not expose: GET METADATA of the PIN, PUK and
// management key (their "default value" flags) and PUT DATA of the YubiKey
// admin data object. It holds the card exclusively, like piv-go, so callers
// close their piv-go handle first.
package pcsc

// #cgo linux pkg-config: libpcsclite
// #cgo darwin LDFLAGS: -framework PCSC
// #include <stdlib.h>
// #include <PCSC/winscard.h>
// #include <PCSC/wintypes.h>
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Error is a PC/SC return code.
type Error struct {
	Op string
	RC uint32
}

func (e *Error) Error() string {
	return fmt.Sprintf("pcsc %s: %s (0x%08x)", e.Op, Message(e.RC), e.RC)
}

// Return codes callers branch on.
const (
	NoService     = 0x8010001D
	NoReaders     = 0x8010002E
	NoSmartcard   = 0x8010000C
	RemovedCard   = 0x80100069
	ResetCard     = 0x80100068
	UnpoweredCard = 0x80100067
	ReaderUnavail = 0x80100017
	UnknownReader = 0x80100009
	SharingViol   = 0x8010000B
)

// Message describes a PC/SC return code.
func Message(rc uint32) string {
	switch rc {
	case NoService:
		return "the PC/SC daemon (pcscd) is not running"
	case NoReaders:
		return "no smart card reader"
	case NoSmartcard:
		return "no card in the reader"
	case RemovedCard:
		return "the card was removed"
	case ResetCard:
		return "the card was reset"
	case UnpoweredCard:
		return "the card lost power"
	case ReaderUnavail:
		return "the reader is not available"
	case UnknownReader:
		return "unknown reader"
	case SharingViol:
		return "another program is using the card"
	}
	return "PC/SC error"
}

func check(op string, rc C.LONG) error {
	if rc == C.SCARD_S_SUCCESS {
		return nil
	}
	return &Error{Op: op, RC: uint32(rc)}
}

// Conn is an exclusive connection to one card.
type Conn struct {
	ctx C.SCARDCONTEXT
	h   C.SCARDHANDLE
}

// Connect connects exclusively to the card in reader, using T=1.
func Connect(reader string) (*Conn, error) {
	var c Conn
	if err := check("establish context", C.SCardEstablishContext(C.SCARD_SCOPE_SYSTEM, nil, nil, &c.ctx)); err != nil {
		return nil, err
	}
	name := C.CString(reader)
	defer C.free(unsafe.Pointer(name))
	var proto C.DWORD
	if err := check("connect", C.SCardConnect(c.ctx, name, C.SCARD_SHARE_EXCLUSIVE, C.SCARD_PROTOCOL_T1, &c.h, &proto)); err != nil {
		C.SCardReleaseContext(c.ctx)
		return nil, err
	}
	return &c, nil
}

// Close disconnects, leaving the card as it is.
func (c *Conn) Close() error {
	err := check("disconnect", C.SCardDisconnect(c.h, C.SCARD_LEAVE_CARD))
	C.SCardReleaseContext(c.ctx)
	return err
}

// Transmit sends one short APDU and returns the response data and status
// word, following 61xx with GET RESPONSE.
func (c *Conn) Transmit(apdu []byte) ([]byte, uint16, error) {
	if len(apdu) < 4 {
		return nil, 0, errors.New("pcsc: APDU too short")
	}
	var out []byte
	for {
		var resp [C.MAX_BUFFER_SIZE_EXTENDED]byte
		n := C.DWORD(len(resp))
		if err := check("transmit", C.SCardTransmit(c.h, C.SCARD_PCI_T1,
			(*C.BYTE)(unsafe.Pointer(&apdu[0])), C.DWORD(len(apdu)), nil,
			(*C.BYTE)(unsafe.Pointer(&resp[0])), &n)); err != nil {
			return nil, 0, err
		}
		if n < 2 {
			return nil, 0, errors.New("pcsc: response shorter than a status word")
		}
		out = append(out, resp[:n-2]...)
		sw := uint16(resp[n-2])<<8 | uint16(resp[n-1])
		if sw>>8 != 0x61 {
			return out, sw, nil
		}
		apdu = []byte{0x00, 0xC0, 0x00, 0x00, 0x00}
	}
}
