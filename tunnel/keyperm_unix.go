//go:build unix

package tunnel

import (
	"os"
	"syscall"
)

// checkKeyPermissions refuses a key file of the current user that group or
// others may access, as OpenSSH does. A file owned by someone else is left
// alone (ssh checks only the user's own files).
func checkKeyPermissions(path string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	return &UnprotectedKeyError{Path: path, Mode: fi.Mode().Perm()}
}
