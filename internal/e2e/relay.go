package e2e

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Relay is a TCP relay on 127.0.0.1 to a target address. It can add a delay to each direction (25ms
// each way makes a 50ms round trip) and can go silent: with the blackhole on, bytes are read and
// dropped in both directions but no connection is closed, like a network that stopped answering.
type Relay struct {
	Addr string // 127.0.0.1:PORT
	Port int

	target    string
	delay     time.Duration
	blackhole atomic.Bool
	accepted  atomic.Int64 // connections accepted so far
	cutUpTo   atomic.Int64 // connections numbered up to this are blackholed
	l         net.Listener

	mu     sync.Mutex
	conns  map[net.Conn]bool
	flows  []*Flow
	closed bool
	wg     sync.WaitGroup
}

// Flow counts the round trips of one relayed connection by causality, not by time: each chunk
// the client sends belongs to round 1 + the round of the last chunk delivered to the client before
// it was read, and each chunk the server sends belongs to the round of the last chunk delivered to
// the server. So a client that pipelines requests keeps them in one round, and one that waits for
// an answer before it sends moves to the next. The server's processing time does not count. An
// endpoint that stalls longer than the relay's delay can only make a count larger (a pipelined
// chunk read after a delivery looks like an answer to it), never smaller, so the least of a few
// runs is the protocol's count.
type Flow struct {
	mu                 sync.Mutex
	toClient, toServer int // round of the last chunk delivered each way
}

// Round returns the round of the last chunk delivered to the client: how many times the
// client had to wait for the server to get what it has now.
func (f *Flow) Round() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.toClient
}

// NewRelay starts a relay to target with oneWayDelay added in each direction; t.Cleanup closes it.
func NewRelay(t testing.TB, target string, oneWayDelay time.Duration) *Relay {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting relay: %v", err)
	}
	r := &Relay{Addr: l.Addr().String(), Port: l.Addr().(*net.TCPAddr).Port, target: target, delay: oneWayDelay, l: l, conns: map[net.Conn]bool{}}
	r.wg.Add(1)
	go r.accept()
	t.Cleanup(r.Close)
	return r
}

// HostPort returns the relay's host and port, for an ssh_config HostName and Port.
func (r *Relay) HostPort() (string, int) { return "127.0.0.1", r.Port }

// String returns the relay address.
func (r *Relay) String() string {
	return r.Addr + " -> " + r.target + " (delay " + strconv.Itoa(int(r.delay/time.Millisecond)) + "ms)"
}

// Flows returns the round-trip counters of the connections relayed so far, in the order they
// were accepted.
func (r *Relay) Flows() []*Flow {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Flow(nil), r.flows...)
}

// SetBlackhole turns the silent network on or off.
func (r *Relay) SetBlackhole(on bool) { r.blackhole.Store(on) }

// silenced reports whether connection n is blackholed.
func (r *Relay) silenced(n int64) bool { return r.blackhole.Load() || n <= r.cutUpTo.Load() }

// BlackholeExisting silences the connections open now for good, while new ones work: a network
// that dropped a NAT mapping, so that a reconnect succeeds.
func (r *Relay) BlackholeExisting() { r.cutUpTo.Store(r.accepted.Load()) }

// Close stops the relay and closes every relayed connection.
func (r *Relay) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.l.Close()
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

func (r *Relay) track(c net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		c.Close()
		return false
	}
	r.conns[c] = true
	return true
}

func (r *Relay) accept() {
	defer r.wg.Done()
	for {
		c, err := r.l.Accept()
		if err != nil {
			return
		}
		if !r.track(c) {
			return
		}
		flow := &Flow{}
		r.mu.Lock()
		r.flows = append(r.flows, flow)
		r.mu.Unlock()
		n := r.accepted.Add(1)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer c.Close()
			up, err := net.DialTimeout("tcp", r.target, 5*time.Second)
			if err != nil {
				return
			}
			defer up.Close()
			if !r.track(up) {
				return
			}
			var pw sync.WaitGroup
			pw.Go(func() { r.pipe(up, c, flow, true, n) })
			pw.Go(func() { r.pipe(c, up, flow, false, n) })
			pw.Wait()
		}()
	}
}

type chunk struct {
	b     []byte
	at    time.Time
	round int
}

// pipe copies src to dst, delaying each chunk by r.delay without limiting throughput, and dropping
// bytes while the blackhole is on (or connection n is silenced). fromClient says which way it
// copies, for flow's round count.
func (r *Relay) pipe(dst, src net.Conn, flow *Flow, fromClient bool, n int64) {
	defer func() {
		// A silent network carries no FIN either: the other side must not learn of the close.
		if tc, ok := dst.(*net.TCPConn); ok && !r.silenced(n) {
			tc.CloseWrite()
		}
	}()
	chunks := make(chan chunk, 4096)
	go func() {
		defer close(chunks)
		buf := make([]byte, 32<<10)
		for {
			k, err := src.Read(buf)
			if k > 0 && !r.silenced(n) {
				flow.mu.Lock()
				round := flow.toServer
				if fromClient {
					round = flow.toClient + 1
				}
				flow.mu.Unlock()
				chunks <- chunk{b: append([]byte(nil), buf[:k]...), at: time.Now().Add(r.delay), round: round}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		if d := time.Until(c.at); d > 0 {
			time.Sleep(d)
		}
		if r.blackhole.Load() {
			continue
		}
		// Count the round as delivered before the bytes are, so that an answer they provoke is
		// never read ahead of it.
		flow.mu.Lock()
		if fromClient {
			flow.toServer = max(flow.toServer, c.round)
		} else {
			flow.toClient = max(flow.toClient, c.round)
		}
		flow.mu.Unlock()
		if _, err := dst.Write(c.b); err != nil {
			src.Close() // ends the reader
			dst.Close()
			for range chunks {
			}
			return
		}
	}
}
