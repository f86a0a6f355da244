package virtual

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/breakglass/breakglass/internal/secret"
)

// ATR of a YubiKey 5 (NFC) over USB: T=1, extended length, "YubiKey".
var ATR = []byte{0x3B, 0xFD, 0x13, 0x00, 0x00, 0x81, 0x31, 0xFE, 0x15, 0x80,
	0x73, 0xC0, 0x21, 0xC0, 0x57, 0x59, 0x75, 0x62, 0x69, 0x4B, 0x65, 0x79, 0x40}

// vpcd control messages (one byte long).
const (
	vpcdPowerOff = 0x00
	vpcdPowerOn  = 0x01
	vpcdReset    = 0x02
	vpcdGetATR   = 0x04
)

// ReaderName returns the PC/SC name of the vpcd reader listening on port, as
// configured by scripts/readers.sh: "Virtual PCD 00 00" and "Virtual PCD 00 01"
// on 35963 and 35964 (vpcd's own entry), then "Yubico YubiKey Virtual PCD N 00 00"
// and "… 00 01" on 35965+2(N-2) and the port after it. The "Yubico" prefix is
// what libykcs11 looks for.
func ReaderName(port int) string {
	const first = 35963
	if port < first+2 {
		return fmt.Sprintf("Virtual PCD 00 %02d", port-first)
	}
	return fmt.Sprintf("Yubico YubiKey Virtual PCD %d 00 %02d", 2+(port-first-2)/2, (port-first)%2)
}

// retryInterval is how long Serve waits before dialling vpcd again.
const retryInterval = 100 * time.Millisecond

// link is the card's connection to a vpcd reader.
type link struct {
	mu       sync.Mutex
	inserted bool
	changed  chan struct{} // closed and replaced on Insert/Remove
	conn     net.Conn
}

func (l *link) init() {
	l.inserted = true
	l.changed = make(chan struct{})
}

func (l *link) notify() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// Remove pulls the card out of the reader: the vpcd connection is closed, an
// operation waiting for touch fails, and Serve stops reconnecting until Insert.
func (c *Card) Remove() {
	c.link.mu.Lock()
	c.link.inserted = false
	if c.link.conn != nil {
		c.link.conn.Close()
	}
	c.link.notify()
	c.link.mu.Unlock()
	c.cancelWaits()
}

// Insert puts the card back into the reader; Serve reconnects to vpcd.
func (c *Card) Insert() {
	c.link.mu.Lock()
	c.link.inserted = true
	c.link.notify()
	c.link.mu.Unlock()
}

// Inserted reports whether the card is in its reader (it may still be
// waiting for vpcd to accept it).
func (c *Card) Inserted() bool {
	c.link.mu.Lock()
	defer c.link.mu.Unlock()
	return c.link.inserted
}

// Serve connects the card to the vpcd reader at addr (for example
// "127.0.0.1:35963") and answers it until ctx ends. It reconnects whenever
// the connection drops (pcscd restarts) while the card is inserted; every new
// connection and every power event starts a new card session. Serve returns
// ctx.Err() as soon as ctx ends, even while a command waits for a touch.
func (c *Card) Serve(ctx context.Context, addr string) error {
	var d net.Dialer
	for {
		c.link.mu.Lock()
		inserted, changed := c.link.inserted, c.link.changed
		c.link.mu.Unlock()
		if !inserted {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-changed:
				continue
			}
		}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.link.mu.Lock()
			if !c.link.inserted {
				conn.Close()
				c.link.mu.Unlock()
				continue
			}
			c.link.conn = conn
			c.link.mu.Unlock()
			c.serveConn(ctx, conn)
			c.link.mu.Lock()
			c.link.conn = nil
			c.link.mu.Unlock()
			conn.Close()
			c.PowerCycle() // pulled out or reader gone: power is lost
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(retryInterval):
		}
	}
}

// serveConn answers vpcd on one connection until it breaks or ctx ends.
// When ctx ends, a touch being waited for ends too: the card is going away,
// so no command may hold it up until the touch timeout.
func (c *Card) serveConn(ctx context.Context, conn net.Conn) {
	stop := context.AfterFunc(ctx, func() {
		c.cancelWaits()
		conn.Close()
	})
	defer stop()
	first := true
	var hdr [2]byte
	for {
		quickAck(conn)
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return
		}
		quickAck(conn)
		n := binary.BigEndian.Uint16(hdr[:])
		if n == 0 {
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(conn, msg); err != nil {
			return
		}
		if first {
			first = false
			if c.opts.OnConnect != nil {
				c.opts.OnConnect()
			}
			if c.opts.OnDisconnect != nil {
				defer c.opts.OnDisconnect()
			}
		}
		var reply []byte
		if n == 1 {
			switch msg[0] {
			case vpcdPowerOff, vpcdPowerOn, vpcdReset:
				c.PowerCycle()
				continue
			case vpcdGetATR:
				reply = ATR
			default:
				continue
			}
		} else {
			reply = c.Transmit(msg)
			secret.Wipe(msg)
		}
		if err := writeFrame(conn, reply); err != nil {
			return
		}
	}
}

func writeFrame(w io.Writer, b []byte) error {
	if len(b) == 0 || len(b) > 0xFFFF {
		return errors.New("vpcd: bad frame length")
	}
	buf := make([]byte, 2+len(b))
	binary.BigEndian.PutUint16(buf, uint16(len(b)))
	copy(buf[2:], b)
	_, err := w.Write(buf)
	secret.Wipe(buf)
	return err
}

// quickAck turns off delayed ACKs for the next reads. vpcd 0.8 sends a
// message's length and its payload in two writes; with Nagle's algorithm on
// its side and delayed ACKs on ours, every APDU would wait 40 ms. Linux
// clears TCP_QUICKACK by itself, so it is set again before every read.
func quickAck(conn net.Conn) {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpQuickAck, 1)
	})
}

// tcpQuickAck is TCP_QUICKACK on Linux.
const tcpQuickAck = 0xc
