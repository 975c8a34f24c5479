package tunnel

import (
	"context"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kfwd/kfwd/internal/minisshd"
)

// helloServer listens on local loopback and greets each connection.
func helloServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
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
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestRoute(t *testing.T) {
	dialLocal := func(host string, port int) (net.Conn, error) {
		return net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	}
	for _, tc := range []struct {
		name   string
		opts   minisshd.Options
		direct bool
	}{
		{"allowed", minisshd.Options{Dial: dialLocal}, true},
		{"prohibited", minisshd.Options{ForwardingProhibited: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := fwdClient(t, tc.opts)
			r, err := c.Route(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if kind := r.Kind(); (kind == "direct-tcpip") != tc.direct ||
				!tc.direct && !slices.Contains(relayKinds, RelayKind(kind)) {
				t.Fatalf("Kind() = %q", kind)
			}
			conn, err := r.dial(context.Background(), helloServer(t))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if b, err := io.ReadAll(conn); string(b) != "hello" {
				t.Errorf("read %q, %v through %s", b, err, r.Kind())
			}
		})
	}

	t.Run("no-relay", func(t *testing.T) {
		c, _ := fwdClient(t, minisshd.Options{ForwardingProhibited: true, Exec: func(*minisshd.Session) int { return 0 }})
		r, err := c.Route(context.Background())
		var nr *NoRouteError
		if r != nil || !errors.As(err, &nr) || !errors.Is(err, errNoRelay) ||
			!strings.Contains(err.Error(), "administratively prohibited") {
			t.Fatalf("got %v, %v; want a NoRouteError for errNoRelay", r, err)
		}
	})
}
