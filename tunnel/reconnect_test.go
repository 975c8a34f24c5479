package tunnel

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/minisshd"
	"golang.org/x/crypto/ssh"
)

func TestBackoffDelay(t *testing.T) {
	b := defaultBackoff
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := b.delay(i + 1); got != w {
			t.Errorf("delay(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := b.delay(1000); got != 30*time.Second {
		t.Errorf("delay(1000) = %v, want the 30s cap", got)
	}
}

// sshDialer dials srv with a fresh key, as Dial would with a resolved host.
func sshDialer(t *testing.T, srv *minisshd.Server) func(context.Context) (*Client, error) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return func(context.Context) (*Client, error) {
		sc, err := ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{
			User:            "u",
			HostKeyCallback: ssh.FixedHostKey(srv.HostKey.PublicKey()),
			Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
			Timeout:         5 * time.Second,
		})
		if err != nil {
			return nil, err
		}
		return newClient(sc), nil
	}
}

// TestReconnectingForwardSurvivesDrop drops the server's connections under a
// forward: the same local port reaches the remote again after the reconnect,
// and the events say so in order.
func TestReconnectingForwardSurvivesDrop(t *testing.T) {
	srv := minisshd.Start(t, minisshd.Options{Dial: func(host string, port int) (net.Conn, error) {
		return net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	}})
	remote := helloServer(t)
	var mu sync.Mutex
	var kinds []ReconnectEventKind
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dial := sshDialer(t, srv)
	c, err := dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReconnecting(ctx, c, ReconnectOptions{
		Dial:    dial,
		Backoff: Backoff{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond, Healthy: time.Hour},
		OnEvent: func(ev ReconnectEvent) {
			mu.Lock()
			kinds = append(kinds, ev.Kind)
			mu.Unlock()
		},
	})
	fw, err := r.Forward(ctx, ForwardOptions{Port: 0}, remote)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	get := func() string {
		c, err := net.DialTimeout("tcp", fw.addrs[0].String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("x")) // the remote end is dialed on the first bytes
		b, _ := io.ReadAll(c)
		return string(b)
	}
	if got := get(); got != "hello" {
		t.Fatalf("before the drop: read %q", got)
	}
	srv.DropConns()
	// A connection made before Run has seen the drop may still meet the dead
	// connection; a browser retries, and so does this loop.
	fwdWaitFor(t, "a forward after the drop", func() bool { return get() == "hello" })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v after cancel, want nil", err)
	}
	r.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(kinds) < 2 || kinds[0] != ReconnectWaiting || kinds[len(kinds)-1] != Reconnected {
		t.Errorf("events %v, want waiting ... reconnected", kinds)
	}
}

// TestForwardsAddsEachPortOnce forwards a port twice (once listening) and
// reports the route; with forwarding prohibited and no relay, Add fails with
// the probe's NoRouteError.
func TestForwardsAddsEachPortOnce(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{Dial: func(host string, port int) (net.Conn, error) {
		return net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	}})
	ctx := context.Background()
	f := NewForwards(ctx, c)
	defer f.Close()
	port := fwdFreePort(t)
	kind, added, err := f.Add(ctx, port)
	if err != nil || !added || kind != RouteDirect {
		t.Fatalf("first Add = %q, %v, %v", kind, added, err)
	}
	if _, added, err := f.Add(ctx, port); err != nil || added {
		t.Fatalf("second Add = %v, %v; want not added", added, err)
	}
	f.Close()
	if ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		t.Errorf("port still held after Close: %v", err)
	} else {
		ln.Close()
	}

	c2, _ := fwdClient(t, minisshd.Options{ForwardingProhibited: true, Exec: func(*minisshd.Session) int { return 0 }})
	f2 := NewForwards(ctx, c2)
	defer f2.Close()
	var nr *NoRouteError
	if _, _, err := f2.Add(ctx, fwdFreePort(t)); !errors.As(err, &nr) {
		t.Fatalf("Add without route = %v, want a NoRouteError", err)
	}
}
