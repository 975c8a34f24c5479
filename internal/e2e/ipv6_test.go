package e2e

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestLoginCallbackPortTakenOnIPv6: another listener holds the callback port
// on [::1] while 127.0.0.1 is free. kfwd must not forward 127.0.0.1 alone (a
// browser resolving localhost to ::1 would hand the code to that listener):
// it fails naming the family, the port and the holder, stops the remote login
// and opens no browser (issue 9).
func TestLoginCallbackPortTakenOnIPv6(t *testing.T) {
	t.Parallel()
	squat, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Fatalf("this test needs IPv6 loopback: %v", err)
	}
	defer squat.Close()
	port := strconv.Itoa(squat.Addr().(*net.TCPAddr).Port)
	if ln, err := net.Listen("tcp4", "127.0.0.1:"+port); err != nil {
		t.Fatalf("127.0.0.1:%s must be free for this test: %v", port, err)
	} else {
		ln.Close()
	}

	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "plain", "-port", port)...)...))
	if r.ExitCode != 255 {
		t.Fatalf("callback port taken on ::1: want exit 255, got %s", r)
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	want := fmt.Sprintf("local port %s is in use on IPv6 loopback ::1 by pid %d (%s)", port, os.Getpid(), strings.TrimSpace(string(comm)))
	if !strings.Contains(r.Stderr, want) {
		t.Errorf("the error does not name family, port and holder (%q):\n%s", want, r)
	}
	assertGone(t, env, "after the port error", tools.TestLogin, "sshd: root")
	if n := len(env.BrowserURLs()); n != 0 {
		t.Errorf("the browser was opened %d times although the callback is not safe", n)
	}
	if ln, err := net.Listen("tcp4", "127.0.0.1:"+port); err != nil {
		t.Errorf("kfwd left 127.0.0.1:%s listening: %v", port, err)
	} else {
		ln.Close()
	}
}
