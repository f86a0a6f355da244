package seal

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// TestTamper flips every byte of a small .glass file, one at a time. Each
// flip must give an error and no plaintext; when the flipped byte is in the
// sealed block (header, shares, mac, digest), Parse must fail, so no token
// is ever asked for an ECDH.
func TestTamper(t *testing.T) {
	for _, binary := range []bool{false, true} {
		t.Run(fmt.Sprintf("binary=%v", binary), func(t *testing.T) { testTamper(t, binary) })
	}
}

func testTamper(t *testing.T, binary bool) {
	p := basicParams(t, 2, 3)
	p.Custodians[2].Kind, p.Custodians[2].Recipient = KindPaper, ""
	p.BinaryPayload = binary
	file, sealed := sealString(t, "tamper me", p, 30)
	blockLen := bytes.Index(file, []byte(blockEnd+"\n")) + len(blockEnd) + 1
	payloadData := blockLen + len("-----BEGIN AGE ENCRYPTED FILE-----\n")
	if binary {
		payloadData = blockLen + len(ageMagic)
	}

	for _, mask := range []byte{0x01, 0x80, 0xff} {
		for i := range file {
			mangled := bytes.Clone(file)
			mangled[i] ^= mask
			f, err := Parse(bytes.NewReader(mangled))
			if i >= payloadData && mask != 0x01 {
				continue // payload bytes: one flip each is enough (Open is slow)
			}
			if i < payloadData {
				if err == nil {
					t.Fatalf("byte %d (mask %#x): Parse accepted a damaged sealed block", i, mask)
				}
				continue
			}
			if err != nil {
				t.Fatalf("byte %d: Parse looked into the payload: %v", i, err)
			}
			n := 0
			u := f.NewUnseal()
			if _, err := u.Tap(countingKX{testKey(t, 0), &n}); err != nil {
				t.Fatalf("byte %d: tap: %v", i, err)
			}
			if _, err := u.AddMnemonic(sealed.Paper[0].Mnemonic); err != nil {
				t.Fatalf("byte %d: mnemonic: %v", i, err)
			}
			r, err := u.Open()
			if err == nil {
				var got []byte
				got, err = io.ReadAll(r)
				if len(got) != 0 {
					t.Fatalf("byte %d (mask %#x): %d bytes of plaintext released", i, mask, len(got))
				}
			}
			if err == nil {
				t.Fatalf("byte %d (mask %#x): no error", i, mask)
			}
		}
	}
	// Truncation anywhere is an error too.
	for i := range file {
		if i > payloadData && i%5 != 0 {
			continue
		}
		f, err := Parse(bytes.NewReader(file[:i]))
		if err != nil {
			continue
		}
		u := f.NewUnseal()
		u.Tap(testKey(t, 0))
		u.Tap(testKey(t, 1))
		r, err := u.Open()
		if err == nil {
			got, err := io.ReadAll(r)
			if err == nil || len(got) != 0 {
				t.Fatalf("truncated at %d: %q, %v", i, got, err)
			}
		}
	}
	// Appending anything is an error.
	f, _ := Parse(bytes.NewReader(append(bytes.Clone(file), '\n')))
	u := f.NewUnseal()
	u.Tap(testKey(t, 0))
	u.Tap(testKey(t, 1))
	if r, err := u.Open(); err == nil {
		if _, err := io.ReadAll(r); err == nil {
			t.Fatal("trailing data accepted")
		}
	}
}
