package tunnel

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/minisshd"
)

// watchHelper is the "login" of the watch tests (the test binary run with
// KFWD_WATCH_HELPER=1, see TestMain): it reads "listen ADDR", "close PORT"
// and "exit" lines and answers "port N" / "closed N".
func watchHelper() {
	ls := map[int]net.Listener{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "listen":
			l, err := net.Listen("tcp", net.JoinHostPort(f[1], "0"))
			if err != nil {
				fmt.Printf("error %v\n", err)
				continue
			}
			p := l.Addr().(*net.TCPAddr).Port
			ls[p] = l
			fmt.Printf("port %d\n", p)
		case len(f) == 2 && f[0] == "close":
			p, _ := strconv.Atoi(f[1])
			if l := ls[p]; l != nil {
				l.Close()
			}
			fmt.Printf("closed %d\n", p)
		case len(f) == 1 && f[0] == "exit":
			return
		}
	}
}

// watchedLogin is a login (the test binary as watchHelper, wrapped as kfwd
// wraps logins) and the watch started next to it on the same connection.
type watchedLogin struct {
	t     *testing.T
	id    string
	watch *Watch
	login *Login
	in    io.WriteCloser
	out   *bufio.Scanner
}

// startWatchedLogin starts the watch and the login at the same time, as kfwd
// login does. prefix runs the helper (e.g. "env -i"); the helper gets
// KFWD_WATCH_HELPER=1 either way.
func startWatchedLogin(t *testing.T, c *Client, method string, prefix ...string) *watchedLogin {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	w := &watchedLogin{t: t}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	argv := append(append([]string{}, prefix...), "env", "KFWD_WATCH_HELPER=1", exe)
	login, watch, err := StartWatchedLogin(ctx, c, argv, SessionOptions{Stdin: inR, Stdout: outW, Stderr: os.Stderr},
		WatchOptions{method: method, interval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w.id, w.watch, w.login = login.ID(), watch, login
	t.Cleanup(func() { watch.Close(); inW.Close(); login.Close() })
	w.in, w.out = inW, bufio.NewScanner(outR)
	return w
}

// do sends a command to the helper and returns its answer.
func (w *watchedLogin) do(cmd string) string {
	w.t.Helper()
	fmt.Fprintln(w.in, cmd)
	if !w.out.Scan() {
		w.t.Fatalf("the helper did not answer %q", cmd)
	}
	return w.out.Text()
}

// listen makes the helper listen on addr and returns the port.
func (w *watchedLogin) listen(addr string) int {
	w.t.Helper()
	a := w.do("listen " + addr)
	p, err := strconv.Atoi(strings.TrimPrefix(a, "port "))
	if err != nil {
		w.t.Fatalf("listen %s: %s", addr, a)
	}
	return p
}

// next returns the next report, failing after 10 s.
func (w *watchedLogin) next() WatchReport {
	w.t.Helper()
	select {
	case r, ok := <-w.watch.Reports():
		if !ok {
			w.t.Fatal("the watch ended early")
		}
		return r
	case <-time.After(10 * time.Second):
		w.t.Fatal("no report from the watch within 10s")
	}
	panic("unreachable")
}

func (w *watchedLogin) expect(want string) {
	w.t.Helper()
	if r := w.next(); r.String() != want {
		w.t.Fatalf("report %q, want %q", r, want)
	}
}

// remaining lists the local processes whose command line names the watch of
// id: the watch script, its stdin reader, and anything they started.
func remaining(id string) []string {
	var left []string
	dirs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range dirs {
		b, err := os.ReadFile(f)
		if err == nil && strings.Contains(string(b), "kfwd-watch\x00"+id+"\x00") {
			left = append(left, f+": "+strings.ReplaceAll(string(b), "\x00", " ")[:60])
		}
	}
	return left
}

// assertNothingLeft waits briefly for the watch's processes to go.
func assertNothingLeft(t *testing.T, id string) {
	t.Helper()
	var left []string
	for range 100 {
		if left = remaining(id); len(left) == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("the watch left processes behind: %q", left)
}

// exerciseWatch is the scenario every shell and method must pass: the login
// listens on 127.0.0.1 and ::1, a process outside the login listens too, one
// socket closes, and when the login exits the watch ends with nothing left.
func exerciseWatch(t *testing.T, c *Client, method string, prefix ...string) {
	// A listener outside the login's process tree: never reported.
	foreign, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	w := startWatchedLogin(t, c, method, prefix...)
	w.expect("started (" + method + ")")
	p4 := w.listen("127.0.0.1")
	w.expect(fmt.Sprintf("appeared 127.0.0.1:%d", p4))
	if l, err := net.Listen("tcp", "[::1]:0"); err == nil {
		l.Close()
		p6 := w.listen("::1")
		w.expect(fmt.Sprintf("appeared [::1]:%d", p6))
		w.do(fmt.Sprintf("close %d", p6))
		w.expect(fmt.Sprintf("gone [::1]:%d", p6))
	}
	w.do(fmt.Sprintf("close %d", p4))
	w.expect(fmt.Sprintf("gone 127.0.0.1:%d", p4))
	p := w.listen("127.0.0.1")
	w.expect(fmt.Sprintf("appeared 127.0.0.1:%d", p))
	fmt.Fprintln(w.in, "exit")
	gone := fmt.Sprintf("gone 127.0.0.1:%d", p)
	if method == "proc" {
		// The wrapper exits with the login; the script sees it go, maybe
		// after it saw the socket close.
		r := w.next()
		if r.String() == gone {
			r = w.next()
		}
		if r.Kind != WatchEnded {
			t.Fatalf("report %v, want %q (maybe after %q)", r, "ended", gone)
		}
	} else {
		w.expect(gone)
		w.watch.Close()
	}
	for r := range w.watch.Reports() {
		t.Errorf("report after the end: %v", r)
	}
	assertNothingLeft(t, w.id)
}

func TestWatchProc(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	exerciseWatch(t, c, "proc")
}

// TestWatchProcClearedEnvironment: a child of the login that starts with an
// empty environment (env -i) is still the login's.
func TestWatchProcClearedEnvironment(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	exerciseWatch(t, c, "proc", "sh", "-c", `"$@"; :`, "sh", "env", "-i")
}

func TestWatchLsof(t *testing.T) {
	if _, err := exec.LookPath("lsof"); err != nil {
		t.Fatalf("lsof is needed (.ci/run installs it): %v", err)
	}
	c, _ := fwdClient(t, minisshd.Options{})
	exerciseWatch(t, c, "lsof")
}

// TestWatchClosedEarly: closing the watch (kfwd is done while the login
// still runs) ends the script through its stdin and leaves nothing behind.
func TestWatchClosedEarly(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	w := startWatchedLogin(t, c, "")
	w.expect("started (proc)")
	p := w.listen("127.0.0.1")
	w.expect(fmt.Sprintf("appeared 127.0.0.1:%d", p))
	w.watch.Close()
	assertNothingLeft(t, w.id)
	if _, ok := <-w.watch.Reports(); ok {
		t.Error("reports still open after Close")
	}
}

// busyboxServer is minisshd running every command with BusyBox sh and a
// PATH that holds nothing but BusyBox's applets, so the scripts use BusyBox's
// awk, grep, ls, ps and sleep.
func busyboxServer(t *testing.T) *Client {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox is needed (.ci/run installs busybox-static): %v", err)
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	tools := map[string]string{}
	for _, a := range strings.Fields(string(out)) {
		tools[a] = bb
	}
	return shellServer(t, bb+" sh", tools)
}

// shellServer is minisshd running every command with shell (which also
// replaces the /bin/sh of the login's wrapper and of the watch) and a PATH
// that holds only tools, name to program.
func shellServer(t *testing.T, shell string, tools map[string]string) *Client {
	t.Helper()
	dir := t.TempDir()
	for name, prog := range tools {
		if err := os.Symlink(prog, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	sh := strings.Fields(shell)
	c, _ := fwdClient(t, minisshd.Options{Exec: func(s *minisshd.Session) int {
		command := strings.ReplaceAll(s.Command, "exec /bin/sh -c ", "exec "+shell+" -c ")
		cmd := exec.Command(sh[0], append(sh[1:], "-c", command)...)
		cmd.Env = append([]string{"PATH=" + dir, "HOME=" + dir}, s.Env...)
		cmd.Stdout, cmd.Stderr = s.Stdout, s.Stderr
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return 255
		}
		if err := cmd.Start(); err != nil {
			return 127
		}
		go func() { io.Copy(stdin, s.Stdin); stdin.Close() }()
		go func() { <-s.Done; cmd.Process.Signal(syscall.SIGHUP) }()
		err = cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return 0
	}})
	return c
}

func TestWatchBusyBox(t *testing.T) {
	exerciseWatch(t, busyboxServer(t), "proc")
}

// TestWatchUnavailable: on a host without awk the watch says so at once
// (BusyBox sh finds its own awk even outside PATH, so this runs dash).
func TestWatchUnavailable(t *testing.T) {
	tools := map[string]string{}
	for _, name := range []string{"env", "sh", "grep", "ls", "cat", "sleep", "uname", "od", "tr", "chmod", "mktemp", "rm"} {
		if p, err := exec.LookPath(name); err == nil {
			tools[name] = p
		}
	}
	c := shellServer(t, "/bin/sh", tools)
	w := startWatchedLogin(t, c, "")
	r := w.next()
	if r.Kind != WatchUnavailable || !strings.Contains(r.Reason, "awk not found") {
		t.Fatalf("report %v, want unavailable: awk not found", r)
	}
	if _, ok := <-w.watch.Reports(); ok {
		t.Error("reports went on after unavailable")
	}
	if _, err := CheckWatch(context.Background(), c); err == nil || !strings.Contains(err.Error(), "awk not found") {
		t.Errorf("CheckWatch = %v, want awk not found", err)
	}
	assertNothingLeft(t, w.id)
}

func TestCheckWatch(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	if m, err := CheckWatch(context.Background(), c); err != nil || m != "proc" {
		t.Errorf("CheckWatch = %q, %v; want proc", m, err)
	}
}

// TestWatchKilled: a watch that dies on the remote while the login goes on
// says so, so that kfwd stops waiting for it to confirm ports.
func TestWatchKilled(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	w := startWatchedLogin(t, c, "")
	w.expect("started (proc)")
	if len(remaining(w.id)) == 0 {
		t.Fatal("no watch process found")
	}
	// Kill the script and whatever it forked meanwhile.
	for i := 0; i < 100 && len(remaining(w.id)) > 0; i++ {
		for _, l := range remaining(w.id) {
			pid, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(l[:strings.Index(l, ":")], "/proc/"), "/cmdline"))
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r := w.next(); r.Kind != WatchUnavailable || !strings.Contains(r.Reason, "the watch ended") {
		t.Fatalf("report %v, want unavailable: the watch ended", r)
	}
}

// TestWatchLoginNeverFound: a watch whose login never shows up (it ended
// before the watch found it) gives up by itself, leaving nothing behind even
// where no EOF would come.
func TestWatchLoginNeverFound(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	w := StartWatch(context.Background(), c, WatchOptions{Session: "nosuchlogin1", interval: 10 * time.Millisecond, findLogin: 300 * time.Millisecond})
	defer w.Close()
	var last WatchReport
	for r := range w.Reports() {
		last = r
	}
	if last.Kind != WatchUnavailable || !strings.Contains(last.Reason, "not found") {
		t.Errorf("last report %v, want unavailable: not found", last)
	}
	assertNothingLeft(t, "nosuchlogin1")
}
