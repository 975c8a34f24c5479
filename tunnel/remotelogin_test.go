package tunnel

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
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
	for _, tool := range []string{"mktemp", "chmod", "cp", "rm", "tr", "od", "dirname"} {
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

// TestLoginStop runs a wrapped login without a terminal, as a session without
// a PTY does, and stops it from outside with stopCommand: the wrapper and the
// login end, the pid file goes, and the status says TERM.
func TestLoginStop(t *testing.T) {
	tmp := t.TempDir()
	id := newLoginID()
	marker := filepath.Join(tmp, "still-running")
	// The "login" touches a file after a while; it must never get there.
	cmd := exec.Command("sh", "-c", loginCommand([]string{"sh", "-c", "sleep 1; touch " + marker}, id))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(tmp, "kfwd-"+id+".pid")
	for i := 0; ; i++ {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		if i > 200 {
			t.Fatal("the wrapper wrote no pid file")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop := exec.Command("sh", "-c", stopCommand(id))
	stop.Env = cmd.Env
	if out, err := stop.CombinedOutput(); err != nil {
		t.Fatalf("stop command: %v: %s", err, out)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Fatalf("wrapper ended with %v, want exit status 143", err)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
	time.Sleep(2 * time.Second)
	if _, err := os.Stat(marker); err == nil {
		t.Error("the wrapped login kept running after the stop command")
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
