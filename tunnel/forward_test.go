package tunnel

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/minisshd"
	"golang.org/x/crypto/ssh"
)

// fwdClient starts minisshd with opts and returns a Client connected to it.
func fwdClient(t *testing.T, opts minisshd.Options) (*Client, *minisshd.Server) {
	t.Helper()
	srv := minisshd.Start(t, opts)
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ssh.Dial("tcp", srv.Addr, &ssh.ClientConfig{
		User:            "u",
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey.PublicKey()),
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		Timeout:         5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(sc)
	t.Cleanup(func() { c.Close() })
	return c, srv
}

// fwdFreePort returns a port free on both 127.0.0.1 and ::1 (when present).
func fwdFreePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln6, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(port)))
		ln.Close()
		if err == nil {
			ln6.Close()
			return port
		}
		if !fwdHaveIPv6() {
			return port
		}
	}
	t.Fatal("no free port on both loopbacks")
	return 0
}

func fwdHaveIPv6() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// fwdEcho serves "echo:<line>" once per accepted connection and counts accepts.
func fwdEcho(ln net.Listener, accepts *atomic.Int32) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		accepts.Add(1)
		go func() {
			defer c.Close()
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return
			}
			io.WriteString(c, "echo:"+line)
		}()
	}
}

// fwdRoundTrip sends line over a new connection to addr and returns the answer.
func fwdRoundTrip(t *testing.T, addr, line string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, line); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading from %s: %v", addr, err)
	}
	return string(b)
}

func fwdWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestForwardBothLoopbacksReachSamePort(t *testing.T) {
	mn := minisshd.NewMemNet()
	c, _ := fwdClient(t, minisshd.Options{Dial: mn.Dial})
	port := fwdFreePort(t)
	ln, err := mn.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepts atomic.Int32
	go fwdEcho(ln, &accepts)

	f, err := c.forward(context.Background(), ForwardOptions{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.port != port {
		t.Fatalf("Port() = %d, want %d", f.port, port)
	}
	addrs := []string{"127.0.0.1:" + strconv.Itoa(port)}
	if fwdHaveIPv6() {
		addrs = append(addrs, "[::1]:"+strconv.Itoa(port))
	}
	if got := fmt.Sprint(f.addrs); got != fmt.Sprint(addrs) {
		t.Fatalf("addrs = %s, want %s", got, addrs)
	}
	for _, a := range f.addrs {
		if ip := a.(*net.TCPAddr).IP; !ip.IsLoopback() {
			t.Errorf("listening on non-loopback %s", a)
		}
	}
	for i, a := range addrs {
		line := fmt.Sprintf("hello %d\n", i)
		if got := fwdRoundTrip(t, a, line); got != "echo:"+line {
			t.Errorf("via %s: got %q", a, got)
		}
	}
	if n := int(accepts.Load()); n != len(addrs) {
		t.Errorf("remote accepted %d connections, want %d", n, len(addrs))
	}
	fwdWaitFor(t, "stats", func() bool { return f.stats().Active == 0 })
	if st := f.stats(); st.Accepted != len(addrs) || st.Opened != len(addrs) || st.DialFailed != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func TestForwardDialsLazily(t *testing.T) {
	mn := minisshd.NewMemNet()
	c, _ := fwdClient(t, minisshd.Options{Dial: mn.Dial})
	port := fwdFreePort(t)
	ln, _ := mn.Listen(port)
	defer ln.Close()
	var accepts atomic.Int32
	go fwdEcho(ln, &accepts)

	var mu sync.Mutex
	var kinds []ForwardEventKind
	f, err := c.forward(context.Background(), ForwardOptions{Port: port, OnEvent: func(e ForwardEvent) {
		mu.Lock()
		kinds = append(kinds, e.Kind)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// A preconnection that never sends anything.
	pre, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	fwdWaitFor(t, "accept", func() bool { return f.stats().Accepted == 1 })
	time.Sleep(100 * time.Millisecond)
	if n := accepts.Load(); n != 0 {
		t.Fatalf("an idle connection reached the remote (%d accepts)", n)
	}
	pre.Close()
	fwdWaitFor(t, "idle close", func() bool { return f.stats().Active == 0 })
	if st := f.stats(); st.Opened != 0 || accepts.Load() != 0 {
		t.Fatalf("idle connection opened a channel: %+v, remote accepts %d", st, accepts.Load())
	}
	mu.Lock()
	if fmt.Sprint(kinds) != "[accepted idle-closed]" {
		t.Errorf("events = %v", kinds)
	}
	mu.Unlock()

	if got := fwdRoundTrip(t, "127.0.0.1:"+strconv.Itoa(port), "x\n"); got != "echo:x\n" {
		t.Fatalf("got %q", got)
	}
	if n := accepts.Load(); n != 1 {
		t.Fatalf("remote accepts = %d, want 1", n)
	}
}

// A CLI callback server typically accepts a single connection. The browser's
// speculative preconnection must not use it up.
func TestForwardOneConnectionServerWithPreconnect(t *testing.T) {
	mn := minisshd.NewMemNet()
	c, _ := fwdClient(t, minisshd.Options{Dial: mn.Dial})
	port := fwdFreePort(t)
	ln, _ := mn.Listen(port)
	go func() {
		conn, err := ln.Accept()
		ln.Close() // one connection only
		if err != nil {
			return
		}
		defer conn.Close()
		line, _ := bufio.NewReader(conn).ReadString('\n')
		io.WriteString(conn, "HTTP/1.0 200 OK\r\n\r\nlogged in: "+line)
	}()
	f, err := c.forward(context.Background(), ForwardOptions{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	pre, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer pre.Close()
	fwdWaitFor(t, "preconnect accepted", func() bool { return f.stats().Accepted == 1 })
	got := fwdRoundTrip(t, addr, "GET /callback?code=x\n")
	if want := "HTTP/1.0 200 OK\r\n\r\nlogged in: GET /callback?code=x\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestForwardPortInUseNamesOwner(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{Dial: minisshd.NewMemNet().Dial})
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	_, err = c.forward(context.Background(), ForwardOptions{Port: port})
	var pe *PortInUseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want *PortInUseError", err)
	}
	if pe.Port != port {
		t.Errorf("Port = %d, want %d", pe.Port, port)
	}
	if pe.PID != os.Getpid() {
		t.Errorf("PID = %d, want this process %d (%v)", pe.PID, os.Getpid(), err)
	}
	comm, _ := os.ReadFile("/proc/self/comm")
	if want := string(comm[:len(comm)-1]); pe.Process != want {
		t.Errorf("Process = %q, want %q", pe.Process, want)
	}
	if want := fmt.Sprintf("local port %d is in use on IPv4 loopback 127.0.0.1 by pid %d (%s)", port, os.Getpid(), pe.Process); err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

// A port taken on ::1 while 127.0.0.1 is free fails the forward, naming the
// family, the port and the holder: forwarding 127.0.0.1 alone would let a
// browser that resolves localhost to ::1 hand the code to that holder (issue 9).
func TestForwardIPv6BusyFails(t *testing.T) {
	if !fwdHaveIPv6() {
		t.Fatal("this test needs IPv6 loopback (::1)")
	}
	mn := minisshd.NewMemNet()
	c, _ := fwdClient(t, minisshd.Options{Dial: mn.Dial})
	port := fwdFreePort(t)
	busy6, err := net.Listen("tcp6", net.JoinHostPort("::1", strconv.Itoa(port)))
	if err != nil {
		t.Fatal(err)
	}
	defer busy6.Close()
	_, err = c.forward(context.Background(), ForwardOptions{Port: port})
	var pe *PortInUseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want *PortInUseError", err)
	}
	if pe.Family != "IPv6" || pe.Port != port || pe.PID != os.Getpid() {
		t.Errorf("got family %q port %d pid %d, want IPv6 %d %d", pe.Family, pe.Port, pe.PID, port, os.Getpid())
	}
	if want := fmt.Sprintf("local port %d is in use on IPv6 loopback ::1 by pid %d", port, os.Getpid()); !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want it to start with %q", err, want)
	}
	// Nothing is left listening on 127.0.0.1.
	ln, err := net.Listen("tcp4", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatalf("127.0.0.1:%d still taken after the failed forward: %v", port, err)
	}
	ln.Close()
}

// Port 0 picks a port free on both families.
func TestForwardPortZeroFreeOnBoth(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{Dial: minisshd.NewMemNet().Dial})
	f, err := c.forward(context.Background(), ForwardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if fwdHaveIPv6() && len(f.addrs) != 2 {
		t.Errorf("addrs = %v, want 127.0.0.1 and ::1", f.addrs)
	}
}

func TestForwardCloseStopsListenersAndConnections(t *testing.T) {
	mn := minisshd.NewMemNet()
	c, _ := fwdClient(t, minisshd.Options{Dial: mn.Dial})
	port := fwdFreePort(t)
	ln, _ := mn.Listen(port)
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			held <- conn // never answers
		}
	}()
	f, err := c.forward(context.Background(), ForwardOptions{Port: port})
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	active, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer active.Close()
	io.WriteString(active, "waiting\n")
	select {
	case conn := <-held:
		defer conn.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("remote never got the connection")
	}
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()

	done := make(chan error, 1)
	go func() { done <- f.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs")
	}
	for _, conn := range []net.Conn{active, idle} {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("connection still open after Close: %v", err)
		}
	}
	for _, a := range []string{addr, "[::1]:" + strconv.Itoa(port)} {
		if conn, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			conn.Close()
			t.Errorf("%s still accepts after Close", a)
		}
	}
	select {
	case <-f.done:
	default:
		t.Error("Done not closed after Close")
	}
}

func TestForwardStopsWithContext(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{Dial: minisshd.NewMemNet().Dial})
	ctx, cancel := context.WithCancel(context.Background())
	f, err := c.forward(ctx, ForwardOptions{Port: 0})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		t.Fatal("forward still running after its context ended")
	}
	if conn, err := net.DialTimeout("tcp", f.addrs[0].String(), time.Second); err == nil {
		conn.Close()
		t.Error("listener survives context cancel")
	}
}

func TestForwardDialFailureClosesBrowserConnection(t *testing.T) {
	c, _ := fwdClient(t, minisshd.Options{Dial: minisshd.NewMemNet().Dial})
	events := make(chan ForwardEvent, 10)
	f, err := c.forward(context.Background(), ForwardOptions{Port: fwdFreePort(t), OnEvent: func(e ForwardEvent) { events <- e }})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := fwdRoundTrip(t, f.addrs[0].String(), "GET /\n"); got != "" {
		t.Errorf("got %q from a port nobody listens on", got)
	}
	for {
		select {
		case e := <-events:
			if e.Kind != ForwardDialFailed {
				continue
			}
			if !isRefused(e.Err) || e.Port != f.port {
				t.Errorf("dial failure event %+v, want a refused connect", e)
			}
			if st := f.stats(); st.DialFailed != 1 || st.Opened != 0 {
				t.Errorf("stats %+v", st)
			}
			return
		case <-time.After(5 * time.Second):
			t.Fatal("no dial failure event")
		}
	}
}

// Half-closes travel both ways: the browser's EOF reaches the remote server,
// which answers afterwards; the server's close reaches the browser.
func TestForwardPropagatesHalfClose(t *testing.T) {
	remote, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	go func() {
		conn, err := remote.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		b, _ := io.ReadAll(conn) // until the browser's half-close
		fmt.Fprintf(conn, "got %d bytes", len(b))
	}()
	c, _ := fwdClient(t, minisshd.Options{Dial: func(host string, port int) (net.Conn, error) {
		return net.Dial("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	}})
	rport := remote.Addr().(*net.TCPAddr).Port
	f, err := c.forward(context.Background(), ForwardOptions{dial: func(ctx context.Context) (net.Conn, error) {
		return c.dialRemote(ctx, rport)
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	conn, err := net.Dial("tcp", f.addrs[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, "0123456789")
	conn.(*net.TCPConn).CloseWrite()
	b, err := io.ReadAll(conn)
	if err != nil || string(b) != "got 10 bytes" {
		t.Fatalf("got %q, %v", b, err)
	}
}

// With FirstByteWait a connection whose client waits for the server (SMTP,
// SSH, MySQL, VNC) is dialed after the wait and gets the greeting; without
// it the same connection never reaches the remote (lazy, for callbacks).
func TestForwardFirstByteWaitServerSpeaksFirst(t *testing.T) {
	for _, tc := range []struct {
		wait     time.Duration
		greeting bool
	}{{20 * time.Millisecond, true}, {0, false}} {
		mn := minisshd.NewMemNet()
		c, _ := fwdClient(t, minisshd.Options{Dial: mn.Dial})
		port := fwdFreePort(t)
		ln, _ := mn.Listen(port)
		var accepts atomic.Int32
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				accepts.Add(1)
				io.WriteString(conn, "220 smtp.example ESMTP ready\r\n")
				t.Cleanup(func() { conn.Close() })
			}
		}()
		f, err := c.forward(context.Background(), ForwardOptions{Port: port, FirstByteWait: tc.wait})
		if err != nil {
			t.Fatal(err)
		}
		conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(map[bool]time.Duration{true: 10 * time.Second, false: 300 * time.Millisecond}[tc.greeting]))
		line, err := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if tc.greeting && line != "220 smtp.example ESMTP ready\r\n" {
			t.Errorf("FirstByteWait %v: got %q, %v; want the greeting", tc.wait, line, err)
		}
		if !tc.greeting && (line != "" || accepts.Load() != 0) {
			t.Errorf("lazy forward: got %q and %d remote connections for a client that never spoke", line, accepts.Load())
		}
		f.Close()
		ln.Close()
	}
}
