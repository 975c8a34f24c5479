package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/kfwd/kfwd/sshconfig"
	"golang.org/x/crypto/ssh"
)

// DialOptions say which host to connect to and how to talk to the person.
type DialOptions struct {
	Host *sshconfig.Host
	// Resolve looks up a ProxyJump hop's alias with the same options as the
	// target (sshconfig.Resolve). When nil, hops reuse the target's settings.
	Resolve func(alias string) (*sshconfig.Host, error)
	// Prompt asks for passphrases, passwords and host key confirmation; nil when
	// nobody can be asked.
	Prompt Prompter
	// Logf receives verbose progress; may be nil.
	Logf func(string, ...any)
	// Stderr receives ProxyCommand stderr; nil discards it.
	Stderr io.Writer
}

// DialError is a failure to connect to one host: the target or a ProxyJump hop.
// Err may be (wrap) a *HostKeyError, *AuthError, *ProxyCommandError or
// ErrConnectTimeout.
type DialError struct {
	Host string // the alias as configured (or the host name)
	Addr string // host:port dialed
	Jump bool   // a ProxyJump hop, not the target
	Err  error
}

func (e *DialError) Error() string {
	name := e.Addr
	if h, _, err := net.SplitHostPort(e.Addr); e.Host != "" && (err != nil || h != e.Host) {
		name = e.Host + " " + e.Addr
	}
	if e.Jump {
		name = "jump host " + name
	}
	return fmt.Sprintf("dialing %s: %v", name, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// ErrConnectTimeout is wrapped when ConnectTimeout passed before the TCP
// connection or the SSH handshake completed.
var ErrConnectTimeout = errors.New("connection timed out")

// maxJumpDepth bounds ProxyJump recursion (a hop whose own config jumps again).
const maxJumpDepth = 8

// Dial connects to o.Host: directly, through its ProxyJump hops, or over its
// ProxyCommand; checks the host key and authenticates. Closing the Client
// closes every hop and proxy process beneath it.
func Dial(ctx context.Context, o DialOptions) (*Client, error) {
	if o.Host == nil {
		return nil, errors.New("dial: no host")
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	c, err := dialHost(ctx, &o, o.Host, nil, false, 0)
	if err == nil {
		c.dialed = o
	}
	return c, err
}

// dialHost connects to h, over via when not nil. It owns via: on failure via
// is closed; on success the new Client closes it.
func dialHost(ctx context.Context, o *DialOptions, h *sshconfig.Host, via *Client, jump bool, depth int) (*Client, error) {
	addr := net.JoinHostPort(h.HostName, strconv.Itoa(port(h)))
	name := h.Alias
	if name == "" {
		name = h.HostName
	}
	fail := func(err error) (*Client, error) {
		if via != nil {
			via.Close()
		}
		var de *DialError
		if errors.As(err, &de) {
			return nil, err
		}
		return nil, &DialError{Host: name, Addr: addr, Jump: jump, Err: err}
	}

	if via == nil && h.ProxyJump != "" && h.ProxyJump != "none" {
		if depth >= maxJumpDepth {
			return fail(fmt.Errorf("too many nested ProxyJump hops (a loop in the configuration?)"))
		}
		hops, err := sshconfig.ParseJump(h.ProxyJump)
		if err != nil {
			return fail(err)
		}
		for _, hop := range hops {
			hh, err := resolveHop(o, hop)
			if err != nil {
				return fail(fmt.Errorf("resolving jump host %s: %w", hop.Host, err))
			}
			o.Logf("connecting to jump host %s (%s:%d)", hop.Host, hh.HostName, port(hh))
			c, err := dialHost(ctx, o, hh, via, true, depth+1)
			via = nil // dialHost owns it now
			if err != nil {
				return fail(err)
			}
			via = c
		}
	}

	cctx := ctx
	if h.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, h.ConnectTimeout)
		defer cancel()
	}
	var (
		conn   net.Conn
		proxy  *proxyConn
		remote = addr
		err    error
	)
	switch {
	case via != nil:
		o.Logf("connecting to %s through %s", addr, via.conn.RemoteAddr())
		conn, err = via.conn.DialContext(cctx, "tcp", addr)
	case h.ProxyCommand != "" && h.ProxyCommand != "none":
		o.Logf("running proxy command: %s", h.ProxyCommand)
		proxy, err = startProxyCommand(h.ProxyCommand, o.Stderr)
		conn, remote = proxy, "<no hostip for proxy command>"
	default:
		o.Logf("connecting to %s", addr)
		var d net.Dialer
		conn, err = d.DialContext(cctx, "tcp", addr)
		if err == nil {
			remote = conn.RemoteAddr().String()
			if tcp, ok := conn.RemoteAddr().(*net.TCPAddr); ok {
				remote = tcp.IP.String()
			}
		}
	}
	if err != nil {
		if ctx.Err() == nil && cctx.Err() != nil {
			err = fmt.Errorf("%w after %s", ErrConnectTimeout, h.ConnectTimeout)
		}
		return fail(err)
	}

	sc, info, err := handshake(ctx, o, h, conn, addr, remote, proxy)
	if err != nil {
		conn.Close()
		if proxy != nil {
			proxy.kill()
		}
		return fail(err)
	}
	var closers []func() error
	if proxy != nil {
		closers = append(closers, proxy.kill)
	}
	if via != nil {
		closers = append(closers, via.Close)
	}
	o.Logf("connected to %s as %s", addr, sc.User())
	c := newClient(sc, closers...)
	c.info, c.logf = info, o.Logf
	return c, nil
}

// handshake runs the SSH handshake on conn within ConnectTimeout, not counting
// the time spent waiting for the person to answer a prompt.
func handshake(ctx context.Context, o *DialOptions, h *sshconfig.Host, conn net.Conn, addr, remote string, proxy *proxyConn) (*ssh.Client, ConnInfo, error) {
	g := newGuard(ctx, conn, h.ConnectTimeout)
	var prompt Prompter
	if o.Prompt != nil {
		prompt = &pausingPrompter{p: o.Prompt, g: g}
	}
	hk, err := newHostKeyCheck(h, remote, prompt, o.Logf)
	if err != nil {
		g.stop()
		return nil, ConnInfo{}, err
	}
	auth := newAuthenticator(h, prompt, o.Logf)
	defer auth.close()
	cfg := &ssh.ClientConfig{
		User:              auth.user,
		HostKeyCallback:   hk.callback,
		HostKeyAlgorithms: hk.algorithms(),
		AuthCallback:      auth.callback,
		// Authentication in one round trip where the server allows it (a
		// patch in third_party/golang.org/x/crypto, see KFWD-PATCHES.md).
		FewerRoundTrips: true,
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	expired, cancelled := g.stop()
	if err == nil {
		info := ConnInfo{HostKey: hk.info, Auth: auth.info}
		if info.Auth.Method == "" {
			info.Auth.Method = "none" // x/crypto tries "none" first and never asked for more
		}
		return ssh.NewClient(c, chans, reqs), info, nil
	}
	switch {
	case hk.err != nil:
		return nil, ConnInfo{}, hk.err
	case cancelled:
		return nil, ConnInfo{}, ctx.Err()
	case expired:
		return nil, ConnInfo{}, fmt.Errorf("%w after %s (during the SSH handshake)", ErrConnectTimeout, h.ConnectTimeout)
	case auth.exhausted:
		return nil, ConnInfo{}, auth.failure()
	}
	if proxy != nil {
		if pe, ok := proxy.exited(time.Second); ok {
			return nil, ConnInfo{}, pe
		}
	}
	return nil, ConnInfo{}, err
}

// guard closes the connection when the handshake outlives its timeout or the
// context. Prompts pause the timer: the person may take their time.
type guard struct {
	conn    net.Conn
	timeout time.Duration

	mu        sync.Mutex
	timer     *time.Timer
	done      bool
	expired   bool
	cancelled bool
	stopCtx   func() bool
}

func newGuard(ctx context.Context, conn net.Conn, timeout time.Duration) *guard {
	g := &guard{conn: conn, timeout: timeout}
	if timeout > 0 {
		g.timer = time.AfterFunc(timeout, func() { g.fire(&g.expired) })
	}
	g.stopCtx = context.AfterFunc(ctx, func() { g.fire(&g.cancelled) })
	return g
}

func (g *guard) fire(flag *bool) {
	g.mu.Lock()
	if g.done {
		g.mu.Unlock()
		return
	}
	*flag = true
	g.mu.Unlock()
	g.conn.Close()
}

func (g *guard) pause() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timer != nil {
		g.timer.Stop()
	}
}

func (g *guard) resume() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.timer != nil && !g.done && !g.expired {
		g.timer.Reset(g.timeout)
	}
}

// stop ends the guard and reports whether it fired.
func (g *guard) stop() (expired, cancelled bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done = true
	if g.timer != nil {
		g.timer.Stop()
	}
	g.stopCtx()
	return g.expired, g.cancelled
}

// pausingPrompter stops the handshake timer while the person answers.
type pausingPrompter struct {
	p Prompter
	g *guard
}

func (p *pausingPrompter) Secret(prompt string) ([]byte, error) {
	p.g.pause()
	defer p.g.resume()
	return p.p.Secret(prompt)
}

func (p *pausingPrompter) Ask(prompt string) (string, error) {
	p.g.pause()
	defer p.g.resume()
	return p.p.Ask(prompt)
}
