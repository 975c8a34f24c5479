package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Backoff is a reconnect schedule: Min, doubling up to Max; the count starts
// over once a connection stayed up for Healthy. It is autossh's schedule.
type Backoff struct{ Min, Max, Healthy time.Duration }

// defaultBackoff is kfwd forward's schedule (docs/kfwd.1.md documents it).
var defaultBackoff = Backoff{Min: time.Second, Max: 30 * time.Second, Healthy: 30 * time.Second}

// delay is the wait before reconnect attempt n (1, 2, ...).
func (b Backoff) delay(n int) time.Duration {
	d := b.Min
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// ReconnectEventKind says what a Reconnecting connection did.
type ReconnectEventKind int

const (
	// ReconnectWaiting: the connection was lost (Err says why, the previous
	// attempt's error after a failed one); attempt Attempt starts after Delay.
	ReconnectWaiting ReconnectEventKind = iota + 1
	// Reconnected: attempt Attempt succeeded.
	Reconnected
	// RouteRelay: the server prohibits forwarding; connections go through the
	// relay program Route.
	RouteRelay
	// RouteNone: the server prohibits forwarding and no relay exists (Err);
	// forwarded connections fail with the server's refusal.
	RouteNone
)

// ReconnectEvent reports one step of a Reconnecting connection.
type ReconnectEvent struct {
	Kind    ReconnectEventKind
	Attempt int
	Delay   time.Duration
	Route   RouteKind
	Err     error
}

// ReconnectOptions configure NewReconnecting.
type ReconnectOptions struct {
	// Dial opens a new connection (tunnel.Dial with the resolved host).
	Dial func(ctx context.Context) (*Client, error)
	// KeepaliveInterval and KeepaliveCountMax detect a silent network, as in
	// Client.Keepalive.
	KeepaliveInterval time.Duration
	KeepaliveCountMax int
	// Backoff is the reconnect schedule; zero means kfwd forward's: 1 s
	// doubling up to 30 s, starting over after 30 s up.
	Backoff Backoff
	// OnEvent receives what happens; may be nil. It must not block.
	OnEvent func(ReconnectEvent)
}

// Reconnecting is an SSH connection that is dialed again, with backoff, when
// it is lost, as autossh does. Forwards made with its Dialer survive the
// reconnects: their listeners stay open, and a connection arriving while
// reconnecting waits for the new connection.
type Reconnecting struct {
	o     ReconnectOptions
	first *Client // the listeners' owner; Forward does not use it to dial

	mu     sync.Mutex
	c      *Client       // nil while reconnecting
	probed chan struct{} // closed once the route for c is known
	route  *Route        // nil until then, or when there is none
	ready  chan struct{} // closed while connected
}

// reconnectWait bounds how long a forwarded connection waits for a reconnect.
const reconnectWait = 15 * time.Second

// NewReconnecting keeps c, an established connection, up from now on. The
// first connection is the caller's to dial, so that a wrong host or key fails
// at once instead of being retried.
func NewReconnecting(ctx context.Context, c *Client, o ReconnectOptions) *Reconnecting {
	if o.Backoff == (Backoff{}) {
		o.Backoff = defaultBackoff
	}
	if o.OnEvent == nil {
		o.OnEvent = func(ReconnectEvent) {}
	}
	r := &Reconnecting{o: o, first: c, ready: make(chan struct{})}
	r.set(ctx, c)
	return r
}

// Run keeps the connection up until ctx is done, then returns nil. A host key
// that fails verification on a reconnect (changed, revoked, unknown) stops it
// with that error instead of retrying.
func (r *Reconnecting) Run(ctx context.Context) error {
	attempt := 0
	for {
		r.mu.Lock()
		c := r.c
		r.mu.Unlock()
		up := time.Now()
		reason := watchConn(ctx, c, r.o.KeepaliveInterval, r.o.KeepaliveCountMax)
		if ctx.Err() != nil {
			return nil
		}
		r.drop()
		c.Close()
		if time.Since(up) >= r.o.Backoff.Healthy {
			attempt = 0
		}
		for {
			attempt++
			delay := r.o.Backoff.delay(attempt)
			r.o.OnEvent(ReconnectEvent{Kind: ReconnectWaiting, Attempt: attempt, Delay: delay, Err: reason})
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return nil
			}
			var err error
			c, err = r.o.Dial(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			var hk *HostKeyError
			if errors.As(err, &hk) {
				return err
			}
			reason = err
		}
		r.set(ctx, c)
		r.o.OnEvent(ReconnectEvent{Kind: Reconnected, Attempt: attempt})
	}
}

// watchConn blocks until the connection is lost (keepalive unanswered, or the
// transport closed) or ctx is done, and returns why it was lost.
func watchConn(ctx context.Context, c *Client, interval time.Duration, count int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan error, 2)
	go func() {
		err := c.Keepalive(ctx, interval, count)
		if err == nil {
			err = ErrConnectionLost
		}
		lost <- err
	}()
	go func() {
		err := c.conn.Wait()
		if err == nil {
			err = errors.New("closed by the server")
		}
		lost <- fmt.Errorf("%w: %v", ErrConnectionLost, err)
	}()
	select {
	case err := <-lost:
		return err
	case <-ctx.Done():
		return nil
	}
}

// set installs a new connection and probes, in the background, whether it
// carries forwards itself or needs a relay.
func (r *Reconnecting) set(ctx context.Context, c *Client) {
	probed := make(chan struct{})
	r.mu.Lock()
	r.c, r.probed, r.route = c, probed, nil
	select {
	case <-r.ready:
	default:
		close(r.ready)
	}
	r.mu.Unlock()
	go func() {
		defer close(probed)
		route, err := c.Route(ctx)
		if err != nil {
			var nr *NoRouteError
			if errors.As(err, &nr) {
				err = nr.Err
			}
			r.o.OnEvent(ReconnectEvent{Kind: RouteNone, Err: err})
			return
		}
		if route.Kind() != RouteDirect {
			r.o.OnEvent(ReconnectEvent{Kind: RouteRelay, Route: route.Kind()})
		}
		r.mu.Lock()
		if r.c == c {
			r.route = route
		}
		r.mu.Unlock()
	}()
}

// drop marks the connection lost: new forwarded connections wait.
func (r *Reconnecting) drop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c != nil {
		r.c = nil
		r.ready = make(chan struct{})
	}
}

// Close closes the current connection. Call it after Run has returned.
func (r *Reconnecting) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.c == nil {
		return nil
	}
	err := r.c.Close()
	r.c = nil
	return err
}

// Forward listens on o.Port on local loopback, as Client.forward does (127.0.0.1
// and ::1, never a wildcard address; a busy port is a *PortInUseError), and
// carries each connection to remotePort on the remote's loopback over
// whichever connection is current.
func (r *Reconnecting) Forward(ctx context.Context, o ForwardOptions, remotePort int) (*Forward, error) {
	o.dial = r.dialer(remotePort)
	return r.first.forward(ctx, o)
}

// dialer opens the remote end of one forwarded connection on the current
// connection, waiting up to reconnectWait while reconnecting.
func (r *Reconnecting) dialer(port int) dialFunc {
	return func(ctx context.Context) (net.Conn, error) {
		timer := time.NewTimer(reconnectWait)
		defer timer.Stop()
		for {
			r.mu.Lock()
			c, probed, ready := r.c, r.probed, r.ready
			r.mu.Unlock()
			if c != nil {
				select {
				case <-probed:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				r.mu.Lock()
				route := r.route
				r.mu.Unlock()
				if route == nil {
					// No relay either: the direct dial fails with the server's refusal.
					return c.dialRemote(ctx, port)
				}
				return route.dial(ctx, port)
			}
			select {
			case <-ready:
			case <-timer.C:
				return nil, fmt.Errorf("not connected: still reconnecting after %s", reconnectWait)
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
}
