package callback

import (
	"bytes"
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

func shells(t *testing.T) []string {
	var out []string
	for _, sh := range []string{"sh", "dash", "bash"} {
		if p, err := exec.LookPath(sh); err == nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		t.Skip("no POSIX shell")
	}
	return out
}

// runWrapped runs line with shell -c, under a PTY or with no controlling
// terminal at all, and returns the output, scanned, and the exit status.
func runWrapped(t *testing.T, shell, line string, usePTY bool, env []string) (show string, events []Event, status int) {
	t.Helper()
	cmd := exec.Command(shell, "-c", line)
	cmd.Env = append(os.Environ(), env...)
	s := NewScanner()
	var raw []byte
	feed := func(b []byte) {
		raw = append(raw, b...)
		sh, ev := s.Feed(b)
		show += string(sh)
		events = append(events, ev...)
	}
	if usePTY {
		f, err := pty.Start(cmd)
		if err != nil {
			t.Fatalf("pty: %v", err)
		}
		buf := make([]byte, 512)
		for {
			n, err := f.Read(buf)
			feed(buf[:n])
			if err != nil {
				break
			}
		}
		f.Close()
	} else {
		// Setsid: no controlling terminal, so /dev/tty cannot be opened
		// and the marker must go to stderr.
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
		feed(cmd.Stdout.(*bytes.Buffer).Bytes())
	}
	sh, ev := s.Close()
	show += string(sh)
	events = append(events, ev...)
	if strings.Contains(show, "kfwd-open") {
		t.Errorf("marker left in the shown output: %q", show)
	}
	if !bytes.Contains(raw, []byte("kfwd-open")) && !strings.Contains(show, "opener failed") && len(events) > 0 {
		t.Errorf("events without a marker in the raw output")
	}
	return show, events, status
}

var shimDirRE = regexp.MustCompile(`shimdir=(\S+)`)

func TestWrapCommandOpeners(t *testing.T) {
	const openURL = "https://accounts.example.net/signin/cli?session=a%20b&x='q'"
	for _, shell := range shells(t) {
		for _, how := range []string{"xdg-open", `"$BROWSER"`, "sensible-browser", "open -a Safari"} {
			cli := fakeCLI(t, how)
			for _, usePTY := range []bool{false, true} {
				name := filepath.Base(shell) + "/" + how + map[bool]string{true: "/pty", false: "/notty"}[usePTY]
				t.Run(name, func(t *testing.T) {
					show, events, status := runWrapped(t, shell, WrapCommand([]string{cli, authURL, "3"}), usePTY, nil)
					if status != 3 {
						t.Errorf("exit status %d, want 3 (output %q)", status, show)
					}
					want := []Event{{Type: "callback", Port: 49153, Host: "127.0.0.1", URL: authURL, Opener: true}}
					if len(events) != 1 || events[0] != want[0] {
						t.Errorf("events %+v, want %+v (output %q)", events, want, show)
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

					_, events, status = runWrapped(t, shell, WrapCommand([]string{cli, openURL}), usePTY, nil)
					if status != 0 || len(events) != 1 || events[0] != (Event{Type: "open", URL: openURL, Opener: true}) {
						t.Errorf("open: status %d events %+v", status, events)
					}
				})
			}
		}
	}
}

func TestWrapCommandStatus(t *testing.T) {
	for _, shell := range shells(t) {
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
			_, _, status := runWrapped(t, shell, WrapCommand(tc.argv), false, nil)
			if status != tc.want {
				t.Errorf("%s %q: status %d, want %d", shell, tc.argv, status, tc.want)
			}
		}
	}
}

func TestWrapCommandQuoting(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "args")
	os.WriteFile(p, []byte("#!/bin/sh\nprintf '<%s>' \"$@\"\necho\n"), 0o755)
	args := []string{"a b", "it's", "$HOME", "`id`", "", "x\"y", `back\slash`, "semi;colon", "*"}
	want := ""
	for _, a := range args {
		want += "<" + a + ">"
	}
	for _, shell := range shells(t) {
		show, _, status := runWrapped(t, shell, WrapCommand(append([]string{p}, args...)), false, nil)
		if status != 0 || strings.TrimSpace(show) != want {
			t.Errorf("%s: got %q status %d, want %q", shell, show, status, want)
		}
	}
}

// TestWrapCommandHexFallback runs the shims where base64 is missing: the
// URL then travels hex-encoded (od).
func TestWrapCommandHexFallback(t *testing.T) {
	bin := t.TempDir()
	for _, tool := range []string{"mktemp", "chmod", "cp", "rm", "tr", "od", "dirname"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("no %s", tool)
		}
		os.Symlink(p, filepath.Join(bin, tool))
	}
	cli := fakeCLI(t, "xdg-open")
	line := "PATH=" + bin + "; export PATH; " + WrapCommand([]string{cli, authURL})
	show, events, status := runWrapped(t, "/bin/sh", line, false, nil)
	if status != 0 || len(events) != 1 || events[0].URL != authURL {
		t.Fatalf("status %d events %+v output %q", status, events, show)
	}
}

// TestWrapCommandHangup checks that the temp dir goes when the session is
// hung up while the login waits at a prompt. (sh runs traps only after the
// foreground command ends; a login reading its terminal ends on hangup.)
func TestWrapCommandHangup(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "slow")
	os.WriteFile(p, []byte("#!/bin/sh\necho \"shimdir=$(dirname \"$(command -v xdg-open)\")\"\nread answer\nsleep 1\n"), 0o755)
	cmd := exec.Command("/bin/sh", "-c", WrapCommand([]string{p}))
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
