package e2e

// End-to-end tests of issue 8 ("know, don't guess"): kfwd login learns the callback port from the
// remote's own sockets (the listener watch), gets opener URLs whatever the CLI did with the opener's
// descriptors, and bounds what remote output can make it do.

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// listenPorts returns the TCP ports pid listens on (any address), from /proc: the LISTEN lines of
// /proc/net/tcp{,6} whose inode is one of the process's socket descriptors.
func listenPorts(pid int) []int {
	inodes := map[string]bool{}
	fds, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/fd/*")
	for _, fd := range fds {
		if l, err := os.Readlink(fd); err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var ports []int
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n") {
			fl := strings.Fields(line)
			if len(fl) < 10 || fl[3] != "0A" || !inodes[fl[9]] {
				continue
			}
			_, hp, _ := strings.Cut(fl[1], ":")
			if p, err := strconv.ParseUint(hp, 16, 16); err == nil && !slices.Contains(ports, int(p)) {
				ports = append(ports, int(p))
			}
		}
	}
	return ports
}

// listenerSampler records every port a process listens on while it runs.
type listenerSampler struct {
	mu    sync.Mutex
	ports []int
	stop  chan struct{}
	done  chan struct{}
}

func sampleListeners(pid int) *listenerSampler {
	s := &listenerSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			now := listenPorts(pid)
			s.mu.Lock()
			for _, p := range now {
				if !slices.Contains(s.ports, p) {
					s.ports = append(s.ports, p)
				}
			}
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return s
}

func (s *listenerSampler) result() []int {
	close(s.stop)
	<-s.done
	return s.ports
}

// runSampled runs kfwd like Run, recording the ports it listens on.
func runSampled(t *testing.T, p *Process, err error) (Result, []int) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	s := sampleListeners(p.Cmd.Process.Pid)
	r := p.Wait()
	return r, s.result()
}

// jsonEvents parses kfwd --json's stdout.
func jsonEvents(t *testing.T, stdout string) []map[string]any {
	t.Helper()
	var evs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Errorf("--json line is not JSON: %q", sc.Text())
			continue
		}
		evs = append(evs, ev)
	}
	return evs
}

// forwardedBy returns the ports of callback actions in --json output, with what each rests on.
func forwardedBy(evs []map[string]any) map[int]string {
	out := map[int]string{}
	for _, ev := range evs {
		if ev["type"] == "callback" {
			p, _ := ev["port"].(float64)
			by, _ := ev["by"].(string)
			out[int(p)] = by
		}
	}
	return out
}

// runInPTY runs cmd with a terminal as its stdin, stdout and stderr, as a person does.
func runInPTY(t *testing.T, cmd *exec.Cmd) Result {
	t.Helper()
	began := time.Now()
	ptmx, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	var out syncBuffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, ptmx); close(copied) }() //nolint:errcheck // ends with EIO when the child exits
	err = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(2 * time.Second):
	}
	code := 0
	if err != nil {
		code = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
	}
	return Result{Stdout: out.String(), ExitCode: code, Err: err, Elapsed: time.Since(began)}
}

// A login that never prints its port and hands the URL to xdg-open with stdin, stdout and stderr
// at /dev/null and every other descriptor closed, in a terminal (kfwd's stdin is a TTY, so the
// remote login gets a PTY).
func TestKnowQuietOpenerPTY(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "xdgopen-quiet")...)...)
	r := runInPTY(t, cmd)
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Logged in as Demo User") {
		t.Fatalf("quiet opener in a terminal: %s\nsshd log:\n%s", r, env.SSHD.Log())
	}
	if urls := env.BrowserURLs(); len(urls) != 1 || !strings.HasPrefix(urls[0], env.Issuer+"/authorize?") {
		t.Errorf("browser opened %q, want the authorize URL once", urls)
	}
	env.AssertNoSecrets(t, "kfwd output", r.Stdout)
}

// A login that sends its port only through a back channel: it posts its authorize URL to the
// authorization server and prints a page URL that names no port; the page redirects the browser to
// the loopback port it was told about. Only the watch can find that port.
func TestKnowBackChannelPort(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"--json"}, env.TestLoginArgs(tools, "backchannel")...)...))
	if r.ExitCode != 0 || !strings.Contains(r.Stderr, "Logged in as Demo User") {
		t.Fatalf("back-channel login: %s\nsshd log:\n%s", r, env.SSHD.Log())
	}
	if strings.Contains(r.Stderr, "127.0.0.1:") {
		t.Errorf("the login printed a loopback address; the port must reach kfwd only through the watch:\n%s", r.Stderr)
	}
	fw := forwardedBy(jsonEvents(t, r.Stdout))
	if len(fw) != 1 {
		t.Fatalf("forwarded %v, want exactly the login's port", fw)
	}
	for p, by := range fw {
		if by != "watch" || p < 1024 {
			t.Errorf("port %d forwarded by %q, want by the watch", p, by)
		}
	}
	if urls := env.BrowserURLs(); len(urls) != 1 || !strings.HasPrefix(urls[0], env.Issuer+"/cli-session?id=") {
		t.Errorf("browser opened %q, want the hosted page once", urls)
	}
	env.AssertNoSecrets(t, "kfwd output", r.Output())
}

// A login that mentions a metrics endpoint on localhost:9100 while 9100 is busy here: the port is
// not the login's (the watch does not see it), so kfwd neither fails on it nor listens on it.
func TestKnowDecoyMetricsPortBusy(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	if l, err := net.Listen("tcp", "127.0.0.1:9100"); err == nil {
		defer l.Close()
	} else if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("making 9100 busy: %v", err)
	}
	p, err := Start(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"--json"}, env.TestLoginArgs(tools, "urlencoded", "-decoy", "metrics")...)...))
	r, ports := runSampled(t, p, err)
	if r.ExitCode != 0 || !strings.Contains(r.Stderr, "Logged in as Demo User") {
		t.Fatalf("login with a metrics decoy: %s", r)
	}
	if !strings.Contains(r.Stderr, "localhost:9100/metrics") {
		t.Errorf("the decoy line is missing from the output:\n%s", r.Stderr)
	}
	if slices.Contains(ports, 9100) {
		t.Errorf("kfwd listened on 9100 (ports %v)", ports)
	}
	if _, ok := forwardedBy(jsonEvents(t, r.Stdout))[9100]; ok {
		t.Errorf("kfwd decided to forward 9100:\n%s", r.Stdout)
	}
}

// floodLimits checks the bounds on what remote output can make kfwd do: no listener below 1024, at
// most 8 listeners, at most 4 browser opens.
func floodLimits(t *testing.T, env *Env, ports []int) {
	t.Helper()
	for _, p := range ports {
		if p < 1024 {
			t.Errorf("kfwd listened on port %d", p)
		}
	}
	// ports holds each port once, whether on 127.0.0.1, ::1 or both.
	if len(ports) > 8 {
		t.Errorf("kfwd listened on %d ports: %v", len(ports), ports)
	}
	if n := len(env.BrowserURLs()); n > 4 {
		t.Errorf("kfwd opened the browser %d times", n)
	}
}

// Decoy lines naming ports 80 and 5432 and 2000 loopback callback URLs, after the real sign-in
// URL: kfwd forwards only the login's port and still signs in.
func TestKnowDecoyFlood(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	p, err := Start(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"--json"}, env.TestLoginArgs(tools, "urlencoded", "-decoy", "flood")...)...))
	r, ports := runSampled(t, p, err)
	if r.ExitCode != 0 || !strings.Contains(r.Stderr, "Logged in as Demo User") {
		t.Fatalf("login with a flood of decoys: %.3000s", r)
	}
	floodLimits(t, env, ports)
	if fw := forwardedBy(jsonEvents(t, r.Stdout)); len(fw) != 1 {
		t.Errorf("forwarded %v, want only the login's port", fw)
	}
}

// The same flood where the watch cannot run: the text alone decides, within the same bounds.
func TestKnowDecoyFloodTextOnly(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{ProcMount: "subset=pid"})
	p, err := Start(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"--json"}, env.TestLoginArgs(tools, "urlencoded", "-decoy", "flood")...)...))
	r, ports := runSampled(t, p, err)
	floodLimits(t, env, ports)
	if r.ExitCode != 0 || !strings.Contains(r.Stderr, "Logged in as Demo User") {
		t.Errorf("text-only login with a flood of decoys: %.3000s", r)
	}
	if fw := forwardedBy(jsonEvents(t, r.Stdout)); len(fw) == 0 || len(fw) > 8 {
		t.Errorf("forwarded %v, want 1 to 8 ports", fw)
	}
}

// A pasted redirect URL carrying a code for a non-loopback redirect is never opened and never
// appears in --json.
func TestKnowPastedRedirectNeverOpened(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"--json"}, env.TestLoginArgs(tools, "urlencoded", "-decoy", "pasted")...)...))
	if r.ExitCode != 0 || !strings.Contains(r.Stderr, "Logged in as Demo User") {
		t.Fatalf("login with a pasted URL: %s", r)
	}
	const code = "pastedcode0123456789abcdef"
	if !strings.Contains(r.Stderr, code) {
		t.Fatalf("the login's pasted URL is missing from its output:\n%s", r.Stderr)
	}
	if strings.Contains(r.Stdout, code) || strings.Contains(r.Stdout, "app.example.com") {
		t.Errorf("--json names the pasted URL:\n%s", r.Stdout)
	}
	for _, u := range env.BrowserURLs() {
		if strings.Contains(u, "app.example.com") {
			t.Errorf("the browser was sent to the pasted URL %s", u)
		}
	}
}

// A remote whose /proc hides everything but the processes (mounted with subset=pid): the watch is
// unavailable, kfwd says so with -v, and the text alone still signs in.
func TestKnowWatchUnavailableTextOnly(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{ProcMount: "subset=pid"})
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"-v"}, env.TestLoginArgs(tools, "urlencoded")...)...))
	assertLoggedIn(t, env, "text-only login", r)
	if !strings.Contains(r.Stderr, "listener watch is unavailable (/proc/net/tcp is not readable)") {
		t.Errorf("-v does not say that the watch is unavailable:\n%s", r.Stderr)
	}
	d := Run(env.KfwdCommand(ctx, tools, "doctor", "-F", cfg, "srv"))
	if !strings.Contains(d.Stdout, "watch") || !strings.Contains(d.Stdout, "unavailable (/proc/net/tcp is not readable)") {
		t.Errorf("kfwd doctor does not report the watch as unavailable:\n%s", d)
	}
}

// kfwd doctor on a plain Linux host says that the watch works.
func TestKnowDoctorWatch(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	d := Run(env.KfwdCommand(ctx, tools, "doctor", "-F", cfg, "srv"))
	if !strings.Contains(d.Stdout, "kfwd sees which ports the login listens on (/proc)") {
		t.Errorf("kfwd doctor does not report a working watch:\n%s", d)
	}
}
