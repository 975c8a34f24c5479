package sshconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandLineUserNeverReachesAShell resolves hosts whose configuration
// runs "Match exec" and ProxyCommand with %r: a user name from the command
// line (-l, user@host, -o User) that a shell would interpret is refused before
// any command runs, as OpenSSH 9.6 does (issue 9).
func TestCommandLineUserNeverReachesAShell(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, "Match exec \"test %r = admin\"\n  Port 2222\nHost *\n  ProxyCommand nc %h %p # %r\n")
	bad := []string{
		"x$(touch " + filepath.Join(dir, "pwned") + ")",
		"x`touch " + filepath.Join(dir, "pwned") + "`",
		"a;touch " + filepath.Join(dir, "pwned"),
		"a|b", "a&b", "a>b", "a<b", "'a'", `"a"`, "{a}",
		"-oProxyCommand=x", "a -o", `a\`, "a\nb", "a\x1b]52;c;eA==\x07",
	}
	for _, u := range bad {
		opts := Options{ConfigFile: cfg, Home: dir, LocalUser: "me", User: u}
		if _, err := Resolve("example.com", opts); !errors.Is(err, errInvalidUser) || !strings.Contains(err.Error(), "remote username contains invalid characters") {
			t.Errorf("-l %q: got %v, want \"remote username contains invalid characters\"", u, err)
		}
		// -o and ProxyJump values go through the ssh_config tokenizer first
		// (quotes are removed, whitespace splits); whatever is left must
		// still be refused.
		for name, opts := range map[string]Options{
			"-o User":      {Overrides: []string{"User=" + u}},
			"-J":           {ProxyJump: u + "@jump"},
			"-o ProxyJump": {Overrides: []string{"ProxyJump=" + u + "@jump"}},
		} {
			if name == "-o User" && (u == "'a'" || u == `"a"`) {
				continue // the tokenizer's quotes: the user is a
			}
			opts.ConfigFile, opts.Home, opts.LocalUser = cfg, dir, "me"
			if h, err := Resolve("example.com", opts); err == nil {
				t.Errorf("%s %q: resolved to user %q, want an error", name, u, h.User)
			}
		}
	}
	if _, err := Resolve("example.com", Options{ConfigFile: cfg, Home: dir, LocalUser: "me", Overrides: []string{"User=a;b"}}); !errors.Is(err, errInvalidUser) {
		t.Errorf("-o User=a;b: got %v, want errInvalidUser", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Fatal("a command in the user name ran")
	}

	for _, u := range []string{"admin", "alice.b-c_d", "DOMAIN\\alice", "first last", "x$y", "a@b"} {
		h, err := Resolve("example.com", Options{ConfigFile: cfg, Home: dir, LocalUser: "me", User: u})
		if err != nil {
			t.Errorf("-l %q: %v", u, err)
			continue
		}
		if wantPort := map[bool]int{true: 2222, false: 22}[u == "admin"]; h.User != u || h.Port != wantPort {
			t.Errorf("-l %q: got user %q port %d, want port %d", u, h.User, h.Port, wantPort)
		}
	}
}

// TestJumpHostNameNeverReachesAShell: a -J hop's host becomes %h and %n of its
// own Match exec and ProxyCommand.
func TestJumpHostNameNeverReachesAShell(t *testing.T) {
	dir := t.TempDir()
	for _, j := range []string{"a$(id)", "a`id`", "u@a;id", "-oProxyCommand=id"} {
		_, err := Resolve("example.com", Options{ConfigFile: "none", Home: dir, LocalUser: "me", ProxyJump: j})
		if err == nil || !strings.Contains(err.Error(), "invalid characters") {
			t.Errorf("-J %q: got %v, want an invalid characters error", j, err)
		}
	}
}
