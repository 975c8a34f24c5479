//go:build unix

package sshconfig

import (
	"io/fs"
	"syscall"
)

// fileOwner returns the uid owning a file, for OpenSSH's check that a user
// config is not writable by others.
func fileOwner(st fs.FileInfo) (int, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(sys.Uid), true
}
