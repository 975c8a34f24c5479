package sshconfig

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"strings"
)

// tokens maps the single-letter %-tokens of ssh_config(5) to their values.
type tokens map[byte]string

// expandTokens replaces %x tokens in s using t, and ${VAR} from the
// environment when env is set, in one pass like OpenSSH's
// percent_dollar_expand: "%%" is a literal "%", an unknown token, a
// trailing "%" or an unset variable is an error.
func expandTokens(s string, t tokens, env bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if env && c == '$' && i+1 < len(s) && s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", fmt.Errorf("environment variable %q missing closing '}'", s[i+2:])
			}
			name := s[i+2 : i+2+end]
			if name == "" {
				return "", fmt.Errorf("zero-length environment variable")
			}
			v, ok := os.LookupEnv(name)
			if !ok {
				return "", fmt.Errorf("env var ${%s} has no value", name)
			}
			b.WriteString(v)
			i += 2 + end
			continue
		}
		if c != '%' || t == nil {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", fmt.Errorf("invalid format %q: trailing %%", s)
		}
		if s[i] == '%' {
			b.WriteByte('%')
			continue
		}
		v, ok := t[s[i]]
		if !ok {
			return "", fmt.Errorf("unknown key %%%c in %q", s[i], s)
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// expandTilde expands a leading "~" or "~user" like OpenSSH's
// tilde_expand_filename, using home for the current user.
func expandTilde(path, home string) (string, error) {
	if !strings.HasPrefix(path, "~") {
		return path, nil
	}
	rest := path[1:]
	name, tail, _ := strings.Cut(rest, "/")
	dir := home
	if name != "" { // ~user or ~user/path
		u, err := user.Lookup(name)
		if err != nil {
			return "", fmt.Errorf("expanding %q: no such user %q", path, name)
		}
		dir = u.HomeDir
	}
	if !strings.HasSuffix(dir, "/") {
		dir += "/"
	}
	return dir + tail, nil
}

// connectionHash is OpenSSH's %C: SHA-1 of %l%h%p%r in hex.
func connectionHash(thisHost, host, port, user string) string {
	sum := sha1.Sum([]byte(thisHost + host + port + user))
	return hex.EncodeToString(sum[:])
}
