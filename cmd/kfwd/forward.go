package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kfwd/kfwd/sshconfig"
	"github.com/kfwd/kfwd/tunnel"
	"github.com/urfave/cli/v3"
)

func forwardCommand(e *env) *cli.Command {
	one := 1
	return &cli.Command{
		Name:      "forward",
		Usage:     "keep loopback ports forwarded to a remote host, reconnecting when the connection drops",
		ArgsUsage: "[user@]HOST PORT[:REMOTEPORT]...",
		Description: "kfwd forward listens on each PORT on local loopback (127.0.0.1 and ::1) and carries every\n" +
			"connection to REMOTEPORT (default: the same port) on the remote host's loopback, over one SSH\n" +
			"connection with keepalive, like 'ssh -N -L PORT:localhost:REMOTEPORT HOST'. When the connection\n" +
			"drops it reconnects with backoff (1s, doubling up to 30s, reset after 30s of a healthy\n" +
			"connection), like autossh, until Ctrl-C or SIGTERM, which end it with exit status 0.\n" +
			"The local listeners stay open while reconnecting: a connection that sends its first bytes\n" +
			"then waits up to 15s for the connection to come back, and is closed if it does not.\n" +
			"A changed or unknown host key on a reconnect stops kfwd forward instead of retrying.",
		Flags: append(sshFlags(),
			&cli.BoolFlag{Name: "json", Usage: "newline-delimited JSON events on stdout"},
		),
		StopOnNthArg:  &one,
		ShellComplete: completeHosts,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			arg, err := destinationArg(ctx, cmd)
			if err != nil {
				return err
			}
			rest := cmd.Args().Tail()
			if len(rest) > 0 && rest[0] == "--" {
				rest = rest[1:]
			}
			if len(rest) == 0 {
				return usageError{errors.New("forward: missing PORT[:REMOTEPORT]")}
			}
			specs, err := parsePortSpecs(rest)
			if err != nil {
				return usageError{err}
			}
			h, opts, err := resolveHost(cmd, arg)
			if err != nil {
				return err
			}
			u := newUI(e, cmd.Bool("json"), cmd.Bool("q"), cmd.Count("v"))
			return runForward(ctx, e, u, forwardOptions{host: h, resolve: hopResolver(opts), specs: specs})
		},
	}
}

// portSpec is one PORT[:REMOTEPORT] argument.
type portSpec struct{ local, remote int }

func parsePortSpecs(args []string) ([]portSpec, error) {
	var specs []portSpec
	seen := map[int]bool{}
	for _, a := range args {
		l, r, mapped := strings.Cut(a, ":")
		local, err := parsePort(l)
		if err != nil {
			return nil, fmt.Errorf("forward: %q: %w", a, err)
		}
		remote := local
		if mapped {
			if remote, err = parsePort(r); err != nil {
				return nil, fmt.Errorf("forward: %q: %w", a, err)
			}
		}
		if seen[local] {
			return nil, fmt.Errorf("forward: local port %d given twice", local)
		}
		seen[local] = true
		specs = append(specs, portSpec{local, remote})
	}
	return specs, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("not a port number (1-65535): %q", s)
	}
	return p, nil
}

type forwardOptions struct {
	host    *sshconfig.Host
	resolve func(string) (*sshconfig.Host, error)
	specs   []portSpec
	prompt  tunnel.Prompter // nil: the terminal or SSH_ASKPASS
	backoff backoff         // zero: defaultBackoff
}

// backoff is the reconnect schedule: min, doubling up to max; the count starts
// over once a connection stayed up for healthy.
type backoff struct{ min, max, healthy time.Duration }

var defaultBackoff = backoff{min: time.Second, max: 30 * time.Second, healthy: 30 * time.Second}

// reconnectWait bounds how long a forwarded connection waits for a reconnect.
const reconnectWait = 15 * time.Second

// delay is the wait before reconnect attempt n (1, 2, ...).
func (b backoff) delay(n int) time.Duration {
	d := b.min
	for i := 1; i < n && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

// runForward is `kfwd forward`: dial, listen, and keep the connection up
// until interrupted.
func runForward(ctx context.Context, e *env, u *ui, o forwardOptions) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopSignals := notifyInterrupt(cancel)
	defer stopSignals()
	if o.backoff == (backoff{}) {
		o.backoff = defaultBackoff
	}
	prompt := o.prompt
	if prompt == nil {
		prompt = terminalPrompter(e)
	}
	h := o.host
	dial := func() (*tunnel.Client, error) {
		return tunnel.Dial(ctx, tunnel.DialOptions{Host: h, Resolve: o.resolve, Prompt: prompt, Logf: u.logf(1), Stderr: e.stderr})
	}

	u.statusf("connecting to %s (%s port %d)", h.Alias, h.HostName, h.Port)
	u.event("connecting", map[string]any{"host": h.Alias, "hostname": h.HostName, "port": h.Port})
	c, err := dial()
	if err != nil {
		return causeOr(ctx, err)
	}
	live := newLiveConn()
	live.set(ctx, c, u)
	u.statusf("connected to %s", h.Alias)
	u.event("connected", map[string]any{"host": h.Alias})

	var forwards []*tunnel.Forward
	defer func() {
		for _, fw := range forwards {
			fw.Close()
		}
		live.close()
	}()
	for _, s := range o.specs {
		fw, err := c.ForwardWith(ctx, tunnel.ForwardOptions{
			Port:    s.local,
			Dial:    live.dialer(s.remote),
			Logf:    u.logf(2),
			OnEvent: forwardEventLogger(u),
		})
		if err != nil {
			return err
		}
		forwards = append(forwards, fw)
		u.statusf("forwarding localhost:%d to %s's localhost:%d", s.local, h.Alias, s.remote)
		u.event("forwarding", map[string]any{"port": s.local, "remote_port": s.remote})
	}

	interval, count := keepaliveSettings(h)
	attempt := 0
	for {
		up := time.Now()
		reason := watchConn(ctx, c, interval, count)
		if ctx.Err() != nil {
			break
		}
		live.drop()
		c.Close()
		if time.Since(up) >= o.backoff.healthy {
			attempt = 0
		}
		for {
			attempt++
			delay := o.backoff.delay(attempt)
			u.statusf("connection to %s lost (%v); reconnecting in %s (attempt %d)", h.Alias, reason, delay, attempt)
			u.event("reconnecting", map[string]any{"host": h.Alias, "attempt": attempt, "delay": delay.Seconds(), "reason": reason.Error()})
			select {
			case <-time.After(delay):
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
			c, err = dial()
			if err == nil {
				break
			}
			var hk *tunnel.HostKeyError
			if errors.As(err, &hk) {
				return err
			}
			reason = err
		}
		if ctx.Err() != nil {
			break
		}
		live.set(ctx, c, u)
		u.statusf("reconnected to %s", h.Alias)
		u.event("connected", map[string]any{"host": h.Alias, "attempt": attempt})
	}
	cause := context.Cause(ctx)
	if cause != nil && !errors.Is(cause, errInterrupted) && !errors.Is(cause, context.Canceled) {
		return cause
	}
	u.statusf("stopped")
	u.event("exit", map[string]any{"status": 0})
	return nil
}

// watchConn blocks until the connection is lost (keepalive unanswered, or the
// transport closed) or ctx is done, and returns why it was lost.
func watchConn(ctx context.Context, c *tunnel.Client, interval time.Duration, count int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lost := make(chan error, 2)
	go func() {
		err := c.Keepalive(ctx, interval, count)
		if err == nil {
			err = tunnel.ErrConnectionLost
		}
		lost <- err
	}()
	go func() {
		err := c.SSH().Wait()
		if err == nil {
			err = errors.New("closed by the server")
		}
		lost <- fmt.Errorf("%w: %v", tunnel.ErrConnectionLost, err)
	}()
	select {
	case err := <-lost:
		return err
	case <-ctx.Done():
		return nil
	}
}

// forwardEventLogger reports forwarded connections that could not reach the
// remote, and the rest with -vv.
func forwardEventLogger(u *ui) func(tunnel.ForwardEvent) {
	return func(ev tunnel.ForwardEvent) {
		if ev.Kind == tunnel.ForwardDialFailed {
			u.statusf("port %d: connection from %s not forwarded: %v", ev.Port, ev.Client, ev.Err)
			return
		}
		u.debugf(2, "port %d: %s %s", ev.Port, ev.Client, ev.Kind)
	}
}

// liveConn is the current connection of a reconnecting forward, with the
// route to the remote's loopback: direct-tcpip, or a relay program when the
// server prohibits forwarding.
type liveConn struct {
	mu     sync.Mutex
	c      *tunnel.Client
	probed chan struct{} // closed once the route for c is known
	route  *tunnel.Route // nil until then, or when there is none
	ready  chan struct{} // closed while connected
}

func newLiveConn() *liveConn { return &liveConn{ready: make(chan struct{})} }

// set installs a new connection and probes, in the background, whether it
// carries forwards itself or needs a relay.
func (l *liveConn) set(ctx context.Context, c *tunnel.Client, u *ui) {
	probed := make(chan struct{})
	l.mu.Lock()
	l.c, l.probed, l.route = c, probed, nil
	select {
	case <-l.ready:
	default:
		close(l.ready)
	}
	l.mu.Unlock()
	go func() {
		defer close(probed)
		r, err := c.Route(ctx)
		if err != nil {
			var nr *tunnel.NoRouteError
			if errors.As(err, &nr) {
				err = nr.Err
			}
			u.statusf("the server does not allow TCP forwarding and %v", err)
			return
		}
		if r.Kind() != "direct-tcpip" {
			u.statusf("the server does not allow TCP forwarding; carrying connections through %s on the remote", r.Kind())
		}
		l.mu.Lock()
		if l.c == c {
			l.route = r
		}
		l.mu.Unlock()
	}()
}

// drop marks the connection lost: new forwarded connections wait.
func (l *liveConn) drop() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		l.c = nil
		l.ready = make(chan struct{})
	}
}

func (l *liveConn) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.c != nil {
		l.c.Close()
		l.c = nil
	}
}

// dialer opens the remote end of one forwarded connection on the current
// connection, waiting up to reconnectWait while reconnecting.
func (l *liveConn) dialer(port int) tunnel.DialFunc {
	return func(ctx context.Context) (net.Conn, error) {
		timer := time.NewTimer(reconnectWait)
		defer timer.Stop()
		for {
			l.mu.Lock()
			c, probed, ready := l.c, l.probed, l.ready
			l.mu.Unlock()
			if c != nil {
				select {
				case <-probed:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				l.mu.Lock()
				route := l.route
				l.mu.Unlock()
				if route == nil {
					// No relay either: the direct dial fails with the server's refusal.
					return c.DialRemote(ctx, port)
				}
				return route.Dial(ctx, port)
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
