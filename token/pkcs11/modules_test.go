package pkcs11

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseModuleConfig(t *testing.T) {
	tests := []struct {
		name, in string
		want     ModuleConfig
		err      string
	}{
		{"debian opensc", "# This file describes how to load the opensc module\n# See: http://p11-glue.freedesktop.org/doc/p11-kit/config.html\nmodule: opensc-pkcs11.so\n",
			ModuleConfig{"module": "opensc-pkcs11.so"}, ""},
		{"blank lines, spaces, CRLF", "\n  module:   /usr/lib/x.so  \r\n\n\tcritical:yes\r\n",
			ModuleConfig{"module": "/usr/lib/x.so", "critical": "yes"}, ""},
		{"value with colons", "module: /opt/a:b.so\nx-note: a: b: c\n",
			ModuleConfig{"module": "/opt/a:b.so", "x-note": "a: b: c"}, ""},
		{"empty value", "enable-in:\n", ModuleConfig{"enable-in": ""}, ""},
		{"later key wins", "module: a.so\nmodule: b.so\n", ModuleConfig{"module": "b.so"}, ""},
		{"indented comment", "   # module: no.so\nmodule: yes.so", ModuleConfig{"module": "yes.so"}, ""},
		{"empty file", "", ModuleConfig{}, ""},
		{"no colon", "module: a.so\nmodule a.so\n", nil, "line 2: not a \"key: value\" line"},
		{"empty key", ": a.so\n", nil, "line 1: not a \"key: value\" line"},
		{"too big", strings.Repeat("#", maxModuleConfig+1), nil, "more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseModuleConfig([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				if got != nil {
					t.Fatalf("got %v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestModuleConfigMarshal(t *testing.T) {
	cfg := ModuleConfig{"module": "/usr/lib/x.so", "enable-in": "", "critical": "yes"}
	want := "critical: yes\nenable-in:\nmodule: /usr/lib/x.so\n"
	if got := string(cfg.Marshal()); got != want {
		t.Fatalf("Marshal = %q, want %q", got, want)
	}
}

// FuzzParseModuleConfig checks that whatever parses marshals to a file that
// parses to the same configuration, and marshals again to the same bytes.
func FuzzParseModuleConfig(f *testing.F) {
	f.Add([]byte("# comment\nmodule: opensc-pkcs11.so\n"))
	f.Add([]byte("module: /a:b.so\r\nenable-in: firefox, breakglass\n\ntrust-policy:yes"))
	f.Add([]byte("module a.so"))
	f.Add([]byte(" \t: x\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg, err := ParseModuleConfig(b)
		if err != nil {
			if cfg != nil {
				t.Fatalf("config %v with error %v", cfg, err)
			}
			return
		}
		out := cfg.Marshal()
		again, err := ParseModuleConfig(out)
		if err != nil {
			t.Fatalf("re-parsing %q: %v", out, err)
		}
		if !maps.Equal(cfg, again) {
			t.Fatalf("round trip: %v, then %v (via %q)", cfg, again, out)
		}
		if out2 := again.Marshal(); string(out2) != string(out) {
			t.Fatalf("marshal not stable: %q, then %q", out, out2)
		}
	})
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestDiscoveryModules(t *testing.T) {
	root := writeTree(t, map[string]string{
		"lib/pkcs11/opensc-pkcs11.so":   "",
		"lib/pkcs11/libykcs11.so":       "",
		"lib64/pkcs11/libykcs11.so":     "",
		"lib64/pkcs11/only-in-lib64.so": "",
		"vendor/libhsm.so":              "",
		"system/opensc-pkcs11.module":   "module: opensc-pkcs11.so\n",
		"system/ykcs11.module":          "module: libykcs11.so\n",
		"system/lib64.module":           "module: only-in-lib64.so\n",
		"system/hsm.module":             "module: /nonexistent/old-libhsm.so\n",
		"system/trust.module":           "module: p11-kit-trust.so\ntrust-policy: yes\n",
		"system/firefox.module":         "module: /x/firefox-only.so\nenable-in: firefox\n",
		"system/both.module":            "module: /x/both.so\nenable-in: firefox,breakglass\n",
		"system/off.module":             "module: /x/off.so\ndisable-in: seahorse, breakglass\n",
		"system/remote.module":          "remote: |ssh host p11-kit remote /x.so\n",
		"system/escape.module":          "module: ../../etc/evil.so\n",
		"system/missing.module":         "module: not-installed.so\n",
		"system/nokey.module":           "critical: yes\n",
		"system/bad.module":             "module\n",
		"system/notes.txt":              "module: /x/notes.so\n",
		"admin/hsm.module":              "", // written below
	})
	// The admin's file names the vendor library by absolute path.
	hsm := filepath.Join(root, "vendor/libhsm.so")
	if err := os.WriteFile(filepath.Join(root, "admin/hsm.module"), []byte("module: "+hsm+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A symlink to a listed library is the same module.
	link := filepath.Join(root, "link-to-hsm.so")
	if err := os.Symlink(hsm, link); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(root, "lib/pkcs11")
	lib64 := filepath.Join(root, "lib64/pkcs11")
	d := Discovery{
		Explicit:     []string{"/explicit/one.so", "", "/explicit/one.so"},
		Env:          "/env/two.so::" + link,
		RegistryDirs: []string{filepath.Join(root, "system"), filepath.Join(root, "nonexistent"), filepath.Join(root, "admin")},
		LibDirs:      []string{lib, lib64},
	}
	mods, warnings := d.Modules()
	want := []Module{
		{"/explicit/one.so", "--module"},
		{"/env/two.so", EnvModules},
		{link, EnvModules},
		{"/x/both.so", filepath.Join(root, "system/both.module")},
		// hsm.module: the admin's file wins, and its library is the one
		// already listed through the symlink.
		{filepath.Join(lib64, "only-in-lib64.so"), filepath.Join(root, "system/lib64.module")},
		{filepath.Join(lib, "not-installed.so"), filepath.Join(root, "system/missing.module")},
		{filepath.Join(lib, "opensc-pkcs11.so"), filepath.Join(root, "system/opensc-pkcs11.module")},
		{filepath.Join(lib, "libykcs11.so"), filepath.Join(root, "system/ykcs11.module")},
	}
	if !reflect.DeepEqual(mods, want) {
		t.Errorf("modules:\n got %v\nwant %v", mods, want)
	}
	var got []string
	for _, w := range warnings {
		got = append(got, strings.TrimPrefix(w.Error(), filepath.Join(root, "system")+"/"))
	}
	wantWarnings := []string{
		`bad.module: line 1: not a "key: value" line`,
		`escape.module: module: "../../etc/evil.so" leaves the module directory`,
		`nokey.module: no "module:" line`,
	}
	if !reflect.DeepEqual(got, wantWarnings) {
		t.Errorf("warnings:\n got %q\nwant %q", got, wantWarnings)
	}
}

func TestDiscoveryZeroFindsNothing(t *testing.T) {
	mods, warnings := Discovery{}.Modules()
	if len(mods) != 0 || len(warnings) != 0 {
		t.Fatalf("zero Discovery found %v, %v", mods, warnings)
	}
}

func TestDefaultDiscoveryEnv(t *testing.T) {
	t.Setenv(EnvModules, "/a.so:/b.so")
	t.Setenv(EnvRegistry, "/r1:/r2")
	d := DefaultDiscovery([]string{"/c.so"})
	if d.Env != "/a.so:/b.so" || !reflect.DeepEqual(d.Explicit, []string{"/c.so"}) || !reflect.DeepEqual(d.RegistryDirs, []string{"/r1", "/r2"}) {
		t.Fatalf("DefaultDiscovery = %+v", d)
	}
	if len(d.LibDirs) == 0 {
		t.Fatal("no module directory")
	}
	t.Setenv(EnvRegistry, "")
	if d := DefaultDiscovery(nil); len(d.RegistryDirs) != 0 {
		t.Fatalf("empty %s: registry dirs %q", EnvRegistry, d.RegistryDirs)
	}
	os.Unsetenv(EnvRegistry)
	if d := DefaultDiscovery(nil); !reflect.DeepEqual(d.RegistryDirs[:2], []string{"/usr/share/p11-kit/modules", "/etc/pkcs11/modules"}) {
		t.Fatalf("default registry dirs %q", d.RegistryDirs)
	}
}

// TestModulesFromRegistryLoad lists a SoftHSM2 token through a registry
// file, and reports a registered library that is not there as a load
// error, not a panic.
func TestModulesFromRegistryLoad(t *testing.T) {
	mod := softHSM(t, "carol")
	root := writeTree(t, map[string]string{
		"reg/softhsm2.module": "module: " + mod + "\n",
		"reg/gone.module":     "module: gone.so\n",
	})
	mods, warnings := Discovery{RegistryDirs: []string{filepath.Join(root, "reg")}, LibDirs: []string{filepath.Join(root, "lib")}}.Modules()
	if len(warnings) != 0 || len(mods) != 2 {
		t.Fatalf("modules %v, warnings %v", mods, warnings)
	}
	var labels []string
	for _, m := range mods {
		slots, err := Tokens(m.Path)
		if m.Path == mod {
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range slots {
				labels = append(labels, s.Info.Label)
			}
			continue
		}
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Tokens(%s): %v, want not exist", m.Path, err)
		}
	}
	if !reflect.DeepEqual(labels, []string{"carol"}) {
		t.Fatalf("labels %q", labels)
	}
}

func TestSlotOnReader(t *testing.T) {
	// Modules cut the reader name to 64 bytes; slotDescription drops the
	// padding, and with it a space at the cut.
	long := "Yubico YubiKey OTP+FIDO+CCID 00 00, a reader name too long for PKCS#11"
	spaced := strings.Repeat("r", 63) + " 01"
	tests := []struct {
		desc, reader string
		want         bool
	}{
		{"Yubico YubiKey Virtual PCD 8 00 01", "Yubico YubiKey Virtual PCD 8 00 01", true},
		{"Yubico YubiKey Virtual PCD 8 00 01", "Yubico YubiKey Virtual PCD 8 00 0", false},
		{"Yubico YubiKey Virtual PCD 8 00 0", "Yubico YubiKey Virtual PCD 8 00 01", false},
		{long[:64], long, true},
		{long[:63], long, false},
		{spaced[:63], spaced, true},
		{"SoftHSM slot ID 0x1", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		if got := (Slot{Description: tt.desc}).OnReader(tt.reader); got != tt.want {
			t.Errorf("Slot{%q}.OnReader(%q) = %v, want %v", tt.desc, tt.reader, got, tt.want)
		}
	}
}
