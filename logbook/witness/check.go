package witness

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/breakglass/breakglass/logbook"
)

// A Status says how far the witnesses have cosigned a logbook.
type Status struct {
	Size      int64 // entries in the logbook
	Quorum    int   // cosignatures needed (0 without a witnesses file)
	Witnesses []WitnessStatus

	// Witnessed is the number of entries, counting from entry 0, that at
	// least Quorum witnesses have cosigned: each of them cosigned a
	// checkpoint of at least that size, consistent with the logbook.
	Witnessed int64
	// By names the witnesses whose cosigned checkpoints cover Witnessed
	// entries (at least Quorum of them when Witnessed > 0).
	By []string

	// Latest is the newest cosigned checkpoint, with its signature and
	// cosignature lines, or nil.
	Latest []byte
	// Ignored says what in the cosigned file no witness of the witnesses
	// file vouches for (a checkpoint whose cosignatures are all by unknown
	// keys, such as a witness since removed).
	Ignored []string
}

// A WitnessStatus is what one witness has cosigned.
type WitnessStatus struct {
	Name string
	Size int64     // entries covered by its newest cosigned checkpoint; 0 for none
	Time time.Time // when it cosigned that checkpoint
}

// An InconsistentError is a cosigned checkpoint that the logbook does not
// extend: history was rewritten or removed after it was witnessed.
type InconsistentError struct {
	Size      int64    // the cosigned checkpoint's size
	Have      int64    // the logbook's size
	Witnesses []string // who cosigned it
}

func (e *InconsistentError) Error() string {
	who := strings.Join(e.Witnesses, ", ")
	if e.Size > e.Have {
		return fmt.Sprintf("logbook: witnesses (%s) cosigned a checkpoint of %d entries, but the logbook holds only %d: entries %d–%d were removed after they were witnessed",
			who, e.Size, e.Have, e.Have, e.Size-1)
	}
	return fmt.Sprintf("logbook: witnesses (%s) cosigned a checkpoint of %d entries that entries 0–%d of the logbook do not match: the logbook was rewritten after it was witnessed",
		who, e.Size, e.Size-1)
}

// A BadCosignatureError is a cosignature, by a witness of the witnesses
// file, that does not verify.
type BadCosignatureError struct {
	Witness string
	Size    int64
}

func (e *BadCosignatureError) Error() string {
	return fmt.Sprintf("logbook: the cosignature by %s on the checkpoint of size %d does not verify (the cosigned file was edited)", e.Witness, e.Size)
}

// Check reads the cosigned file of l (whose directory is logDir) and says
// how far the witnesses of cfg have cosigned it. cfg may be nil (no
// witnesses file): the checkpoints are still checked against the logbook.
//
// Every cosigned checkpoint that a witness of cfg vouches for must be
// consistent with l: its size at most l's, and its root hash that of l's
// first entries. Otherwise Check returns an *InconsistentError. A cosignature
// by a witness of cfg that does not verify is a *BadCosignatureError; a
// cosigned file that does not parse is a *CosignedFileError.
func Check(l *logbook.Log, logDir string, cfg *Config) (*Status, error) {
	st := &Status{Size: l.Size()}
	if cfg != nil {
		st.Quorum = cfg.Quorum
		for _, w := range cfg.Witnesses {
			st.Witnesses = append(st.Witnesses, WitnessStatus{Name: w.Name})
		}
	}
	notes, err := readCosigned(logDir, l.Origin())
	if err != nil {
		return nil, err
	}
	vs := cfg.Verifiers()
	for _, n := range notes {
		opened, err := note.Open(n.bytes(), vs)
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			st.Ignored = append(st.Ignored, fmt.Sprintf("the checkpoint of size %d is cosigned by no witness of the witnesses file", n.ckpt.N))
			continue
		case errors.As(err, &invalid):
			return nil, &BadCosignatureError{Witness: invalid.Name, Size: n.ckpt.N}
		case err != nil:
			return nil, &CosignedFileError{Path: CosignedFile, Msg: fmt.Sprintf("the checkpoint of size %d: %v", n.ckpt.N, err)}
		}
		var who []string
		for _, s := range opened.Sigs {
			who = append(who, s.Name)
			t, _ := Timestamp(s)
			for i := range st.Witnesses {
				ws := &st.Witnesses[i]
				if ws.Name == s.Name && n.ckpt.N >= ws.Size {
					ws.Size, ws.Time = n.ckpt.N, t
				}
			}
		}
		if n.ckpt.N > l.Size() {
			// Another process may have appended (and cosigned) since l
			// was read: catch up before calling it a removal.
			if err := l.Refresh(); err != nil {
				return nil, err
			}
			st.Size = l.Size()
		}
		if n.ckpt.N > l.Size() {
			return nil, &InconsistentError{Size: n.ckpt.N, Have: l.Size(), Witnesses: who}
		}
		h, err := l.TreeHash(n.ckpt.N)
		if err != nil {
			return nil, err
		}
		if h != n.ckpt.Hash {
			return nil, &InconsistentError{Size: n.ckpt.N, Have: l.Size(), Witnesses: who}
		}
		st.Latest = n.bytes()
	}
	if st.Quorum > 0 {
		sizes := make([]int64, 0, len(st.Witnesses))
		for _, w := range st.Witnesses {
			sizes = append(sizes, w.Size)
		}
		slices.Sort(sizes)
		slices.Reverse(sizes)
		st.Witnessed = sizes[st.Quorum-1]
		if st.Witnessed > 0 {
			for _, w := range st.Witnesses {
				if w.Size >= st.Witnessed {
					st.By = append(st.By, w.Name)
				}
			}
		}
	}
	return st, nil
}

// Summary is one line saying how far the quorum has witnessed the logbook,
// e.g. "entries 0–41 cosigned by 2 of 3 witnesses (quorum 2); 42–44 not
// yet".
func (st *Status) Summary() string {
	if st.Quorum == 0 {
		return "no witnesses file: the logbook is not witnessed"
	}
	of := fmt.Sprintf("%d of %d witnesses (quorum %d)", len(st.By), len(st.Witnesses), st.Quorum)
	switch {
	case st.Size == 0:
		return "the logbook is empty: nothing to witness"
	case st.Witnessed == 0:
		return fmt.Sprintf("no entry is cosigned by a quorum of %d of %d witnesses yet; %s not yet", st.Quorum, len(st.Witnesses), Span(0, st.Size))
	case st.Witnessed == st.Size:
		return fmt.Sprintf("%s cosigned by %s", Span(0, st.Size), of)
	}
	return fmt.Sprintf("%s cosigned by %s; %s not yet", Span(0, st.Witnessed), of, strings.TrimPrefix(strings.TrimPrefix(Span(st.Witnessed, st.Size), "entries "), "entry "))
}

// Span names the entries lo … hi−1: "entry 4" or "entries 0–41".
func Span(lo, hi int64) string {
	if hi-lo == 1 {
		return fmt.Sprintf("entry %d", lo)
	}
	return fmt.Sprintf("entries %d–%d", lo, hi-1)
}
