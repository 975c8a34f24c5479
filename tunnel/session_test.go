package tunnel

import (
	"context"
	"io"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/minisshd"
	"github.com/kfwd/kfwd/internal/testutil"
)

func waitSession(t *testing.T, s *Session) (int, error) {
	t.Helper()
	select {
	case <-s.done():
	case <-time.After(10 * time.Second):
		t.Fatal("remote command did not end")
	}
	return s.Wait()
}

func TestSessionExitStatus(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	for _, tc := range []struct {
		cmd    string
		out    string
		status int
	}{
		{"echo ok", "ok\n", 0},
		{"echo three; exit 3", "three\n", 3},
		{"no-such-command-kfwd 2>/dev/null", "", 127},
	} {
		var out testutil.SyncBuffer
		s, err := c.Start(context.Background(), SessionOptions{Command: tc.cmd, Stdout: &out})
		if err != nil {
			t.Fatal(err)
		}
		status, err := waitSession(t, s)
		if err != nil || status != tc.status || out.String() != tc.out {
			t.Errorf("%q: status %d, err %v, output %q; want %d, %q", tc.cmd, status, err, out.String(), tc.status, tc.out)
		}
		if again, _ := s.Wait(); again != status {
			t.Errorf("second Wait = %d, want %d", again, status)
		}
	}
}

func TestSessionStdinStreamAndEOF(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	var out, errOut testutil.SyncBuffer
	s, err := c.Start(context.Background(), SessionOptions{
		Command: "cat; echo done >&2",
		Stdin:   strings.NewReader("line one\nline two"),
		Stdout:  &out,
		Stderr:  &errOut,
		Env:     map[string]string{"KFWD_TEST": "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	status, err := waitSession(t, s)
	if err != nil || status != 0 {
		t.Fatalf("status %d, %v", status, err)
	}
	if out.String() != "line one\nline two" || errOut.String() != "done\n" {
		t.Errorf("stdout %q, stderr %q", out.String(), errOut.String())
	}
}

func TestSessionEnv(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	var out testutil.SyncBuffer
	s, err := c.Start(context.Background(), SessionOptions{
		Command: `echo "$KFWD_A-$KFWD_B"`,
		Env:     map[string]string{"KFWD_A": "1", "KFWD_B": "two"},
		Stdout:  &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	if status, err := waitSession(t, s); err != nil || status != 0 || out.String() != "1-two\n" {
		t.Errorf("status %d, %v, output %q", status, err, out.String())
	}
}

func TestSessionPTYTermSizeAndResize(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	var out testutil.SyncBuffer
	s, err := c.Start(context.Background(), SessionOptions{
		Command: `trap 'echo "resized $(stty size)"; exit 0' WINCH; echo "term=$TERM size=$(stty size)"; while :; do sleep 0.05; done`,
		PTY:     true,
		Term:    "xterm-kfwd",
		Width:   91,
		Height:  24,
		Stdout:  &out,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fwdWaitFor(t, "first output", func() bool { return strings.Contains(out.String(), "size=") })
	if !strings.Contains(out.String(), "term=xterm-kfwd size=24 91") {
		t.Fatalf("got %q", out.String())
	}
	if err := s.Resize(100, 30); err != nil {
		t.Fatal(err)
	}
	status, err := waitSession(t, s)
	if err != nil || status != 0 || !strings.Contains(out.String(), "resized 30 100") {
		t.Fatalf("status %d, %v, output %q", status, err, out.String())
	}
}

// The signal request reaches the process the server started (sshd signals the
// session's child); "exec" makes that process sleep itself rather than a
// non-interactive sh that defers SIGINT until its child ends.
func TestSessionSignalInterrupt(t *testing.T) {
	for _, pty := range []bool{false, true} {
		c, _ := fwdClient(t, minisshd.Options{})
		s, err := c.Start(context.Background(), SessionOptions{Command: "exec sleep 30", PTY: pty})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // let the command start
		start := time.Now()
		if err := s.signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		status, err := waitSession(t, s)
		if err != nil || status != 130 || time.Since(start) > 5*time.Second {
			t.Errorf("pty=%v: status %d, %v after %v; want 130", pty, status, err, time.Since(start))
		}
	}
}

func TestSessionSignalUnsupported(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	s, err := c.Start(context.Background(), SessionOptions{Command: "true"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.signal(syscall.SIGWINCH); err == nil {
		t.Error("SIGWINCH accepted; it has no SSH name")
	}
}

// Close is how an interrupted login ends: the channel closes, the server hangs
// up the command, and Wait returns at once.
func TestSessionCloseEndsCommand(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	s, err := c.Start(context.Background(), SessionOptions{Command: "sleep 30", PTY: true})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if status, err := waitSession(t, s); err == nil && status == 0 {
		t.Errorf("closed session reported success")
	}
}

func TestSessionContextCancelCloses(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.Start(ctx, SessionOptions{Command: "sleep 30"})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitSession(t, s)
}

func TestSessionConnectionLost(t *testing.T) {
	c, srv := fwdClient(t, minisshd.Options{})
	s, err := c.Start(context.Background(), SessionOptions{Command: "sleep 30"})
	if err != nil {
		t.Fatal(err)
	}
	fwdWaitFor(t, "server side of the connection", func() bool { return srv.Conns() == 1 })
	srv.DropConns()
	if status, err := waitSession(t, s); err == nil || status != -1 {
		t.Errorf("got status %d, %v; want -1 and an error", status, err)
	}
}

// A terminal-like stdin that never ends must not keep Wait from returning, and
// with read deadlines the copy is stopped without eating the next input.
func TestSessionWaitDoesNotWaitForStdin(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	pr, pw := io.Pipe()
	defer pw.Close()
	s, err := c.Start(context.Background(), SessionOptions{Command: "exit 4", Stdin: pr})
	if err != nil {
		t.Fatal(err)
	}
	if status, err := waitSession(t, s); status != 4 || err != nil {
		t.Errorf("status %d, %v", status, err)
	}
}

// TestStartLoginStop starts a login that would run for a minute without a PTY
// (sshd hangs up only PTY sessions) and stops it: Wait returns at once with
// the wrapper's TERM status.
func TestStartLoginStop(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	var out testutil.SyncBuffer
	l, err := startLogin(context.Background(), c, newLoginID(), []string{"sh", "-c", "echo started; sleep 60"}, SessionOptions{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "started") {
		if time.Now().After(deadline) {
			t.Fatalf("the login did not start: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.Stop()
	if status, err := waitSession(t, l.Session); err == nil && status == 0 {
		t.Errorf("stopped login ended with status 0")
	}
	if l.ID() == "" {
		t.Error("empty login id")
	}
}

// TestStartLoginLeaseAtOnce: the lease session is opened together with the
// login's, not seconds later, so a login that loses its kfwd in its first
// seconds has one to stop it (issue 9 item 5).
func TestStartLoginLeaseAtOnce(t *testing.T) {
	c, srv := fwdClient(t, minisshd.Options{})
	l, err := startLogin(context.Background(), c, newLoginID(), []string{"sleep", "60"}, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Stop()
	lease := "env KFWD_LEASE=" + l.ID() + " "
	deadline := time.Now().Add(time.Second)
	for !slices.ContainsFunc(srv.Execs(), func(e string) bool { return strings.Contains(e, lease) }) {
		if time.Now().After(deadline) {
			t.Fatalf("no lease session a second into the login; execs: %d", len(srv.Execs()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
