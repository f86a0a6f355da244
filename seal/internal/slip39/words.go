package slip39

import (
	_ "embed"
	"strings"
	"sync"
)

// wordlistText is the SLIP-0039 English word list: 1024 words, alphabetical,
// 4 to 8 letters, no two sharing their first four letters. It is the file
// slip-0039/wordlist.txt of satoshilabs/slips (identical to
// shamir_mnemonic/wordlist.txt of trezor/python-shamir-mnemonic), SHA-256
// bcc4555340332d169718aed8bf31dd9d5248cb7da6e5d355140ef4f1e601eec3; a test
// checks the hash.
//
//go:embed wordlist.txt
var wordlistText string

// radixBits is the number of bits one word carries.
const radixBits = 10

// maxWordLen is the length of the longest word in the list.
const maxWordLen = 8

// wordTables holds the word list and its reverse index, built on first use.
var wordTables = sync.OnceValues(func() ([]string, map[string]uint16) {
	list := strings.Fields(wordlistText)
	if len(list) != 1<<radixBits {
		panic("slip39: embedded word list has the wrong length")
	}
	index := make(map[string]uint16, len(list))
	for i, w := range list {
		index[w] = uint16(i)
	}
	return list, index
})

// wordAt returns the word for a 10-bit value.
func wordAt(v uint16) string {
	list, _ := wordTables()
	return list[v&(1<<radixBits-1)]
}

// wordIndex returns the value of a word given in lower case.
func wordIndex(w []byte) (uint16, bool) {
	_, index := wordTables()
	v, ok := index[string(w)]
	return v, ok
}
