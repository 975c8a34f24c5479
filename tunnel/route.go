package tunnel

import (
	"context"
	"net"
)

// Route is how a Client reaches the remote host's loopback ports: direct-tcpip
// channels, or a relay program when the server prohibits forwarding.
type Route struct {
	c     *Client
	relay *Relay // nil for direct-tcpip
}

// RouteKind names how a Route reaches the remote's loopback: RouteDirect, or
// the name of a relay program (a RelayKind).
type RouteKind string

// RouteDirect is direct-tcpip channels on the SSH connection itself.
const RouteDirect RouteKind = "direct-tcpip"

// Kind returns RouteDirect or the relay program's name.
func (r *Route) Kind() RouteKind {
	if r.relay == nil {
		return RouteDirect
	}
	return RouteKind(r.relay.Kind)
}

// Dial opens a connection to the remote's loopback port.
func (r *Route) dial(ctx context.Context, port int) (net.Conn, error) {
	if r.relay != nil {
		return r.relay.dial(ctx, port)
	}
	return r.c.dialRemote(ctx, port)
}

// NoRouteError is a server that prohibits forwarding on a remote host without
// a relay program (or whose relay probe failed: Err says which).
type NoRouteError struct{ Err error }

func (e *NoRouteError) Error() string {
	return "the server does not allow TCP forwarding (administratively prohibited) and " + e.Err.Error()
}

func (e *NoRouteError) Unwrap() error { return e.Err }

// Route probes whether the server carries direct-tcpip channels and, when it
// prohibits them, looks for a relay program on the remote. A probe that fails
// for another reason yields direct-tcpip: a real refusal shows on use. When
// forwarding is prohibited and no relay is found, the error is a *NoRouteError.
func (c *Client) Route(ctx context.Context) (*Route, error) {
	st, err := c.ProbeForwarding(ctx)
	if err != nil {
		c.logf("forwarding probe: %v", err)
	}
	if st != ForwardProhibited {
		return &Route{c: c}, nil
	}
	c.logf("the server does not allow TCP forwarding; looking for a relay program on the remote")
	r, err := c.FindRelay(ctx)
	if err != nil {
		return nil, &NoRouteError{Err: err}
	}
	return &Route{c: c, relay: &r}, nil
}
