package minisshd

import (
	"fmt"
	"net"
	"sync"
)

// MemNet is an in-memory stand-in for the remote host's loopback: listeners on it
// are reachable only through the server's direct-tcpip handler (set Options.Dial to
// MemNet.Dial), never from the local machine, so a forward over the test server is
// a genuine one even when the local side listens on the same port number.
type MemNet struct {
	mu        sync.Mutex
	listeners map[int]*memListener
}

// NewMemNet returns an empty network.
func NewMemNet() *MemNet { return &MemNet{listeners: map[int]*memListener{}} }

// Listen listens on port; port 0 picks a free port above 40000.
func (m *MemNet) Listen(port int) (net.Listener, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if port == 0 {
		for port = 40000; m.listeners[port] != nil; port++ {
		}
	}
	if m.listeners[port] != nil {
		return nil, fmt.Errorf("listen memnet:%d: address already in use", port)
	}
	l := &memListener{net: m, port: port, conns: make(chan net.Conn), done: make(chan struct{})}
	m.listeners[port] = l
	return l, nil
}

// Dial connects to a listener on port; host is ignored (every loopback name
// reaches the same in-memory host).
func (m *MemNet) Dial(host string, port int) (net.Conn, error) {
	m.mu.Lock()
	l := m.listeners[port]
	m.mu.Unlock()
	if l == nil {
		return nil, fmt.Errorf("dial memnet %s:%d: connection refused", host, port)
	}
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, fmt.Errorf("dial memnet %s:%d: connection refused", host, port)
	}
}

type memListener struct {
	net   *MemNet
	port  int
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.net.mu.Lock()
		delete(l.net.listeners, l.port)
		l.net.mu.Unlock()
	})
	return nil
}

func (l *memListener) Addr() net.Addr { return memAddr(l.port) }

type memAddr int

func (memAddr) Network() string  { return "memnet" }
func (a memAddr) String() string { return fmt.Sprintf("127.0.0.1:%d", int(a)) }
