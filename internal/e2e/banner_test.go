package e2e

import (
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bannerServer accepts connections on 127.0.0.1 and writes send to each.
func bannerServer(t *testing.T, send func(c net.Conn)) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); send(c) }()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestDoctorUntrustedBanner: kfwd doctor prints the server's SSH banner, which
// a hostile server fills with escape sequences (OSC 52 writes the clipboard,
// OSC 0 the window title) or makes endless. kfwd strips the sequences and
// reads a bounded amount (issue 9).
func TestDoctorUntrustedBanner(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	env := &Env{Dir: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	hostile := bannerServer(t, func(c net.Conn) {
		io.WriteString(c, "SSH-2.0-evil\x1b]52;c;cHduZWQ=\x07\x1b]0;owned\x07\x1b[2J\r\n")
		io.Copy(io.Discard, c)
	})
	endless := bannerServer(t, func(c net.Conn) {
		line := []byte(strings.Repeat("A", 64<<10))
		for {
			if _, err := c.Write(line); err != nil {
				return
			}
		}
	})
	for _, tc := range []struct {
		name string
		port int
		want string
	}{
		{"escapes", hostile, "✓ reach      127.0.0.1:" + strconv.Itoa(hostile) + " answers (SSH-2.0-evil)\n"},
		{"endless", endless, "✗ reach      127.0.0.1:" + strconv.Itoa(endless) + " accepts connections but sent no SSH banner\n"},
	} {
		cfg := env.writeConfig(t, tc.port)
		r := Run(env.KfwdCommand(ctx, tools, "doctor", "-F", cfg, "evil"))
		if !strings.Contains(r.Stdout, tc.want) {
			t.Errorf("%s: want %q in the output:\n%s", tc.name, tc.want, r)
		}
		if strings.ContainsAny(r.Output(), "\x1b\x07\r") || strings.Contains(r.Output(), "AAAA") {
			t.Errorf("%s: the server's text reached the terminal:\n%q", tc.name, r.Output())
		}
	}
}

// writeConfig writes an ssh_config naming 127.0.0.1:port "evil".
func (e *Env) writeConfig(t *testing.T, port int) string {
	t.Helper()
	dir := t.TempDir()
	p := dir + "/ssh_config"
	writeFile(t, p, "Host evil\n  HostName 127.0.0.1\n  Port "+strconv.Itoa(port)+"\n  User tester\n  IdentityAgent none\n  IdentityFile none\n"+
		"  UserKnownHostsFile "+dir+"/known_hosts\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  ConnectTimeout 5\n")
	return p
}
