package slip39

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	memory "github.com/breakglass/breakglass/internal/secret"
	"io"
)

// The x coordinates SLIP-0039 reserves for the digest and the secret itself.
const (
	digestX = 254
	secretX = 255
)

// digestLen is the length of the HMAC prefix in the digest share.
const digestLen = 4

// splitSecret splits secret into count shares, any threshold of which recover
// it, at x = 0 … count-1. With threshold 1 every share is the secret itself.
// Otherwise the polynomials pass through threshold-2 random shares at
// x = 0 … threshold-3, the digest share at 254 and the secret at 255. Random
// bytes are read in this order: the digest's random part (len(secret)-4
// bytes), then the random shares, x = 0 first.
func splitSecret(rand io.Reader, threshold, count int, secret []byte) ([][]byte, error) {
	if threshold < 1 || threshold > count || count > maxShares {
		return nil, fmt.Errorf("%w: threshold %d of %d shares", ErrParameters, threshold, count)
	}
	shares := make([][]byte, count)
	if threshold == 1 {
		for i := range shares {
			shares[i] = clone(secret)
		}
		return shares, nil
	}

	digest := make([]byte, len(secret))
	defer wipe(digest)
	if _, err := io.ReadFull(rand, digest[digestLen:]); err != nil {
		return nil, fmt.Errorf("reading randomness: %w", err)
	}
	sum := digestOf(digest[digestLen:], secret)
	copy(digest, sum[:digestLen])
	wipe(sum)

	base := make([]point, 0, threshold)
	for x := range threshold - 2 {
		y := make([]byte, len(secret))
		if _, err := io.ReadFull(rand, y); err != nil {
			wipeAll(shares)
			wipe(y)
			return nil, fmt.Errorf("reading randomness: %w", err)
		}
		shares[x] = y
		base = append(base, point{byte(x), y})
	}
	base = append(base, point{digestX, digest}, point{secretX, secret})
	for x := threshold - 2; x < count; x++ {
		shares[x] = interpolate(base, byte(x))
	}
	return shares, nil
}

// recoverSecret interpolates the secret from exactly threshold points and
// checks it against the digest share. The points must have distinct x and
// values of equal length.
func recoverSecret(threshold int, points []point) ([]byte, error) {
	if threshold == 1 {
		return clone(points[0].y), nil
	}
	secret := interpolate(points, secretX)
	digest := interpolate(points, digestX)
	defer wipe(digest)
	sum := digestOf(digest[digestLen:], secret)
	defer wipe(sum)
	if !hmac.Equal(sum[:digestLen], digest[:digestLen]) {
		wipe(secret)
		return nil, ErrDigest
	}
	return secret, nil
}

// digestOf returns HMAC-SHA256 keyed with the random part of a digest share
// over the secret.
func digestOf(key, secret []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(secret)
	return mac.Sum(nil)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// wipe overwrites b with zeros. It is best effort: the Go runtime may have
// copied the bytes elsewhere.
func wipe(b []byte) { memory.Wipe(b) }

func wipeAll(bs [][]byte) {
	for _, b := range bs {
		wipe(b)
	}
}
