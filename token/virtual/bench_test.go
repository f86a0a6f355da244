package virtual_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/breakglass/breakglass/token/virtual/vcardtest"
)

// BenchmarkECDHRoundTrip measures one ECDH GENERAL AUTHENTICATE through
// pcscd and vpcd with touch auto and PIN policy never: the per-tap overhead.
func BenchmarkECDHRoundTrip(b *testing.B) {
	c := vcardtest.Start(b, 1)[0]
	yk := c.Open(b)
	key := piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyAlways}
	pub, err := yk.GenerateKey(piv.DefaultManagementKey, piv.SlotKeyManagement, key)
	if err != nil {
		b.Fatal(err)
	}
	priv, err := yk.PrivateKey(piv.SlotKeyManagement, pub, piv.KeyAuth{})
	if err != nil {
		b.Fatal(err)
	}
	k := priv.(*piv.ECDSAPrivateKey)
	peer, _ := ecdh.P256().GenerateKey(rand.Reader)
	b.ResetTimer()
	for b.Loop() {
		if _, err := k.ECDH(peer.PublicKey()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStartup measures starting a card with fresh state until piv-go
// can open it and read its serial number.
func BenchmarkStartup(b *testing.B) {
	for b.Loop() {
		c := vcardtest.Start(b, 1)[0]
		b.StopTimer()
		c.Close()
		b.StartTimer()
	}
}
