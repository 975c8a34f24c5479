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
	relay  *tunnel.Relay // set when forwarding is prohibited and a relay program exists
	err    error         // why no path to the remote exists

	mu       sync.Mutex
	forwards map[int]*tunnel.Forward
}

func newForwarder(ctx context.Context, c *tunnel.Client, u *ui) *forwarder {
	f := &forwarder{client: c, u: u, probed: make(chan struct{}), forwards: map[int]*tunnel.Forward{}}
	go func() {
		defer close(f.probed)
		r, err := probeRoute(ctx, c, u)
		if err != nil {
			f.err = &noForwardError{err: err}
		}
		f.relay = r
	}()
	return f
}

// probeRoute finds how c reaches the remote's loopback: a nil Relay for
// direct-tcpip (also when the probe itself failed: a real refusal shows on
// use), a relay program when the server prohibits forwarding, or FindRelay's
// error when it prohibits forwarding and the remote has no relay program.
func probeRoute(ctx context.Context, c *tunnel.Client, u *ui) (*tunnel.Relay, error) {
	st, err := c.ProbeForwarding(ctx)
	if err != nil {
		u.debugf(1, "forwarding probe: %v", err)
	}
	if st != tunnel.ForwardProhibited {
		return nil, nil
	}
	u.debugf(1, "the server does not allow TCP forwarding; looking for a relay program on the remote")
	r, err := c.FindRelay(ctx)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// dialRoute opens the remote end of one forwarded connection: through relay
// when there is one, else as a direct-tcpip channel on c.
func dialRoute(ctx context.Context, c *tunnel.Client, relay *tunnel.Relay, port int) (net.Conn, error) {
	if relay != nil {
		return relay.Dial(ctx, port)
	}
	return c.DialRemote(ctx, port)
}

// noForwardError says that neither forwarding nor a relay can reach the remote.
type noForwardError struct{ err error }

func (e *noForwardError) Error() string {
	return "the server does not allow TCP forwarding (administratively prohibited) and " + e.err.Error()
}
func (e *noForwardError) Unwrap() error { return e.err }

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
	dial := func(ctx context.Context) (net.Conn, error) { return dialRoute(ctx, f.client, f.relay, port) }
	via := "the SSH connection"
	if f.relay != nil {
		via = fmt.Sprintf("%s on the remote (the server does not allow TCP forwarding)", f.relay.Kind)
	}
	fw, err := f.client.Forward(ctx, port, dial)
	if err != nil {
		return err
	}
	f.forwards[port] = fw
	f.u.statusf("callback port %d: forwarding localhost:%d to the remote through %s", port, port, via)
	f.u.event("forwarding", map[string]any{"port": port, "via": viaName(f.relay)})
	return nil
}

func viaName(r *tunnel.Relay) string {
	if r == nil {
		return "direct-tcpip"
	}
	return string(r.Kind)
}

func (f *forwarder) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for port, fw := range f.forwards {
		fw.Close()
		delete(f.forwards, port)
	}
}
