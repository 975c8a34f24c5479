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
	status tunnel.ForwardStatus
	relay  *tunnel.Relay // set when forwarding is prohibited and a relay program exists
	err    error         // why no path to the remote exists

	mu       sync.Mutex
	forwards map[int]*tunnel.Forward
}

func newForwarder(ctx context.Context, c *tunnel.Client, u *ui) *forwarder {
	f := &forwarder{client: c, u: u, probed: make(chan struct{}), forwards: map[int]*tunnel.Forward{}}
	go f.probe(ctx)
	return f
}

func (f *forwarder) probe(ctx context.Context) {
	defer close(f.probed)
	st, err := f.client.ProbeForwarding(ctx)
	if err != nil {
		f.u.debugf(1, "forwarding probe: %v", err)
		st = tunnel.ForwardAllowed // try direct-tcpip anyway; a real refusal shows on use
	}
	f.status = st
	if st != tunnel.ForwardProhibited {
		return
	}
	f.u.debugf(1, "the server does not allow TCP forwarding; looking for a relay program on the remote")
	r, err := f.client.FindRelay(ctx)
	if err != nil {
		f.err = &noForwardError{err: err}
		return
	}
	f.relay = &r
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
	dial := func(ctx context.Context) (net.Conn, error) { return f.client.DialRemote(ctx, port) }
	via := "the SSH connection"
	if f.relay != nil {
		dial = func(ctx context.Context) (net.Conn, error) { return f.relay.Dial(ctx, port) }
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
