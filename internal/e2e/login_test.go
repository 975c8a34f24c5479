package e2e

// End-to-end tests of `kfwd login` against a real OpenSSH sshd in a network namespace, written
// against the CLI contract in docs/kfwd.1.md:
//
//	kfwd login [-F cfg] [-i key] [-l user] [-p port] [-o K=V] [-v] [-q] [--no-browser] [--timeout D] HOST [-- COMMAND ARG...]
//
// $BROWSER opens the URL; kfwd exits with the remote command's status (127: not found), 255 on
// connection and host key errors, and writes status lines to stderr.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loginArgs returns `login -F cfg [flags...] alias -- remote...`.
func loginArgs(cfg, alias string, flags []string, remote ...string) []string {
	args := append([]string{"login", "-F", cfg, "--timeout", "60s"}, flags...)
	args = append(args, alias, "--")
	return append(args, remote...)
}

// setupLogin starts most kfwd tests: kfwd built, a fresh sshd with opts, a context that ends after
// 60 seconds or with the test, and an ssh_config naming the sshd "srv".
func setupLogin(t *testing.T, opts SSHDOptions) (*Tools, *Env, context.Context, string) {
	t.Helper()
	tools := BuildKfwd(t)
	env := Setup(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return tools, env, ctx, env.SSHConfig(t, "srv", ClientConfig{})
}

// assertNoLeaks checks that neither the issued codes and tokens nor the token testlogin received
// appear in kfwd's output.
func assertNoLeaks(t *testing.T, env *Env, tokenFile string, r Result) {
	t.Helper()
	env.AssertNoSecrets(t, "kfwd output", r.Output())
	if tokenFile == "" {
		return
	}
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Errorf("testlogin wrote no token file: %v", err)
		return
	}
	if s := strings.TrimSpace(string(tok)); s == "" || strings.Contains(r.Output(), s) {
		t.Errorf("kfwd output contains the access token (or the token is empty)")
	}
}

func TestLoginSucceeds(t *testing.T) {
	cases := []struct {
		name  string
		style string
		extra []string
	}{
		// The CLI prints http://127.0.0.1:PORT/callback and the authorize URL.
		{"plain", "plain", nil},
		// The port appears only as redirect_uri=http%3A%2F%2F127.0.0.1%3APORT%2Fcallback.
		{"urlencoded port only", "urlencoded", nil},
		// The callback server accepts one connection and closes: kfwd must not probe the remote port.
		{"one connection callback", "urlencoded", []string{"-one-conn"}},
		// redirect_uri names localhost, which the browser resolves itself.
		{"localhost redirect", "plain", []string{"-redirect-host", "localhost"}},
		// The CLI prints no URL and runs xdg-open: kfwd's remote opener shim must catch it.
		{"xdg-open", "xdgopen", nil},
		// The CLI prints no URL and runs $BROWSER: kfwd points BROWSER at its shim.
		{"BROWSER env", "browserenv", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
			tokenFile := filepath.Join(env.Dir, "token")
			remote := env.TestLoginArgs(tools, tc.style, append([]string{"-token-file", tokenFile}, tc.extra...)...)
			r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, remote...)...))
			assertLoggedIn(t, env, tc.name, r)
			if strings.Contains(r.Stdout, "Could not open a browser") {
				t.Errorf("the remote CLI's browser opener failed: kfwd's opener shim did not catch it:\n%s", r)
			}
			assertNoLeaks(t, env, tokenFile, r)
		})
	}
}

// approveDevice plays the user of a device-code sign-in run by p: once the
// browser got a verification URL that opened accepts, it approves the code
// shown in kfwd's output, and returns when p has ended.
func approveDevice(t *testing.T, ctx context.Context, env *Env, p *Process, opened func(url string) bool) {
	t.Helper()
	code := regexp.MustCompile(`[B-Z]{4}-[B-Z]{4}`)
	for approved := false; !approved; {
		select {
		case <-p.Done():
			return
		case <-ctx.Done():
			t.Fatalf("device login did not finish: %s", p.Wait())
		case <-time.After(50 * time.Millisecond):
			for _, u := range env.BrowserURLs() {
				if strings.HasPrefix(u, env.Issuer+"/device") && opened(u) {
					if c := code.FindString(p.Stdout()); c != "" {
						approved = env.OAuth.ApproveDevice(c) == nil
					}
				}
			}
		}
	}
}

func TestLoginDeviceCode(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	p, err := Start(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "device")...)...))
	if err != nil {
		t.Fatal(err)
	}
	// kfwd opens the verification URL; when it is the one without the code, the "user" types the
	// code shown in the terminal.
	approveDevice(t, ctx, env, p, func(u string) bool { return !strings.Contains(u, "user_code=") })
	r := p.Wait()
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Logged in as Demo User") {
		t.Fatalf("kfwd login (device): %s", r)
	}
	opened := false
	for _, u := range env.BrowserURLs() {
		opened = opened || strings.HasPrefix(u, env.Issuer+"/device")
	}
	if !opened {
		t.Errorf("the browser was not opened on the verification URL; it got %q", env.BrowserURLs())
	}
	assertNoLeaks(t, env, "", r)
}

func TestLoginRSAPEMKey(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	env := Setup(t, SSHDOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("IdentityFile with IdentitiesOnly", func(t *testing.T) {
		cfg := env.SSHConfig(t, "ec2", ClientConfig{IdentityFile: env.SSHD.RSAKey, IdentitiesOnly: true})
		r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "ec2", nil, env.TestLoginArgs(tools, "urlencoded")...)...))
		if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Logged in as Demo User") {
			t.Fatalf("kfwd login with an RSA PEM key: %s\nsshd log:\n%s", r, env.SSHD.Log())
		}
	})
	t.Run("-i with IdentitiesOnly", func(t *testing.T) {
		// The configured key is not authorized (it is the server's own host key), so only -i works.
		cfg := env.SSHConfig(t, "ec2", ClientConfig{IdentityFile: env.SSHD.HostKeyFiles[0]})
		flags := []string{"-i", env.SSHD.RSAKey, "-o", "IdentitiesOnly=yes"}
		r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "ec2", flags, "echo", "pem-ok")...))
		if r.ExitCode != 0 || !strings.Contains(r.Stdout, "pem-ok") {
			t.Fatalf("kfwd login -i key.pem: %s\nsshd log:\n%s", r, env.SSHD.Log())
		}
	})
}

func TestLoginUnknownHostKey(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	env := Setup(t, SSHDOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	empty := ""
	cfg := env.SSHConfig(t, "srv", ClientConfig{KnownHosts: &empty, StrictHostKeyChecking: "yes"})
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "plain")...)...))
	if r.ExitCode != 255 {
		t.Fatalf("unknown host key with StrictHostKeyChecking=yes: want exit 255, got %s", r)
	}
	if !strings.Contains(r.Stderr, env.SSHD.Host) && !strings.Contains(r.Stderr, "srv") {
		t.Errorf("the error does not name the host (%s or srv):\n%s", env.SSHD.Host, r.Stderr)
	}
	if strings.Contains(r.Stdout, "Open this URL") || len(env.NS.ProcessesMatching(tools.TestLogin)) > 0 {
		t.Errorf("the remote login ran despite the unknown host key:\n%s", r)
	}
}

func TestLoginChangedHostKey(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	env := Setup(t, SSHDOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// Line 1 is another host; line 2 has the right host with a wrong key (the client's own key).
	fields := strings.Fields(env.SSHD.ClientPublicKey)
	khFile := filepath.Join(t.TempDir(), "known_hosts")
	kh := "10.78.255.9 " + fields[0] + " " + fields[1] + "\n" + env.SSHD.Host + " " + fields[0] + " " + fields[1] + "\n"
	writeFile(t, khFile, kh)
	cfg := env.SSHConfig(t, "srv", ClientConfig{KnownHostsFile: khFile})
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "plain")...)...))
	if r.ExitCode != 255 {
		t.Fatalf("changed host key: want exit 255, got %s", r)
	}
	if !strings.Contains(r.Stderr, khFile) {
		t.Errorf("the error does not name the known_hosts file %s:\n%s", khFile, r.Stderr)
	}
	if !strings.Contains(r.Stderr, khFile+":2") && !regexp.MustCompile(`line 2\b`).MatchString(r.Stderr) {
		t.Errorf("the error does not name line 2 of the known_hosts file:\n%s", r.Stderr)
	}
	if len(env.NS.ProcessesMatching(tools.TestLogin)) > 0 {
		t.Errorf("the remote login ran despite the changed host key")
	}
}

func TestLoginRemoteCommandMissing(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, "/nonexistent/kfwd-e2e-no-such-cli", "login")...))
	if r.ExitCode != 127 {
		t.Fatalf("missing remote command: want exit 127, got %s", r)
	}
}

func TestLoginRemoteStatus(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	// A remote command that fails: kfwd shows its output and exits with its status.
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, "sh", "-c", "echo failing; exit 3")...))
	if r.ExitCode != 3 || !strings.Contains(r.Stdout, "failing") {
		t.Fatalf("remote exit 3: want kfwd exit 3 with the output, got %s", r)
	}
}

func TestLoginLocalPortBusy(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "plain", "-port", port)...)...))
	if r.ExitCode == 0 || r.ExitCode == -1 {
		t.Fatalf("local port busy: want a failure exit, got %s", r)
	}
	t.Logf("kfwd exited %d after %v", r.ExitCode, r.Elapsed)
	if !strings.Contains(r.Stderr, port) {
		t.Errorf("the error does not name the busy port %s:\n%s", port, r.Stderr)
	}
	assertGone(t, env, "after the port error", tools.TestLogin, "sshd: root")
	if n := len(env.BrowserURLs()); n != 0 {
		t.Errorf("the browser was opened %d times although the callback cannot work", n)
	}
}

func TestLoginInterrupt(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	port := strconv.Itoa(FreePort(t))
	cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "plain", "-port", port)...)...)
	cmd.Env = append(cmd.Env, "KFWD_TEST_BROWSER_FETCH=0") // the user never finishes signing in
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the remote login and the local forward", func() bool {
		if len(env.NS.ProcessesMatching(tools.TestLogin)) == 0 {
			return false
		}
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("kfwd did not exit after SIGINT:\n%s", p.Stderr())
	}
	r := p.Wait()
	if r.ExitCode == 0 || r.ExitCode == -1 {
		t.Errorf("kfwd after SIGINT: want a failure exit (130), got %s", r)
	}
	assertGone(t, env, "after SIGINT", tools.TestLogin, "sshd: root")
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
	if err == nil {
		c.Close()
		t.Errorf("a local listener on 127.0.0.1:%s is left after kfwd exited", port)
	}
}

func TestLoginConnectionLost(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	env := Setup(t, SSHDOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	relay := NewRelay(t, env.SSHD.Addr, 0)
	host, rport := relay.HostPort()
	kh := env.SSHD.KnownHostsFor(relay.Addr)
	cfg := env.SSHConfig(t, "srv", ClientConfig{HostName: host, Port: rport, KnownHosts: &kh})
	flags := []string{"-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2"}
	cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", flags, env.TestLoginArgs(tools, "plain")...)...)
	cmd.Env = append(cmd.Env, "KFWD_TEST_BROWSER_FETCH=0")
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the remote login to start", func() bool {
		return strings.Contains(p.Stdout(), "Open this URL") && len(env.NS.ProcessesMatching(tools.TestLogin)) > 0
	})
	relay.SetBlackhole(true)
	select {
	case <-p.Done():
	case <-ctx.Done():
		t.Fatalf("kfwd did not notice the silent network:\n%s", p.Stderr())
	}
	r := p.Wait()
	if r.ExitCode == 0 || r.ExitCode == -1 {
		t.Errorf("connection lost: want a failure exit, got %s", r)
	}
	if !strings.Contains(r.Stderr, "connection lost") {
		t.Errorf("stderr does not say \"connection lost\":\n%s", r.Stderr)
	}
}

// assertGone waits up to 10 seconds for every process in the namespace whose command line contains
// one of substrs to exit, and fails listing those left.
func assertGone(t *testing.T, env *Env, when string, substrs ...string) {
	t.Helper()
	left := func() []int {
		var pids []int
		for _, s := range substrs {
			pids = append(pids, env.NS.ProcessesMatching(s)...)
		}
		return pids
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(left()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if pids := left(); len(pids) > 0 {
		var b strings.Builder
		for _, p := range pids {
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
			line := strings.ReplaceAll(string(cmdline), "\x00", " ")
			if len(line) > 120 {
				line = line[:120] + "..."
			}
			fmt.Fprintf(&b, "\n  pid %d: %s", p, line)
		}
		t.Errorf("processes left running on the remote %s:%s", when, b.String())
	}
}

// TestLoginCallbackOutsideTheLogin: the login's callback listener is not one of the login's
// processes (here a testlogin the test starts in the namespace itself, as a container's
// published port or a daemon would hold it); the login only prints its authorize URL and waits.
// The listener watch never sees the port, so kfwd forwards nothing, opens nothing and says why,
// naming -L; with -L PORT the port is forwarded before the login starts and the sign-in completes.
func TestLoginCallbackOutsideTheLogin(t *testing.T) {
	for _, declared := range []bool{false, true} {
		name := "unseen"
		if declared {
			name = "declared with -L"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
			port := FreePort(t)
			out, tokenFile := filepath.Join(env.Dir, "daemon.out"), filepath.Join(env.Dir, "token")
			daemon := env.NS.Command(ctx, tools.TestLogin, "-issuer", env.Issuer, "-style", "urlencoded",
				"-port", strconv.Itoa(port), "-token-file", tokenFile, "-timeout", "60s")
			f, err := os.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			daemon.Stdout, daemon.Stderr = f, f
			if err := daemon.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
			for i := 0; ; i++ {
				if b, _ := os.ReadFile(out); strings.Contains(string(b), "/authorize?") {
					break
				}
				if i > 200 {
					t.Fatal("the callback daemon printed no authorize URL")
				}
				time.Sleep(25 * time.Millisecond)
			}
			// The login: the daemon's URL, then wait for its token.
			login := []string{"sh", "-c", `cat "$1"; while [ ! -s "$2" ]; do sleep 0.1; done; echo "Logged in."`, "sh", out, tokenFile}
			flags := []string{"--timeout", "8s"}
			if declared {
				flags = []string{"-L", strconv.Itoa(port)}
			}
			r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", flags, login...)...))
			opened := false
			for _, u := range env.BrowserURLs() {
				opened = opened || strings.HasPrefix(u, env.Issuer+"/authorize?")
			}
			if !declared {
				if r.ExitCode == 0 || opened {
					t.Errorf("want the login to time out with nothing opened (opened: %v):\n%s", opened, r)
				}
				want := fmt.Sprintf("kfwd: not forwarding port %d: a sign-in URL redirects to it, but no process of the login listens on it;", port)
				if !strings.Contains(r.Stderr, want) || !strings.Contains(r.Stderr, fmt.Sprintf("-L %d", port)) {
					t.Errorf("stderr lacks the notice with the -L hint:\n%s", r)
				}
				return
			}
			if r.ExitCode != 0 || !opened || !strings.Contains(r.Stdout, "Logged in.") {
				t.Fatalf("want the sign-in completed through -L (opened: %v):\n%s", opened, r)
			}
			if n := strings.Count(r.Stderr, fmt.Sprintf("callback port %d: forwarding", port)); n != 1 {
				t.Errorf("want port %d forwarded once, said %d times:\n%s", port, n, r)
			}
			assertNoLeaks(t, env, tokenFile, r)
		})
	}
}
