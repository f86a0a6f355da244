package qrtext

import (
	"bytes"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// A 33-word SLIP-0039 mnemonic (a 256-bit share), the size of a paper
// share's payload.
const mnemonic = "academic acid acrobat romp chubby decision mild advance bracelet hour salon rumor " +
	"sprinkle silent snake frozen flame camera acid deal inside pink ceiling clock " +
	"blessing regret axis sister burning believe skunk umbrella hormone"

// zbarimg decodes the QR code in the PNG image img with Debian's zbarimg
// (package zbar-tools) and returns the text, without the newline zbarimg
// adds.
func zbarimg(t *testing.T, img []byte) string {
	t.Helper()
	if _, err := exec.LookPath("zbarimg"); err != nil {
		t.Fatal("zbarimg is missing: apt-get install -y zbar-tools (or scripts/deps.sh)")
	}
	path := filepath.Join(t.TempDir(), "code.png")
	if err := os.WriteFile(path, img, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("zbarimg", "--raw", "-q", "-Sdisable", "-Sqrcode.enable", path).Output()
	if err != nil {
		t.Fatalf("zbarimg found no QR code: %v", err)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// asShown draws text as a terminal shows it: one pixel per module, each
// character cell one module wide and two tall, blocks in the foreground
// colour fg on the background bg. It knows nothing of ParseText.
func asShown(t *testing.T, text []byte, fg, bg color.Gray, scale int) []byte {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	w := utf8.RuneCountInString(lines[0])
	img := image.NewGray(image.Rect(0, 0, w*scale, 2*len(lines)*scale))
	for l, line := range lines {
		x := 0
		for _, r := range line {
			top, bot := bg, bg
			switch r {
			case '█':
				top, bot = fg, fg
			case '▀':
				top = fg
			case '▄':
				bot = fg
			case ' ':
			default:
				t.Fatalf("line %d: unexpected character %q", l+1, r)
			}
			for dy := 0; dy < scale; dy++ {
				for dx := 0; dx < scale; dx++ {
					img.SetGray(x*scale+dx, 2*l*scale+dy, top)
					img.SetGray(x*scale+dx, (2*l+1)*scale+dy, bot)
				}
			}
			x++
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var payloads = []struct {
	name, text string
	version    int
}{
	{"short", "breakglass", 1},
	{"mnemonic", mnemonic, 11},
	{"request", strings.Repeat("r", 430), 16},   // an unseal request, 428 bytes in a script
	{"response", strings.Repeat("x", 1264), 29}, // a tap response, 1,238 to 1,264 bytes
	{"alphanumeric", strings.Repeat("R", 1270), 24},
	{"mixed", "-----BEGIN BREAKGLASS UNSEAL REQUEST-----\nreason: SSO down; über ✓\n", 5},
	{"largest", strings.Repeat("x", MaxBytes), 40},
}

func TestPNGDecodes(t *testing.T) {
	for _, p := range payloads {
		t.Run(p.name, func(t *testing.T) {
			c, err := Encode(p.text)
			if err != nil {
				t.Fatal(err)
			}
			if c.Version() != p.version || c.Size() != 17+4*p.version || c.Width() != c.Size()+8 {
				t.Errorf("version %d, size %d, width %d; want version %d", c.Version(), c.Size(), c.Width(), p.version)
			}
			img, err := c.PNG(4)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(img))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Width != c.Width()*4 || cfg.Height != cfg.Width {
				t.Errorf("image is %d×%d, want %d square", cfg.Width, cfg.Height, c.Width()*4)
			}
			if got := zbarimg(t, img); got != p.text {
				t.Errorf("zbarimg decoded %q, want %q", got, p.text)
			}
		})
	}
}

// TestTerminalDecodes draws the terminal rendering as a terminal would,
// in both inks and colour schemes, and decodes it.
func TestTerminalDecodes(t *testing.T) {
	black, white := color.Gray{Y: 0}, color.Gray{Y: 0xff}
	for _, tc := range []struct {
		name   string
		ink    Ink
		fg, bg color.Gray
	}{
		{"light ink, light on dark terminal", LightInk, white, black},
		{"dark ink, dark on light terminal", DarkInk, black, white},
	} {
		for _, p := range payloads[:4] {
			t.Run(tc.name+"/"+p.name, func(t *testing.T) {
				c, err := Encode(p.text)
				if err != nil {
					t.Fatal(err)
				}
				text := c.Text(tc.ink)
				if got := zbarimg(t, asShown(t, text, tc.fg, tc.bg, 3)); got != p.text {
					t.Errorf("zbarimg decoded %q, want %q", got, p.text)
				}
			})
		}
	}
}

// TestTextGolden pins how a fixed payload looks on the terminal.
func TestTextGolden(t *testing.T) {
	c, err := Encode("breakglass")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		file string
		ink  Ink
	}{
		{"breakglass.light.txt", LightInk},
		{"breakglass.dark.txt", DarkInk},
	} {
		got := c.Text(tc.ink)
		path := filepath.Join("testdata", tc.file)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs (go test -update rewrites it):\n%s", path, got)
		}
		if n := bytes.Count(got, []byte("\n")); n != (c.Width()+1)/2 {
			t.Errorf("%s: %d lines, want %d", tc.file, n, (c.Width()+1)/2)
		}
	}
}

func TestTooLarge(t *testing.T) {
	for _, n := range []int{MaxBytes + 1, 3000, 1 << 20} {
		_, err := Encode(strings.Repeat("x", n))
		var tl *TooLargeError
		if !errors.As(err, &tl) || tl.Len != n {
			t.Fatalf("Encode(%d bytes): %v, want a *TooLargeError", n, err)
		}
		if want := "do not fit one QR code"; !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Alphanumeric text is denser: more than MaxBytes characters fit, up
	// to the mode's own limit, and the error is the same beyond it.
	if _, err := Encode(strings.Repeat("A", MaxBytes)); err != nil {
		t.Errorf("alphanumeric text of MaxBytes: %v", err)
	}
}

func TestParseTextRoundTrip(t *testing.T) {
	for _, p := range payloads {
		c, err := Encode(p.text)
		if err != nil {
			t.Fatal(err)
		}
		for _, ink := range []Ink{LightInk, DarkInk} {
			text := c.Text(ink)
			back, err := ParseText(text, ink)
			if err != nil {
				t.Fatalf("%s, ink %d: %v", p.name, ink, err)
			}
			if back.size != c.size || !equalModules(back, c) {
				t.Errorf("%s, ink %d: modules differ after ParseText", p.name, ink)
			}
			// The other ink reads a quiet zone full of dark modules.
			if _, err := ParseText(text, 1-ink); err == nil {
				t.Errorf("%s, ink %d: parsed with the other ink", p.name, ink)
			}
		}
	}
}

func equalModules(a, b *Code) bool {
	for y := 0; y < a.Width(); y++ {
		for x := 0; x < a.Width(); x++ {
			if a.Dark(x, y) != b.Dark(x, y) {
				return false
			}
		}
	}
	return true
}

// TestParseTextTamper changes a rendering and checks each change is
// refused with the reason.
func TestParseTextTamper(t *testing.T) {
	c, err := Encode("breakglass")
	if err != nil {
		t.Fatal(err)
	}
	good := string(c.Text(LightInk))
	lines := strings.Split(good, "\n")
	set := func(line, col int, r rune) string {
		ls := append([]string(nil), lines...)
		rs := []rune(ls[line])
		rs[col] = r
		ls[line] = string(rs)
		return strings.Join(ls, "\n")
	}
	for _, tc := range []struct {
		name, text, want string
	}{
		{"empty", "", "does not end with a newline"},
		{"no final newline", strings.TrimSuffix(good, "\n"), "does not end with a newline"},
		{"extra line", good + lines[0] + "\n", "16 lines, want 15"},
		{"missing line", strings.Join(lines[1:], "\n"), "14 lines, want 15"},
		{"short line", lines[0] + "\n" + strings.Replace(strings.Join(lines[1:], "\n"), "█\n", "\n", 1), "line 2 has 28 characters, want 29"},
		{"narrow", strings.Repeat("█", 27) + "\n", "27 characters per line is not the width"},
		{"foreign character", set(7, 10, '#'), `line 8: unexpected character '#'`},
		{"ascii art", set(7, 10, 'X'), `unexpected character 'X'`},
		{"dark in the quiet zone", set(0, 5, '▀'), "line 1, column 6: a dark module in the quiet zone"},
		{"dark below the code", set(13, 5, ' '), "line 14, column 6: a dark module in the quiet zone"},
		{"dark padding row", set(14, 5, '▀'), "line 15, column 6: a dark module in the quiet zone"},
		{"tab", set(3, 0, '\t'), `unexpected character '\t'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseText([]byte(tc.text), LightInk)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseText: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestWipe(t *testing.T) {
	c, err := Encode(mnemonic)
	if err != nil {
		t.Fatal(err)
	}
	c.Wipe()
	for y := 0; y < c.Width(); y++ {
		for x := 0; x < c.Width(); x++ {
			if c.Dark(x, y) {
				t.Fatalf("module (%d, %d) is still dark after Wipe", x, y)
			}
		}
	}
}

func TestPNGScale(t *testing.T) {
	c, err := Encode("breakglass")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []int{0, -1, 65} {
		if _, err := c.PNG(s); err == nil {
			t.Errorf("PNG(%d) succeeded", s)
		}
	}
	img, err := c.PNG(1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	for y := 0; y < c.Width(); y++ {
		for x := 0; x < c.Width(); x++ {
			g := color.GrayModel.Convert(m.At(x, y)).(color.Gray)
			if (g.Y == 0) != c.Dark(x, y) {
				t.Fatalf("pixel (%d, %d) is %d, module dark=%v", x, y, g.Y, c.Dark(x, y))
			}
		}
	}
}

// FuzzParseText: whatever ParseText accepts, Text gives back byte for
// byte; and the rendering of any encodable text parses back to the same
// modules.
func FuzzParseText(f *testing.F) {
	for _, p := range payloads[:3] {
		c, err := Encode(p.text)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.Text(LightInk), false)
		f.Add(c.Text(DarkInk), true)
		f.Add([]byte(p.text), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, dark bool) {
		ink := LightInk
		if dark {
			ink = DarkInk
		}
		if c, err := ParseText(b, ink); err == nil {
			if out := c.Text(ink); !bytes.Equal(out, b) {
				t.Fatalf("ParseText accepted a rendering Text does not give back:\n%s\n%s", b, out)
			}
		} else if c != nil {
			t.Fatal("ParseText returned a code and an error")
		}
		if len(b) > 300 {
			return
		}
		c, err := Encode(string(b))
		if err != nil {
			t.Fatalf("Encode(%d bytes): %v", len(b), err)
		}
		back, err := ParseText(c.Text(ink), ink)
		if err != nil || !equalModules(back, c) {
			t.Fatalf("the rendering of %q does not parse back: %v", b, err)
		}
	})
}
