package pkcs11

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
)

// Environment variables that say where PKCS#11 modules are.
const (
	// EnvModules holds extra module paths, separated by colons.
	EnvModules = "BREAKGLASS_PKCS11_MODULE"
	// EnvRegistry, when set, replaces the p11-kit registry directories
	// (colon-separated, lowest precedence first); set to the empty string,
	// it turns the registry off.
	EnvRegistry = "BREAKGLASS_P11KIT_DIRS"
)

// program is the name p11-kit's enable-in and disable-in keys know
// breakglass by.
const program = "breakglass"

// A Module is a PKCS#11 module found by [Discovery].
type Module struct {
	// Path is the library's path.
	Path string `json:"path"`
	// Source says where the module was named: "--module",
	// "BREAKGLASS_PKCS11_MODULE" or a p11-kit .module file.
	Source string `json:"source"`
}

// Discovery says where to look for PKCS#11 modules. The zero value finds
// nothing; [DefaultDiscovery] looks where p11-kit and the environment say.
type Discovery struct {
	// Explicit are module paths given on the command line; they come
	// first.
	Explicit []string
	// Env is the value of BREAKGLASS_PKCS11_MODULE: paths separated by
	// colons.
	Env string
	// RegistryDirs hold p11-kit *.module files, lowest precedence first: a
	// file in a later directory replaces the file of the same name in an
	// earlier one, as /etc/pkcs11/modules overrides
	// /usr/share/p11-kit/modules.
	RegistryDirs []string
	// LibDirs are where relative module: names are looked up, in order.
	LibDirs []string
}

// DefaultRegistryDirs are p11-kit's module registry directories: the
// packages' (system), the administrator's, and the user's.
func DefaultRegistryDirs() []string {
	dirs := []string{"/usr/share/p11-kit/modules", "/etc/pkcs11/modules"}
	if cfg, err := os.UserConfigDir(); err == nil {
		dirs = append(dirs, filepath.Join(cfg, "pkcs11", "modules"))
	}
	return dirs
}

// multiarch maps GOARCH to the Debian multiarch triplet of its library
// directory.
var multiarch = map[string]string{
	"amd64":   "x86_64-linux-gnu",
	"arm64":   "aarch64-linux-gnu",
	"386":     "i386-linux-gnu",
	"arm":     "arm-linux-gnueabihf",
	"ppc64le": "powerpc64le-linux-gnu",
	"s390x":   "s390x-linux-gnu",
	"riscv64": "riscv64-linux-gnu",
}

// DefaultLibDirs are the directories distributions build p11-kit to look
// up relative module names in: Debian's multiarch directory, Fedora's
// lib64, Arch's lib, and Homebrew's.
func DefaultLibDirs() []string {
	var dirs []string
	if t, ok := multiarch[runtime.GOARCH]; ok {
		dirs = append(dirs, "/usr/lib/"+t+"/pkcs11")
	}
	return append(dirs, "/usr/lib64/pkcs11", "/usr/lib/pkcs11", "/usr/local/lib/pkcs11", "/opt/homebrew/lib/pkcs11")
}

// DefaultDiscovery looks for the explicit modules, then those in
// BREAKGLASS_PKCS11_MODULE, then those registered with p11-kit (or in the
// directories BREAKGLASS_P11KIT_DIRS names).
func DefaultDiscovery(explicit []string) Discovery {
	d := Discovery{
		Explicit:     explicit,
		Env:          os.Getenv(EnvModules),
		RegistryDirs: DefaultRegistryDirs(),
		LibDirs:      DefaultLibDirs(),
	}
	if v, ok := os.LookupEnv(EnvRegistry); ok {
		d.RegistryDirs = filepath.SplitList(v)
	}
	return d
}

// Modules lists the modules d finds, each library once (by its resolved
// path), explicit ones first, then the environment's, then the registry's
// by file name. Problems with single entries (an unreadable or malformed
// .module file, one without a module: key) come back as warnings; the
// other entries are still listed. A listed module may still fail to load.
func (d Discovery) Modules() ([]Module, []error) {
	var (
		out      []Module
		warnings []error
		seen     = map[string]bool{}
	)
	add := func(path, source string) {
		key := path
		if p, err := filepath.EvalSymlinks(path); err == nil {
			key = p
		}
		if seen[key] {
			return
		}
		seen[key] = true
		out = append(out, Module{Path: path, Source: source})
	}
	for _, p := range d.Explicit {
		if p != "" {
			add(p, "--module")
		}
	}
	for _, p := range filepath.SplitList(d.Env) {
		if p != "" {
			add(p, EnvModules)
		}
	}
	files := map[string]string{} // name → file, the later directory winning
	for _, dir := range d.RegistryDirs {
		if dir == "" {
			continue
		}
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			warnings = append(warnings, fmt.Errorf("p11-kit module registry: %v", err))
			continue
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), ".module")
			if !ok || name == "" || e.IsDir() {
				continue
			}
			files[name] = filepath.Join(dir, e.Name())
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		file := files[n]
		b, err := os.ReadFile(file)
		if err != nil {
			warnings = append(warnings, fmt.Errorf("p11-kit module registry: %v", err))
			continue
		}
		cfg, err := ParseModuleConfig(b)
		if err != nil {
			warnings = append(warnings, fmt.Errorf("%s: %w", file, err))
			continue
		}
		path, use, err := d.resolve(cfg)
		if err != nil {
			warnings = append(warnings, fmt.Errorf("%s: %w", file, err))
			continue
		}
		if use {
			add(path, file)
		}
	}
	return out, warnings
}

// resolve says which library a registration names and whether breakglass
// should use it: not when disabled for breakglass, not for a remote module,
// and not for trust-policy modules (they hold certificate anchors, never
// keys).
func (d Discovery) resolve(cfg ModuleConfig) (path string, use bool, err error) {
	if list, ok := cfg["enable-in"]; ok && !slices.Contains(programList(list), program) {
		return "", false, nil
	}
	if slices.Contains(programList(cfg["disable-in"]), program) {
		return "", false, nil
	}
	if isTrue(cfg["trust-policy"]) {
		return "", false, nil
	}
	mod := cfg["module"]
	if mod == "" {
		if cfg["remote"] != "" {
			return "", false, nil
		}
		return "", false, errors.New(`no "module:" line`)
	}
	if filepath.IsAbs(mod) {
		return filepath.Clean(mod), true, nil
	}
	if strings.Contains(mod, "..") {
		return "", false, fmt.Errorf("module: %q leaves the module directory", mod)
	}
	for _, dir := range d.LibDirs {
		p := filepath.Join(dir, mod)
		if _, err := os.Stat(p); err == nil {
			return p, true, nil
		}
	}
	if len(d.LibDirs) == 0 {
		return "", false, fmt.Errorf("module: %q is relative and no module directory is known", mod)
	}
	// Not installed: report the first place it should have been.
	return filepath.Join(d.LibDirs[0], mod), true, nil
}

// programList splits a p11-kit program list ("firefox, thunderbird").
func programList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "yes", "true", "on", "1":
		return true
	}
	return false
}

// A ModuleConfig is the content of a p11-kit .module file: each key with
// its value.
type ModuleConfig map[string]string

// maxModuleConfig bounds a .module file; real ones are a few hundred bytes.
const maxModuleConfig = 64 << 10

// ParseModuleConfig parses a p11-kit module file, as p11-kit does: one
// "key: value" per line, both trimmed of surrounding white space, the value
// possibly empty; blank lines and lines starting with # are skipped; a later
// key replaces an earlier one. A line with no colon or an empty key makes
// the whole file invalid.
func ParseModuleConfig(b []byte) (ModuleConfig, error) {
	if len(b) > maxModuleConfig {
		return nil, fmt.Errorf("module file is %d bytes, more than %d", len(b), maxModuleConfig)
	}
	cfg := ModuleConfig{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), maxModuleConfig+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("line %d: not a \"key: value\" line", n)
		}
		cfg[k] = strings.TrimSpace(v)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Marshal writes cfg as a module file, keys sorted. It is the inverse of
// ParseModuleConfig for any configuration ParseModuleConfig returns.
func (cfg ModuleConfig) Marshal() []byte {
	keys := make([]string, 0, len(cfg))
	for k := range cfg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		b.WriteString(k)
		b.WriteString(":")
		if cfg[k] != "" {
			b.WriteString(" ")
			b.WriteString(cfg[k])
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}
