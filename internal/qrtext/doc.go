// Package qrtext shows short text as a QR code: on a terminal, drawn with
// Unicode half blocks, and as a PNG image for files and printing.
//
// breakglass uses it where text has to cross an air gap or reach paper: a
// paper custodian's SLIP-0039 mnemonic at seal time, and a remote unseal
// request or tap response. The text stays the canonical form; the code is
// only another way to carry exactly the same bytes, so any QR reader gives
// back what breakglass accepts as text. Readers differ only at the end of
// the text, which [Scanned] puts right.
//
// # Encoding
//
// [Encode] uses rsc.io/qr at error-correction level M (about 15% of the
// code can be lost), which keeps codes as small as a phone still reads
// reliably from a screen or paper. Measured on real files: a 33-word
// mnemonic (about 230 bytes) is a version 11 code, 69 characters wide on
// a terminal; an unseal request (about 430 bytes) version 16, 89
// characters; a tap response (about 1,250 bytes) version 29, 141
// characters, which needs a wide terminal or the PNG. Text longer than
// [MaxBytes] does not fit one code; Encode then returns a [*TooLargeError]
// and nothing else, so the caller can fall back to the text alone.
//
// # Terminal rendering
//
// [Code.Text] draws two rows of modules per line with the characters
// U+2580 '▀' (upper half), U+2584 '▄' (lower half), U+2588 '█' (full) and
// space, and surrounds the code with the quiet zone of 4 light modules the
// QR standard asks for. Because the size of a code is odd, the last line's
// lower half is one more light row. A terminal draws blocks in its
// foreground colour, so the [Ink] says which modules get the blocks:
//
//   - [LightInk] draws the light modules (and the quiet zone). On the usual
//     light-on-dark terminal the code then shows dark on light, as scanners
//     expect. This is what `qrencode -t UTF8` does.
//   - [DarkInk] draws the dark modules, for dark-on-light terminals and
//     for text that is printed on paper.
//
// [ParseText] reads such a rendering back into modules (it checks the
// layout and the quiet zone but does not decode the QR symbol), so tests
// can check what a terminal shows.
//
// # Images
//
// [Code.PNG] draws the code and its quiet zone black on white, a chosen
// number of pixels per module, as a PNG with a two-colour palette.
//
// # Secrets
//
// A code drawn from a mnemonic is the mnemonic. [Code.Wipe] clears the
// modules; the byte slices that [Code.Text] and [Code.PNG] return are the
// caller's to wipe. The encoder's own scratch buffers cannot be wiped,
// which makes this best effort, as everything in package secret is.
package qrtext
