package sshconfig

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// requireSSH skips without an ssh client, except in CI where the
// differential test must run.
func requireSSH(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ssh client not found but CI=true: install openssh-client: %v", err)
		}
		t.Skip("ssh client not installed")
	}
}

// fixture copies testdata to a temporary directory, replacing @DIR@ with
// its path, and points HOME at its home/ (ssh's Include uses $HOME; "~" in
// other keywords is the passwd home for both ssh and Resolve).
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir("testdata", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata", p)
		dst := filepath.Join(dir, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		data = bytes.ReplaceAll(data, []byte("@DIR@"), []byte(dir))
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", filepath.Join(dir, "home"))
	t.Setenv("KFWD_TEST_VAR", "/var/kfwd test")
	return dir
}

type diffCase struct {
	args    []string
	opts    Options
	host    string
	wantErr bool
}

// parseCases reads the "# case: [flags] host" and "# error: [flags] host"
// header lines of a corpus file.
func parseCases(t *testing.T, file string) []diffCase {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cases []diffCase
	for _, line := range strings.Split(string(data), "\n") {
		var rest string
		var wantErr bool
		if r, ok := strings.CutPrefix(line, "# case:"); ok {
			rest = r
		} else if r, ok := strings.CutPrefix(line, "# error:"); ok {
			rest, wantErr = r, true
		} else {
			continue
		}
		words, err := argvSplit(rest)
		if err != nil || len(words) == 0 {
			t.Fatalf("%s: bad case line %q", file, line)
		}
		c := diffCase{host: words[len(words)-1], wantErr: wantErr, opts: Options{ConfigFile: file}}
		flags := words[:len(words)-1]
		for i := 0; i+1 < len(flags); i += 2 {
			v := flags[i+1]
			switch flags[i] {
			case "-o":
				c.opts.Overrides = append(c.opts.Overrides, v)
			case "-l":
				c.opts.User = v
			case "-p":
				c.opts.Port, _ = strconv.Atoi(v)
			case "-i":
				c.opts.Identities = append(c.opts.Identities, v)
			case "-J":
				c.opts.ProxyJump = v
			default:
				t.Fatalf("%s: unknown flag %s", file, flags[i])
			}
		}
		c.args = SSHArgs(c.host, c.opts)
		cases = append(cases, c)
	}
	if len(cases) == 0 {
		t.Fatalf("%s: no cases", file)
	}
	return cases
}

// formatKeywords lists the keywords Format prints, in ssh -G order.
var formatKeywords = []string{
	"user", "hostname", "port", "batchmode", "hashknownhosts", "identitiesonly",
	"stricthostkeychecking", "serveralivecountmax", "serveraliveinterval",
	"hostkeyalgorithms", "hostkeyalias", "identityagent", "identityfile",
	"certificatefile", "globalknownhostsfile", "userknownhostsfile",
	"connecttimeout", "proxycommand", "proxyjump",
}

// sshG returns ssh -G's lines for the keywords Format prints.
func sshG(t *testing.T, args []string) (string, error) {
	t.Helper()
	cmd := exec.Command("ssh", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return stderr.String(), err
	}
	keep := map[string]bool{}
	for _, k := range formatKeywords {
		keep[k] = true
	}
	var b strings.Builder
	for _, l := range strings.Split(string(out), "\n") {
		k, _, _ := strings.Cut(l, " ")
		if keep[k] {
			b.WriteString(l + "\n")
		}
	}
	return b.String(), nil
}

func TestDifferentialSSHG(t *testing.T) {
	requireSSH(t)
	// The corpus was checked against OpenSSH_9.2p1; log what is being compared.
	if v, err := exec.Command("ssh", "-V").CombinedOutput(); err == nil {
		t.Logf("comparing with %s", strings.TrimSpace(string(v)))
	}
	dir := fixture(t)
	files, err := filepath.Glob(filepath.Join(dir, "configs", "*.conf"))
	if err != nil || len(files) < 30 {
		t.Fatalf("want at least 30 corpus configs, got %d (%v)", len(files), err)
	}
	for _, file := range files {
		for _, c := range parseCases(t, file) {
			name := filepath.Base(file) + "/" + strings.Join(c.args[3:], " ")
			t.Run(name, func(t *testing.T) {
				want, sshErr := sshG(t, c.args)
				got, err := Resolve(c.host, c.opts)
				if c.wantErr {
					if sshErr == nil {
						t.Fatalf("corpus expects an error but ssh -G succeeded")
					}
					if err == nil {
						t.Fatalf("ssh -G failed (%s) but Resolve succeeded:\n%s", strings.TrimSpace(want), got.Format())
					}
					t.Logf("ssh: %s; Resolve: %v", strings.TrimSpace(want), err)
					return
				}
				if sshErr != nil {
					t.Fatalf("ssh %s: %v: %s", strings.Join(c.args, " "), sshErr, want)
				}
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				if g := got.Format(); g != want {
					t.Errorf("Format differs from ssh -G\n--- ssh -G\n%s--- Format\n%s", want, g)
				}
				viaSSH, err := ResolveWithSSH(context.Background(), c.host, c.opts)
				if err != nil {
					t.Fatalf("ResolveWithSSH: %v", err)
				}
				// ssh -G joins known_hosts files with spaces, so a path
				// containing a space cannot round-trip: compare joined.
				g, w := *got, *viaSSH
				for _, h := range []*Host{&g, &w} {
					h.UserKnownHostsFiles = []string{strings.Join(h.UserKnownHostsFiles, " ")}
					h.GlobalKnownHostsFiles = []string{strings.Join(h.GlobalKnownHostsFiles, " ")}
				}
				if !reflect.DeepEqual(g, w) {
					t.Errorf("Resolve and ResolveWithSSH differ\nResolve:        %+v\nResolveWithSSH: %+v", *got, *viaSSH)
				}
			})
		}
	}
}
