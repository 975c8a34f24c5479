package e2e

// End-to-end tests of the remote login's lifecycle (issue 9 items 3-6, issue 8 item 3): the
// wrapper's line under every login shell, stopping the whole login, the pid file, the opener's URL
// channel, and no orphan after a lost connection.

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// hostileArgs broke the wrapper's command line under some login shell: under fish an argument
// ending in \ ended the quoting, and a crafted one ran a command.
var hostileArgs = []string{`C:\dir\`, `x\' ; touch /tmp/kfwd-e2e-pwned ; echo \`, "a'b", "!!", "$(id)", "line\nbreak", "%s", "-n", ""}

// TestLoginEveryLoginShell runs a login, and a command with hostile arguments, with each shell as
// the remote user's login shell.
func TestLoginEveryLoginShell(t *testing.T) {
	for _, sh := range []string{"sh", "dash", "bash", "zsh", "fish", "csh", "tcsh"} {
		t.Run(sh, func(t *testing.T) {
			t.Parallel()
			path, err := exec.LookPath(sh)
			if err != nil {
				t.Fatalf("%s is not installed (.ci/run installs it): %v", sh, err)
			}
			tools, env, ctx, cfg := setupLogin(t, SSHDOptions{LoginShell: path})
			r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "urlencoded")...)...))
			assertLoggedIn(t, env, sh, r)

			want := ""
			for _, a := range hostileArgs {
				want += "<" + a + ">"
			}
			r = Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"-q"}, append([]string{"printf", "<%s>"}, hostileArgs...)...)...))
			if r.ExitCode != 0 || !strings.Contains(r.Stdout, want) {
				t.Errorf("under %s the arguments changed:\n got %q\nwant %q\n%s", sh, r.Stdout, want, r)
			}
			if _, err := os.Stat("/tmp/kfwd-e2e-pwned"); err == nil {
				os.Remove("/tmp/kfwd-e2e-pwned")
				t.Errorf("under %s an argument ran a command", sh)
			}
			assertLoginGone(t, env, "after the logins", tools)
		})
	}
}

// cliWrapper writes a script that starts the real CLI as its child and waits, as a Node or shell
// launcher does (gcloud is a shell script running python): stopping only the script's process
// would leave the CLI, reparented to init, holding its callback port.
func cliWrapper(t *testing.T, env *Env) string {
	t.Helper()
	p := filepath.Join(env.Dir, "cli-launcher")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n\"$@\" &\nwait\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoginStopsWrappedCLI interrupts a login without a PTY whose CLI is started by a launcher
// script: afterwards nothing of the login runs on the remote and its callback port is free there.
func TestLoginStopsWrappedCLI(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	port := FreePort(t)
	remote := append([]string{cliWrapper(t, env)}, env.TestLoginArgs(tools, "plain", "-port", strconv.Itoa(port))...)
	cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, remote...)...)
	cmd.Env = append(cmd.Env, "KFWD_TEST_BROWSER_FETCH=0") // the user never finishes signing in
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the remote login", func() bool { return strings.Contains(p.Stdout(), "Open this URL") })
	cmd.Process.Signal(os.Interrupt)
	r := p.Wait()
	if r.ExitCode != 130 {
		t.Errorf("kfwd after SIGINT: want exit 130, got %s", r)
	}
	assertLoginGone(t, env, "after SIGINT", tools, "cli-launcher")
	if out, err := env.NS.Command(ctx, "nc", "-z", "-w", "1", "127.0.0.1", strconv.Itoa(port)).CombinedOutput(); err == nil {
		t.Errorf("the callback port %d is still listening on the remote: %s", port, out)
	}
}

// TestLoginPidFilePrivate: while a login runs, its pid file is in a private (0700) directory of
// its own, not at a guessable name in /tmp.
func TestLoginPidFilePrivate(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	script := `d=$(dirname "$(command -v xdg-open)"); ls -ld "$d" "$d/pid"; cat "$d/pid"; i=${d##*/kfwd-}; i=${i%%.*}; ls -d /tmp/*$i* | grep -c -v "^$d$" || true`
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"-q"}, "sh", "-c", script)...))
	lines := strings.Split(strings.TrimSpace(r.Stdout), "\n")
	if r.ExitCode != 0 || len(lines) < 4 {
		t.Fatalf("%s", r)
	}
	if !strings.HasPrefix(lines[0], "drwx------") || !strings.Contains(lines[0], "/kfwd-") {
		t.Errorf("the wrapper's directory is not private: %q", lines[0])
	}
	if !strings.Contains(lines[1], "/pid") || strings.TrimSpace(lines[3]) != "0" {
		t.Errorf("pid file not in the private directory, or one at a guessable name in /tmp: %q", lines)
	}
}

// TestLoginOpenerDetached: the CLI prints nothing and hands the URL to xdg-open with stdio at
// /dev/null and no other descriptor; kfwd still opens it and the login succeeds, without a PTY
// (kfwd's stdin a pipe) and with one (kfwd on a terminal).
func TestLoginOpenerDetached(t *testing.T) {
	t.Run("no pty", func(t *testing.T) {
		t.Parallel()
		tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
		r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "xdgopen-quiet")...)...))
		assertLoggedIn(t, env, "detached opener, no pty", r)
		assertLoginGone(t, env, "after the login", tools)
	})
	t.Run("pty", func(t *testing.T) {
		t.Parallel()
		tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
		r := runOnTerminal(t, env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "xdgopen-quiet")...)...))
		assertLoggedIn(t, env, "detached opener, pty", r)
		assertLoginGone(t, env, "after the login", tools)
	})
}

// runOnTerminal runs cmd with a pseudo-terminal as its stdin, stdout and stderr; the Result has
// everything in Stdout.
func runOnTerminal(t *testing.T, cmd *exec.Cmd) Result {
	t.Helper()
	start := time.Now()
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out syncBuffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, f); close(copied) }()
	err = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	return Result{Stdout: strings.ReplaceAll(out.String(), "\r\n", "\n"), ExitCode: cmd.ProcessState.ExitCode(), Err: err, Elapsed: time.Since(start)}
}

// lostSetup runs a login through a relay with a fast keepalive, and waits until it runs.
func lostSetup(t *testing.T, extra ...string) (*Tools, *Env, context.Context, *Relay, *Process) {
	t.Helper()
	tools, env, ctx, _ := setupLogin(t, SSHDOptions{})
	relay := NewRelay(t, env.SSHD.Addr, 0)
	host, rport := relay.HostPort()
	kh := env.SSHD.KnownHostsFor(relay.Addr)
	cfg := env.SSHConfig(t, "srv", ClientConfig{HostName: host, Port: rport, KnownHosts: &kh})
	flags := append([]string{"-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2", "-o", "ConnectTimeout=2"}, extra...)
	cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", flags, env.TestLoginArgs(tools, "plain")...)...)
	cmd.Env = append(cmd.Env, "KFWD_TEST_BROWSER_FETCH=0")
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the remote login to start", func() bool {
		return strings.Contains(p.Stdout(), "Open this URL") && len(env.NS.ProcessesMatching(tools.TestLogin)) > 0
	})
	return tools, env, ctx, relay, p
}

// assertLostError checks kfwd's error after a lost connection: the plain "connection lost", its
// hint, exit 255, and none of x/crypto's internals.
func assertLostError(t *testing.T, r Result) {
	t.Helper()
	if r.ExitCode != 255 || !strings.Contains(r.Stderr, "kfwd: error: connection lost") || !strings.Contains(r.Stderr, "kfwd: hint:") {
		t.Errorf("connection lost: want the plain error with its hint and exit 255, got %s", r)
	}
	for _, bad := range []string{"without an exit status", "wait:"} {
		if strings.Contains(r.Stderr, bad) {
			t.Errorf("the error shows internals (%q):\n%s", bad, r.Stderr)
		}
	}
}

// TestLoginConnectionLostStopsLogin: the network drops the connection silently (a NAT mapping
// gone) but works again; kfwd reports the loss, reconnects once and stops the remote login.
func TestLoginConnectionLostStopsLogin(t *testing.T) {
	t.Parallel()
	tools, env, _, relay, p := lostSetup(t)
	relay.BlackholeExisting()
	r := p.Wait()
	assertLostError(t, r)
	if strings.Contains(r.Stderr, "could not stop") {
		t.Errorf("kfwd says it could not stop the login although the network is back:\n%s", r.Stderr)
	}
	assertLoginGone(t, env, "after the lost connection", tools)
}

// TestLoginConnectionLostStaleCleanup: the network stays silent, so kfwd cannot stop the login
// and says so; the next kfwd login to the host stops it, since no live kfwd owns it.
func TestLoginConnectionLostStaleCleanup(t *testing.T) {
	t.Parallel()
	tools, env, ctx, relay, p := lostSetup(t)
	// kfwd's lease session refreshes the lease every 3 s (the wrapper wrote the first one).
	waitFor(t, ctx, "the login's lease", func() bool { return leaseWritten(env) })
	relay.SetBlackhole(true)
	r := p.Wait()
	assertLostError(t, r)
	if !strings.Contains(r.Stderr, "could not stop the remote login") {
		t.Errorf("kfwd does not say that the remote login is left running:\n%s", r.Stderr)
	}
	if len(env.NS.ProcessesMatching(tools.TestLogin)) == 0 {
		t.Fatalf("the login is gone although nothing could reach the remote: the test proves nothing")
	}
	// The orphan's lease runs out 10 s after kfwd last refreshed it; a kfwd login before that must
	// leave it alone (its owner may be alive), one after it stops it when its own lease session
	// starts, together with it.
	time.Sleep(11 * time.Second)
	cfg := env.SSHConfig(t, "direct", ClientConfig{})
	r2 := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "direct", []string{"-q"}, "sleep", "8")...))
	if r2.ExitCode != 0 {
		t.Fatalf("the next login: %s", r2)
	}
	relay.Close()
	assertLoginGone(t, env, "after the next kfwd login", tools)
}

// assertLoginGone waits up to 10 seconds for every process of a login to end on the remote: the
// test CLI, those whose command line contains one of substrs, and every process carrying a login's
// marker in its environment (KFWD_WRAPPER: the wrapper, KFWD_LEASE: the lease session,
// KFWD_SESSION: anything the CLI started); it fails listing those left.
func assertLoginGone(t *testing.T, env *Env, when string, tools *Tools, substrs ...string) {
	t.Helper()
	marked := func() []string {
		pids, _ := env.NS.Pids()
		var left []string
		for _, p := range pids {
			b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/environ")
			env := "\x00" + string(b)
			if err == nil && (strings.Contains(env, "\x00KFWD_SESSION=") || strings.Contains(env, "\x00KFWD_WRAPPER=") || strings.Contains(env, "\x00KFWD_LEASE=")) {
				c, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/cmdline")
				left = append(left, strconv.Itoa(p)+": "+strings.ReplaceAll(string(c), "\x00", " "))
			}
		}
		return left
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(marked()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if left := marked(); len(left) > 0 {
		for i, l := range left {
			if len(l) > 120 {
				left[i] = l[:120] + "..."
			}
		}
		t.Errorf("processes of the login left running on the remote %s (a KFWD_ marker in their environment):\n  %s", when, strings.Join(left, "\n  "))
	}
	assertGone(t, env, when, append([]string{tools.TestLogin}, substrs...)...)
}

// TestLoginConnectionLostEarlyStaleCleanup: the network goes silent in the login's first second,
// before kfwd's lease session refreshed the lease (issue 9 item 5: such a login had no lease, and
// no later kfwd ever stopped it). kfwd cannot stop it; the next kfwd login after the wrapper's own
// first lease ran out does.
func TestLoginConnectionLostEarlyStaleCleanup(t *testing.T) {
	t.Parallel()
	tools, env, ctx, relay, p := lostSetup(t)
	relay.SetBlackhole(true)
	start := p.start
	if early := time.Since(start); early > 2500*time.Millisecond {
		t.Fatalf("the login took %v to start: kfwd's lease session may have refreshed the lease, the test proves nothing", early)
	}
	r := p.Wait()
	assertLostError(t, r)
	if len(env.NS.ProcessesMatching(tools.TestLogin)) == 0 {
		t.Fatalf("the login is gone although nothing could reach the remote: the test proves nothing")
	}
	time.Sleep(time.Until(start.Add(11 * time.Second)))
	cfg := env.SSHConfig(t, "direct", ClientConfig{})
	r2 := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "direct", []string{"-q"}, "sleep", "3")...))
	if r2.ExitCode != 0 {
		t.Fatalf("the next login: %s", r2)
	}
	relay.Close()
	assertLoginGone(t, env, "after the next kfwd login", tools)
}

// TestLoginKilledEarlyStopsLogin: kfwd is killed (SIGKILL: no cleanup of its own) in the login's
// first second, without a PTY, so sshd hangs up nothing. The CLI prints nothing more and ignores
// the end of its input (a real test CLI dies of SIGPIPE on its next write), as one waiting for its
// callback does. The lease session, started with the login, sees its input end and stops the
// login (issue 9 item 5: it started 5 s in, and the login was left running for good).
func TestLoginKilledEarlyStopsLogin(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, "sh", "-c", "echo started; exec sleep 297")...)
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	// kfwd is killed once the login and its lease session run (a lease session still in the
	// user's shell start-up files when kfwd goes may die there; the wrapper's first lease then
	// lets the next kfwd login stop the login, see TestLoginConnectionLostEarlyStaleCleanup).
	waitFor(t, ctx, "the remote login and its lease session to start", func() bool {
		return strings.Contains(p.Stdout(), "started") && len(env.NS.ProcessesMatching("sleep 297")) > 0 && leaseRunning(env)
	})
	cmd.Process.Kill()
	if early := time.Since(p.start); early > 3*time.Second {
		t.Fatalf("the login and its lease session took %v to start: the test is about the login's first seconds (the lease session started 5 s in)", early)
	}
	p.Wait()
	assertLoginGone(t, env, "after kfwd was killed", tools, "sleep 297")
}

// leaseRunning reports whether a lease session runs in env's namespace (KFWD_LEASE in its
// environment).
func leaseRunning(env *Env) bool {
	pids, _ := env.NS.Pids()
	for _, p := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p) + "/environ")
		if err == nil && strings.Contains("\x00"+string(b), "\x00KFWD_LEASE=") {
			return true
		}
	}
	return false
}

// leaseWritten reports whether a login running in env's namespace has a lease that kfwd's lease
// session refreshed: newer than its pid file, written by the wrapper with its first lease.
func leaseWritten(env *Env) bool {
	pids, _ := env.NS.Pids()
	ours := map[string]bool{}
	for _, p := range pids {
		ours[strconv.Itoa(p)] = true
	}
	dirs, _ := filepath.Glob("/tmp/kfwd-*.*")
	for _, d := range dirs {
		pid, _ := os.ReadFile(filepath.Join(d, "pid"))
		lease, _ := os.ReadFile(filepath.Join(d, "lease"))
		fi, err := os.Stat(filepath.Join(d, "pid"))
		v, _ := strconv.ParseInt(strings.TrimSpace(string(lease)), 10, 64)
		if ours[strings.TrimSpace(string(pid))] && err == nil && v > fi.ModTime().Unix() {
			return true
		}
	}
	return false
}
