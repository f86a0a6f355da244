package seal

import (
	"bytes"
	"crypto/ecdh"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"

	"github.com/breakglass/breakglass/seal/internal/slip39"
)

// An Unseal collects shares one tap at a time. It is not safe for
// concurrent use. Call [Unseal.Wipe] when abandoning it.
type Unseal struct {
	f      *File
	shares map[int]slip39.Share // by custodian index
	wiped  bool
}

// NewUnseal starts collecting shares for f.
func (f *File) NewUnseal() *Unseal {
	return &Unseal{f: f, shares: map[int]slip39.Share{}}
}

func (u *Unseal) shareErr(idx int, err error) error { return u.f.shareErr(idx, err) }

// shareErr is a *ShareError for custodian idx.
func (f *File) shareErr(idx int, err error) error {
	name := ""
	if c, ok := f.Header.custodian(idx); ok {
		name = c.Name
	}
	return &ShareError{Index: idx, Custodian: name, Err: err}
}

// Custodian returns the index of the custodian whose token has public key
// pub, or an error wrapping ErrNotInRoster.
func (f *File) Custodian(pub *ecdh.PublicKey) (int, error) {
	r, err := TagRecipient(pub)
	if err != nil {
		return -1, &ShareError{Index: -1, Err: fmt.Errorf("%w: %v", ErrNotInRoster, err)}
	}
	s := r.String()
	for idx, c := range f.Header.Custodians() {
		if !c.Paper() && c.Recipient == s {
			return idx, nil
		}
	}
	return -1, &ShareError{Index: -1, Err: fmt.Errorf("%w (key %s)", ErrNotInRoster, s)}
}

// CanTap reports, without using any token, whether custodian idx's share
// would be taken now: nil, or an error wrapping ErrWiped, ErrAlreadyTapped
// or ErrGroupComplete. Call it before asking a custodian for their PIN.
func (u *Unseal) CanTap(idx int) error {
	if u.wiped {
		return ErrWiped
	}
	gi, _, ok := u.f.Header.position(idx)
	if !ok {
		return &ShareError{Index: idx, Err: fmt.Errorf("%w: no custodian %d", ErrNotInRoster, idx)}
	}
	if _, ok := u.shares[idx]; ok {
		return u.shareErr(idx, ErrAlreadyTapped)
	}
	p := u.Progress()
	if p.Complete {
		return u.shareErr(idx, ErrGroupComplete)
	}
	if p.Groups[gi].Complete {
		return u.shareErr(idx, ErrGroupComplete)
	}
	return nil
}

// Tap unwraps the share of the custodian who owns kx, a token's key
// agreement key, and returns that custodian's index. Before the token is
// used, Tap checks that its key is in the roster, that the custodian has
// not tapped yet, and that the share is still needed; after, that the share
// is bound to this file (H) and matches its commitment. Every error but a
// token failure is a [*ShareError] wrapping one of the Err values.
func (u *Unseal) Tap(kx ecdh.KeyExchanger) (int, error) {
	if u.wiped {
		return -1, ErrWiped
	}
	idx, err := u.f.tokenCustodian(kx)
	if err != nil {
		return -1, err
	}
	if err := u.CanTap(idx); err != nil {
		return idx, err
	}
	s, err := u.f.openShare(idx, kx)
	if err != nil {
		return idx, err
	}
	defer s.wipe()
	return idx, u.accept(idx, s.mnemonic)
}

// OpenShare unwraps, with one token, the share of the custodian who owns
// kx, and returns that custodian's index and the share plaintext exactly as
// sealed (what `age -d` prints for the share block; [ShareMnemonic] reads
// it). It is the custodian's side of a remote tap: the share leaves this
// process re-encrypted for the operator, so OpenShare makes every check
// [Unseal.Tap] makes before it hands the share out: the token's key is in
// the roster, the share is bound to this file (its header-hash line is H,
// not another secret's or an older version's) and to this custodian (its
// custodian line is idx), and it matches its commitment in the header.
// Errors are as Tap's. The caller wipes the plaintext.
func (f *File) OpenShare(kx ecdh.KeyExchanger) (int, []byte, error) {
	idx, err := f.tokenCustodian(kx)
	if err != nil {
		return -1, nil, err
	}
	s, err := f.openShare(idx, kx)
	if err != nil {
		return idx, nil, err
	}
	defer s.wipe()
	c, _ := f.Header.custodian(idx)
	want := commitment(f.Header.SealID, idx, s.mnemonic)
	if subtle.ConstantTimeCompare(want[:], c.commitment[:]) != 1 {
		return idx, nil, f.shareErr(idx, ErrBadShare)
	}
	return idx, s.marshal(), nil
}

// tokenCustodian finds the roster index of the token whose key is kx.
func (f *File) tokenCustodian(kx ecdh.KeyExchanger) (int, error) {
	if kx == nil || kx.Curve() != ecdh.P256() {
		return -1, &ShareError{Index: -1, Err: fmt.Errorf("%w: not a P-256 key", ErrNotInRoster)}
	}
	return f.Custodian(kx.PublicKey())
}

// openShare decrypts custodian idx's share block with kx and checks that
// the share names this file and this custodian. The caller wipes it.
func (f *File) openShare(idx int, kx ecdh.KeyExchanger) (*sharePlaintext, error) {
	id, err := NewTagIdentity(kx)
	if err != nil {
		return nil, f.shareErr(idx, err)
	}
	r, err := age.Decrypt(bytes.NewReader(f.shares[idx]), id)
	var pt []byte
	if err == nil {
		pt, err = io.ReadAll(io.LimitReader(r, 4096))
	}
	defer clear(pt)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.Is(err, age.ErrIncorrectIdentity) || errors.As(err, &nm) {
			return nil, f.shareErr(idx, ErrWrongToken)
		}
		return nil, f.shareErr(idx, fmt.Errorf("opening the share: %w", err))
	}
	s, err := parseSharePlaintext(pt)
	if err != nil {
		return nil, f.shareErr(idx, fmt.Errorf("%w: %v", ErrBadShare, err))
	}
	if s.headerHash != f.hash {
		s.wipe()
		if p := f.Header.Previous; p != nil && bytes.Equal(p, s.headerHash[:]) {
			return nil, f.shareErr(idx, ErrBeforeReseal)
		}
		return nil, f.shareErr(idx, ErrOtherFile)
	}
	if s.index != idx {
		s.wipe()
		return nil, f.shareErr(idx, fmt.Errorf("%w: it is marked for custodian %d", ErrBadShare, s.index))
	}
	return s, nil
}

// AddMnemonic adds a share typed in as a SLIP-0039 mnemonic: a paper
// custodian's, or a token custodian's share opened elsewhere (for example
// with age and the plugin). The custodian is found by commitment. It
// returns the custodian's index.
func (u *Unseal) AddMnemonic(mnemonic string) (int, error) {
	if u.wiped {
		return -1, ErrWiped
	}
	m := []byte(strings.Join(strings.Fields(strings.ToLower(mnemonic)), " "))
	defer clear(m)
	if !validMnemonicText(m) {
		return -1, &ShareError{Index: -1, Err: fmt.Errorf("%w: not a list of words", ErrUnknownMnemonic)}
	}
	h := u.f.Header
	idx := 0
	for _, g := range h.Groups {
		for _, c := range g.Custodians {
			want := commitment(h.SealID, idx, m)
			if subtle.ConstantTimeCompare(want[:], c.commitment[:]) == 1 {
				if _, ok := u.shares[idx]; ok && g.Threshold == 1 {
					// Members of a 1-of-n group hold the same share.
					idx++
					continue
				}
				if err := u.CanTap(idx); err != nil {
					return idx, err
				}
				return idx, u.accept(idx, m)
			}
			idx++
		}
	}
	if _, err := slip39.ParseMnemonic(string(m)); err != nil {
		return -1, &ShareError{Index: -1, Err: fmt.Errorf("%w: %w", ErrUnknownMnemonic, err)}
	}
	return -1, &ShareError{Index: -1, Err: ErrUnknownMnemonic}
}

// accept checks a mnemonic against custodian idx's commitment and the
// shares already in, and keeps it.
func (u *Unseal) accept(idx int, m []byte) error {
	c, _ := u.f.Header.custodian(idx)
	want := commitment(u.f.Header.SealID, idx, m)
	if subtle.ConstantTimeCompare(want[:], c.commitment[:]) != 1 {
		return u.shareErr(idx, ErrBadShare)
	}
	s, err := slip39.ParseMnemonic(string(m))
	if err != nil {
		return u.shareErr(idx, fmt.Errorf("%w: %w", ErrBadShare, err))
	}
	gi, mi, _ := u.f.Header.position(idx)
	if u.f.Header.Groups[gi].Threshold == 1 {
		mi = 0
	}
	if int(s.GroupIndex) != gi || int(s.MemberIndex) != mi || int(s.GroupCount) != len(u.f.Header.Groups) ||
		int(s.GroupThreshold) != u.f.Header.GroupThreshold {
		s.Wipe()
		return u.shareErr(idx, fmt.Errorf("%w: its SLIP-0039 indices do not fit the roster", ErrBadShare))
	}
	for _, o := range u.shares {
		if o.ID != s.ID {
			s.Wipe()
			return u.shareErr(idx, fmt.Errorf("%w: it is from another SLIP-0039 set", ErrBadShare))
		}
	}
	u.shares[idx] = s
	return nil
}

// Progress reports who has tapped and who is still needed.
type Progress struct {
	GroupThreshold int // groups needed
	GroupsComplete int
	Complete       bool // enough shares to open
	Groups         []GroupProgress
}

// GroupProgress is the state of one group.
type GroupProgress struct {
	Name      string
	Threshold int
	Have      int
	Complete  bool
	Tapped    []string // custodian names
	Waiting   []string // custodians who could still tap
}

// Needed returns how many more custodians of this group must tap.
func (g GroupProgress) Needed() int { return max(0, g.Threshold-g.Have) }

// Progress returns the current state of the unseal.
func (u *Unseal) Progress() Progress {
	h := u.f.Header
	p := Progress{GroupThreshold: h.GroupThreshold}
	idx := 0
	for _, g := range h.Groups {
		gp := GroupProgress{Name: g.Name, Threshold: g.Threshold}
		for _, c := range g.Custodians {
			if _, ok := u.shares[idx]; ok {
				gp.Have++
				gp.Tapped = append(gp.Tapped, c.Name)
			} else {
				gp.Waiting = append(gp.Waiting, c.Name)
			}
			idx++
		}
		gp.Have = min(gp.Have, g.Threshold)
		gp.Complete = gp.Have >= g.Threshold
		if gp.Complete {
			p.GroupsComplete++
			gp.Waiting = nil
		}
		p.Groups = append(p.Groups, gp)
	}
	p.Complete = p.GroupsComplete >= h.GroupThreshold
	return p
}

// combine reconstructs the identity's scalar from exactly GroupThreshold
// complete groups and checks it against the header's recipient and MAC.
func (u *Unseal) combine() ([]byte, *age.X25519Identity, error) {
	if u.wiped {
		return nil, nil, ErrWiped
	}
	p := u.Progress()
	if !p.Complete {
		return nil, nil, fmt.Errorf("%w: %d of %d groups complete", ErrNotEnoughShares, p.GroupsComplete, p.GroupThreshold)
	}
	h := u.f.Header
	var use []slip39.Share
	idx, groups := 0, 0
	for gi, g := range h.Groups {
		var in []slip39.Share
		for range g.Custodians {
			if s, ok := u.shares[idx]; ok && len(in) < g.Threshold {
				in = append(in, s)
			}
			idx++
		}
		if p.Groups[gi].Complete && groups < h.GroupThreshold {
			use = append(use, in...)
			groups++
		}
	}
	scalar, err := slip39.Combine(use, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrWrongIdentity, err)
	}
	if len(scalar) != 32 {
		clear(scalar)
		return nil, nil, ErrWrongIdentity
	}
	id, err := x25519Identity(scalar)
	if err != nil || id.Recipient().String() != h.Recipient {
		clear(scalar)
		return nil, nil, ErrWrongIdentity
	}
	mac, err := headerMAC(scalar, h.SealID, u.f.hash)
	if err != nil || !hmacEqual(mac, u.f.mac) {
		clear(scalar)
		return nil, nil, ErrHeaderMAC
	}
	return scalar, id, nil
}

func hmacEqual(a, b [32]byte) bool { return subtle.ConstantTimeCompare(a[:], b[:]) == 1 }

// Drill reconstructs the identity, checks that it derives the header's
// recipient and that the header MAC verifies, and wipes everything. Nothing
// is decrypted.
func (u *Unseal) Drill() error {
	scalar, _, err := u.combine()
	clear(scalar)
	u.Wipe()
	return err
}

// Open reconstructs and checks the identity (as Drill does), then returns
// the decrypted payload as a stream. The age header of the payload is
// verified before Open returns; the payload itself is authenticated chunk
// by chunk (64 KiB), so a reader must treat an error as "discard
// everything". Open can be called once; the shares are wiped.
func (u *Unseal) Open() (io.Reader, error) {
	if u.f.opened {
		return nil, errors.New("seal: the payload was already read")
	}
	scalar, id, err := u.combine()
	clear(scalar)
	u.Wipe()
	if err != nil {
		return nil, err
	}
	u.f.opened = true
	if at, ok := u.f.payload.(*io.SectionReader); ok {
		ra, size, err := age.DecryptReaderAt(at, at.Size(), id)
		if err != nil {
			return nil, fmt.Errorf("seal: opening the payload: %w", err)
		}
		return &plaintextAt{r: io.NewSectionReader(ra, 0, size)}, nil
	}
	r, err := age.Decrypt(u.f.payload, id)
	if err != nil {
		return nil, fmt.Errorf("seal: opening the payload: %w", err)
	}
	return r, nil
}

// plaintextBlock is how much plaintextAt decrypts per write in WriteTo:
// 16 of age's 64 KiB chunks.
const plaintextBlock = 1 << 20

// plaintextAt is the plaintext of a binary payload read with ReadAt (see
// sectionFrom). Its WriteTo, which io.Copy uses, hands the writer large
// blocks: few system calls, and a bufio.Writer passes them straight on.
type plaintextAt struct {
	r *io.SectionReader
}

func (p *plaintextAt) Read(b []byte) (int, error) { return p.r.Read(b) }

func (p *plaintextAt) WriteTo(w io.Writer) (int64, error) {
	buf := make([]byte, plaintextBlock)
	defer clear(buf)
	var n int64
	for {
		m, err := p.r.Read(buf)
		if m > 0 {
			k, werr := w.Write(buf[:m])
			n += int64(k)
			if werr != nil {
				return n, werr
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// Wipe forgets every share collected. The Unseal cannot be used afterwards.
func (u *Unseal) Wipe() {
	for k, s := range u.shares {
		s.Wipe()
		delete(u.shares, k)
	}
	u.wiped = true
}

// Reseal writes a new .glass file for the secret u opens, with a fresh
// identity and fresh shares for the roster in p. The new header records
// the old header hash, so old shares are named as such. u is used up.
func Reseal(w io.Writer, u *Unseal, p Params, rand io.Reader) (*Sealed, error) {
	r, err := u.Open()
	if err != nil {
		return nil, err
	}
	prev := u.f.hash
	return seal(w, r, p, rand, prev[:])
}
