package tunnel

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/minisshd"
)

// relayTarget is a real TCP server on this machine's loopback, which minisshd's
// default exec handler (/bin/sh here) reaches as "the remote's" 127.0.0.1.
// mode "line" answers "echo:<line>" and closes; mode "eof" reads until EOF
// (the client's half-close) and then answers.
func relayTarget(t *testing.T, mode string) int {
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
			go func() {
				defer c.Close()
				if mode == "eof" {
					b, _ := io.ReadAll(c)
					fmt.Fprintf(c, "got %q", b)
					return
				}
				line, err := bufio.NewReader(c).ReadString('\n')
				if err == nil {
					io.WriteString(c, "echo:"+line)
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func probedRelay(t *testing.T) (Relay, *Client) {
	t.Helper()
	c, _ := fwdClient(t, minisshd.Options{ForwardingProhibited: true})
	r, err := c.FindRelay(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r, c
}

func TestFindRelayListsLocalPrograms(t *testing.T) {
	c, srv := fwdClient(t, minisshd.Options{ForwardingProhibited: true})
	r, err := c.FindRelay(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want []RelayKind
	for _, k := range relayKinds {
		if _, err := exec.LookPath(string(k)); err == nil {
			want = append(want, k)
		}
	}
	if fmt.Sprint(r.available) != fmt.Sprint(want) || r.Kind != want[0] {
		t.Errorf("found %v (kind %s), want %v", r.available, r.Kind, want)
	}
	if n := len(srv.Execs()); n != 1 {
		t.Errorf("probe ran %d commands, want 1", n)
	}
	if _, err := r.with("telnet"); err == nil {
		t.Error("with accepted a relay that is not available")
	}
}

func TestFindRelayNone(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{Exec: func(*minisshd.Session) int { return 0 }})
	_, err := c.FindRelay(context.Background())
	var ne *NoRelayError
	if !errors.Is(err, errNoRelay) || !errors.As(err, &ne) || len(ne.Probed) != len(relayKinds) {
		t.Fatalf("got %v, want errNoRelay listing %v", err, relayKinds)
	}
	if !strings.Contains(err.Error(), "python3, bash, socat, nc") {
		t.Errorf("message %q does not name the programs", err)
	}
}

func TestRelayKinds(t *testing.T) {
	base, _ := probedRelay(t)
	for _, kind := range relayKinds {
		t.Run(string(kind), func(t *testing.T) {
			r, err := base.with(kind)
			if err != nil {
				t.Skip(err)
			}
			ctx := context.Background()

			// Request, then the server answers and closes.
			port := relayTarget(t, "line")
			conn, err := r.dial(ctx, port)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(conn, "hello\n")
			conn.(interface{ CloseWrite() error }).CloseWrite()
			got := readAllTimeout(t, conn)
			conn.Close()
			if got != "echo:hello\n" {
				t.Errorf("got %q", got)
			}

			// Nothing listens: Read fails naming the relay.
			conn, err = r.dial(ctx, relayClosedPort(t))
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.ReadAll(conn)
			conn.Close()
			if err == nil || !strings.Contains(err.Error(), "relay "+string(kind)) {
				t.Errorf("refused connect: got %v, want an error naming the relay", err)
			}

			if kind == RelayBash {
				return // bash cannot half-close a /dev/tcp socket
			}
			// The client's half-close reaches the server, which answers after it.
			port = relayTarget(t, "eof")
			conn, err = r.dial(ctx, port)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			io.WriteString(conn, "part1 ")
			io.WriteString(conn, "part2")
			conn.(interface{ CloseWrite() error }).CloseWrite()
			if got := readAllTimeout(t, conn); got != `got "part1 part2"` {
				t.Errorf("half-close: got %q", got)
			}
		})
	}
}

// The relay plugs into Forward as its dial function.
func TestRelayBehindForward(t *testing.T) {
	base, c := probedRelay(t)
	port := relayTarget(t, "line")
	for _, kind := range base.available {
		t.Log(kind)
		r, _ := base.with(kind)
		f, err := c.forward(context.Background(), ForwardOptions{
			dial: func(ctx context.Context) (net.Conn, error) { return r.dial(ctx, port) },
		})
		if err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("tcp", f.addrs[0].String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, "GET /cb\n")
		// A browser does not half-close; the server's close must come back.
		// (nc reports it only once the browser closes, so give it one.)
		if kind == RelayNC {
			conn.(*net.TCPConn).CloseWrite()
		}
		if got := readAllTimeout(t, conn); got != "echo:GET /cb\n" {
			t.Errorf("%s: got %q", kind, got)
		}
		conn.Close()
		f.Close()
	}
}

func readAllTimeout(t *testing.T, c net.Conn) string {
	t.Helper()
	type res struct {
		b   []byte
		err error
	}
	ch := make(chan res, 1)
	go func() {
		b, err := io.ReadAll(c)
		ch <- res{b, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Errorf("read: %v", r.err)
		}
		return string(r.b)
	case <-time.After(10 * time.Second):
		c.Close()
		t.Fatalf("read timed out (got so far: see %s)", c.RemoteAddr())
	}
	return ""
}

func relayClosedPort(t *testing.T) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}
