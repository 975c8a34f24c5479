package sshconfig

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMissingUserConfigIsNotAnError(t *testing.T) {
	dir := t.TempDir()
	h, err := Resolve("example", Options{Home: dir, LocalUser: "alice", SystemFile: filepath.Join(dir, "absent")})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if h.User != "alice" || h.Port != 22 || h.HostName != "example" {
		t.Errorf("defaults: got user %q port %d hostname %q", h.User, h.Port, h.HostName)
	}
	if want := filepath.Join(dir, ".ssh", "id_rsa"); len(h.IdentityFiles) != 7 || h.IdentityFiles[0] != want {
		t.Errorf("default identity files: got %q, want 7 starting with %q", h.IdentityFiles, want)
	}
	if want := []string{dir + "/.ssh/known_hosts", dir + "/.ssh/known_hosts2"}; strings.Join(h.UserKnownHostsFiles, " ") != strings.Join(want, " ") {
		t.Errorf("user known hosts: got %q, want %q", h.UserKnownHostsFiles, want)
	}
}

func TestMissingExplicitConfigIsAnError(t *testing.T) {
	dir := t.TempDir()
	_, err := Resolve("example", Options{ConfigFile: filepath.Join(dir, "nope"), Home: dir})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("want ErrNotExist for a missing -F file, got %v", err)
	}
}

func TestUserThenSystemFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, ".ssh", "config"), "Host web\n  User fromuser\n")
	sys := filepath.Join(dir, "etc", "ssh_config")
	writeFile(t, sys, "Host *\n  User fromsystem\n  Port 2222\n  Include sys.d/*.conf\n")
	writeFile(t, filepath.Join(dir, "etc", "sys.d", "a.conf"), "Host web\n  HostKeyAlias sysinc\n")
	h, err := Resolve("web", Options{Home: dir, LocalUser: "me", SystemFile: sys})
	if err != nil {
		t.Fatal(err)
	}
	if h.User != "fromuser" || h.Port != 2222 || h.HostKeyAlias != "sysinc" {
		t.Errorf("got user %q port %d alias %q; want fromuser 2222 sysinc", h.User, h.Port, h.HostKeyAlias)
	}
	// -F disables the system file.
	h, err = Resolve("web", Options{Home: dir, LocalUser: "me", SystemFile: sys, ConfigFile: filepath.Join(dir, ".ssh", "config")})
	if err != nil {
		t.Fatal(err)
	}
	if h.Port != 22 {
		t.Errorf("-F must skip the system file: port %d", h.Port)
	}
}

func TestSystemFileTildeIncludeIsAnError(t *testing.T) {
	dir := t.TempDir()
	sys := filepath.Join(dir, "ssh_config")
	writeFile(t, sys, "Include ~/x\n")
	_, err := Resolve("web", Options{Home: dir, LocalUser: "me", SystemFile: sys})
	if err == nil || !strings.Contains(err.Error(), "bad include path") {
		t.Fatalf("want bad include path error, got %v", err)
	}
}

func TestErrorNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, "# comment\n\nHost x\n  Port 99999\n")
	_, err := Resolve("x", Options{ConfigFile: cfg, Home: dir, LocalUser: "me"})
	var le *lineError
	if !errors.As(err, &le) || le.Line != 4 || le.File != cfg {
		t.Fatalf("want lineError at %s:4, got %v", cfg, err)
	}
	if want := "reading " + cfg + " line 4: "; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not contain %q", err, want)
	}
}

func TestBadPermissionsOnUserConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, ".ssh", "config")
	writeFile(t, cfg, "Host x\n  User y\n")
	if err := os.Chmod(cfg, 0o666); err != nil {
		t.Fatal(err)
	}
	_, err := Resolve("x", Options{Home: dir, LocalUser: "me", SystemFile: filepath.Join(dir, "absent")})
	if err == nil || !strings.Contains(err.Error(), "bad owner or permissions") {
		t.Fatalf("want permissions error like ssh, got %v", err)
	}
}

func TestMatchExecDisabled(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, "Match exec true\n  User y\n")
	if _, err := Resolve("x", Options{ConfigFile: cfg, Home: dir, LocalUser: "me", disableExec: true}); err == nil {
		t.Fatal("Match exec must fail when disableExec is set")
	}
	h, err := Resolve("x", Options{ConfigFile: cfg, Home: dir, LocalUser: "me"})
	if err != nil || h.User != "y" {
		t.Fatalf("Match exec true: got %v, %v", h, err)
	}
}

// TestMatchExecStderr: a Match exec command's stderr is shown, as ssh
// leaves it on the terminal, and its stdout is not.
func TestMatchExecStderr(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, "Match exec \"echo out; echo why >&2; false\"\n  User y\n")
	var stderr bytes.Buffer
	h, err := Resolve("x", Options{ConfigFile: cfg, Home: dir, LocalUser: "me", ExecStderr: &stderr})
	if err != nil || h.User == "y" {
		t.Fatalf("Match exec false: got %v, %v", h, err)
	}
	if stderr.String() != "why\n" {
		t.Errorf("stderr %q, want %q", stderr.String(), "why\n")
	}
}

func TestFormatHandBuiltHost(t *testing.T) {
	h := &Host{HostName: "h", User: "u", Port: 2, StrictHostKeyChecking: "no",
		IdentityFiles: []string{"/k"}, ServerAliveInterval: 15 * time.Second,
		ServerAliveCountMax: 3, ConnectTimeout: 10 * time.Second, ProxyJump: "b",
		UserKnownHostsFiles: []string{"/a", "/b"}}
	want := "user u\nhostname h\nport 2\nbatchmode no\nhashknownhosts no\nidentitiesonly no\n" +
		"stricthostkeychecking false\nserveralivecountmax 3\nserveraliveinterval 15\n" +
		"identityfile /k\nuserknownhostsfile /a /b\nconnecttimeout 10\nproxyjump b\n"
	if got := h.Format(); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
}

func TestOverridesWinAndCommandLineMatchRejected(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, "Host x\n  User cfg\n  Port 10\n")
	h, err := Resolve("x", Options{ConfigFile: cfg, Home: dir, LocalUser: "me",
		Overrides: []string{"User=over", "ServerAliveInterval 5"}, User: "flag", Port: 11})
	if err != nil {
		t.Fatal(err)
	}
	if h.User != "over" || h.Port != 11 || h.ServerAliveInterval != 5*time.Second {
		t.Errorf("got user %q port %d interval %v", h.User, h.Port, h.ServerAliveInterval)
	}
	if _, err := Resolve("x", Options{ConfigFile: cfg, Home: dir, LocalUser: "me", Overrides: []string{"Host y"}}); err == nil {
		t.Error("-o Host must be rejected")
	}
}
