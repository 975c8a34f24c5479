package e2e

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	os.Exit(Main(m))
}

func openssh(ctx context.Context, env *Env, tools *Tools, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.Env = env.KfwdEnv(tools)
	return cmd
}

func TestHarnessOpenSSHClient(t *testing.T) {
	t.Parallel()
	env := Setup(t, SSHDOptions{})
	tools := BuildTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cfg := env.SSHConfig(t, "srv", ClientConfig{})
	if out, err := openssh(ctx, env, tools, "-F", cfg, "srv", "true").CombinedOutput(); err != nil {
		t.Fatalf("ssh srv true: %v\n%s\nsshd log:\n%s", err, out, env.SSHD.Log())
	}
	// The remote shell runs inside the namespace: it sees the namespace's address, not the host's.
	out, err := openssh(ctx, env, tools, "-F", cfg, "srv", "ip", "-o", "-4", "addr", "show").CombinedOutput()
	if err != nil || !strings.Contains(string(out), env.NS.NSIP+"/24") || strings.Contains(string(out), env.NS.HostIP+"/") {
		t.Errorf("remote addresses: %v\n%s", err, out)
	}

	// The EC2-style RSA key in PEM form, with IdentitiesOnly.
	rsaCfg := env.SSHConfig(t, "ec2", ClientConfig{IdentityFile: env.SSHD.RSAKey, IdentitiesOnly: true})
	if pem, _ := os.ReadFile(env.SSHD.RSAKey); !strings.HasPrefix(string(pem), "-----BEGIN RSA PRIVATE KEY-----") {
		t.Errorf("RSA key is not PEM:\n%.40s", pem)
	}
	if out, err := openssh(ctx, env, tools, "-F", rsaCfg, "ec2", "echo", "pem-ok").CombinedOutput(); err != nil || !strings.Contains(string(out), "pem-ok") {
		t.Errorf("ssh with the RSA PEM key: %v\n%s", err, out)
	}

	// Unknown host key with StrictHostKeyChecking yes: OpenSSH refuses with 255.
	empty := ""
	strictCfg := env.SSHConfig(t, "unknown", ClientConfig{KnownHosts: &empty})
	err = openssh(ctx, env, tools, "-F", strictCfg, "unknown", "true").Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 255 {
		t.Errorf("ssh to an unknown host key: %v, want exit 255", err)
	}
}

func TestHarnessSSHDOptions(t *testing.T) {
	t.Parallel()
	env := Setup(t, SSHDOptions{AllowTCPForwarding: "no", ExtraListen: []string{"127.0.0.1:2222"}})
	tools := BuildTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := env.SSHConfig(t, "srv", ClientConfig{})
	port := strconv.Itoa(FreePort(t))
	// With forwarding off, a -L forward fails (ExitOnForwardFailure applies to local listen only, so
	// use -W, which needs a direct-tcpip channel).
	out, err := openssh(ctx, env, tools, "-F", cfg, "-W", "127.0.0.1:"+port, "srv").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "prohibited") {
		t.Errorf("ssh -W with AllowTcpForwarding no: %v\n%s", err, out)
	}
	// The second listen address is only reachable inside the namespace.
	probe := env.NS.Command(ctx, "nc", "-z", "-w", "2", "127.0.0.1", "2222")
	if out, err := probe.CombinedOutput(); err != nil {
		t.Errorf("sshd not listening on the extra address in the namespace: %v %s", err, out)
	}
}

// TestHarnessSessionEnv: every session gets the harness's own environment
// (PYENV_REHASH_TIMEOUT, see sessionEnv) and a test's SetEnv line still applies:
// sshd reads only the first SetEnv line, so the two must be merged.
func TestHarnessSessionEnv(t *testing.T) {
	t.Parallel()
	for _, extra := range [][]string{nil, {"SetEnv KFWD_E2E_PROBE=yes"}} {
		env := Setup(t, SSHDOptions{Extra: extra})
		tools := BuildTools(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cfg := env.SSHConfig(t, "srv", ClientConfig{})
		out, err := openssh(ctx, env, tools, "-F", cfg, "srv", `echo "rehash=$PYENV_REHASH_TIMEOUT probe=$KFWD_E2E_PROBE"`).Output()
		cancel()
		want := "rehash=0 probe="
		if extra != nil {
			want += "yes"
		}
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("SetEnv %q: session saw %q (%v), want %q", extra, out, err, want)
		}
	}
}

func TestHarnessRemoteLoopbackIsSeparate(t *testing.T) {
	t.Parallel()
	env := Setup(t, SSHDOptions{})
	tools := BuildTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := env.SSHConfig(t, "srv", ClientConfig{})
	port := FreePort(t)
	p := strconv.Itoa(port)

	cmd := openssh(ctx, env, tools, append([]string{"-F", cfg, "srv", "--"}, env.TestLoginArgs(tools, "plain", "-port", p, "-timeout", "20s")...)...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }() //nolint:errcheck
	waitFor(t, ctx, "the remote login to print its callback URL", func() bool {
		return strings.Contains(out.String(), "http://127.0.0.1:"+p+"/callback")
	})
	if pids := env.NS.ProcessesMatching(tools.TestLogin); len(pids) == 0 {
		t.Errorf("testlogin is not running inside the namespace")
	}
	if out, err := env.NS.Command(ctx, "nc", "-z", "-w", "2", "127.0.0.1", p).CombinedOutput(); err != nil {
		t.Errorf("callback port %s not reachable on the namespace's loopback: %v %s", p, err, out)
	}
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+p, time.Second)
	if err == nil {
		c.Close()
		t.Fatalf("callback port %s is reachable on the host's loopback: the namespace does not isolate it", p)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dialing the host's 127.0.0.1:%s: %v, want connection refused", p, err)
	}
}

func TestHarnessManualLogin(t *testing.T) {
	t.Parallel()
	env := Setup(t, SSHDOptions{})
	tools := BuildTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cfg := env.SSHConfig(t, "srv", ClientConfig{})
	res, err := env.ManualLogin(ctx, t, tools, cfg, "srv", "urlencoded")
	if err != nil {
		t.Fatalf("manual login: %v\nsshd log:\n%s", err, env.SSHD.Log())
	}
	if !strings.Contains(res.Output, "Logged in as Demo User") || !strings.Contains(res.Output, "sub: demo-user-1") {
		t.Errorf("output:\n%s", res.Output)
	}
	if !strings.HasPrefix(res.URL, env.Issuer+"/authorize?") {
		t.Errorf("browser opened %q, want the issuer's authorize URL", res.URL)
	}
	if urls := env.BrowserURLs(); len(urls) != 1 || urls[0] != res.URL {
		t.Errorf("browser log = %q", urls)
	}
	env.AssertNoSecrets(t, "ssh output", res.Output)
	t.Logf("manual login took %v", res.Elapsed)
}

func TestHarnessDeviceLoginOverSSH(t *testing.T) {
	t.Parallel()
	env := Setup(t, SSHDOptions{})
	tools := BuildTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := env.SSHConfig(t, "srv", ClientConfig{})
	cmd := openssh(ctx, env, tools, append([]string{"-F", cfg, "srv", "--"}, env.TestLoginArgs(tools, "device")...)...)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	re := regexp.MustCompile(`Or open (\S+)`)
	var u string
	waitFor(t, ctx, "the device URL", func() bool {
		m := re.FindStringSubmatch(out.String())
		if m != nil {
			u = m[1]
		}
		return m != nil
	})
	b := exec.CommandContext(ctx, tools.TestBrowser, u)
	b.Env = env.KfwdEnv(tools)
	if bout, err := b.CombinedOutput(); err != nil {
		t.Fatalf("testbrowser %s: %v %s", u, err, bout)
	}
	if err := <-done; err != nil || !strings.Contains(out.String(), "Logged in as Demo User") {
		t.Fatalf("device login: %v\n%s", err, out.String())
	}
}

func TestHarnessRelay(t *testing.T) {
	t.Parallel()
	env := Setup(t, SSHDOptions{})
	tools := BuildTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	relay := NewRelay(t, env.SSHD.Addr, 25*time.Millisecond)
	kh := env.SSHD.KnownHostsFor(relay.Addr)
	host, port := relay.HostPort()
	cfg := env.SSHConfig(t, "relayed", ClientConfig{HostName: host, Port: port, KnownHosts: &kh,
		Extra: []string{"ServerAliveInterval 1", "ServerAliveCountMax 2"}})

	start := time.Now()
	if out, err := openssh(ctx, env, tools, "-F", cfg, "relayed", "true").CombinedOutput(); err != nil {
		t.Fatalf("ssh through the relay: %v\n%s", err, out)
	}
	// Connection setup takes several round trips; with 50ms each it cannot be faster than ~150ms.
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("ssh through a 50ms-RTT relay took %v: the delay is not applied", d)
	}

	cmd := openssh(ctx, env, tools, "-F", cfg, "relayed", "sleep", "60")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the remote sleep", func() bool { return len(env.NS.ProcessesMatching("sleep 60")) > 0 })
	relay.SetBlackhole(true)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 255 || !strings.Contains(out.String(), "not responding") {
		t.Errorf("ssh over a silent network: %v, want exit 255 with a keepalive timeout\n%s", err, out.String())
	}
}

// waitFor polls cond until it holds, failing the test when ctx ends first.
func waitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
