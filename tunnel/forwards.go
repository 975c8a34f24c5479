package tunnel

import (
	"context"
	"net"
	"sync"
)

// Forwards is one login's set of same-port loopback forwards. A login may ask
// for several callback ports (a CLI that signs in to two services) and may
// print the same one more than once; each port gets one listener. The route to
// the remote's loopback (direct-tcpip or a relay program) is probed once, in
// the background from the start, so that the first callback does not wait for
// the probe's round trips when forwarding is allowed.
type Forwards struct {
	t Target

	probed chan struct{}
	route  *Route // set when a path to the remote exists
	err    error  // why none exists (a *NoRouteError)

	mu       sync.Mutex
	forwards map[int]*Forward
}

// NewForwards starts probing t's route to its loopback (the SSH host's, or a
// container's) and returns the empty set. The probe ends with ctx.
func NewForwards(ctx context.Context, t Target) *Forwards {
	f := &Forwards{t: t, probed: make(chan struct{}), forwards: map[int]*Forward{}}
	go func() {
		defer close(f.probed)
		f.route, f.err = t.Route(ctx)
	}()
	return f
}

// Add listens on port on local loopback and carries each connection to the
// remote's loopback port over the probed route, whose kind it returns. added
// is false for a port already forwarded, which is left as it is. Without a
// route the error is the probe's *NoRouteError; a busy port is a
// *PortInUseError.
func (f *Forwards) Add(ctx context.Context, port int) (kind RouteKind, added bool, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.forwards[port] != nil {
		return f.route.Kind(), false, nil
	}
	select {
	case <-f.probed:
	case <-ctx.Done():
		return "", false, context.Cause(ctx)
	}
	if f.err != nil {
		return "", false, f.err
	}
	route := f.route
	fw, err := listenForward(ctx, ForwardOptions{Port: port, dial: func(ctx context.Context) (net.Conn, error) { return route.dial(ctx, port) }})
	if err != nil {
		return "", false, err
	}
	f.forwards[port] = fw
	return route.Kind(), true, nil
}

// Close closes every forward of the set.
func (f *Forwards) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for port, fw := range f.forwards {
		fw.Close()
		delete(f.forwards, port)
	}
}
