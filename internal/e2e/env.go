package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/oauthdemo"
)

// Env is one test's world: a namespace with a real sshd (the "remote machine") and an oauthdemo
// authorization server on the host side of the veth pair, reachable from both sides.
type Env struct {
	NS     *Netns
	SSHD   *SSHD
	OAuth  *oauthdemo.Server
	Issuer string // http://10.78.N.1:PORT
	Dir    string
	// BrowserLog is the file testbrowser appends the URLs it opens to (via $KFWD_TEST_BROWSER_LOG).
	BrowserLog string
}

// Setup creates a namespace, starts sshd in it and the authorization server next to it.
func Setup(t testing.TB, opts SSHDOptions) *Env {
	t.Helper()
	ns := NewNetns(t)
	e := &Env{NS: ns, Dir: t.TempDir()}
	e.SSHD = StartSSHD(t, ns, opts)
	e.OAuth = oauthdemo.New("")
	issuer, err := e.OAuth.Start(net.JoinHostPort(ns.HostIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.OAuth.Close() })
	e.Issuer = issuer
	e.BrowserLog = filepath.Join(e.Dir, "browser.log")
	return e
}

// SSHConfig writes an ssh_config with a Host block for alias pointing at the env's sshd.
func (e *Env) SSHConfig(t testing.TB, alias string, c ClientConfig) string {
	t.Helper()
	return e.SSHD.SSHConfig(t, alias, c)
}

// TestLoginArgs returns the remote command line running testlogin against the env's issuer.
func (e *Env) TestLoginArgs(tools *Tools, style string, extra ...string) []string {
	return append([]string{tools.TestLogin, "-issuer", e.Issuer, "-style", style, "-timeout", "60s"}, extra...)
}

// KfwdEnv returns the environment for running kfwd (or ssh) locally: a private HOME, no agent,
// $BROWSER set to testbrowser logging to BrowserLog, plus extra "K=V" entries.
func (e *Env) KfwdEnv(tools *Tools, extra ...string) []string {
	home := filepath.Join(e.Dir, "home")
	os.MkdirAll(home, 0o700) //nolint:errcheck // surfaces as a kfwd error if it failed
	env := []string{
		"HOME=" + home,
		"PATH=" + os.Getenv("PATH"),
		"USER=root",
		"LOGNAME=root",
		"LANG=C",
		"TERM=dumb",
		"BROWSER=" + tools.TestBrowser,
		"KFWD_TEST_BROWSER_LOG=" + e.BrowserLog,
	}
	return append(env, extra...)
}

// BrowserURLs returns the URLs testbrowser was asked to open, in order.
func (e *Env) BrowserURLs() []string {
	b, _ := os.ReadFile(e.BrowserLog)
	var urls []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !strings.HasPrefix(l, "# ") {
			urls = append(urls, l)
		}
	}
	return urls
}

// AssertNoSecrets fails the test when out contains any code or token the authorization server issued.
func (e *Env) AssertNoSecrets(t testing.TB, what, out string) {
	t.Helper()
	for _, s := range e.OAuth.Issued() {
		if len(s) >= 8 && strings.Contains(out, s) {
			t.Errorf("%s contains a secret issued by the authorization server (%.4s...)", what, s)
		}
	}
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago (the namespace's loopback is
// fresh, so it is free there too).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ManualResult is the outcome of ManualLogin.
type ManualResult struct {
	Output  string        // ssh's stdout and stderr
	Elapsed time.Duration // from starting ssh to its exit
	URL     string        // the authorize URL the browser opened
}

var authorizeURL = regexp.MustCompile(`https?://\S+/authorize\?\S+`)

// ManualLogin performs the login the way people do without kfwd: pick the callback port,
// `ssh -L PORT:localhost:PORT host testlogin -port PORT`, copy the URL from the output into the
// browser (testbrowser) and wait for the remote login to finish. It is the baseline for benchmarks.
// sshConfig and alias select the host; style is a testlogin style.
func (e *Env) ManualLogin(ctx context.Context, t testing.TB, tools *Tools, sshConfig, alias, style string) (ManualResult, error) {
	t.Helper()
	port := FreePort(t)
	p := strconv.Itoa(port)
	start := time.Now()
	args := append([]string{"-F", sshConfig, "-o", "ExitOnForwardFailure=yes", "-L", p + ":localhost:" + p, alias, "--"},
		e.TestLoginArgs(tools, style, "-port", p)...)
	cmd := exec.CommandContext(ctx, "ssh", args...)
	cmd.Env = e.KfwdEnv(tools)
	var out syncBuffer
	urlCh := make(chan string, 1)
	cmd.Stdout = &urlWatcher{w: &out, ch: urlCh}
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		return ManualResult{}, fmt.Errorf("starting ssh: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var res ManualResult
	var err error
	select {
	case u := <-urlCh:
		res.URL = u
		b := exec.CommandContext(ctx, tools.TestBrowser, u)
		b.Env = e.KfwdEnv(tools)
		if bout, err := b.CombinedOutput(); err != nil {
			out.Write(bout)    //nolint:errcheck
			cmd.Process.Kill() //nolint:errcheck
			<-exited
			return res, fmt.Errorf("browser: %v\n%s", err, out.String())
		}
		err = <-exited
	case err = <-exited:
		if err == nil {
			err = fmt.Errorf("exited before printing a sign-in URL")
		}
	}
	res.Elapsed = time.Since(start)
	res.Output = out.String()
	if err != nil {
		return res, fmt.Errorf("ssh: %v\n%s", err, res.Output)
	}
	return res, nil
}

// urlWatcher copies output to w and sends the first authorize URL seen on a complete line to ch.
type urlWatcher struct {
	w    *syncBuffer
	ch   chan string
	line []byte
	sent bool
}

func (u *urlWatcher) Write(p []byte) (int, error) {
	u.w.Write(p) //nolint:errcheck // syncBuffer never fails
	u.line = append(u.line, p...)
	for {
		i := bytes.IndexByte(u.line, '\n')
		if i < 0 {
			return len(p), nil
		}
		if m := authorizeURL.Find(u.line[:i]); m != nil && !u.sent {
			u.sent = true
			u.ch <- string(m)
		}
		u.line = u.line[i+1:]
	}
}

// KfwdCommand returns `kfwd ARGS...` with KfwdEnv's environment. Its stdin is an open pipe that never
// delivers data (not a terminal and no EOF), like kfwd started from a script.
func (e *Env) KfwdCommand(ctx context.Context, tools *Tools, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, tools.Kfwd, args...)
	cmd.Env = e.KfwdEnv(tools)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// Result is the outcome of Run.
type Result struct {
	Stdout, Stderr string
	ExitCode       int // -1 when the process did not exit normally (killed, not started)
	Err            error
	Elapsed        time.Duration
}

// Output returns stdout and stderr together, for assertions and failure messages.
func (r Result) Output() string { return r.Stdout + r.Stderr }

func (r Result) String() string {
	return fmt.Sprintf("exit %d (%v) after %v\n--- stdout:\n%s\n--- stderr:\n%s", r.ExitCode, r.Err, r.Elapsed.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// Process is a started command whose output is being collected.
type Process struct {
	Cmd            *exec.Cmd
	stdout, stderr syncBuffer
	stdin          io.Closer
	start          time.Time
	done           chan struct{}
	result         Result
}

// Start starts cmd, collecting its output; unless cmd.Stdin is set, stdin is a pipe kept open until
// the process exits.
func Start(cmd *exec.Cmd) (*Process, error) {
	p := &Process{Cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &p.stdout, &p.stderr
	if cmd.Stdin == nil {
		w, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		p.stdin = w
	}
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", cmd.Path, err)
	}
	go func() {
		err := cmd.Wait()
		if p.stdin != nil {
			p.stdin.Close()
		}
		p.result = Result{Stdout: p.stdout.String(), Stderr: p.stderr.String(), ExitCode: cmd.ProcessState.ExitCode(), Err: err, Elapsed: time.Since(p.start)}
		close(p.done)
	}()
	return p, nil
}

// Stdout and Stderr return the output so far.
func (p *Process) Stdout() string { return p.stdout.String() }
func (p *Process) Stderr() string { return p.stderr.String() }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit and returns its result.
func (p *Process) Wait() Result {
	<-p.done
	return p.result
}

// Run runs cmd to completion (see Start).
func Run(cmd *exec.Cmd) Result {
	p, err := Start(cmd)
	if err != nil {
		return Result{ExitCode: -1, Err: err}
	}
	return p.Wait()
}
