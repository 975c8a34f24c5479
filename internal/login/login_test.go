package login

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/minisshd"
	"github.com/kfwd/kfwd/internal/testutil"
	"github.com/kfwd/kfwd/internal/ui"
	"github.com/kfwd/kfwd/sshconfig"
	"github.com/kfwd/kfwd/tunnel"
	"golang.org/x/crypto/ssh"
)

// testHost is an in-process SSH server whose commands run on this machine
// with /bin/sh and whose loopback, for forwards, is an in-memory network.
type testHost struct {
	remote *minisshd.MemNet
	host   *sshconfig.Host
	dir    string // a scratch directory shared by the test and the login
}

// startHost starts the server. With watch false the listener watch cannot
// run there, so ports are found from the login's output alone; more changes
// the server's options.
func startHost(t *testing.T, watch bool, more ...func(*minisshd.Options)) *testHost {
	t.Helper()
	h := &testHost{remote: minisshd.NewMemNet(), dir: t.TempDir()}
	opts := minisshd.Options{Dial: h.remote.Dial, Exec: func(s *minisshd.Session) int {
		if !watch && strings.Contains(s.Command, "kfwd-watch") {
			return 1
		}
		return minisshd.Shell()(s)
	}}
	for _, f := range more {
		f(&opts)
	}
	srv := minisshd.Start(t, opts)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	h.host = &sshconfig.Host{
		Alias: "devbox", HostName: "127.0.0.1", Port: srv.Port(), User: "tester",
		IdentityFiles: []string{key}, IdentitiesOnly: true, IdentityAgent: "none",
		UserKnownHostsFiles: []string{filepath.Join(t.TempDir(), "known_hosts")}, StrictHostKeyChecking: "no",
		ConnectTimeout: 5 * time.Second,
	}
	return h
}

// serve answers HTTP on the remote's loopback port.
func (h *testHost) serve(t *testing.T, port int) {
	t.Helper()
	ln, err := h.remote.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from remote port %d\n", port)
	})}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
}

// program writes a login program (a shell script) and returns its path.
func (h *testHost) program(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(h.dir, "fake-cli")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// options are a login's options on h, its output going to stdout and stderr.
func (h *testHost) options(command []string, stdout, stderr io.Writer) Options {
	getenv := func(k string) string {
		if k == "TERM" {
			return "xterm"
		}
		return ""
	}
	return Options{
		UI: ui.New(stdout, stderr, getenv), Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr, Getenv: getenv,
		Host: h.host,
		Connect: func(ctx context.Context) (*tunnel.Client, error) {
			return tunnel.Dial(ctx, tunnel.DialOptions{Host: h.host})
		},
		Command: command,
	}
}

// freePort returns a port free on 127.0.0.1 here.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// takenPort returns a port on 127.0.0.1 here that the test holds until it
// ends.
func takenPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().(*net.TCPAddr).Port
}

func authorizeURL(port int) string {
	return fmt.Sprintf("https://auth.example.test/authorize?client_id=c&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fcb&state=s", port)
}

// waitForDone is the end of a login program: it waits (up to 10 s) until the
// test's opener has created the file done, and fails without it.
const waitForDone = `i=0; while [ ! -e "$KFWD_TEST_DIR/done" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
[ -e "$KFWD_TEST_DIR/done" ]
`

// opener is an Open hook that fetches the callback through kfwd's forward,
// as the browser would after the sign-in, then lets the login finish.
type opener struct {
	dir    string
	port   int
	opened chan string // the URLs, in order
	bodies chan string // what the forwarded callback answered
}

func newOpener(dir string, port int) *opener {
	return &opener{dir: dir, port: port, opened: make(chan string, 8), bodies: make(chan string, 8)}
}

func (o *opener) open(url string) error {
	o.opened <- url
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/cb?code=x", o.port))
	if err != nil {
		o.bodies <- "error: " + err.Error()
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		o.bodies <- string(b)
	}
	return os.WriteFile(filepath.Join(o.dir, "done"), nil, 0o644)
}

// run runs one login with a bound on the test's time.
func run(t *testing.T, ctx context.Context, o Options) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return Run(ctx, o)
}

func withDir(h *testHost, prog string) []string {
	return []string{"env", "KFWD_TEST_DIR=" + h.dir, prog}
}

// TestForwardAndOpen: a login that prints its sign-in URL and listens on its
// callback port (the watch sees it) gets that port forwarded to the remote's
// loopback before the opener is called with the URL; kfwd exits with the
// login's status 0.
func TestForwardAndOpen(t *testing.T) {
	t.Parallel()
	h := startHost(t, true)
	port := freePort(t)
	h.serve(t, port)
	prog := h.program(t, fmt.Sprintf(`python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.2",%d)); s.listen(1); time.sleep(20)' &
trap "kill $! 2>/dev/null" EXIT
sleep 0.3
echo "Open this URL to sign in:"
echo '%s'
`, port, authorizeURL(port))+waitForDone)
	var stdout, stderr testutil.SyncBuffer
	o := h.options(withDir(h, prog), &stdout, &stderr)
	op := newOpener(h.dir, port)
	o.Open = op.open
	if err := run(t, context.Background(), o); err != nil {
		t.Fatalf("Run: %v\nstderr:\n%s", err, stderr.String())
	}
	select {
	case u := <-op.opened:
		if u != authorizeURL(port) {
			t.Errorf("opened %q, want %q", u, authorizeURL(port))
		}
	default:
		t.Fatalf("the opener was not called; stderr:\n%s", stderr.String())
	}
	if b := <-op.bodies; !strings.Contains(b, fmt.Sprintf("hello from remote port %d", port)) {
		t.Errorf("the callback through the forward got %q", b)
	}
	if !strings.Contains(stdout.String(), "Open this URL to sign in:\n") {
		t.Errorf("the login's output did not reach stdout: %q", stdout.String())
	}
	for _, want := range []string{
		fmt.Sprintf("kfwd: callback port %d: forwarding localhost:%d to the remote through the SSH connection\n", port, port),
		"kfwd: opening https://auth.example.test/",
		"kfwd: login finished (exit status 0)\n",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// TestBusyTextPortNotFatal: without a watch, a port only the output names
// whose local port is taken is reported and skipped (it may be a decoy,
// issue 8); the sign-in on the next port goes on.
func TestBusyTextPortNotFatal(t *testing.T) {
	t.Parallel()
	h := startHost(t, false)
	decoy := takenPort(t)
	port := freePort(t)
	h.serve(t, port)
	prog := h.program(t, fmt.Sprintf(`echo "Waiting for the callback on http://127.0.0.1:%d/callback"
echo "Open this URL to sign in:"
echo '%s'
`, decoy, authorizeURL(port))+waitForDone)
	var stdout, stderr testutil.SyncBuffer
	o := h.options(withDir(h, prog), &stdout, &stderr)
	op := newOpener(h.dir, port)
	o.Open = op.open
	if err := run(t, context.Background(), o); err != nil {
		t.Fatalf("Run: %v\nstderr:\n%s", err, stderr.String())
	}
	if b := <-op.bodies; !strings.Contains(b, fmt.Sprintf("hello from remote port %d", port)) {
		t.Errorf("the callback through the forward got %q", b)
	}
	for _, want := range []string{
		fmt.Sprintf("kfwd: not forwarding port %d named by the login's output: ", decoy),
		fmt.Sprintf("kfwd: callback port %d: forwarding localhost:%d", port, port),
		"kfwd: login finished (exit status 0)\n",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
}

// pidOf waits for the login program to write its pid to the file pid.
func pidOf(t *testing.T, h *testHost) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(h.dir, "pid"))
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
			return pid
		}
	}
	t.Fatal("the login program did not start")
	return 0
}

// gone tells whether the process pid has ended (a zombie counts as ended).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}

// checkStopped fails unless the login program's process ends within 5 s:
// only kfwd's stop reaches it (closing the session kills only the wrapper).
func checkStopped(t *testing.T, pid int) {
	t.Helper()
	defer syscall.Kill(pid, syscall.SIGKILL)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if gone(pid) {
			return
		}
	}
	t.Errorf("the remote login (pid %d) still runs: it was not stopped", pid)
}

// sleeper is a login program that records its pid and waits for a minute.
const sleeper = `echo $$ >"$KFWD_TEST_DIR/pid"
echo "waiting for you"
exec sleep 60
`

// TestCancelStopsRemoteLogin: when ctx ends (Ctrl-C, a failed forward) the
// login is stopped on the remote, whole, and Run returns ctx's cause.
func TestCancelStopsRemoteLogin(t *testing.T) {
	t.Parallel()
	h := startHost(t, true)
	var stdout, stderr testutil.SyncBuffer
	o := h.options(withDir(h, h.program(t, sleeper)), &stdout, &stderr)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	errStop := errors.New("test: stop")
	done := make(chan error, 1)
	go func() { done <- run(t, ctx, o) }()
	pid := pidOf(t, h)
	cancel(errStop)
	select {
	case err := <-done:
		if !errors.Is(err, errStop) {
			t.Errorf("Run = %v, want the cause %v", err, errStop)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
	checkStopped(t, pid)
	if strings.Contains(stderr.String(), "login finished") {
		t.Errorf("a stopped login said it finished:\n%s", stderr.String())
	}
}

// TestTimeout: --timeout ends the login with a TimeoutError and stops it.
func TestTimeout(t *testing.T) {
	t.Parallel()
	h := startHost(t, true)
	var stdout, stderr testutil.SyncBuffer
	o := h.options(withDir(h, h.program(t, sleeper)), &stdout, &stderr)
	o.Timeout = 1500 * time.Millisecond
	done := make(chan error, 1)
	go func() { done <- run(t, context.Background(), o) }()
	pid := pidOf(t, h)
	err := <-done
	var te TimeoutError
	if !errors.As(err, &te) || err.Error() != "the login did not finish within 1.5s" {
		t.Errorf("Run = %v, want the TimeoutError after 1.5s", err)
	}
	checkStopped(t, pid)
}

// TestLostConnection: when the server stops answering keepalives the login
// ends with the lost connection, and is stopped over a new connection.
func TestLostConnection(t *testing.T) {
	t.Parallel()
	h := startHost(t, true, func(o *minisshd.Options) { o.IgnoreKeepalive = true })
	h.host.ServerAliveInterval, h.host.ServerAliveCountMax = 300*time.Millisecond, 2
	var stdout, stderr testutil.SyncBuffer
	o := h.options(withDir(h, h.program(t, sleeper)), &stdout, &stderr)
	done := make(chan error, 1)
	go func() { done <- run(t, context.Background(), o) }()
	pid := pidOf(t, h)
	err := <-done
	if !errors.Is(err, tunnel.ErrConnectionLost) {
		t.Errorf("Run = %v, want the lost connection", err)
	}
	checkStopped(t, pid)
	if strings.Contains(stderr.String(), "could not stop") {
		t.Errorf("the stop over a new connection failed:\n%s", stderr.String())
	}
}

// TestBusySignInPortFails: the port the first sign-in URL redirects to is
// the login's own; when it is taken here the login cannot finish, so it is
// stopped and Run returns the *tunnel.PortInUseError.
func TestBusySignInPortFails(t *testing.T) {
	t.Parallel()
	h := startHost(t, false)
	port := takenPort(t)
	prog := h.program(t, fmt.Sprintf("echo 'Open this URL to sign in:'\necho '%s'\n", authorizeURL(port))+sleeper)
	var stdout, stderr testutil.SyncBuffer
	o := h.options(withDir(h, prog), &stdout, &stderr)
	o.Open = func(url string) error {
		t.Errorf("opened %s: its callback port is taken", url)
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- run(t, context.Background(), o) }()
	pid := pidOf(t, h)
	err := <-done
	var inUse *tunnel.PortInUseError
	if !errors.As(err, &inUse) || inUse.Port != port {
		t.Errorf("Run = %v, want port %d in use", err, port)
	}
	checkStopped(t, pid)
}

// TestExitStatus: the login's own failure is an ExitError naming the
// command and the host; 127 says the command is not there, 126 that it is
// there but cannot be run.
func TestExitStatus(t *testing.T) {
	t.Parallel()
	h := startHost(t, true)
	notExec := filepath.Join(t.TempDir(), "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\necho never\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		command []string
		want    ExitError
		msg     string
	}{
		{[]string{"sh", "-c", "exit 3"}, ExitError{Status: 3, Command: "sh", Where: "devbox"}, "the login on devbox exited with status 3"},
		{[]string{"kfwd-test-no-such-cli", "login"}, ExitError{Status: 127, Command: "kfwd-test-no-such-cli", Where: "devbox"}, "kfwd-test-no-such-cli is not installed on devbox (exit 127)"},
		{[]string{notExec}, ExitError{Status: 126, Command: notExec, Where: "devbox"}, notExec + " cannot be run on devbox (exit 126)"},
	} {
		var stdout, stderr testutil.SyncBuffer
		err := run(t, context.Background(), h.options(tc.command, &stdout, &stderr))
		var ee ExitError
		if !errors.As(err, &ee) || ee != tc.want || err.Error() != tc.msg || ee.NotFound() != (tc.want.Status == 127) || ee.NotExecutable() != (tc.want.Status == 126) {
			t.Errorf("%q: Run = %#v (%v), want %#v (%s)", tc.command, err, err, tc.want, tc.msg)
		}
		if want := fmt.Sprintf("kfwd: login finished (exit status %d)\n", tc.want.Status); !strings.Contains(stderr.String(), want) {
			t.Errorf("%q: stderr lacks %q:\n%s", tc.command, want, stderr.String())
		}
	}
}

// TestNoBrowser: --no-browser prints the sign-in URL and opens nothing.
func TestNoBrowser(t *testing.T) {
	t.Parallel()
	h := startHost(t, false)
	port := freePort(t)
	prog := h.program(t, fmt.Sprintf("echo '%s'\nsleep 1\n", authorizeURL(port)))
	var stdout, stderr testutil.SyncBuffer
	o := h.options([]string{prog}, &stdout, &stderr)
	o.NoBrowser = true
	o.Open = func(url string) error {
		t.Errorf("opened %s with --no-browser", url)
		return nil
	}
	if err := run(t, context.Background(), o); err != nil {
		t.Fatalf("Run: %v\nstderr:\n%s", err, stderr.String())
	}
	if want := "kfwd: open this URL in your browser: " + authorizeURL(port) + "\n"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
	}
}

// TestUnseenSignInPort: a sign-in URL redirects to a port that no process of
// the login listens on (here the test itself serves it on the remote's
// loopback, as a container's published port or a daemon would): the watch
// never confirms it, so kfwd neither forwards it nor opens the URL, and says
// so with the -L hint; with Ports (-L) the port is forwarded before the
// login starts and its sign-in URL is opened.
func TestUnseenSignInPort(t *testing.T) {
	t.Parallel()
	for _, declared := range []bool{false, true} {
		name := "unseen" // no '=' in it: the test's directory is an env argument
		if declared {
			name = "declared with -L"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := startHost(t, true)
			port := freePort(t)
			h.serve(t, port)
			prog := h.program(t, fmt.Sprintf("echo 'Open this URL to sign in:'\necho '%s'\n", authorizeURL(port))+waitForDone)
			var stdout, stderr testutil.SyncBuffer
			o := h.options(withDir(h, prog), &stdout, &stderr)
			op := newOpener(h.dir, port)
			o.Open = op.open
			if !declared {
				ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
				defer cancel()
				err := run(t, ctx, o)
				if err == nil {
					t.Fatalf("the login finished though its sign-in was never opened:\n%s\nstdout:\n%s", stderr.String(), stdout.String())
				}
				if len(op.opened) != 0 {
					t.Errorf("opened %s, whose port the login does not listen on", <-op.opened)
				}
				want := fmt.Sprintf("kfwd: not forwarding port %d: a sign-in URL redirects to it, but no process of the login listens on it;", port)
				if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), fmt.Sprintf("with -L %d\n", port)) {
					t.Errorf("stderr lacks the notice with the -L hint:\n%s", stderr.String())
				}
				return
			}
			o.Ports = []int{port}
			if err := run(t, context.Background(), o); err != nil {
				t.Fatalf("Run: %v\nstderr:\n%s", err, stderr.String())
			}
			select {
			case u := <-op.opened:
				if u != authorizeURL(port) {
					t.Errorf("opened %q, want %q", u, authorizeURL(port))
				}
				if b := <-op.bodies; !strings.Contains(b, fmt.Sprintf("hello from remote port %d", port)) {
					t.Errorf("the callback through the forward got %q", b)
				}
			default:
				t.Fatalf("the sign-in URL was not opened:\n%s", stderr.String())
			}
			fwd := fmt.Sprintf("kfwd: callback port %d: forwarding localhost:%d", port, port)
			if strings.Count(stderr.String(), fwd) != 1 || strings.Contains(stderr.String(), "not forwarding") {
				t.Errorf("want the port forwarded once and no notice:\n%s", stderr.String())
			}
		})
	}
}

// TestDeclaredPortBusyFailsFirst: a -L port taken here fails the login
// before the login command runs on the remote.
func TestDeclaredPortBusyFailsFirst(t *testing.T) {
	t.Parallel()
	h := startHost(t, true)
	port := takenPort(t)
	ran := filepath.Join(h.dir, "ran")
	prog := h.program(t, ": >"+ran+"\n")
	var stdout, stderr testutil.SyncBuffer
	o := h.options(withDir(h, prog), &stdout, &stderr)
	o.Ports = []int{port}
	err := run(t, context.Background(), o)
	var inUse *tunnel.PortInUseError
	if !errors.As(err, &inUse) || inUse.Port != port {
		t.Errorf("Run = %v, want port %d in use", err, port)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Error("the login command ran though its -L port could not be forwarded")
	}
}
