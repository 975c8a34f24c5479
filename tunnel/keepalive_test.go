package tunnel

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/minisshd"
)

func TestKeepaliveSilentServer(t *testing.T) {
	srv := minisshd.Start(t, minisshd.Options{IgnoreKeepalive: true})
	h := hostFor(t, srv)
	withKey(t, h)
	c, err := dialT(t, DialOptions{Host: h})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = c.Keepalive(ctx, 20*time.Millisecond, 2)
	if !errors.Is(err, ErrConnectionLost) || !strings.Contains(err.Error(), "no reply to 2 keepalives") {
		t.Fatalf("got %v, want ErrConnectionLost", err)
	}
	// The connection was closed.
	if _, err := c.conn.NewSession(); err == nil {
		t.Fatal("connection still usable after keepalive gave up")
	}
}

func TestKeepaliveAnsweringServer(t *testing.T) {
	srv := minisshd.Start(t, minisshd.Options{})
	h := hostFor(t, srv)
	withKey(t, h)
	c, err := dialT(t, DialOptions{Host: h})
	if err != nil {
		t.Fatal(err)
	}
	// Many intervals pass: replies must keep it going.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := c.Keepalive(ctx, 20*time.Millisecond, 5); err != nil {
		t.Fatalf("Keepalive = %v, want nil on context end", err)
	}
	mustRun(t, c)
}

func TestKeepaliveConnectionDropped(t *testing.T) {
	srv := minisshd.Start(t, minisshd.Options{})
	h := hostFor(t, srv)
	withKey(t, h)
	c, err := dialT(t, DialOptions{Host: h})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Keepalive(ctx, 10*time.Millisecond, 3) }()
	// The server registers the connection once its side of the handshake ends.
	waitFor(t, "server side of the connection", func() bool { return srv.Conns() == 1 })
	srv.DropConns()
	if err := <-done; !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("got %v, want ErrConnectionLost", err)
	}

	// Closing the client ourselves is not a loss.
	c2, err := dialT(t, DialOptions{Host: h})
	if err != nil {
		t.Fatal(err)
	}
	go func() { done <- c2.Keepalive(ctx, 10*time.Millisecond, 3) }()
	time.Sleep(30 * time.Millisecond)
	c2.Close()
	if err := <-done; err != nil {
		t.Fatalf("after Close: %v", err)
	}
}
