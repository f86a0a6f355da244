package seal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/cryptotest"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/breakglass/breakglass/seal/internal/slip39"
)

const glassVectorDir = "testdata/vectors"

// glassVectorSpecs are the inputs of the .glass vectors. A vector file is
// "key: value" lines, an empty line, then the .glass bytes.
var glassVectorSpecs = []struct {
	name, description, expect string
	seed                      uint64
	gt                        int
	groups                    []groupSpec
	secret                    string
	give                      []int // custodians whose shares open it
	mangle                    string
}{
	{"2-of-3", "2 of 3 PIV custodians", "success", 1, 1,
		[]groupSpec{{2, []string{KindPIV, KindPIV, KindPIV}}}, "hunter2", []int{0, 2}, ""},
	{"groups-paper", "2 groups of 2: 2 of 3 PIV, 1 of (PKCS#11, paper)", "success", 2, 2,
		[]groupSpec{{2, []string{KindPIV, KindPIV, KindPIV}}, {1, []string{KindPKCS11, KindPaper}}},
		"AKIAEXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", []int{1, 2, 4}, ""},
	{"1-of-1-paper", "a single paper custodian", "success", 3, 1,
		[]groupSpec{{1, []string{KindPaper}}}, "x", []int{0}, ""},
	{"damaged-header", "2-of-3 with one byte of the name changed", "damaged", 1, 1,
		[]groupSpec{{2, []string{KindPIV, KindPIV, KindPIV}}}, "hunter2", []int{0, 2}, "replace name: prod-aws name: prod-awt"},
	{"forged-header", "2-of-3 with the name changed and the digest recomputed", "other file", 1, 1,
		[]groupSpec{{2, []string{KindPIV, KindPIV, KindPIV}}}, "hunter2", []int{0, 2}, "forge name prod-awt"},
	{"forged-header-paper", "1-of-1 paper with the scope changed and the digest recomputed", "header mac", 3, 1,
		[]groupSpec{{1, []string{KindPaper}}}, "x", []int{0}, "forge scope aws:999999999999"},
	{"damaged-payload", "2-of-3 with the last payload line changed", "payload", 1, 1,
		[]groupSpec{{2, []string{KindPIV, KindPIV, KindPIV}}}, "hunter2", []int{0, 2}, "flip payload"},
}

func glassVectorParams(t testing.TB, i int) Params {
	s := glassVectorSpecs[i]
	p := groupParams(t, s.gt, s.groups)
	p.Name, p.SealedBy = "prod-aws", "alice"
	p.Scope = "aws:123456789012:role/breakglass"
	p.UseCases = []string{"SSO is down", "the MFA device is lost"}
	p.KeyID = "AKIAEXAMPLE"
	return p
}

// makeGlassVector seals spec i with fixed randomness: rand is ChaCha8(seed)
// for breakglass's own draws and cryptotest.SetGlobalRandom(seed) for age's.
func makeGlassVector(t *testing.T, i int) []byte {
	s := glassVectorSpecs[i]
	cryptotest.SetGlobalRandom(t, s.seed)
	var b bytes.Buffer
	sealed, err := Seal(&b, strings.NewReader(s.secret), glassVectorParams(t, i), detRand(s.seed))
	if err != nil {
		t.Fatal(err)
	}
	file := b.Bytes()
	switch f := strings.Fields(s.mangle); {
	case len(f) == 0:
	case f[0] == "replace":
		file = bytes.Replace(file, []byte(f[1]+" "+f[2]), []byte(f[3]+" "+f[4]), 1)
	case f[0] == "forge":
		file = rebuild(t, file, func(g *File) {
			switch f[1] {
			case "name":
				g.Header.Name = f[2]
			case "scope":
				g.Header.Scope = f[2]
			}
		})
	case f[0] == "flip":
		end := bytes.LastIndex(file, []byte("\n-----END AGE"))
		file[end-3] ^= 0x01
	}
	var h strings.Builder
	fmt.Fprintf(&h, "description: %s\nexpect: %s\nseed: %d\n", s.description, s.expect, s.seed)
	if s.mangle != "" {
		fmt.Fprintf(&h, "mangle: %s\n", s.mangle)
	}
	if s.expect == "success" {
		fmt.Fprintf(&h, "secret: %s\n", strconv.Quote(s.secret))
	}
	cs := sealed.Header.Custodians()
	for _, idx := range s.give {
		if cs[idx].Paper() {
			for _, p := range sealed.Paper {
				if p.Index == idx {
					fmt.Fprintf(&h, "mnemonic: %d %s\n", idx, p.Mnemonic)
				}
			}
		} else {
			fmt.Fprintf(&h, "custodian-secret: %d %x\n", idx, testKey(t, idx).Bytes())
		}
	}
	h.WriteString("\n")
	return append([]byte(h.String()), file...)
}

type glassVector struct {
	fields    map[string][]string
	file      []byte
	secretKey map[int][]byte
	mnemonics map[int]string
}

func parseGlassVector(t *testing.T, raw []byte) *glassVector {
	head, file, ok := bytes.Cut(raw, []byte("\n\n"))
	if !ok {
		t.Fatal("no empty line after the vector's fields")
	}
	v := &glassVector{fields: map[string][]string{}, file: file, secretKey: map[int][]byte{}, mnemonics: map[int]string{}}
	for _, l := range strings.Split(string(head), "\n") {
		k, val, _ := strings.Cut(l, ": ")
		v.fields[k] = append(v.fields[k], val)
		switch k {
		case "custodian-secret", "mnemonic":
			is, rest, _ := strings.Cut(val, " ")
			idx, _ := strconv.Atoi(is)
			if k == "mnemonic" {
				v.mnemonics[idx] = rest
			} else {
				v.secretKey[idx], _ = hex.DecodeString(rest)
			}
		}
	}
	return v
}

func TestGlassVectors(t *testing.T) {
	if *update {
		os.MkdirAll(glassVectorDir, 0o755)
		for i, s := range glassVectorSpecs {
			if err := os.WriteFile(filepath.Join(glassVectorDir, s.name+".txt"), makeGlassVector(t, i), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(glassVectorDir, "*.txt"))
	if len(files) != len(glassVectorSpecs) {
		t.Fatalf("found %d vectors, want %d (go test -run TestGlassVectors -update)", len(files), len(glassVectorSpecs))
	}
	for i, s := range glassVectorSpecs {
		t.Run(s.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(glassVectorDir, s.name+".txt"))
			if err != nil {
				t.Fatal(err)
			}
			// Way 1: rebuilt byte for byte from its inputs.
			if got := makeGlassVector(t, i); !bytes.Equal(got, raw) {
				t.Errorf("the regenerated vector differs")
			}
			// Way 2: read it, with only what the vector records.
			v := parseGlassVector(t, raw)
			err = openVector(t, v)
			switch v.fields["expect"][0] {
			case "success":
				if err != nil {
					t.Fatal(err)
				}
				checkIndependent(t, v)
			case "damaged":
				if !errors.Is(err, ErrDamaged) {
					t.Fatalf("got %v, want ErrDamaged", err)
				}
			case "other file":
				if !errors.Is(err, ErrOtherFile) {
					t.Fatalf("got %v, want ErrOtherFile", err)
				}
			case "header mac":
				if !errors.Is(err, ErrHeaderMAC) {
					t.Fatalf("got %v, want ErrHeaderMAC", err)
				}
			case "payload":
				var fe *FormatError
				if err == nil || errors.As(err, &fe) && !strings.Contains(err.Error(), "payload") {
					t.Fatalf("got %v, want a payload error", err)
				}
			default:
				t.Fatalf("unknown expect %q", v.fields["expect"][0])
			}
		})
	}
}

// openVector unseals a vector with its recorded keys and mnemonics, and
// compares the plaintext with the recorded secret.
func openVector(t *testing.T, v *glassVector) error {
	f, err := Parse(bytes.NewReader(v.file))
	if err != nil {
		return err
	}
	u := f.NewUnseal()
	for idx, k := range v.secretKey {
		kx, err := p256Key(k)
		if err != nil {
			t.Fatal(err)
		}
		got, err := u.Tap(kx)
		if err != nil {
			return err
		}
		if got != idx {
			t.Fatalf("custodian %d tapped as %d", idx, got)
		}
	}
	for _, m := range v.mnemonics {
		if _, err := u.AddMnemonic(m); err != nil {
			return err
		}
	}
	r, err := u.Open()
	if err != nil {
		return err
	}
	got, err := io.ReadAll(r)
	if err != nil {
		if len(got) != 0 {
			t.Fatalf("plaintext released before an error")
		}
		return err
	}
	want, _ := strconv.Unquote(v.fields["secret"][0])
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	return nil
}

// checkIndependent walks the recovery path of docs/format-glass.md without
// Unseal: each token share is an armored age file that age decrypts with a
// p256tag identity; its plaintext carries a SLIP-0039 mnemonic; SLIP-0039
// combines the mnemonics into the scalar; its AGE-SECRET-KEY-1 encoding
// decrypts the armored payload with age's own armor reader.
func checkIndependent(t *testing.T, v *glassVector) {
	text := string(v.file)
	var mnemonics []string
	for idx, k := range v.secretKey {
		start := strings.Index(text, fmt.Sprintf("share: %d\n", idx))
		block := text[start+strings.Index(text[start:], "\n")+1:]
		block = block[:strings.Index(block, armor.Footer)+len(armor.Footer)+1]
		kx, _ := p256Key(k)
		id, _ := NewTagIdentity(kx)
		r, err := age.Decrypt(armor.NewReader(strings.NewReader(block)), id)
		if err != nil {
			t.Fatal(err)
		}
		pt, _ := io.ReadAll(r)
		_, m, ok := strings.Cut(string(pt), "\nmnemonic: ")
		if !ok {
			t.Fatalf("share plaintext has no mnemonic line")
		}
		mnemonics = append(mnemonics, strings.TrimSuffix(m, "\n"))
	}
	for _, m := range v.mnemonics {
		mnemonics = append(mnemonics, m)
	}
	var shares []slip39.Share
	for _, m := range mnemonics {
		s, err := slip39.ParseMnemonic(m)
		if err != nil {
			t.Fatal(err)
		}
		shares = append(shares, s)
	}
	scalar, err := slip39.Combine(shares, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := IdentityString(scalar)
	ids, err := age.ParseIdentities(strings.NewReader(strings.ToUpper(key) + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	payload := text[strings.Index(text, blockEnd)+len(blockEnd)+1:]
	r, err := age.Decrypt(armor.NewReader(strings.NewReader(payload)), ids...)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	want, _ := strconv.Unquote(v.fields["secret"][0])
	if string(got) != want {
		t.Fatalf("independent path: got %q", got)
	}
}
