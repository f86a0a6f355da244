package qrtext

import "bytes"

// Scanned undoes what carrying text as a QR code does to its end, for text
// whose canonical form ends in exactly one newline (a remote unseal
// request or tap response): readers such as zbarimg end their output with
// one more newline (some with CR LF), and others drop the final one.
// Scanned ends b with exactly one newline, in place of any run of CR and
// LF it ends with; everything before must be as written, so a parser that
// accepts only the canonical form still rejects anything else. Text that
// is empty or only line ends is returned as it is. The result never
// shares memory with b.
func Scanned(b []byte) []byte {
	t := bytes.TrimRight(b, "\r\n")
	if len(t) == 0 {
		return bytes.Clone(b)
	}
	return append(t[:len(t):len(t)], '\n')
}
