package logbook

import (
	"errors"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"
)

// Helpers that extend golang.org/x/mod/sumdb/tlog.

var errTreeMismatch = errors.New("tree hashes differ")

// hashStore holds a tree's stored hashes (in tlog.StoredHashIndex order) in
// memory. A logbook of a million entries needs about 64 MB.
type hashStore struct {
	hashes []tlog.Hash
	n      int64 // records
}

// ReadHashes implements tlog.HashReader.
func (s *hashStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(s.hashes)) {
			return nil, fmt.Errorf("logbook: internal error: hash %d of %d not stored", x, len(s.hashes))
		}
		out[i] = s.hashes[x]
	}
	return out, nil
}

// add appends the record whose leaf hash is h.
func (s *hashStore) add(h tlog.Hash) error {
	hs, err := tlog.StoredHashesForRecordHash(s.n, h, s)
	if err != nil {
		return err
	}
	s.hashes = append(s.hashes, hs...)
	s.n++
	return nil
}

// root returns the tree hash of the first n records.
func (s *hashStore) root(n int64) (tlog.Hash, error) {
	return tlog.TreeHash(n, s)
}

// checkConsistent proves, with tlog.ProveTree and tlog.CheckTree, that the
// tree of the first old records, with hash oldHash, is a prefix of the tree
// of all n records, with hash newHash.
func (s *hashStore) checkConsistent(n int64, newHash tlog.Hash, old int64, oldHash tlog.Hash) error {
	if old == 0 || old == n {
		want := newHash
		if old == 0 {
			want, _ = tlog.TreeHash(0, s)
		}
		if oldHash != want {
			return errTreeMismatch
		}
		return nil
	}
	p, err := tlog.ProveTree(n, old, s)
	if err != nil {
		return err
	}
	return tlog.CheckTree(p, n, newHash, old, oldHash)
}

// TreeHash returns the RFC 6962 Merkle tree hash of the first n entries, for
// 0 ≤ n ≤ Size: what a checkpoint of size n must carry to be consistent with
// the logbook.
func (l *Log) TreeHash(n int64) (tlog.Hash, error) {
	if n < 0 || n > l.Size() {
		return tlog.Hash{}, fmt.Errorf("logbook: tree size %d out of range (the logbook holds %d entries)", n, l.Size())
	}
	return l.hashes.root(n)
}

// ProveConsistency returns the RFC 6962 consistency proof (tlog.ProveTree)
// from the tree of the first old entries to the whole logbook, as a witness
// asks for it (c2sp.org/tlog-witness). The proof is empty when old is 0 or
// Size.
func (l *Log) ProveConsistency(old int64) (tlog.TreeProof, error) {
	n := l.Size()
	if old < 0 || old > n {
		return nil, fmt.Errorf("logbook: consistency proof from size %d: the logbook holds %d entries", old, n)
	}
	if old == 0 || old == n {
		return tlog.TreeProof{}, nil
	}
	return tlog.ProveTree(n, old, l.hashes)
}
