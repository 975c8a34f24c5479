package e2e

// End-to-end tests for issue 3 ("reach every host that ssh reaches"): jump hosts, proxy commands,
// agent-only keys, encrypted keys through SSH_ASKPASS, certificates, accept-new and @revoked host
// keys, and `kfwd config` against `ssh -G`.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// assertLoggedIn fails the test unless r is a successful full login: exit 0, the remote login's
// success lines, the browser sent to the issuer's authorize URL and no secret in the output.
func assertLoggedIn(t *testing.T, env *Env, what string, r Result) {
	t.Helper()
	if r.ExitCode != 0 {
		t.Fatalf("%s: kfwd login: %s\nsshd log:\n%s", what, r, env.SSHD.Log())
	}
	if !strings.Contains(r.Stdout, "Logged in as Demo User") || !strings.Contains(r.Stdout, "sub: demo-user-1") {
		t.Errorf("%s: the remote login's success is missing from stdout:\n%s", what, r)
	}
	opened := false
	for _, u := range env.BrowserURLs() {
		opened = opened || strings.HasPrefix(u, env.Issuer+"/authorize?")
	}
	if !opened {
		t.Errorf("%s: the browser was not opened on the authorize URL; it got %q\n%s", what, env.BrowserURLs(), r)
	}
	env.AssertNoSecrets(t, what+": kfwd output", r.Output())
}

// keygenT runs ssh-keygen with args and fails the test on error.
func keygenT(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newClientKey generates an unencrypted ed25519 key in dir and returns its path and public line.
func newClientKey(t *testing.T, dir, name string) (string, string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := keygen(p, "-t", "ed25519"); err != nil {
		t.Fatal(err)
	}
	return p, readFileLine(t, p+".pub")
}

// localProcessesMatching lists the local processes whose command line contains substr.
func localProcessesMatching(substr string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), substr) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// jumpConfig writes a config with Host blocks "jump" (the namespace's sshd as seen from here) and
// "target" (127.0.0.1:2222, reachable only inside the namespace), sharing a Host * block. extra
// lines go into the target block.
func jumpConfig(t *testing.T, env *Env, knownHosts string, target ...string) string {
	t.Helper()
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, knownHosts)
	lines := []string{
		"Host target",
		"  HostName 127.0.0.1",
		"  Port 2222",
	}
	for _, l := range target {
		lines = append(lines, "  "+l)
	}
	lines = append(lines,
		"Host jump",
		"  HostName "+env.SSHD.Host,
		"  Port 22",
		"Host *",
		"  User root",
		"  IdentityFile "+env.SSHD.ClientKey,
		"  IdentityAgent none",
		"  UserKnownHostsFile "+kh,
		"  GlobalKnownHostsFile /dev/null",
		"  StrictHostKeyChecking yes",
		"  BatchMode yes",
	)
	p := filepath.Join(dir, "ssh_config")
	writeFile(t, p, strings.Join(lines, "\n")+"\n")
	return p
}

func TestReachProxyJump(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	env := Setup(t, SSHDOptions{ExtraListen: []string{"127.0.0.1:2222"}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	jumpKH := env.SSHD.KnownHostsFor(env.SSHD.Addr)
	targetKH := env.SSHD.KnownHostsFor("127.0.0.1:2222")
	both := jumpKH + targetKH

	cases := []struct {
		name   string
		kh     string
		target []string
		flags  []string
		fail   string // "" = must succeed; else a substring the error must contain
	}{
		{name: "ProxyJump keyword", kh: both, target: []string{"ProxyJump jump"}},
		{name: "-J alias", kh: both, flags: []string{"-J", "jump"}},
		{name: "-J user@host:port", kh: both, flags: []string{"-J", "root@" + env.SSHD.Host + ":22"}},
		// Each hop is checked against its own entry: without the target's, the login is refused.
		{name: "target key unknown", kh: jumpKH, target: []string{"ProxyJump jump"}, fail: "127.0.0.1"},
		// ... and without the jump host's.
		{name: "jump key unknown", kh: targetKH, target: []string{"ProxyJump jump"}, fail: env.SSHD.Host},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(env.BrowserLog)
			cfg := jumpConfig(t, env, tc.kh, tc.target...)
			r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "target", tc.flags, env.TestLoginArgs(tools, "plain")...)...))
			if tc.fail == "" {
				assertLoggedIn(t, env, tc.name, r)
			} else {
				if r.ExitCode != 255 {
					t.Fatalf("want exit 255 for an unknown host key on one hop, got %s", r)
				}
				if !strings.Contains(r.Stderr, tc.fail) {
					t.Errorf("the error does not name the hop %s:\n%s", tc.fail, r.Stderr)
				}
				if strings.Contains(r.Stdout, "Open this URL") {
					t.Errorf("the remote login ran despite the unknown host key:\n%s", r)
				}
			}
			// Every hop is closed on exit: no session of root is left on the server.
			assertGone(t, env, "after the login through the jump host", "sshd: root")
		})
	}
}

func TestReachProxyCommand(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	env := Setup(t, SSHDOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cases := []struct{ name, command, marker string }{
		{"socat", "socat - TCP:%h:%p", "TCP:" + env.SSHD.Host + ":22"},
		{"nc", "nc %h %p", "nc " + env.SSHD.Host + " 22"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(env.BrowserLog)
			// HostName is the real address (the proxy command dials it); Port makes %p meaningful.
			cfg := env.SSHConfig(t, "viaproxy", ClientConfig{Extra: []string{"ProxyCommand " + tc.command}})
			r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "viaproxy", nil, env.TestLoginArgs(tools, "urlencoded")...)...))
			assertLoggedIn(t, env, "ProxyCommand "+tc.command, r)
			deadline := time.Now().Add(5 * time.Second)
			for len(localProcessesMatching(tc.marker)) > 0 && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if pids := localProcessesMatching(tc.marker); len(pids) > 0 {
				t.Errorf("the proxy command (%q) is still running after kfwd exited: pids %v", tc.marker, pids)
			}
		})
	}
	t.Run("proxy command fails", func(t *testing.T) {
		cfg := env.SSHConfig(t, "viaproxy", ClientConfig{Extra: []string{"ProxyCommand sh -c 'echo kfwd-e2e-proxy-broken >&2; exit 1'"}})
		r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "viaproxy", nil, "echo", "unreachable")...))
		if r.ExitCode != 255 {
			t.Fatalf("a failing ProxyCommand: want exit 255, got %s", r)
		}
		if !strings.Contains(r.Stderr, "kfwd-e2e-proxy-broken") {
			t.Errorf("the proxy command's stderr is not shown:\n%s", r.Stderr)
		}
	})
}

// startAgent runs `ssh-agent -D -a SOCK` until the test ends and adds key to it; the private key file
// is deleted afterwards so that only the agent holds it.
func startAgent(t *testing.T, key string) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	cmd := exec.Command("ssh-agent", "-D", "-a", sock)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ssh-agent: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-agent did not create %s:\n%s", sock, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	add := exec.Command("ssh-add", key)
	add.Env = []string{"SSH_AUTH_SOCK=" + sock, "PATH=" + os.Getenv("PATH")}
	if b, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, b)
	}
	os.Remove(key)
	return sock
}

func TestReachAgentOnlyKey(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	keyDir := t.TempDir()
	key, pub := newClientKey(t, keyDir, "id_agent")
	env := Setup(t, SSHDOptions{AuthorizedKeys: []string{pub}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sock := startAgent(t, key)
	// The only configured identity file does not exist; the agent is the only way in.
	missing := filepath.Join(keyDir, "no-such-key")

	t.Run("SSH_AUTH_SOCK", func(t *testing.T) {
		os.Remove(env.BrowserLog)
		cfg := env.SSHConfig(t, "srv", ClientConfig{IdentityFile: missing, NoIdentityAgent: true})
		cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "plain")...)...)
		cmd.Env = append(cmd.Env, "SSH_AUTH_SOCK="+sock)
		assertLoggedIn(t, env, "agent via SSH_AUTH_SOCK", Run(cmd))
	})
	t.Run("IdentityAgent path", func(t *testing.T) {
		os.Remove(env.BrowserLog)
		cfg := env.SSHConfig(t, "srv", ClientConfig{IdentityFile: missing, IdentityAgent: sock})
		assertLoggedIn(t, env, "IdentityAgent "+sock, Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "plain")...)...)))
	})
	t.Run("no agent", func(t *testing.T) {
		// Control: without the agent the same config cannot authenticate.
		cfg := env.SSHConfig(t, "srv", ClientConfig{IdentityFile: missing, NoIdentityAgent: true})
		r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, "echo", "must-not-run")...))
		if r.ExitCode != 255 || strings.Contains(r.Stdout, "must-not-run") {
			t.Fatalf("without the agent: want exit 255, got %s", r)
		}
	})
}

func TestReachEncryptedKeyAskpass(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	keyDir := t.TempDir()
	const passphrase = "kfwd-e2e-Passphrase-7391"
	key := filepath.Join(keyDir, "id_enc")
	keygenT(t, "-q", "-t", "ed25519", "-N", passphrase, "-C", "kfwd-e2e", "-f", key)
	env := Setup(t, SSHDOptions{AuthorizedKeys: []string{readFileLine(t, key+".pub")}})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	askpass := func(t *testing.T, answer string) (script, log string) {
		dir := t.TempDir()
		log = filepath.Join(dir, "askpass.log")
		script = filepath.Join(dir, "askpass")
		body := fmt.Sprintf("#!/bin/sh\necho \"asked: $1\" >>%s\nprintf '%%s\\n' '%s'\n", log, answer)
		if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
			t.Fatal(err)
		}
		return script, log
	}
	// BatchMode=no: the harness config sets BatchMode yes, which (as in OpenSSH) forbids asking.
	flags := []string{"-v", "-o", "BatchMode=no"}
	cfg := env.SSHConfig(t, "srv", ClientConfig{IdentityFile: key, IdentitiesOnly: true})

	t.Run("right passphrase", func(t *testing.T) {
		os.Remove(env.BrowserLog)
		script, log := askpass(t, passphrase)
		cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", flags, env.TestLoginArgs(tools, "plain")...)...)
		cmd.Env = append(cmd.Env, "SSH_ASKPASS="+script, "SSH_ASKPASS_REQUIRE=force")
		r := Run(cmd)
		assertLoggedIn(t, env, "encrypted key via SSH_ASKPASS", r)
		if b, _ := os.ReadFile(log); len(b) == 0 {
			t.Errorf("SSH_ASKPASS was never run")
		}
		if strings.Contains(r.Output(), passphrase) {
			t.Errorf("kfwd's output contains the passphrase")
		}
	})
	t.Run("wrong passphrase", func(t *testing.T) {
		const wrong = "kfwd-e2e-Wrong-5520"
		script, log := askpass(t, wrong)
		cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", flags, "echo", "must-not-run")...)
		cmd.Env = append(cmd.Env, "SSH_ASKPASS="+script, "SSH_ASKPASS_REQUIRE=force")
		r := Run(cmd)
		if r.ExitCode != 255 || strings.Contains(r.Stdout, "must-not-run") {
			t.Fatalf("wrong passphrase: want exit 255, got %s", r)
		}
		b, _ := os.ReadFile(log)
		if n := strings.Count(string(b), "asked:"); n < 2 {
			t.Errorf("a wrong passphrase should be asked for again; SSH_ASKPASS ran %d times", n)
		}
		if !strings.Contains(strings.ToLower(r.Stderr), "passphrase") {
			t.Errorf("the error does not say the passphrase was the problem:\n%s", r.Stderr)
		}
		if strings.Contains(r.Output(), wrong) {
			t.Errorf("kfwd's output contains the (wrong) passphrase")
		}
	})
}

func TestReachCertificate(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	dir := t.TempDir()
	ca, _ := newClientKey(t, dir, "user_ca")
	key, _ := newClientKey(t, dir, "id_cert")
	keygenT(t, "-q", "-s", ca, "-I", "kfwd-e2e-cert", "-n", "root", "-V", "-5m:+1h", key+".pub")
	cert := key + "-cert.pub"
	if _, err := os.Stat(cert); err != nil {
		t.Fatalf("ssh-keygen -s wrote no certificate: %v", err)
	}
	// The key itself is not in authorized_keys: only the certificate authorizes it.
	env := Setup(t, SSHDOptions{TrustedUserCAKeys: ca + ".pub"})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	t.Run("key-cert.pub next to the key", func(t *testing.T) {
		os.Remove(env.BrowserLog)
		cfg := env.SSHConfig(t, "srv", ClientConfig{IdentityFile: key, IdentitiesOnly: true})
		assertLoggedIn(t, env, "implicit certificate", Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "plain")...)...)))
	})

	// A copy of the key without the certificate next to it.
	bare := filepath.Join(t.TempDir(), "id_bare")
	b, err := os.ReadFile(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, bare, string(b))
	t.Run("CertificateFile", func(t *testing.T) {
		os.Remove(env.BrowserLog)
		moved := filepath.Join(t.TempDir(), "elsewhere-cert.pub")
		c, _ := os.ReadFile(cert)
		writeFile(t, moved, string(c))
		cfg := env.SSHConfig(t, "srv", ClientConfig{IdentityFile: bare, IdentitiesOnly: true, Extra: []string{"CertificateFile " + moved}})
		assertLoggedIn(t, env, "CertificateFile", Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "plain")...)...)))
	})
	t.Run("key without certificate", func(t *testing.T) {
		cfg := env.SSHConfig(t, "srv", ClientConfig{IdentityFile: bare, IdentitiesOnly: true})
		r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, "echo", "must-not-run")...))
		if r.ExitCode != 255 || strings.Contains(r.Stdout, "must-not-run") {
			t.Fatalf("the bare key must not be accepted (only the certificate is trusted): %s", r)
		}
	})
}

func TestReachAcceptNew(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	env := Setup(t, SSHDOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	other := "10.78.255.9 " + strings.Join(strings.Fields(env.SSHD.ClientPublicKey)[:2], " ") + "\n"
	cases := []struct {
		name    string
		initial *string // nil: the file does not exist
		hash    bool
	}{
		{name: "file missing"},
		{name: "host missing from file", initial: &other},
		{name: "HashKnownHosts", initial: &other, hash: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(env.BrowserLog)
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if tc.initial != nil {
				writeFile(t, kh, *tc.initial)
			}
			var extra []string
			if tc.hash {
				extra = append(extra, "HashKnownHosts yes")
			}
			cfg := env.SSHConfig(t, "srv", ClientConfig{KnownHostsFile: kh, StrictHostKeyChecking: "accept-new", Extra: extra})
			assertLoggedIn(t, env, "accept-new", Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "plain")...)...)))

			b, err := os.ReadFile(kh)
			if err != nil {
				t.Fatalf("accept-new did not write %s: %v", kh, err)
			}
			content := string(b)
			if tc.initial != nil && !strings.HasPrefix(content, *tc.initial) {
				t.Errorf("the existing known_hosts lines were not kept:\n%s", content)
			}
			added := strings.TrimPrefix(content, func() string {
				if tc.initial != nil {
					return *tc.initial
				}
				return ""
			}())
			if strings.TrimSpace(added) == "" {
				t.Fatalf("nothing was added to known_hosts:\n%s", content)
			}
			keyFound := false
			for _, k := range env.SSHD.HostKeys {
				keyFound = keyFound || strings.Contains(added, strings.Fields(string(ssh.MarshalAuthorizedKey(k)))[1])
			}
			if !keyFound {
				t.Errorf("the added lines hold none of the server's host keys:\n%s", added)
			}
			for _, l := range strings.Split(strings.TrimSpace(added), "\n") {
				if tc.hash && !strings.HasPrefix(l, "|1|") {
					t.Errorf("HashKnownHosts yes: the added line is not hashed: %q", l)
				}
				if !tc.hash && strings.HasPrefix(l, "|1|") {
					t.Errorf("HashKnownHosts no: the added line is hashed: %q", l)
				}
			}
			// OpenSSH agrees the entry names the host ...
			if out, err := exec.Command("ssh-keygen", "-F", env.SSHD.Host, "-f", kh).CombinedOutput(); err != nil {
				t.Errorf("ssh-keygen -F %s finds no entry in the written known_hosts: %v\n%s\n%s", env.SSHD.Host, err, out, content)
			}
			// ... and the next run with StrictHostKeyChecking yes succeeds, for kfwd and for ssh.
			strict := env.SSHConfig(t, "srv", ClientConfig{KnownHostsFile: kh, StrictHostKeyChecking: "yes"})
			r := Run(env.KfwdCommand(ctx, tools, loginArgs(strict, "srv", nil, "echo", "strict-ok")...))
			if r.ExitCode != 0 || !strings.Contains(r.Stdout, "strict-ok") {
				t.Errorf("second run with StrictHostKeyChecking yes: %s\nknown_hosts:\n%s", r, content)
			}
			if out, err := openssh(ctx, env, tools, "-F", strict, "srv", "true").CombinedOutput(); err != nil {
				t.Errorf("OpenSSH with StrictHostKeyChecking yes rejects the known_hosts kfwd wrote: %v\n%s\n%s", err, out, content)
			}
		})
	}
}

func TestReachRevokedHostKey(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	env := Setup(t, SSHDOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	kh := env.SSHD.KnownHosts
	for _, k := range env.SSHD.HostKeys {
		kh += "@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + "\n"
	}
	cfg := env.SSHConfig(t, "srv", ClientConfig{KnownHosts: &kh})
	// OpenSSH refuses too (the harness is right about what a revoked key is).
	if out, err := openssh(ctx, env, tools, "-F", cfg, "srv", "true").CombinedOutput(); err == nil || !strings.Contains(strings.ToLower(string(out)), "revoked") {
		t.Errorf("OpenSSH with the host key @revoked: %v\n%s", err, out)
	}
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "plain")...)...))
	if r.ExitCode != 255 {
		t.Fatalf("revoked host key: want exit 255, got %s", r)
	}
	if !strings.Contains(strings.ToLower(r.Stderr), "revoked") {
		t.Errorf("the error does not say the key is revoked:\n%s", r.Stderr)
	}
	if strings.Contains(r.Stdout, "Open this URL") || len(env.NS.ProcessesMatching(tools.TestLogin)) > 0 {
		t.Errorf("the remote login ran despite the revoked host key:\n%s", r)
	}
}

// configKeywords are the keywords `kfwd config` prints (issue 3).
var configKeywords = map[string]bool{
	"hostname": true, "user": true, "port": true, "identityfile": true, "identitiesonly": true,
	"identityagent": true, "certificatefile": true, "proxyjump": true, "proxycommand": true,
	"userknownhostsfile": true, "globalknownhostsfile": true, "stricthostkeychecking": true,
	"hostkeyalias": true, "hostkeyalgorithms": true, "serveraliveinterval": true,
	"serveralivecountmax": true, "connecttimeout": true,
}

func filterConfig(out string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		kw, _, _ := strings.Cut(l, " ")
		if configKeywords[kw] {
			lines = append(lines, l)
		}
	}
	return lines
}

func TestReachConfigMatchesSSHG(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	dir := t.TempDir()
	incDir := filepath.Join(dir, "conf.d")
	if err := os.MkdirAll(incDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(incDir, "10-web.conf"), "Host web1\n  HostName 10.1.0.1\nHost web2\n  HostName 10.1.0.2\n  Port 2202\n")
	writeFile(t, filepath.Join(incDir, "20-db.conf"), "Host db\n  HostName db.internal\n  ProxyJump bastion@jump.example:2022\n")
	cfg := filepath.Join(dir, "ssh_config")
	writeFile(t, cfg, strings.Join([]string{
		"Include " + incDir + "/*.conf",
		"Host web?",
		"  User alice",
		"  IdentityFile ~/.ssh/id_%h_%r",
		"Match originalhost web1 user alice",
		"  Port 2201",
		"  ServerAliveInterval 7",
		"Match host 10.1.* !localuser nobody",
		"  IdentitiesOnly yes",
		"  StrictHostKeyChecking accept-new",
		"Match exec \"test %h = db.internal\"",
		"  ServerAliveCountMax 9",
		"  ProxyCommand nc %h %p",
		"Host db",
		"  CertificateFile ~/.ssh/db-cert.pub",
		"  HostKeyAlias dbkey",
		"Match all",
		"  ConnectTimeout=11",
		"  UserKnownHostsFile ~/.ssh/kh1 ~/.ssh/kh2",
		"",
	}, "\n"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// HOME matches the password database, which OpenSSH uses for ~.
	envv := []string{"HOME=/root", "USER=root", "LOGNAME=root", "PATH=" + os.Getenv("PATH")}
	for _, alias := range []string{"web1", "web2", "db", "other", "WEB1"} {
		t.Run(alias, func(t *testing.T) {
			sshG := exec.CommandContext(ctx, "ssh", "-G", "-F", cfg, alias)
			sshG.Env = envv
			want, err := sshG.Output()
			if err != nil {
				t.Fatalf("ssh -G: %v", err)
			}
			kf := exec.CommandContext(ctx, tools.Kfwd, "config", "-F", cfg, alias)
			kf.Env = envv
			var stderr strings.Builder
			kf.Stderr = &stderr
			got, err := kf.Output()
			if err != nil {
				t.Fatalf("kfwd config: %v\n%s", err, stderr.String())
			}
			w, g := filterConfig(string(want)), filterConfig(string(got))
			if len(w) < 12 {
				t.Fatalf("ssh -G printed only %d of kfwd's keywords:\n%s", len(w), want)
			}
			if strings.Join(w, "\n") != strings.Join(g, "\n") {
				t.Errorf("kfwd config -F cfg %s differs from ssh -G:\n%s", alias, lineDiff(w, g))
			}
		})
	}
}

// lineDiff lists the lines only in want (-) or only in got (+), and notes an order difference.
func lineDiff(want, got []string) string {
	inGot, inWant := map[string]bool{}, map[string]bool{}
	for _, l := range got {
		inGot[l] = true
	}
	for _, l := range want {
		inWant[l] = true
	}
	var b strings.Builder
	for _, l := range want {
		if !inGot[l] {
			b.WriteString("- ssh -G: " + l + "\n")
		}
	}
	for _, l := range got {
		if !inWant[l] {
			b.WriteString("+ kfwd:   " + l + "\n")
		}
	}
	if b.Len() == 0 {
		b.WriteString("same lines, different order:\nssh -G:\n  " + strings.Join(want, "\n  ") + "\nkfwd:\n  " + strings.Join(got, "\n  ") + "\n")
	}
	return b.String()
}
