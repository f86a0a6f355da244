package slip39_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/breakglass/breakglass/seal/internal/slip39"
)

// Two of three groups: "security" (2 of 3 members), "platform" (1 of 1) and
// "backup" (1 of 1). Shares arrive one at a time, as taps do during an
// unseal.
func Example() {
	secret := bytes.Repeat([]byte{0x42}, 32)
	groups, err := slip39.Generate(nil, secret, nil, 2,
		[]slip39.GroupSpec{{Threshold: 2, Count: 3}, {Threshold: 1, Count: 1}, {Threshold: 1, Count: 1}}, 0)
	if err != nil {
		log.Fatal(err)
	}
	security, platform := groups[0], groups[1]

	var have []slip39.Share
	for _, s := range []slip39.Share{security[2], platform[0], security[0]} {
		have = append(have, s)
		st, err := slip39.Progress(have)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%d shares: %d of %d groups complete", len(have), st.CompleteGroups, st.GroupThreshold)
		for _, g := range st.Groups {
			if !g.Complete() {
				fmt.Printf("; group %d needs %d more", g.Index+1, g.Needed())
			}
		}
		fmt.Println()
		if st.Complete() {
			got, err := slip39.Combine(have, nil)
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println("recovered:", bytes.Equal(got, secret))
		}
	}
	// Output:
	// 1 shares: 0 of 2 groups complete; group 1 needs 1 more
	// 2 shares: 1 of 2 groups complete; group 1 needs 1 more
	// 3 shares: 2 of 2 groups complete
	// recovered: true
}
