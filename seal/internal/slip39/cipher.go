package slip39

import (
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// baseIterations is the PBKDF2 iteration count of one Feistel round at
// iteration exponent 0; round counts double with each step of the exponent.
const baseIterations = 2500

// rounds is the number of Feistel rounds.
const rounds = 4

// encrypt turns a master secret into the encrypted master secret that is
// split, with a 4-round Feistel network whose round function is PBKDF2.
func encrypt(masterSecret, passphrase []byte, exp uint8, id uint16, extendable bool) ([]byte, error) {
	return feistel(masterSecret, passphrase, exp, id, extendable, [rounds]byte{0, 1, 2, 3})
}

// decrypt inverts encrypt. A wrong passphrase gives a different secret, not
// an error: SLIP-0039 has no way to tell.
func decrypt(ems, passphrase []byte, exp uint8, id uint16, extendable bool) ([]byte, error) {
	return feistel(ems, passphrase, exp, id, extendable, [rounds]byte{3, 2, 1, 0})
}

// feistel runs the rounds in the given order on the halves (L, R) of in,
// each round mapping (L, R) to (R, L xor F(i, R)), and returns R ‖ L.
// Encryption and decryption differ only in the order of the round numbers.
func feistel(in, passphrase []byte, exp uint8, id uint16, extendable bool, order [rounds]byte) ([]byte, error) {
	half := len(in) / 2
	l, r := clone(in[:half]), clone(in[half:])
	defer wipe(l)
	defer wipe(r)

	// The salt is prefix ‖ R. The prefix binds the identifier when the
	// share set is not extendable.
	var prefix []byte
	if !extendable {
		prefix = binary.BigEndian.AppendUint16([]byte("shamir"), id)
	}
	salt := make([]byte, len(prefix)+half)
	copy(salt, prefix)
	defer wipe(salt)

	// The password is the round number followed by the passphrase. It
	// becomes a string for crypto/pbkdf2 and cannot be wiped; the passphrase
	// is not secret enough on its own to be worth a hand-written PBKDF2.
	password := make([]byte, 1+len(passphrase))
	copy(password[1:], passphrase)
	defer wipe(password)

	iterations := baseIterations << exp
	for _, round := range order {
		password[0] = round
		copy(salt[len(prefix):], r)
		f, err := pbkdf2.Key(sha256.New, string(password), salt, iterations, half)
		if err != nil {
			// Only FIPS 140-3 enforcement (GODEBUG=fips140=only refuses
			// outputs this short) can fail here.
			return nil, fmt.Errorf("slip39: PBKDF2: %w", err)
		}
		for k := range l {
			l[k] ^= f[k]
		}
		wipe(f)
		l, r = r, l
	}
	out := make([]byte, len(in))
	copy(out, r)
	copy(out[len(r):], l)
	return out, nil
}
