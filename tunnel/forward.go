package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// dialFunc opens the remote end of one forwarded connection.
type dialFunc func(ctx context.Context) (net.Conn, error)

// ForwardEventKind says what happened to one forwarded connection.
type ForwardEventKind int

const (
	// ForwardAccepted: a local client (the browser) connected.
	ForwardAccepted ForwardEventKind = iota + 1
	// ForwardIdleClosed: a local client went away without sending anything (a
	// browser's speculative preconnection); no remote connection was opened.
	ForwardIdleClosed
	// ForwardOpened: the first bytes arrived and the remote connection is open.
	ForwardOpened
	// ForwardDialFailed: opening the remote connection failed (Err says why);
	// the local client was disconnected.
	ForwardDialFailed
	// ForwardClosed: a carried connection ended (Err is a copy error, if any).
	ForwardClosed
)

func (k ForwardEventKind) String() string {
	switch k {
	case ForwardAccepted:
		return "accepted"
	case ForwardIdleClosed:
		return "idle-closed"
	case ForwardOpened:
		return "opened"
	case ForwardDialFailed:
		return "dial-failed"
	case ForwardClosed:
		return "closed"
	}
	return "unknown"
}

// ForwardEvent reports one step of one forwarded connection.
type ForwardEvent struct {
	Kind   ForwardEventKind
	Port   int    // the forwarded port
	Client string // the local client's address, e.g. "127.0.0.1:51234"
	Err    error  // ForwardDialFailed, ForwardClosed
}

// ForwardOptions configure Reconnecting.Forward (and the package's own forwards).
type ForwardOptions struct {
	// Port is the local loopback port; the remote port is usually the same.
	// 0 picks a free port (tests).
	Port int
	// dial opens the remote end; nil means the remote loopback Port.
	dial dialFunc
	// Logf receives verbose diagnostics; may be nil.
	Logf func(format string, args ...any)
	// OnEvent receives connection events; may be nil. It is called from the
	// connection goroutines and must not block.
	OnEvent func(ForwardEvent)
	// FirstByteWait bounds how long an accepted connection waits for its
	// client's first bytes before the remote end is dialed anyway. 0 waits as
	// long as the client stays: lazy dialing, for login callbacks (a browser's
	// speculative preconnection must not use up a callback server that accepts
	// one or two connections). A plain forward sets a few milliseconds, because with SSH,
	// SMTP, MySQL or VNC the server speaks first and the client waits for it.
	FirstByteWait time.Duration
}

// PlainFirstByteWait is the FirstByteWait of a plain forward (`kfwd forward`):
// long enough that an HTTP client's request rides on the remote open, short
// enough that a client waiting for an SSH or SMTP banner does not notice.
const PlainFirstByteWait = 20 * time.Millisecond

// forwardStats counts a Forward's connections.
type forwardStats struct {
	Accepted   int // local connections accepted
	Opened     int // remote connections opened (lazily, on first bytes)
	DialFailed int // remote connections that failed to open
	Active     int // connections currently being carried or waiting for bytes
}

// Forward is a set of loopback listeners (127.0.0.1 and, where the host has it,
// ::1) on one port, each accepted connection carried to the remote.
type Forward struct {
	port   int
	addrs  []net.Addr
	lns    []net.Listener
	dial   dialFunc
	logf   func(string, ...any)
	event  func(ForwardEvent)
	wait   time.Duration
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{}

	mu     sync.Mutex
	conns  map[net.Conn]bool
	tally  forwardStats
	closed bool
}

// forward listens on o.Port on 127.0.0.1 and on ::1 when the host has IPv6
// loopback, never on a wildcard address: the OAuth callback must not be
// reachable from the network. A port busy on either fails with *PortInUseError
// (never one family alone: a browser may try either for localhost); only a host
// without IPv6 loopback gets 127.0.0.1 alone.
//
// Each accepted connection is dialed lazily, when its first bytes arrive:
// browsers open speculative preconnections, and many CLI callback servers accept
// only one or two connections, so a connection that never sends anything must
// never reach the remote. Bytes are then copied both ways, half-closes are
// propagated, and both ends are closed when both directions are done (or at the
// first error).
//
// The Forward stops when ctx is done or Close is called.
func (c *Client) forward(ctx context.Context, o ForwardOptions) (*Forward, error) {
	if o.dial == nil {
		o.dial = func(ctx context.Context) (net.Conn, error) { return c.dialRemote(ctx, o.Port) }
	}
	return listenForward(ctx, o)
}

// listenForward is Client.forward for a dial that needs no SSH connection (o.dial
// must be set), such as a relay into a local container.
func listenForward(ctx context.Context, o ForwardOptions) (*Forward, error) {
	if o.dial == nil {
		return nil, errors.New("forward: no dial function")
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	lns, err := listenLoopback(o.Port, logf)
	if err != nil {
		return nil, err
	}
	port := lns[0].Addr().(*net.TCPAddr).Port
	f := &Forward{
		port:  port,
		lns:   lns,
		dial:  o.dial,
		logf:  logf,
		event: o.OnEvent,
		wait:  o.FirstByteWait,
		conns: map[net.Conn]bool{},
		done:  make(chan struct{}),
	}
	f.ctx, f.cancel = context.WithCancel(ctx)
	for _, ln := range lns {
		f.addrs = append(f.addrs, ln.Addr())
		f.wg.Add(1)
		go f.serve(ln)
	}
	go func() {
		<-f.ctx.Done()
		f.Close()
	}()
	return f, nil
}

// listenLoopback listens on port on 127.0.0.1 and, where the host has IPv6
// loopback, on ::1, or fails: a browser may resolve localhost to either, so
// when another process holds the port on one family, forwarding only the other
// would hand that process the authorization code (issue 9). Port 0 picks a
// port free on both.
func listenLoopback(port int, logf func(string, ...any)) ([]net.Listener, error) {
	for attempt := 0; ; attempt++ {
		ln4, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return nil, listenError(port, "127.0.0.1", err)
		}
		p := ln4.Addr().(*net.TCPAddr).Port
		ln6, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(p)))
		switch {
		case err == nil:
			return []net.Listener{ln4, ln6}, nil
		case errors.Is(err, syscall.EADDRINUSE):
			ln4.Close()
			if port == 0 && attempt < 10 {
				continue // the port picked for 127.0.0.1 is taken on ::1: pick another
			}
			return nil, listenError(p, "::1", err)
		default:
			// No IPv6 loopback on this host (EADDRNOTAVAIL, EAFNOSUPPORT): no
			// browser can reach ::1 either, so 127.0.0.1 suffices.
			logf("forward: not listening on [::1]:%d: %v", p, err)
			return []net.Listener{ln4}, nil
		}
	}
}

func listenError(port int, host string, err error) error {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	if errors.Is(err, syscall.EADDRINUSE) {
		family := "IPv4"
		if strings.Contains(host, ":") {
			family = "IPv6"
		}
		pid, proc := portOwner(port, family)
		return &PortInUseError{Port: port, Addr: addr, Family: family, PID: pid, Process: proc, Err: err}
	}
	return fmt.Errorf("listening on %s: %w", addr, err)
}

// Stats returns the connection counters.
func (f *Forward) stats() forwardStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tally
}

// Close stops the listeners, closes every connection and waits for the
// connection goroutines. It is safe to call more than once.
func (f *Forward) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		<-f.done
		return nil
	}
	f.closed = true
	conns := f.conns
	f.conns = map[net.Conn]bool{}
	f.mu.Unlock()

	f.cancel()
	var errs []error
	for _, ln := range f.lns {
		errs = append(errs, ln.Close())
	}
	for c := range conns {
		c.Close()
	}
	f.wg.Wait()
	close(f.done)
	return ignoreClosed(errors.Join(errs...))
}

func (f *Forward) emit(kind ForwardEventKind, client string, err error) {
	if f.event != nil {
		f.event(ForwardEvent{Kind: kind, Port: f.port, Client: client, Err: err})
	}
}

// track registers a connection so Close can reach it; false when closed.
func (f *Forward) track(c net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.conns[c] = true
	return true
}

func (f *Forward) untrack(c net.Conn) {
	f.mu.Lock()
	delete(f.conns, c)
	f.mu.Unlock()
	c.Close()
}

func (f *Forward) count(fn func(*forwardStats)) {
	f.mu.Lock()
	fn(&f.tally)
	f.mu.Unlock()
}

func (f *Forward) serve(ln net.Listener) {
	defer f.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				f.logf("forward: accept on %s: %v", ln.Addr(), err)
			}
			return
		}
		if !f.track(c) {
			c.Close()
			return
		}
		f.count(func(s *forwardStats) { s.Accepted++; s.Active++ })
		f.emit(ForwardAccepted, c.RemoteAddr().String(), nil)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			defer f.count(func(s *forwardStats) { s.Active-- })
			f.handle(c)
		}()
	}
}

func (f *Forward) handle(local net.Conn) {
	defer f.untrack(local)
	client := local.RemoteAddr().String()
	buf := make([]byte, copyBufferSize)
	if f.wait > 0 {
		local.SetReadDeadline(time.Now().Add(f.wait))
	}
	n, err := local.Read(buf)
	if f.wait > 0 {
		local.SetReadDeadline(time.Time{})
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			err = nil // the client waits for the server to speak first: dial now
		}
	}
	if n == 0 && err != nil {
		// A preconnection that never spoke (or Close): never reaches the remote.
		f.emit(ForwardIdleClosed, client, nil)
		return
	}
	first := buf[:n]
	remote, derr := f.dial(f.ctx)
	if derr != nil {
		f.count(func(s *forwardStats) { s.DialFailed++ })
		f.logf("forward: port %d: %v", f.port, derr)
		f.emit(ForwardDialFailed, client, derr)
		return
	}
	if !f.track(remote) {
		remote.Close()
		return
	}
	defer f.untrack(remote)
	f.count(func(s *forwardStats) { s.Opened++ })
	f.emit(ForwardOpened, client, nil)

	if len(first) > 0 {
		if _, werr := remote.Write(first); werr != nil {
			f.emit(ForwardClosed, client, werr)
			return
		}
	}
	up := make(chan error, 1)
	go func() {
		var e error
		if err == nil { // the first read did not already hit EOF
			// Not local.WriteTo either, which copies through 32 KiB.
			_, e = io.CopyBuffer(remote, readerOnly{local}, buf)
		}
		if e == nil {
			e = closeWrite(remote)
		} else {
			closeBoth(local, remote)
		}
		up <- e
	}()
	// Not local.ReadFrom, which would copy through 32 KiB: a larger buffer
	// takes the several packets the SSH channel has queued in one write.
	_, derr = io.CopyBuffer(writerOnly{local}, remote, make([]byte, copyBufferSize))
	if derr == nil {
		closeWrite(local)
	} else {
		closeBoth(local, remote)
	}
	uerr := <-up
	f.emit(ForwardClosed, client, ignoreClosed(errors.Join(derr, uerr)))
}

// copyBufferSize is each direction's copy buffer: 256 KiB moves a bulk transfer
// in an eighth of the system calls 32 KiB takes (BenchmarkForward).
const copyBufferSize = 256 << 10

// writerOnly hides a connection's ReadFrom, and readerOnly its WriteTo, so
// that io.CopyBuffer uses its buffer.
type (
	writerOnly struct{ io.Writer }
	readerOnly struct{ io.Reader }
)

// closeWrite half-closes c when it can, else closes it.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil && !errors.Is(err, io.EOF) {
			return ignoreClosed(err)
		}
		return nil
	}
	return ignoreClosed(c.Close())
}

func closeBoth(a, b net.Conn) {
	a.Close()
	b.Close()
}
