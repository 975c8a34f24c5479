package tunnel

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/kfwd/kfwd/internal/testutil"
)

const testAuthURL = "https://auth.example.net/authorize?client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A49153%2Fcb&state=s1"

// openerMarker matches the marker the shims write (callback.Scanner's input);
// decoded here on its own so that these tests check the wire format.
var openerMarker = regexp.MustCompile("\x1b\\]5379;kfwd-open;([A-Za-z0-9+/=:]*)(?:\x07|\x1b\\\\)")

func decodeMarkers(t *testing.T, raw string) (shown string, urls []string) {
	t.Helper()
	for _, m := range openerMarker.FindAllStringSubmatch(raw, -1) {
		p := m[1]
		var b []byte
		var err error
		if h, ok := strings.CutPrefix(p, "h:"); ok {
			b, err = hex.DecodeString(h)
		} else {
			b, err = base64.StdEncoding.DecodeString(p)
		}
		if err != nil {
			t.Errorf("marker payload %q: %v", p, err)
		}
		urls = append(urls, string(b))
	}
	return openerMarker.ReplaceAllString(raw, ""), urls
}

// fakeCLI writes a login script that prints where its opener lives, hands
// $1 to the opener named by how ("xdg-open" or "$BROWSER"), and exits with
// status $2.
func fakeCLI(t *testing.T, how string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fake-login")
	script := "#!/bin/sh\n" +
		`echo "shimdir=$(dirname "$(command -v xdg-open)")"` + "\n" +
		"echo 'Opening your browser...'\n" +
		how + ` "$1" || echo "opener failed"` + "\n" +
		"echo 'waiting for sign-in'\n" +
		`exit "${2:-0}"` + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func posixShells(t *testing.T) []string {
	var out []string
	for _, sh := range []string{"sh", "dash", "bash"} {
		if p, err := exec.LookPath(sh); err == nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Fatal("no POSIX shell")
	}
	return out
}

// runWrapped runs line with shell -c, under a PTY or with no controlling
// terminal at all, and returns the output without markers, the URLs the
// markers carried, and the exit status.
func runWrapped(t *testing.T, shell, line string, usePTY bool, env []string) (show string, urls []string, status int) {
	t.Helper()
	cmd := exec.Command(shell, "-c", line)
	cmd.Env = append(os.Environ(), env...)
	var raw []byte
	if usePTY {
		f, err := pty.Start(cmd)
		if err != nil {
			t.Fatalf("pty: %v", err)
		}
		buf := make([]byte, 512)
		for {
			n, err := f.Read(buf)
			raw = append(raw, buf[:n]...)
			if err != nil {
				break
			}
		}
		f.Close()
	} else {
		// Setsid: no controlling terminal, so /dev/tty cannot be opened.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		cmd.Stdout = &bytes.Buffer{}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		status = ee.ExitCode()
	default:
		t.Fatalf("wait: %v", err)
	}
	if !usePTY {
		raw = cmd.Stdout.(*bytes.Buffer).Bytes()
	}
	show, urls = decodeMarkers(t, string(raw))
	if strings.Contains(show, "kfwd-open") {
		t.Errorf("a malformed marker in the output: %q", show)
	}
	return show, urls, status
}

var shimDirRE = regexp.MustCompile(`shimdir=(\S+)`)

func TestLoginCommandOpeners(t *testing.T) {
	const openURL = "https://accounts.example.net/signin/cli?session=a%20b&x='q'"
	for _, shell := range posixShells(t) {
		for _, how := range []string{"xdg-open", `"$BROWSER"`, "sensible-browser", "open -a Safari"} {
			cli := fakeCLI(t, how)
			for _, usePTY := range []bool{false, true} {
				name := filepath.Base(shell) + "/" + how + map[bool]string{true: "/pty", false: "/notty"}[usePTY]
				t.Run(name, func(t *testing.T) {
					show, urls, status := runWrapped(t, shell, loginCommand([]string{cli, testAuthURL, "3"}, newLoginID()), usePTY, nil)
					if status != 3 {
						t.Errorf("exit status %d, want 3 (output %q)", status, show)
					}
					if len(urls) != 1 || urls[0] != testAuthURL {
						t.Errorf("opener URLs %q, want [%s] (output %q)", urls, testAuthURL, show)
					}
					if !strings.Contains(show, "waiting for sign-in") {
						t.Errorf("CLI output lost: %q", show)
					}
					m := shimDirRE.FindStringSubmatch(show)
					if m == nil || !strings.Contains(m[1], "tmp") {
						t.Fatalf("shim dir not in PATH: %q", show)
					}
					if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
						t.Errorf("shim dir %s not removed: %v", m[1], err)
					}

					_, urls, status = runWrapped(t, shell, loginCommand([]string{cli, openURL}, newLoginID()), usePTY, nil)
					if status != 0 || len(urls) != 1 || urls[0] != openURL {
						t.Errorf("open: status %d URLs %q", status, urls)
					}
				})
			}
		}
	}
}

func TestLoginCommandStatus(t *testing.T) {
	for _, shell := range posixShells(t) {
		for _, tc := range []struct {
			argv []string
			want int
		}{
			{[]string{"kfwd-no-such-command"}, 127},
			{[]string{"/nonexistent/kfwd/login"}, 127},
			{[]string{"sh", "-c", "exit 42"}, 42},
			{[]string{"true"}, 0},
			{nil, 0},
		} {
			_, _, status := runWrapped(t, shell, loginCommand(tc.argv, newLoginID()), false, nil)
			if status != tc.want {
				t.Errorf("%s %q: status %d, want %d", shell, tc.argv, status, tc.want)
			}
		}
	}
}

func TestLoginCommandQuoting(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "args")
	os.WriteFile(p, []byte("#!/bin/sh\nprintf '<%s>' \"$@\"\necho\n"), 0o755)
	args := []string{"a b", "it's", "$HOME", "`id`", "", "x\"y", `back\slash`, "semi;colon", "*"}
	want := ""
	for _, a := range args {
		want += "<" + a + ">"
	}
	for _, shell := range posixShells(t) {
		show, _, status := runWrapped(t, shell, loginCommand(append([]string{p}, args...), newLoginID()), false, nil)
		if status != 0 || strings.TrimSpace(show) != want {
			t.Errorf("%s: got %q status %d, want %q", shell, show, status, want)
		}
	}
}

// TestLoginCommandHexFallback runs the shims where base64 is missing: the
// URL then travels hex-encoded (od).
func TestLoginCommandHexFallback(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"mktemp", "chmod", "rm", "tr", "od", "dirname", "env", "grep", "sleep"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("no %s", tool)
		}
		os.Symlink(p, filepath.Join(bin, tool))
	}
	cli := fakeCLI(t, "xdg-open")
	line := "PATH=" + bin + "; export PATH; " + loginCommand([]string{cli, testAuthURL}, newLoginID())
	show, urls, status := runWrapped(t, "/bin/sh", line, false, nil)
	if status != 0 || len(urls) != 1 || urls[0] != testAuthURL {
		t.Fatalf("status %d URLs %q output %q", status, urls, show)
	}
}

// TestLoginCommandHangup checks that the temp dir goes when the session is
// hung up while the login waits at a prompt.
func TestLoginCommandHangup(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "slow")
	os.WriteFile(p, []byte("#!/bin/sh\necho \"shimdir=$(dirname \"$(command -v xdg-open)\")\"\nread answer\nsleep 1\n"), 0o755)
	cmd := exec.Command("/bin/sh", "-c", loginCommand([]string{p}, newLoginID()))
	f, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	buf := make([]byte, 256)
	deadline := time.Now().Add(5 * time.Second)
	for !shimDirRE.Match(out) && time.Now().Before(deadline) {
		n, err := f.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	m := shimDirRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no shim dir in %q", out)
	}
	f.Close() // hang up the terminal: SIGHUP to the session
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("wrapped command did not end on hangup")
	}
	dirName := strings.TrimRight(string(m[1]), "\r")
	for i := 0; i < 50; i++ {
		if _, err := os.Stat(dirName); os.IsNotExist(err) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("shim dir %s left after hangup", dirName)
}

// loginDir waits for the private directory of login id under tmp and
// returns it once its pid file is there.
func loginDir(t *testing.T, tmp, id string) string {
	t.Helper()
	for i := 0; ; i++ {
		m, _ := filepath.Glob(filepath.Join(tmp, "kfwd-"+id+".*", "pid"))
		if len(m) == 1 {
			return filepath.Dir(m[0])
		}
		if i > 500 {
			t.Fatalf("the wrapper wrote no pid file (found %q)", m)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// firstLease waits for the first lease the wrapper writes in its login's
// directory dir (just after the pid file) and returns it. A test that writes
// the lease itself waits for it first, or the wrapper's write may come after.
func firstLease(t *testing.T, dir string) []byte {
	t.Helper()
	for i := 0; ; i++ {
		lease, _ := os.ReadFile(filepath.Join(dir, "lease"))
		if len(bytes.TrimSpace(lease)) > 0 {
			return lease
		}
		if i > 500 {
			t.Fatalf("the wrapper wrote no first lease in %s", dir)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startWrapped starts loginCommand(argv, id) with sh in a session of its own
// without a terminal, as sshd runs a session without a PTY.
func startWrapped(t *testing.T, tmp, id string, argv ...string) (*exec.Cmd, *testutil.SyncBuffer) {
	t.Helper()
	cmd := exec.Command("sh", "-c", loginCommand(argv, id))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	if remotePath != "" {
		cmd.Env = append(cmd.Env, "PATH="+remotePath)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, out
}

// remotePath, when set, is the PATH of the wrapped logins and stop commands
// (a BusyBox-only remote).
var remotePath string

// busyboxPath returns a directory of BusyBox applet links, a remote with
// BusyBox's tools only.
func busyboxPath(t *testing.T) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatalf("busybox is not installed (.ci/run installs it): %v", err)
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, a := range strings.Fields(string(out)) {
		os.Symlink(bb, filepath.Join(dir, a))
	}
	return dir
}

func runStop(t *testing.T, tmp, id string) {
	t.Helper()
	stop := exec.Command("sh", "-c", stopCommand(id))
	stop.Env = append(os.Environ(), "TMPDIR="+tmp)
	if remotePath != "" {
		stop.Env = append(stop.Env, "PATH="+remotePath)
	}
	if out, err := stop.CombinedOutput(); err != nil {
		t.Fatalf("stop command: %v: %s", err, out)
	}
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(10 * time.Second):
		t.Fatal("the wrapper did not exit")
	}
	return -1
}

// TestLoginStop runs a wrapped login without a terminal, as a session without
// a PTY does, and stops it from outside with stopCommand: the wrapper and the
// login end, the private directory goes, and the status says TERM.
func TestLoginStop(t *testing.T) {
	tmp := t.TempDir()
	id := newLoginID()
	// The "login" says its pid and waits; after the stop it must be gone. (It
	// used to touch a file after 1 s, which a loaded machine reached before
	// the stop ran.)
	cmd, out := startWrapped(t, tmp, id, "sh", "-c", "echo login=$$; exec sleep 60")
	login := pidsIn(t, out.String, "login")["login"]
	dir := loginDir(t, tmp, id)
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("private dir %s: %v %v, want mode 0700", dir, fi.Mode(), err)
	}
	runStop(t, tmp, id)
	if st := waitExit(t, cmd); st != 143 {
		t.Fatalf("wrapper ended with %d, want exit status 143", st)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("private dir left behind: %v", err)
	}
	for i := 0; alive(login); i++ {
		if i == 250 { // a hang guard, not a timing assertion: the stop waits 2 s before KILL
			t.Fatal("the wrapped login kept running after the stop command")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLoginCommandExportsSession: the login's environment carries the agreed
// KFWD_SESSION marker.
func TestLoginCommandExportsSession(t *testing.T) {
	out, err := exec.Command("sh", "-c", loginCommand([]string{"sh", "-c", `echo "[$KFWD_SESSION]"`}, "ab12")).CombinedOutput()
	if err != nil || string(out) != "[ab12]\n" {
		t.Fatalf("login saw KFWD_SESSION %q (%v), want [ab12]", out, err)
	}
}

// TestLoginStopNoLogin: stopping a login that already ended is harmless.
func TestLoginStopNoLogin(t *testing.T) {
	cmd := exec.Command("sh", "-c", stopCommand(newLoginID()))
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}

func TestShellQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", "it's", "$HOME", "`id`", `back\slash`, "~x", "=cmd", "a\nb"} {
		out, err := exec.Command("sh", "-c", "printf %s "+ShellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("ShellQuote(%q) = %s: sh printed %q (%v)", s, ShellQuote(s), out, err)
		}
	}
	if q := ShellQuote("host.example.com"); q != "host.example.com" {
		t.Errorf("ShellQuote quotes a plain word: %s", q)
	}
}

// hostileArgs are arguments that broke or subverted the wrapper's command
// line under some login shell (fish took C:\dir\'s last \ as escaping the
// closing quote; csh and tcsh expand ! and end at a newline).
var hostileArgs = []string{`C:\dir\`, `\`, `\\`, `\'`, "a'b", "'", "!x", "!!", "$(touch /tmp/kfwd-pwned)", "`id`",
	"line\nbreak\n", "tab\there", "ünï", "%s%d", "-n", `-n\x`, "-e", "--", "", "*", "~", "{a,b}", `"; touch /tmp/kfwd-pwned2; "`}

// TestLoginCommandEveryLoginShell runs the wrapper's line the way sshd does,
// `SHELL -c LINE`, under every login shell kfwd supports: the login must get
// exactly its argv, whatever the shell.
func TestLoginCommandEveryLoginShell(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "args")
	os.WriteFile(p, []byte("#!/bin/sh\nprintf '<%s>' \"$@\"\n"), 0o755)
	want := ""
	for _, a := range hostileArgs {
		want += "<" + a + ">"
	}
	for _, sh := range []string{"sh", "dash", "bash", "zsh", "fish", "csh", "tcsh", "busybox"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			t.Errorf("%s is not installed (.ci/run installs it)", sh)
			continue
		}
		args := []string{"-c", loginCommand(append([]string{p}, hostileArgs...), newLoginID())}
		if sh == "busybox" {
			args = append([]string{"sh"}, args...)
		}
		cmd := exec.Command(path, args...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		out, err := cmd.CombinedOutput()
		if err != nil || string(out) != want {
			t.Errorf("%s: %v\n got %q\nwant %q", sh, err, out, want)
		}
	}
	for _, f := range []string{"/tmp/kfwd-pwned", "/tmp/kfwd-pwned2"} {
		if _, err := os.Stat(f); err == nil {
			os.Remove(f)
			t.Errorf("an argument ran a command (%s exists)", f)
		}
	}
}

// TestLoginCommandStopLineEveryShell: the stop command also goes through the
// login shell.
func TestStopCommandEveryLoginShell(t *testing.T) {
	for _, sh := range []string{"fish", "csh", "tcsh", "zsh"} {
		out, err := exec.Command(sh, "-c", stopCommand(newLoginID())).CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("%s: %v %q", sh, err, out)
		}
	}
}

// pidsIn reads "name=pid" lines from the login's output.
func pidsIn(t *testing.T, out func() string, names ...string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	deadline := time.Now().Add(10 * time.Second)
	for len(pids) < len(names) && time.Now().Before(deadline) {
		for _, n := range names {
			if m := regexp.MustCompile(n + `=(\d+)`).FindStringSubmatch(out()); m != nil {
				var p int
				fmt.Sscan(m[1], &p)
				pids[n] = p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(pids) < len(names) {
		t.Fatalf("pids %v, want %v, output %q", pids, names, out())
	}
	return pids
}

func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	return err == nil && !strings.Contains(string(b), ") Z ")
}

// TestLoginStopWholeTree: a login that is a wrapper script starting the real
// CLI in the background (as gcloud's shell script runs python), and one that
// left its process group and session (setsid), are all stopped, by the
// stop command and by a hangup of the wrapper.
func TestLoginStopWholeTree(t *testing.T) {
	bb := busyboxPath(t)
	for _, how := range []string{"stop command", "TERM to the wrapper", "stop command, BusyBox tools", "TERM to the wrapper, BusyBox tools"} {
		t.Run(how, func(t *testing.T) {
			if strings.HasSuffix(how, "BusyBox tools") {
				remotePath = bb
				defer func() { remotePath = "" }()
			}
			tmp := t.TempDir()
			id := newLoginID()
			script := filepath.Join(tmp, "cli-wrapper")
			os.WriteFile(script, []byte("#!/bin/sh\nsleep 300 & echo child=$!\nsetsid sleep 301 & echo escaped=$!\nwait\n"), 0o755)
			cmd, out := startWrapped(t, tmp, id, script)
			dir := loginDir(t, tmp, id)
			pids := pidsIn(t, func() string { return out.String() }, "child", "escaped")
			for n, p := range pids {
				if !alive(p) {
					t.Fatalf("%s %d not running", n, p)
				}
			}
			if strings.HasPrefix(how, "stop command") {
				runStop(t, tmp, id)
			} else {
				cmd.Process.Signal(syscall.SIGTERM)
			}
			waitExit(t, cmd)
			deadline := time.Now().Add(5 * time.Second)
			for n, p := range pids {
				for alive(p) && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if alive(p) {
					syscall.Kill(p, syscall.SIGKILL)
					t.Errorf("%s (pid %d) of the login still runs after the stop", n, p)
				}
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("private dir left behind: %v", err)
			}
		})
	}
}

// TestStopCommandChecksPid: a pid file that names another process (not the
// wrapper any more) is not acted on; the login is still stopped through its
// environment marker.
func TestStopCommandChecksPid(t *testing.T) {
	tmp := t.TempDir()
	id := newLoginID()
	bystander := exec.Command("sleep", "30")
	bystander.Start()
	defer bystander.Process.Kill()
	cmd, _ := startWrapped(t, tmp, id, "sleep", "60")
	dir := loginDir(t, tmp, id)
	if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(fmt.Sprintf("%d\n", bystander.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	runStop(t, tmp, id)
	waitExit(t, cmd)
	if !alive(bystander.Process.Pid) {
		t.Error("the stop command signalled the process its pid file named, which is not the wrapper")
	}
}

// TestPidFileExclusive: the wrapper does not write through a pid file that
// is already there (a symlink planted in its directory, say).
func TestPidFileExclusive(t *testing.T) {
	out, err := exec.Command("sh", "-c", `d=$(mktemp -d); ln -s "$d/target" "$d/pid"; { set -C; echo $$ >"$d/pid"; set +C; } 2>/dev/null; [ -e "$d/target" ] && echo written; rm -rf "$d"`).CombinedOutput()
	if err != nil || strings.Contains(string(out), "written") {
		t.Errorf("noclobber did not refuse: %v %q", err, out)
	}
	if !strings.Contains(loginScript, `set -C; echo $$ >"$kfwd_d/pid"`) {
		t.Error("the wrapper no longer creates its pid file with set -C")
	}
}

// TestOpenerClosedDescriptors: a CLI that starts its opener with stdin,
// stdout and stderr at /dev/null and every other descriptor closed (Go's
// exec default, Node's stdio 'ignore', Python's close_fds) still gets its URL
// to kfwd, with and without a terminal, and the opener exits 0 at once.
func TestOpenerClosedDescriptors(t *testing.T) {
	dir := t.TempDir()
	cli := filepath.Join(dir, "cli")
	os.WriteFile(cli, []byte("#!/bin/sh\nexec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-\n"+
		`xdg-open "$1" </dev/null >/dev/null 2>&1; echo "opener=$?"`+"\n"+
		`"$BROWSER" "$1" <&- >&- 2>&-; echo "browser=$?"`+"\n"), 0o755)
	for _, usePTY := range []bool{false, true} {
		show, urls, status := runWrapped(t, "sh", loginCommand([]string{cli, testAuthURL}, newLoginID()), usePTY, nil)
		if status != 0 || !strings.Contains(show, "opener=0") || !strings.Contains(show, "browser=0") {
			t.Errorf("pty %v: status %d output %q", usePTY, status, show)
		}
		if len(urls) != 2 || urls[0] != testAuthURL || urls[1] != testAuthURL {
			t.Errorf("pty %v: URLs %q, want the URL twice", usePTY, urls)
		}
	}
}

// runLease runs login id's lease session script with the given stdin.
func runLease(t *testing.T, tmp, id, stdin string) {
	t.Helper()
	cmd := exec.Command("sh", "-c", leaseCommand(id))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lease session: %v: %s", err, out)
	}
}

// TestLeaseStopsAbandonedLogins: a lease session first stops the logins
// whose lease ran out (no live kfwd refreshes it) and leaves those with a
// fresh lease alone; it refreshes its own login's lease for each line; and
// when its input ends while its login still runs, it stops that login.
func TestLeaseStopsAbandonedLogins(t *testing.T) {
	tmp := t.TempDir()
	stale, fresh, own := newLoginID(), newLoginID(), newLoginID()
	staleCmd, _ := startWrapped(t, tmp, stale, "sleep", "60")
	freshCmd, _ := startWrapped(t, tmp, fresh, "sleep", "60")
	ownCmd, _ := startWrapped(t, tmp, own, "sleep", "60")
	staleDir, freshDir, ownDir := loginDir(t, tmp, stale), loginDir(t, tmp, fresh), loginDir(t, tmp, own)
	firstLease(t, staleDir)
	firstLease(t, freshDir)
	now := time.Now().Unix()
	os.WriteFile(filepath.Join(staleDir, "lease"), []byte(fmt.Sprintf("%d\n", now-leaseStale-5)), 0o600)
	os.WriteFile(filepath.Join(freshDir, "lease"), []byte(fmt.Sprintf("%d\n", now)), 0o600)

	runLease(t, tmp, own, "\n")
	if st := waitExit(t, staleCmd); st != 143 {
		t.Errorf("the abandoned login ended with %d, want 143 (stopped)", st)
	}
	if _, err := os.Stat(staleDir); !os.IsNotExist(err) {
		t.Errorf("the abandoned login's directory is left: %v", err)
	}
	if !alive(freshCmd.Process.Pid) {
		t.Error("the login with a fresh lease was stopped")
	}
	// Its input ended while its login runs: it stopped it.
	if st := waitExit(t, ownCmd); st != 143 {
		t.Errorf("its own login ended with %d after the lease input ended, want 143", st)
	}
	if _, err := os.Stat(ownDir); !os.IsNotExist(err) {
		t.Errorf("its own login's directory is left: %v", err)
	}
	freshCmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, freshCmd)
}

// TestLoginMarkerOnlyOnLogin: the commands the wrapper runs itself (mktemp in
// a $(...) subshell, chmod) do not carry KFWD_SESSION. When they did, the
// listener watch could take the short-lived subshell, their unmarked parent,
// for the wrapper, and ended as soon as it exited (TestWatchBusyBox failed so
// under load).
func TestLoginMarkerOnlyOnLogin(t *testing.T) {
	tmp := t.TempDir()
	bin := t.TempDir()
	seen := filepath.Join(tmp, "seen")
	for _, name := range []string{"mktemp", "chmod"} {
		real, err := exec.LookPath(name)
		if err != nil {
			t.Fatal(err)
		}
		script := "#!/bin/sh\necho \"" + name + " [${KFWD_SESSION-}]\" >>" + seen + "\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	remotePath = bin + ":" + os.Getenv("PATH")
	defer func() { remotePath = "" }()
	cmd, out := startWrapped(t, tmp, newLoginID(), "sh", "-c", `echo "login [$KFWD_SESSION]"`)
	if st := waitExit(t, cmd); st != 0 {
		t.Fatalf("wrapper ended with %d: %s", st, out.String())
	}
	got, _ := os.ReadFile(seen)
	if string(got) != "mktemp []\nchmod []\n" {
		t.Errorf("the wrapper's own commands saw KFWD_SESSION: %q", got)
	}
	if !regexp.MustCompile(`login \[[0-9a-f]+\]`).MatchString(out.String()) {
		t.Errorf("the login did not get KFWD_SESSION: %q", out.String())
	}
}

// TestWrapperWritesFirstLease: the wrapper writes its login's first lease
// (the remote clock when it started), so a login whose kfwd went before its
// lease session refreshed the lease goes stale like any other (issue 9 item
// 5: such a login had no lease and was never stopped).
func TestWrapperWritesFirstLease(t *testing.T) {
	tmp := t.TempDir()
	id := newLoginID()
	cmd, _ := startWrapped(t, tmp, id, "sleep", "60")
	lease := firstLease(t, loginDir(t, tmp, id))
	v, err := strconv.ParseInt(string(bytes.TrimSpace(lease)), 10, 64)
	if now := time.Now().Unix(); err != nil || v < now-5 || v > now+1 {
		t.Errorf("the wrapper's first lease is %q (%v), want the time it started, about %d", lease, err, now)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	waitExit(t, cmd)
}

// startLease starts login id's lease session script with stdin.
func startLease(t *testing.T, tmp, id string, stdin io.Reader) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", "-c", leaseCommand(id))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.Stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd
}

// TestLeaseEndsBeforeLoginStarts: the lease session starts together with
// the login, so its input can end (kfwd killed, the connection dropped) before
// the login's wrapper runs, or while the user's shell start-up files still
// run before it. The lease session waits for the login and stops it.
func TestLeaseEndsBeforeLoginStarts(t *testing.T) {
	for _, c := range []struct {
		name  string
		delay string // before the user's shell runs the wrapper
		// slowEnv: the env that the shell execs to become the wrapper takes
		// this long to exec /bin/sh in turn (a loaded machine), so that the
		// lease's search runs while the pid is env: neither the shell's
		// command line nor the wrapper's environment is there then.
		slowEnv string
	}{{"wrapper 0.2 s later", "0.2", ""}, {"shell start-up 2 s", "2", ""}, {"env slow to exec the wrapper", "1.2", "1"}} {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			id := newLoginID()
			lease := startLease(t, tmp, id, strings.NewReader(""))
			// The shell that will run the wrapper: its command line already
			// names the login (KFWD_WRAPPER=<id>).
			login := exec.Command("sh", "-c", "sleep "+c.delay+"; "+loginCommand([]string{"sleep", "60"}, id))
			login.Env = append(os.Environ(), "TMPDIR="+tmp)
			if c.slowEnv != "" {
				bin := t.TempDir()
				real, err := exec.LookPath("env")
				if err != nil {
					t.Fatal(err)
				}
				// exec keeps the pid, as env does; the shim's command line
				// holds env's arguments as env's own does.
				shim := "#!/bin/sh\nsleep " + c.slowEnv + "\nexec " + real + " \"$@\"\n"
				if err := os.WriteFile(filepath.Join(bin, "env"), []byte(shim), 0o755); err != nil {
					t.Fatal(err)
				}
				login.Env = append(login.Env, "PATH="+bin+":"+os.Getenv("PATH"))
			}
			login.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
			if err := login.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { login.Process.Kill() })
			// 143: the wrapper's trap; -1: TERM before the wrapper set it.
			if st := waitExit(t, login); st != 143 && st != -1 {
				t.Errorf("the login ended with %d, want 143 (stopped by its lease session)", st)
			}
			if st := waitExit(t, lease); st != 0 {
				t.Errorf("the lease session ended with %d", st)
			}
			if m, _ := filepath.Glob(filepath.Join(tmp, "kfwd-*")); len(m) > 0 {
				t.Errorf("left behind: %q", m)
			}
			if left := markedProcesses(id); len(left) > 0 {
				t.Errorf("processes of the login left running: %v", left)
			}
		})
	}
}

// TestLeaseEndWord: the line "e" (kfwd saw its login exit) ends the lease
// session at once, without stopping anything; a plain end of input with no
// login to be found ends it within about a second.
func TestLeaseEndWord(t *testing.T) {
	tmp := t.TempDir()
	id := newLoginID()
	login, _ := startWrapped(t, tmp, id, "sleep", "60")
	loginDir(t, tmp, id)
	lease := startLease(t, tmp, id, strings.NewReader("\ne\n"))
	if st := waitExit(t, lease); st != 0 {
		t.Errorf("after the end word the lease session ended with %d", st)
	}
	if !alive(login.Process.Pid) {
		t.Error("the end word stopped the login")
	}
	login.Process.Signal(syscall.SIGTERM)
	waitExit(t, login)

	lease = startLease(t, tmp, newLoginID(), strings.NewReader(""))
	if st := waitExit(t, lease); st != 0 {
		t.Errorf("with no login the lease session ended with %d", st)
	}
}

// TestEnvPidsLeavesOutItself: a shell carrying a login's marker (the lease
// session) does not find itself, the subshell that runs kfwd_envpids or
// that subshell's grep among the login's processes; it used to, so its stop
// of a login that was gone waited 2 s and then sent KILL to pids already
// gone (which another process may have taken by then).
func TestEnvPidsLeavesOutItself(t *testing.T) {
	id := newLoginID()
	script := procFunctions + `echo "[$(kfwd_envpids "$1")]"; sleep 60 & p=$!; echo "[$(kfwd_envpids "$1")]" "$p"; kill $p`
	cmd := exec.Command("sh", "-c", script, "sh", id)
	cmd.Env = append(os.Environ(), "KFWD_LEASE="+id)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 || lines[0] != "[]" {
		t.Fatalf("kfwd_envpids listed %q, want nothing, then the marked child alone", out)
	}
	f := strings.Fields(lines[1])
	if child := f[len(f)-1]; lines[1] != "["+child+" ] "+child {
		t.Errorf("with a marked child running kfwd_envpids listed %q, want the child %s alone", lines[1], child)
	}
}

// markedProcesses lists the processes carrying login id's KFWD_SESSION or
// KFWD_WRAPPER marker.
func markedProcesses(id string) []string {
	m, _ := filepath.Glob("/proc/[0-9]*/environ")
	var left []string
	for _, f := range m {
		b, err := os.ReadFile(f)
		env := "\x00" + string(b) + "\x00"
		if err == nil && (strings.Contains(env, "\x00KFWD_SESSION="+id+"\x00") || strings.Contains(env, "\x00KFWD_WRAPPER="+id+"\x00")) {
			left = append(left, f)
		}
	}
	return left
}
