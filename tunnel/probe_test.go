package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/kfwd/kfwd/internal/minisshd"
)

func TestProbeForwarding(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts minisshd.Options
		want ForwardStatus
	}{
		{"memnet", minisshd.Options{Dial: minisshd.NewMemNet().Dial}, ForwardAllowed},
		{"connect-failed", minisshd.Options{}, ForwardAllowed},
		{"prohibited", minisshd.Options{ForwardingProhibited: true}, ForwardProhibited},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fwdClient(t, tc.opts)
			got, err := c.ProbeForwarding(context.Background())
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestProbeForwardingConnectionLost(t *testing.T) {
	c, srv := fwdClient(t, minisshd.Options{})
	fwdWaitFor(t, "server side of the connection", func() bool { return srv.Conns() == 1 })
	srv.DropConns()
	c.conn.Wait()
	got, err := c.ProbeForwarding(context.Background())
	if err == nil || got != ForwardUnknown {
		t.Fatalf("got %v, %v; want unknown and an error", got, err)
	}
}

func TestDialRemoteProhibited(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{ForwardingProhibited: true})
	_, err := c.dialRemote(context.Background(), 8080)
	if !errors.Is(err, errProhibited) || !isProhibited(err) {
		t.Fatalf("got %v, want errProhibited", err)
	}
}

// A callback server listening on ::1 only is reached after 127.0.0.1 is refused.
func TestDialRemoteFallsBackToIPv6Loopback(t *testing.T) {
	mn := minisshd.NewMemNet()
	var mu sync.Mutex
	var hosts []string
	c, _ := fwdClient(t, minisshd.Options{Dial: func(host string, port int) (net.Conn, error) {
		mu.Lock()
		hosts = append(hosts, host)
		mu.Unlock()
		if host != "::1" {
			return nil, fmt.Errorf("dial %s:%d: connection refused", host, port)
		}
		return mn.Dial(host, port)
	}})
	ln, _ := mn.Listen(0)
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			io.WriteString(conn, "v6")
			conn.Close()
		}
	}()
	var p int
	fmt.Sscanf(ln.Addr().String(), "127.0.0.1:%d", &p)
	conn, err := c.dialRemote(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	conn.Close()
	if string(b) != "v6" {
		t.Errorf("got %q", b)
	}
	mu.Lock()
	asked := fmt.Sprint(hosts)
	mu.Unlock()
	if asked != "[127.0.0.1 ::1]" {
		t.Errorf("server was asked for %v, want [127.0.0.1 ::1]", asked)
	}

	// Neither answers: the error is the refusal, not a prohibition.
	_, err = c.dialRemote(context.Background(), p+1)
	if !isRefused(err) || isProhibited(err) {
		t.Errorf("got %v, want a refused connect", err)
	}
}

func TestDialRemoteHonoursContext(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.dialRemote(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}
