package asciicast

import (
	"io"
	"time"
)

// Play writes what the terminal showed (the Output events of r) to w at
// the pace it was shown: speed times as fast, and no pause longer than
// maxWait (0: no pauses at all, as asciinema cat). It returns r's error,
// if any, after everything before it was written.
func Play(w io.Writer, r *Reader, speed float64, maxWait time.Duration) error {
	if speed <= 0 {
		speed = 1
	}
	last := 0.0
	for {
		e, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if e.Type != Output {
			continue
		}
		if maxWait > 0 {
			wait := time.Duration((e.Time - last) / speed * float64(time.Second))
			time.Sleep(min(wait, maxWait))
		}
		last = e.Time
		if _, err := io.WriteString(w, e.Data); err != nil {
			return err
		}
	}
}
