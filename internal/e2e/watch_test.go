package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kfwd/kfwd/sshconfig"
	"github.com/kfwd/kfwd/tunnel"
)

// dialSrv connects to the env's sshd as kfwd does, with the config written
// by SSHConfig.
func dialSrv(t testing.TB, ctx context.Context, cfg string) *tunnel.Client {
	t.Helper()
	h, err := sshconfig.Resolve("srv", sshconfig.Options{ConfigFile: cfg, SystemFile: "/dev/null"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tunnel.Dial(ctx, tunnel.DialOptions{Host: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sessionID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// nextReport waits for the watch's next report.
func nextReport(t testing.TB, ctx context.Context, w *tunnel.Watch) (tunnel.WatchReport, bool) {
	t.Helper()
	select {
	case r, ok := <-w.Reports():
		return r, ok
	case <-ctx.Done():
		t.Fatal("no report from the watch")
	}
	return tunnel.WatchReport{}, false
}

// assertWatchGone fails when a process of the watch of id still runs in the
// namespace (the script or its stdin reader, both "kfwd-watch ID" in argv).
func assertWatchGone(t *testing.T, env *Env, id string) {
	t.Helper()
	var left []int
	for range 100 {
		if left = env.NS.ProcessesMatching("kfwd-watch " + id); len(left) == 0 {
			return
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Errorf("the watch left processes in the remote namespace: %v", left)
}

// TestWatchRealSSHD runs the watch next to a wrapped testlogin on a real
// OpenSSH server: it reports the callback port the login listens on (the
// same the login put in its redirect_uri), ends when the login is stopped,
// and leaves no process behind.
func TestWatchRealSSHD(t *testing.T) {
	t.Parallel()
	env := Setup(t, SSHDOptions{})
	tools := BuildTools(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c := dialSrv(t, ctx, env.SSHConfig(t, "srv", ClientConfig{}))
	var out syncBuffer
	login, w, err := tunnel.StartWatchedLogin(ctx, c, env.TestLoginArgs(tools, "urlencoded"), tunnel.SessionOptions{Stdout: &out, Stderr: &out}, tunnel.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer login.Close()
	id := login.ID()
	if r, _ := nextReport(t, ctx, w); r.Kind != tunnel.WatchStarted || r.Method != "proc" {
		t.Fatalf("first report %v, want started (proc)", r)
	}
	r, _ := nextReport(t, ctx, w)
	if r.Kind != tunnel.ListenAppeared || r.Addr.String() != "127.0.0.1" {
		t.Fatalf("report %v, want the login's callback listener", r)
	}
	waitFor(t, ctx, "the authorize URL", func() bool { return encodedPort.MatchString(out.String()) })
	if m := encodedPort.FindStringSubmatch(out.String()); m[1] != strconv.Itoa(r.Port) {
		t.Errorf("the watch saw port %d, the login's redirect_uri names %s", r.Port, m[1])
	}
	login.Stop()
	var last tunnel.WatchReport
	for {
		r, ok := nextReport(t, ctx, w)
		if !ok {
			break
		}
		last = r
	}
	if last.Kind != tunnel.WatchEnded {
		t.Errorf("last report %v, want ended", last)
	}
	assertWatchGone(t, env, id)
}

// TestWatchConnectionClosed: when kfwd goes away while the login still runs
// (the connection closes), the watch on the remote ends too.
func TestWatchConnectionClosed(t *testing.T) {
	t.Parallel()
	env := Setup(t, SSHDOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c := dialSrv(t, ctx, env.SSHConfig(t, "srv", ClientConfig{}))
	login, w, err := tunnel.StartWatchedLogin(ctx, c, []string{"sleep", "30"}, tunnel.SessionOptions{}, tunnel.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer login.Close()
	id := login.ID()
	if r, _ := nextReport(t, ctx, w); r.Kind != tunnel.WatchStarted {
		t.Fatalf("first report %v, want started", r)
	}
	waitFor(t, ctx, "the watch on the remote", func() bool { return len(env.NS.ProcessesMatching("kfwd-watch "+id)) > 0 })
	c.Close()
	w.Close()
	assertWatchGone(t, env, id)
}

// TestWatchProcHidden: on a host whose /proc hides everything but the
// processes (mounted with subset=pid), the watch reports itself unavailable
// at once, and CheckWatch says why.
func TestWatchProcHidden(t *testing.T) {
	t.Parallel()
	env := Setup(t, SSHDOptions{ProcMount: "subset=pid"})
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	c := dialSrv(t, ctx, env.SSHConfig(t, "srv", ClientConfig{}))
	id := sessionID()
	w := tunnel.StartWatch(ctx, c, tunnel.WatchOptions{Session: id})
	defer w.Close()
	if r, _ := nextReport(t, ctx, w); r.Kind != tunnel.WatchUnavailable || !strings.Contains(r.Reason, "/proc/net/tcp") {
		t.Fatalf("report %v, want unavailable because of /proc/net/tcp", r)
	}
	if _, ok := nextReport(t, ctx, w); ok {
		t.Error("the watch went on after unavailable")
	}
	_, err := tunnel.CheckWatch(ctx, c)
	var ue *tunnel.WatchUnavailableError
	if !errors.As(err, &ue) || !strings.Contains(ue.Reason, "/proc/net/tcp") {
		t.Errorf("CheckWatch = %v, want unavailable because of /proc/net/tcp", err)
	}
	assertWatchGone(t, env, id)
}
