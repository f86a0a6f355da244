package virtual

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// TouchMode says how a virtual card answers a touch request.
type TouchMode int

const (
	// TouchAuto touches at once. For tests.
	TouchAuto TouchMode = iota
	// TouchDelay touches after [Touch.Delay], as a person would.
	TouchDelay
	// TouchDeny never touches: the operation fails with 6982 after the
	// touch timeout, like a real key left untouched.
	TouchDeny
	// TouchInteractive asks the person running the card to press Enter.
	TouchInteractive
)

// Touch is a card's touch behaviour.
type Touch struct {
	Mode  TouchMode
	Delay time.Duration // for TouchDelay
}

// ParseTouch parses "auto", "deny", "interactive" or "delay=DURATION"
// (e.g. "delay=2s").
func ParseTouch(s string) (Touch, error) {
	switch {
	case s == "auto" || s == "":
		return Touch{Mode: TouchAuto}, nil
	case s == "deny":
		return Touch{Mode: TouchDeny}, nil
	case s == "interactive":
		return Touch{Mode: TouchInteractive}, nil
	case strings.HasPrefix(s, "delay="):
		d, err := time.ParseDuration(strings.TrimPrefix(s, "delay="))
		if err != nil || d < 0 {
			return Touch{}, fmt.Errorf("touch mode %q: want delay=DURATION such as delay=2s", s)
		}
		return Touch{Mode: TouchDelay, Delay: d}, nil
	}
	return Touch{}, fmt.Errorf("unknown touch mode %q: want auto, delay=DURATION, deny or interactive", s)
}

// String returns the form ParseTouch accepts.
func (t Touch) String() string {
	switch t.Mode {
	case TouchAuto:
		return "auto"
	case TouchDeny:
		return "deny"
	case TouchInteractive:
		return "interactive"
	case TouchDelay:
		return "delay=" + t.Delay.String()
	}
	return fmt.Sprintf("TouchMode(%d)", int(t.Mode))
}

// errTouchTimeout is returned when no touch came before the timeout.
var errTouchTimeout = errors.New("touch timeout")

// presser turns lines read from an input (a terminal) into touches.
type presser struct {
	once  sync.Once
	in    io.Reader
	lines chan struct{}
}

func (p *presser) start() {
	p.once.Do(func() {
		p.lines = make(chan struct{}, 16)
		go func() {
			r := bufio.NewReader(p.in)
			for {
				if _, err := r.ReadString('\n'); err != nil {
					close(p.lines)
					return
				}
				select {
				case p.lines <- struct{}{}:
				default:
				}
			}
		}()
	})
}

// waitTouch blocks until the card is touched according to t, the timeout
// passes, or ctx ends (card removed, power lost).
func (c *Card) waitTouch(ctx context.Context, what string) error {
	t := c.opts.Touch
	timeout := c.opts.TouchTimeout
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var touched <-chan struct{}
	switch t.Mode {
	case TouchAuto:
		return nil
	case TouchDelay:
		if t.Delay >= timeout {
			break
		}
		ch := make(chan struct{}, 1)
		d := time.AfterFunc(t.Delay, func() { ch <- struct{}{} })
		defer d.Stop()
		touched = ch
	case TouchDeny:
	case TouchInteractive:
		c.presser.start()
		// Forget presses made before the request.
		for drained := false; !drained; {
			select {
			case _, ok := <-c.presser.lines:
				if !ok {
					drained = true
				}
			default:
				drained = true
			}
		}
		fmt.Fprintf(c.opts.TouchPrompt, "virtual card %d: touch requested (%s): press Enter within %v\n",
			c.st.Serial, what, timeout)
		touched = c.presser.lines
	}
	for {
		select {
		case _, ok := <-touched:
			if !ok { // input closed: nobody can touch any more
				touched = nil
				continue
			}
			if t.Mode == TouchInteractive {
				fmt.Fprintf(c.opts.TouchPrompt, "virtual card %d: touched\n", c.st.Serial)
			}
			return nil
		case <-timer.C:
			if t.Mode == TouchInteractive {
				fmt.Fprintf(c.opts.TouchPrompt, "virtual card %d: no touch, operation refused\n", c.st.Serial)
			}
			return errTouchTimeout
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
