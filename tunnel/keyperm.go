package tunnel

import (
	"fmt"
	"io/fs"
)

// UnprotectedKeyError is a private key file that group or others can read.
// OpenSSH ignores such a key (authfile.c sshkey_perm_ok): whoever could read it
// can log in as its owner, so using it would hide the leak.
type UnprotectedKeyError struct {
	Path string
	Mode fs.FileMode // permission bits
}

func (e *UnprotectedKeyError) Error() string {
	return fmt.Sprintf("UNPROTECTED PRIVATE KEY FILE! permissions %#o for '%s' are too open: "+
		"private key files must not be accessible by others; this private key is ignored", e.Mode.Perm(), e.Path)
}
