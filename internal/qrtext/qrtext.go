package qrtext

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"unicode/utf8"

	"rsc.io/qr"
)

// QuietZone is the number of light modules around a code on every side.
const QuietZone = 4

// MaxBytes is the longest text that fits one code: version 40 at level M,
// in byte mode (ISO/IEC 18004, table 7).
const MaxBytes = 2331

// A TooLargeError reports text that does not fit one QR code.
type TooLargeError struct {
	Len int // bytes of text
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%d bytes do not fit one QR code (at most %d at error-correction level M)", e.Len, MaxBytes)
}

// A Code is the grid of modules of one QR code, without its quiet zone.
type Code struct {
	size int
	dark []bool // size*size, row by row
}

// Encode makes the QR code of text at error-correction level M. Text
// longer than [MaxBytes] (or the equivalent in the denser numeric and
// alphanumeric modes) returns a [*TooLargeError].
func Encode(text string) (*Code, error) {
	if len(text) > MaxBytes {
		return nil, &TooLargeError{Len: len(text)}
	}
	qc, err := qr.Encode(text, qr.M)
	if err != nil {
		// The library's only failure is text that fits no version.
		return nil, &TooLargeError{Len: len(text)}
	}
	c := &Code{size: qc.Size, dark: make([]bool, qc.Size*qc.Size)}
	for y := 0; y < qc.Size; y++ {
		for x := 0; x < qc.Size; x++ {
			c.dark[y*c.size+x] = qc.Black(x, y)
		}
	}
	clear(qc.Bitmap)
	return c, nil
}

// Size is the number of modules on a side, without the quiet zone.
func (c *Code) Size() int { return c.size }

// Version is the QR version, 1 to 40 (the size is 17 + 4 × version).
func (c *Code) Version() int { return (c.size - 17) / 4 }

// Width is the number of modules on a side with the quiet zone: the
// characters per line of [Code.Text].
func (c *Code) Width() int { return c.size + 2*QuietZone }

// Dark reports whether the module at column x, row y is dark. The
// coordinates include the quiet zone, so (0, 0) is its corner and
// (QuietZone, QuietZone) the code's; anything outside the code is light.
func (c *Code) Dark(x, y int) bool {
	x, y = x-QuietZone, y-QuietZone
	return 0 <= x && x < c.size && 0 <= y && y < c.size && c.dark[y*c.size+x]
}

// Wipe clears the modules; the code is all light afterwards.
func (c *Code) Wipe() { clear(c.dark) }

// Ink says which modules a terminal draws with block characters, in its
// foreground colour.
type Ink int

const (
	// LightInk draws the light modules and the quiet zone: the code shows
	// dark on light on a light-on-dark terminal.
	LightInk Ink = iota
	// DarkInk draws the dark modules: for dark-on-light terminals and paper.
	DarkInk
)

// The four characters of a rendering, by (upper inked, lower inked).
const (
	blank = ' '
	upper = '▀' // U+2580
	lower = '▄' // U+2584
	full  = '█' // U+2588
)

// Text draws the code with its quiet zone, two rows of modules per line,
// every line ending in a newline. The result is the caller's to wipe.
func (c *Code) Text(ink Ink) []byte {
	w := c.Width()
	lines := (w + 1) / 2
	b := make([]byte, 0, lines*(w*3+1))
	inked := func(x, y int) bool { return c.Dark(x, y) == (ink == DarkInk) }
	for l := 0; l < lines; l++ {
		for x := 0; x < w; x++ {
			// The row below the last (size is odd) is outside the code:
			// light, like the quiet zone.
			top, bot := inked(x, 2*l), inked(x, 2*l+1)
			switch {
			case top && bot:
				b = utf8.AppendRune(b, full)
			case top:
				b = utf8.AppendRune(b, upper)
			case bot:
				b = utf8.AppendRune(b, lower)
			default:
				b = append(b, blank)
			}
		}
		b = append(b, '\n')
	}
	return b
}

// ParseText reads a rendering made by [Code.Text] with the same ink back
// into modules. It checks the layout (equal lines, the size of a QR
// version, the four characters, the quiet zone and the light row below
// it), not the QR symbol itself; for whatever it accepts, Text gives back
// exactly b.
func ParseText(b []byte, ink Ink) (*Code, error) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		return nil, errors.New("qrtext: the text does not end with a newline")
	}
	lines := strings.Split(string(b[:len(b)-1]), "\n")
	w := utf8.RuneCountInString(lines[0])
	size := w - 2*QuietZone
	if size < 21 || size > 177 || (size-17)%4 != 0 {
		return nil, fmt.Errorf("qrtext: %d characters per line is not the width of a QR code with its quiet zone", w)
	}
	if len(lines) != (w+1)/2 {
		return nil, fmt.Errorf("qrtext: %d lines, want %d for a width of %d", len(lines), (w+1)/2, w)
	}
	rows := make([][]bool, 2*len(lines)) // inked, by row and column
	for l, line := range lines {
		if utf8.RuneCountInString(line) != w {
			return nil, fmt.Errorf("qrtext: line %d has %d characters, want %d", l+1, utf8.RuneCountInString(line), w)
		}
		top, bot := make([]bool, 0, w), make([]bool, 0, w)
		for _, r := range line {
			switch r {
			case full:
				top, bot = append(top, true), append(bot, true)
			case upper:
				top, bot = append(top, true), append(bot, false)
			case lower:
				top, bot = append(top, false), append(bot, true)
			case blank:
				top, bot = append(top, false), append(bot, false)
			default:
				return nil, fmt.Errorf("qrtext: line %d: unexpected character %q", l+1, r)
			}
		}
		rows[2*l], rows[2*l+1] = top, bot
	}
	c := &Code{size: size, dark: make([]bool, size*size)}
	for y, row := range rows {
		for x, in := range row {
			dark := in == (ink == DarkInk)
			inCode := x >= QuietZone && x < QuietZone+size && y >= QuietZone && y < QuietZone+size
			switch {
			case inCode:
				c.dark[(y-QuietZone)*size+x-QuietZone] = dark
			case dark:
				return nil, fmt.Errorf("qrtext: line %d, column %d: a dark module in the quiet zone", y/2+1, x+1)
			}
		}
	}
	return c, nil
}

// PNG draws the code and its quiet zone black on white, scale pixels per
// module, as a PNG with a two-colour palette (1 bit per pixel). The result is the caller's to wipe.
func (c *Code) PNG(scale int) ([]byte, error) {
	if scale < 1 || scale > 64 {
		return nil, fmt.Errorf("qrtext: scale %d is not between 1 and 64", scale)
	}
	d := c.Width() * scale
	img := image.NewPaletted(image.Rect(0, 0, d, d), color.Palette{color.Gray{Y: 0xff}, color.Gray{Y: 0}})
	defer clear(img.Pix)
	for y := 0; y < d; y++ {
		for x := 0; x < d; x++ {
			if c.Dark(x/scale, y/scale) {
				img.Pix[y*img.Stride+x] = 1
			}
		}
	}
	var buf bytes.Buffer
	buf.Grow(d * d / 16)
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
