package e2e

import (
	"bufio"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestForwardServerSpeaksFirst forwards a local port to the remote's own
// sshd on its loopback (127.0.0.1:2222 inside the namespace) with `kfwd
// forward`. SSH, like SMTP, MySQL and VNC, has the server speak first: the
// client reads the banner before it sends anything, so a forward that dials
// the remote only on the client's first bytes would hang (issue 9).
func TestForwardServerSpeaksFirst(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{ExtraListen: []string{"127.0.0.1:2222"}})
	local := FreePort(t)
	p, err := Start(env.KfwdCommand(ctx, tools, "forward", "--json", "-F", cfg, "srv", strconv.Itoa(local)+":2222"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		p.Cmd.Process.Signal(syscall.SIGINT)
		// Ctrl-C is how kfwd forward ends: 130, as the man page says.
		if r := p.Wait(); r.ExitCode != 130 {
			t.Errorf("kfwd forward after SIGINT: want exit 130, got %s", r)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.Stdout(), `"forwarding"`) {
		if time.Now().After(deadline) {
			t.Fatalf("kfwd forward did not start forwarding:\n%s\n%s", p.Stdout(), p.Stderr())
		}
		select {
		case <-p.Done():
			t.Fatalf("kfwd forward exited: %s", p.Wait())
		case <-time.After(20 * time.Millisecond):
		}
	}
	for _, addr := range []string{"127.0.0.1", "::1"} {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, strconv.Itoa(local)), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		banner, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || !strings.HasPrefix(banner, "SSH-2.0-OpenSSH") {
			t.Errorf("through [%s]:%d: got banner %q, %v; want the remote sshd's SSH-2.0-OpenSSH banner", addr, local, banner, err)
		}
	}
}
