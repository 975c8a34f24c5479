package sshconfig

import (
	"path/filepath"
	"slices"
	"strings"
)

// OpenSSH's defaults in one place: Resolve fills them in as ssh -G does, and
// tunnel falls back on them for a Host built by hand (tests, the demo).
const (
	// DefaultPort is ssh's Port when none is configured.
	DefaultPort = 22
	// DefaultServerAliveCountMax is ssh's ServerAliveCountMax.
	DefaultServerAliveCountMax = 3
)

// defaultIdentityFiles are added, in this order, when no identity is
// configured (OpenSSH 9.2 fill_default_options).
var defaultIdentityFiles = []string{
	"~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ecdsa_sk", "~/.ssh/id_ed25519",
	"~/.ssh/id_ed25519_sk", "~/.ssh/id_xmss", "~/.ssh/id_dsa",
}

// IsDefaultIdentity tells whether path, expanded, is one of
// ssh's default identity files: their absence is normal and not worth a warning.
func IsDefaultIdentity(path string) bool {
	if filepath.Base(filepath.Dir(path)) != ".ssh" {
		return false
	}
	return slices.ContainsFunc(defaultIdentityFiles, func(f string) bool {
		return strings.TrimPrefix(f, "~/.ssh/") == filepath.Base(path)
	})
}
