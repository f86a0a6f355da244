package main

// age-plugin-bgtest is an age plugin for the tests alone: an independent
// plugin (made with age's own plugin framework, not breakglass's) whose
// recipients and identities wrap an ordinary X25519 key. With it the
// scripts show that an auditors file may hold plugin recipients
// (age1bgtest1…) and that replay, and stock age, read the recording with
// the plugin's identity (AGE-PLUGIN-BGTEST-1…), as issue #16 asks.

import (
	"flag"
	"os"

	"filippo.io/age"
	"filippo.io/age/plugin"
	"github.com/rogpeppe/go-internal/testscript"
)

// runTestAgePlugin is main for age-plugin-bgtest.
func runTestAgePlugin() int {
	p, err := plugin.New("bgtest")
	if err != nil {
		return 1
	}
	p.HandleRecipient(func(data []byte) (age.Recipient, error) {
		return age.ParseX25519Recipient(string(data))
	})
	p.HandleIdentity(func(data []byte) (age.Identity, error) {
		return age.ParseX25519Identity(string(data))
	})
	p.RegisterFlags(flag.NewFlagSet("age-plugin-bgtest", flag.ContinueOnError))
	return p.Main()
}

// bgtestKeysCmd is the script command bgtestkeys RECIPIENTS IDENTITY: a
// new key, its plugin recipient appended to RECIPIENTS and its plugin
// identity written to IDENTITY.
func bgtestKeysCmd(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: bgtestkeys RECIPIENTS IDENTITY")
	}
	id, err := age.GenerateX25519Identity()
	ts.Check(err)
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	ts.Check(err)
	_, err = f.WriteString(plugin.EncodeRecipient("bgtest", []byte(id.Recipient().String())) + "\n")
	ts.Check(err)
	ts.Check(f.Close())
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(plugin.EncodeIdentity("bgtest", []byte(id.String()))+"\n"), 0o600))
}
