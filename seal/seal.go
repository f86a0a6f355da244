package seal

import (
	"bufio"
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	"filippo.io/age/tag"

	"github.com/breakglass/breakglass/seal/internal/bech32"
	"github.com/breakglass/breakglass/seal/internal/slip39"
)

// iterationExp is the SLIP-0039 iteration exponent of new shares. The
// passphrase is empty (the tokens protect the shares), so the PBKDF2 work
// buys nothing and is kept at the minimum.
const iterationExp = 0

// macLabel is the HKDF info of the header MAC key.
const macLabel = "breakglass glass v1 header mac"

// Params describe a secret to seal.
type Params struct {
	Name     string   // the secret's name, e.g. "prod-aws"
	Scope    string   // optional, e.g. "aws:123456789012:role/breakglass"
	UseCases []string // permitted use cases
	KeyID    string   // optional non-secret id of the secret, e.g. an access key id
	SealedBy string   // who seals

	// CreatedAt defaults to the current time; it is recorded to the second.
	CreatedAt time.Time

	// Either Custodians and Threshold (a single group, named "custodians"),
	// or Groups and GroupThreshold.
	Custodians     []Custodian
	Threshold      int
	Groups         []Group
	GroupThreshold int

	// BinaryPayload writes the payload as a binary age file instead of
	// armoring it. The sealed block stays text; the file is no longer
	// printable, but large secrets seal and unseal as fast as age alone.
	BinaryPayload bool
}

// A PaperShare is a paper custodian's share, to print and hand over. It is
// secret; breakglass keeps only its commitment.
type PaperShare struct {
	Index     int
	Custodian string
	Mnemonic  string
}

// Sealed describes a freshly written .glass file.
type Sealed struct {
	HeaderHash [32]byte // H, for the logbook's seal entry
	Header     *Header
	Paper      []PaperShare
}

func (p *Params) header(created time.Time) (*Header, error) {
	h := &Header{
		Name:      p.Name,
		Scope:     p.Scope,
		UseCases:  append([]string(nil), p.UseCases...),
		KeyID:     p.KeyID,
		CreatedAt: created.UTC().Truncate(time.Second),
		SealedBy:  p.SealedBy,
	}
	switch {
	case len(p.Groups) > 0 && len(p.Custodians) > 0:
		return nil, errors.New("seal: give either Custodians or Groups, not both")
	case len(p.Groups) > 0:
		h.GroupThreshold = p.GroupThreshold
		for _, g := range p.Groups {
			h.Groups = append(h.Groups, Group{Name: g.Name, Threshold: g.Threshold,
				Custodians: append([]Custodian(nil), g.Custodians...)})
		}
	default:
		h.GroupThreshold = 1
		h.Groups = []Group{{Name: "custodians", Threshold: p.Threshold,
			Custodians: append([]Custodian(nil), p.Custodians...)}}
	}
	return h, nil
}

// Seal encrypts secret to a fresh age X25519 identity, splits the identity
// into SLIP-0039 shares as p describes, wraps each token custodian's share
// to their token, and writes the .glass file to w. The payload streams:
// memory use does not grow with the secret's size.
//
// rand supplies the identity, the seal id and the SLIP-0039 randomness (nil
// means crypto/rand); age itself draws from crypto/rand. On error, w may
// hold a partial file: write to a temporary file and rename it.
func Seal(w io.Writer, secret io.Reader, p Params, rand io.Reader) (*Sealed, error) {
	return seal(w, secret, p, rand, nil)
}

func seal(w io.Writer, secret io.Reader, p Params, rnd io.Reader, previous []byte) (*Sealed, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	created := p.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	h, err := p.header(created)
	if err != nil {
		return nil, err
	}
	h.Previous = previous
	scalar := make([]byte, 32)
	defer clear(scalar)
	if _, err := io.ReadFull(rnd, scalar); err != nil {
		return nil, fmt.Errorf("seal: reading randomness: %w", err)
	}
	if _, err := io.ReadFull(rnd, h.SealID[:]); err != nil {
		return nil, fmt.Errorf("seal: reading randomness: %w", err)
	}
	id, err := x25519Identity(scalar)
	if err != nil {
		return nil, err
	}
	h.Recipient = id.Recipient().String()
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("seal: %v", err)
	}
	src := bufio.NewReaderSize(secret, 64<<10)
	if _, err := src.Peek(1); err == io.EOF {
		return nil, ErrEmptySecret
	} else if err != nil {
		return nil, fmt.Errorf("seal: reading the secret: %w", err)
	}

	mnemonics, err := split(rnd, scalar, h)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, m := range mnemonics {
			clear(m)
		}
	}()
	var paper []PaperShare
	cs := h.Custodians()
	idx := 0
	for gi := range h.Groups {
		for mi := range h.Groups[gi].Custodians {
			h.Groups[gi].Custodians[mi].commitment = commitment(h.SealID, idx, mnemonics[idx])
			if cs[idx].Paper() {
				paper = append(paper, PaperShare{Index: idx, Custodian: cs[idx].Name, Mnemonic: string(mnemonics[idx])})
			}
			idx++
		}
	}
	text, err := h.marshal()
	if err != nil {
		return nil, fmt.Errorf("seal: %v", err)
	}
	H := sha256.Sum256(text)

	shares := map[int][]byte{}
	for idx, c := range cs {
		if c.Paper() {
			continue
		}
		r, err := tag.ParseRecipient(c.Recipient)
		if err != nil {
			return nil, fmt.Errorf("seal: custodian %s: %v", c.Name, err)
		}
		pt := (&sharePlaintext{headerHash: H, index: idx, mnemonic: mnemonics[idx]}).marshal()
		var b bytes.Buffer
		aw, err := age.Encrypt(&b, r)
		if err == nil {
			_, err = aw.Write(pt)
		}
		if err == nil {
			err = aw.Close()
		}
		clear(pt)
		if err != nil {
			return nil, fmt.Errorf("seal: wrapping the share of %s: %v", c.Name, err)
		}
		shares[idx] = b.Bytes()
	}
	mac, err := headerMAC(scalar, h.SealID, H)
	if err != nil {
		return nil, err
	}
	block, err := appendBlock(h, shares, mac)
	if err != nil {
		return nil, fmt.Errorf("seal: %v", err)
	}
	// age's armor writer emits one short Write per line: buffer them.
	bw := bufio.NewWriterSize(w, 64<<10)
	if _, err := bw.Write(block); err != nil {
		return nil, err
	}
	var aw io.WriteCloser
	if p.BinaryPayload {
		// age writes whole chunks (64 KiB and its tag): they go straight
		// to w, past bw and past w's own buffer if it has one (flushed
		// here, so that it is empty and passes them on), saving a copy.
		if err := bw.Flush(); err != nil {
			return nil, err
		}
		if fw, ok := w.(interface{ Flush() error }); ok {
			if err := fw.Flush(); err != nil {
				return nil, err
			}
		}
		aw = nopCloser{w}
	} else {
		aw = armor.NewWriter(bw)
	}
	ew, err := age.Encrypt(aw, id.Recipient())
	if err != nil {
		return nil, fmt.Errorf("seal: %v", err)
	}
	if err := copySecret(ew, src); err != nil {
		return nil, fmt.Errorf("seal: encrypting the secret: %w", err)
	}
	if err := ew.Close(); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return &Sealed{HeaderHash: H, Header: h, Paper: paper}, nil
}

// secretBlock is how much of the secret copySecret reads at a time: two
// of age's chunks, small enough to stay in the CPU's cache (1 MiB blocks
// measured slower).
const secretBlock = 128 << 10

// copySecret copies the secret from src to age in blocks of secretBlock,
// read straight from the source when src's buffer is empty, rather than
// through io.Copy's 32 KiB buffer. The buffer is wiped.
func copySecret(dst io.Writer, src *bufio.Reader) error {
	buf := make([]byte, secretBlock)
	defer clear(buf)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// x25519Identity turns a 32-byte scalar into an age X25519 identity, the
// way `age -d` would read it from an AGE-SECRET-KEY-1… line.
func x25519Identity(scalar []byte) (*age.X25519Identity, error) {
	s, err := bech32.Encode("AGE-SECRET-KEY-", scalar)
	if err != nil {
		return nil, fmt.Errorf("seal: %v", err)
	}
	id, err := age.ParseX25519Identity(s)
	if err != nil {
		return nil, fmt.Errorf("seal: %v", err)
	}
	return id, nil
}

// IdentityString returns the AGE-SECRET-KEY-1… encoding of a reconstructed
// scalar, for the recovery path (stock age -d -i). The string is secret.
func IdentityString(scalar []byte) (string, error) {
	if len(scalar) != 32 {
		return "", errors.New("seal: an X25519 identity is 32 bytes")
	}
	return bech32.Encode("AGE-SECRET-KEY-", scalar)
}

// headerMAC is HMAC-SHA-256 keyed with HKDF-SHA-256(scalar, seal-id, label),
// over H.
func headerMAC(scalar []byte, sealID [16]byte, H [32]byte) ([32]byte, error) {
	var out [32]byte
	key, err := hkdf.Key(sha256.New, scalar, sealID[:], macLabel, 32)
	if err != nil {
		return out, fmt.Errorf("seal: %v", err)
	}
	defer clear(key)
	m := hmac.New(sha256.New, key)
	m.Write(H[:])
	m.Sum(out[:0])
	return out, nil
}

// split returns one mnemonic per custodian, in roster order. A group of
// threshold 1 gets a single SLIP-0039 member share that each of its
// custodians holds (SLIP-0039 allows no 1-of-n group).
func split(rnd io.Reader, scalar []byte, h *Header) ([][]byte, error) {
	specs := make([]slip39.GroupSpec, len(h.Groups))
	for i, g := range h.Groups {
		specs[i] = slip39.GroupSpec{Threshold: g.Threshold, Count: len(g.Custodians)}
		if g.Threshold == 1 {
			specs[i].Count = 1
		}
	}
	groups, err := slip39.Generate(rnd, scalar, nil, h.GroupThreshold, specs, iterationExp)
	if err != nil {
		return nil, fmt.Errorf("seal: splitting the identity: %w", err)
	}
	var out [][]byte
	for gi, g := range h.Groups {
		for mi := range g.Custodians {
			s := groups[gi][0]
			if g.Threshold > 1 {
				s = groups[gi][mi]
			}
			out = append(out, s.AppendMnemonic(nil))
		}
	}
	for _, g := range groups {
		for _, s := range g {
			s.Wipe()
		}
	}
	return out, nil
}
