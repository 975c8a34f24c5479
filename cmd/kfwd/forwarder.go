package main

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/kfwd/kfwd/tunnel"
)

// forwarder opens one same-port loopback forward per callback port. At start it
// probes whether the server allows TCP forwarding; where it does not, browser
// connections are carried by a relay program run on the remote instead.
type forwarder struct {
	client *tunnel.Client
	u      *ui

	probed chan struct{}
	route  *tunnel.Route // set when a path to the remote exists
	err    error         // why none exists (a *tunnel.NoRouteError)

	mu       sync.Mutex
	forwards map[int]*tunnel.Forward
}

func newForwarder(ctx context.Context, c *tunnel.Client, u *ui) *forwarder {
	f := &forwarder{client: c, u: u, probed: make(chan struct{}), forwards: map[int]*tunnel.Forward{}}
	go func() {
		defer close(f.probed)
		f.route, f.err = c.Route(ctx)
	}()
	return f
}

// forward listens on port on local loopback and carries each connection to the
// remote's loopback port. A port already forwarded is left as it is.
func (f *forwarder) forward(ctx context.Context, port int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.forwards[port] != nil {
		return nil
	}
	select {
	case <-f.probed:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	if f.err != nil {
		return f.err
	}
	dial := func(ctx context.Context) (net.Conn, error) { return f.route.Dial(ctx, port) }
	via := "the SSH connection"
	if f.route.Kind() != "direct-tcpip" {
		via = fmt.Sprintf("%s on the remote (the server does not allow TCP forwarding)", f.route.Kind())
	}
	fw, err := f.client.Forward(ctx, port, dial)
	if err != nil {
		return err
	}
	f.forwards[port] = fw
	f.u.statusf("callback port %d: forwarding localhost:%d to the remote through %s", port, port, via)
	f.u.event("forwarding", map[string]any{"port": port, "via": f.route.Kind()})
	return nil
}

func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for port, fw := range f.forwards {
		fw.Close()
		delete(f.forwards, port)
	}
}
