package minisshd

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func dial(t *testing.T, s *Server) *ssh.Client {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", s.Addr, &ssh.ClientConfig{
		User:            "u",
		HostKeyCallback: ssh.FixedHostKey(s.HostKey.PublicKey()),
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestExecStatusAndOutput(t *testing.T) {
	s := Start(t, Options{})
	c := dial(t, s)
	for _, tc := range []struct {
		cmd    string
		out    string
		status int
	}{
		{"echo hello", "hello\n", 0},
		{"echo bye; exit 3", "bye\n", 3},
		{"no-such-command-kfwd", "", 127},
	} {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		out, err := sess.Output(tc.cmd)
		status := 0
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			status = ee.ExitStatus()
		} else if err != nil {
			t.Fatal(err)
		}
		if string(out) != tc.out || status != tc.status {
			t.Errorf("%q: got %q status %d, want %q status %d", tc.cmd, out, status, tc.out, tc.status)
		}
	}
	if got := s.Execs(); len(got) != 3 || got[0] != "echo hello" {
		t.Errorf("Execs = %q", got)
	}
}

func TestExecWithPTY(t *testing.T) {
	s := Start(t, Options{})
	c := dial(t, s)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-kfwd", 24, 91, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("tty >/dev/null && echo $TERM $(stty size)")
	if err != nil {
		t.Fatal(err, string(out))
	}
	if got := strings.TrimSpace(string(out)); got != "xterm-kfwd 24 91" {
		t.Fatalf("got %q", got)
	}
}

func TestDirectTCPIPOverMemNet(t *testing.T) {
	mn := NewMemNet()
	s := Start(t, Options{Dial: mn.Dial})
	ln, err := mn.Listen(49153)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		line, _ := bufio.NewReader(conn).ReadString('\n')
		io.WriteString(conn, "echo:"+line)
		conn.Close()
	}()
	c := dial(t, s)
	conn, err := c.Dial("tcp", "127.0.0.1:49153")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(conn, "hi\n")
	b, _ := io.ReadAll(conn)
	if string(b) != "echo:hi\n" {
		t.Fatalf("got %q", b)
	}
	if _, err := c.Dial("tcp", "127.0.0.1:1"); err == nil {
		t.Fatal("forward to a closed remote port succeeded")
	}
}

func TestForwardingProhibited(t *testing.T) {
	s := Start(t, Options{ForwardingProhibited: true, Dial: NewMemNet().Dial})
	c := dial(t, s)
	_, err := c.Dial("tcp", "127.0.0.1:80")
	var oe *ssh.OpenChannelError
	if !errors.As(err, &oe) || oe.Reason != ssh.Prohibited {
		t.Fatalf("got %v, want administratively prohibited", err)
	}
}

func TestMemNetListen(t *testing.T) {
	mn := NewMemNet()
	ln, err := mn.Listen(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mn.Listen(int(ln.Addr().(memAddr))); err == nil {
		t.Fatal("second listen on the same port succeeded")
	}
	ln.Close()
	if _, err := mn.Dial("127.0.0.1", int(ln.Addr().(memAddr))); err == nil {
		t.Fatal("dial after close succeeded")
	}
}

// A window change that arrives as the command exits must not touch the PTY
// after it is closed (go test -race found that, issue 9), and an exec reply
// must come before the exit status and channel close, as with sshd, even for a
// command that ends at once.
func TestPTYResizeWhileExiting(t *testing.T) {
	s := Start(t, Options{})
	c := dial(t, s)
	for range 20 {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
		if err := sess.Start("true"); err != nil {
			t.Fatalf("exec of a command that exits at once: %v", err)
		}
		for i := range 20 {
			if err := sess.WindowChange(30+i, 100); err != nil {
				break // the session ended
			}
		}
		if err := sess.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if out, err := sess.Output("exit 0"); err != nil {
			t.Fatalf("exec without PTY of a command that exits at once: %v (%q)", err, out)
		}
	}
}
