// Package minisshd runs a small in-process x/crypto/ssh server on loopback, for
// kfwd's fast tests and its demo: sessions with or without a PTY, direct-tcpip
// forwards that reach a "remote" network chosen by the caller (see MemNet), and
// OpenSSH keepalive replies.
package minisshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"
)

// Exec handles one exec request. It returns the exit status to report.
// s.PTY is non-nil when the client asked for a terminal.
type Exec func(s *Session) int

// Options configure a Server. The zero value accepts any public key, runs commands
// with /bin/sh, and rejects forwards (Dial nil).
type Options struct {
	// HostKey is the server's host key; a fresh ed25519 key when nil.
	HostKey ssh.Signer
	// Authorized, when non-empty, lists the only public keys accepted.
	Authorized []ssh.PublicKey
	// CertChecker, when set, verifies user certificates (and plain keys via its
	// IsUserAuthority/UserKeyFallback settings).
	CertChecker *ssh.CertChecker
	// Exec runs exec requests; default runs the command with /bin/sh -c.
	Exec Exec
	// Dial connects direct-tcpip channels to the "remote" side. nil rejects
	// every forward with "connect failed".
	Dial func(host string, port int) (net.Conn, error)
	// ForwardingProhibited rejects every direct-tcpip channel as OpenSSH does with
	// AllowTcpForwarding no ("administratively prohibited").
	ForwardingProhibited bool
	// IgnoreKeepalive leaves keepalive@openssh.com requests unanswered.
	IgnoreKeepalive bool
	// ExtraHostKeys are further host keys (of other types) the server offers.
	ExtraHostKeys []ssh.Signer
	// Password, when set, enables password and keyboard-interactive
	// authentication with this password (public keys are still checked as above).
	Password string
}

// Server is a running test SSH server.
type Server struct {
	Addr    string // host:port on 127.0.0.1
	HostKey ssh.Signer

	opts   Options
	ln     net.Listener
	mu     sync.Mutex
	conns  map[*ssh.ServerConn]bool
	wg     sync.WaitGroup
	execs  []string
	closed bool
}

// Session is one exec request as the server saw it.
type Session struct {
	Command string
	Env     []string
	Term    string
	PTY     *os.File // the PTY's controlling side when a terminal was requested, else nil
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// Signals delivers signal names (e.g. "INT") sent by the client.
	Signals <-chan string
	// Done is closed when the client closes the channel.
	Done <-chan struct{}
}

// TB is the part of testing.TB that Start uses. Naming it here keeps package
// testing out of the kfwd binary, which links this package for `kfwd demo`.
type TB interface {
	Helper()
	Fatal(args ...any)
	Cleanup(func())
}

// Start runs a server until the test ends.
func Start(t TB, opts Options) *Server {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// New starts a server on 127.0.0.1 with a random port.
func New(opts Options) (*Server, error) {
	if opts.HostKey == nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		opts.HostKey, err = ssh.NewSignerFromKey(priv)
		if err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), HostKey: opts.HostKey, opts: opts, ln: ln, conns: map[*ssh.ServerConn]bool{}}
	s.wg.Add(1)
	go s.serve()
	return s, nil
}

// Port returns the listening port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Execs returns the commands run so far.
func (s *Server) Execs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.execs...)
}

// Conns returns the number of open client connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// DropConns closes every client connection abruptly, as a server restart would.
func (s *Server) DropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// Close stops the listener and every connection.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.ln.Close()
	s.DropConns()
	s.wg.Wait()
	return err
}

func (s *Server) config() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{}
	cfg.AddHostKey(s.opts.HostKey)
	for _, k := range s.opts.ExtraHostKeys {
		cfg.AddHostKey(k)
	}
	if pw := s.opts.Password; pw != "" {
		cfg.PasswordCallback = func(_ ssh.ConnMetadata, p []byte) (*ssh.Permissions, error) {
			if string(p) == pw {
				return nil, nil
			}
			return nil, fmt.Errorf("wrong password")
		}
		cfg.KeyboardInteractiveCallback = func(_ ssh.ConnMetadata, ask ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			ans, err := ask("", "minisshd", []string{"Password: "}, []bool{false})
			if err != nil {
				return nil, err
			}
			if len(ans) == 1 && ans[0] == pw {
				return nil, nil
			}
			return nil, fmt.Errorf("wrong password")
		}
	}
	switch {
	case s.opts.CertChecker != nil:
		cfg.PublicKeyCallback = s.opts.CertChecker.Authenticate
	default:
		cfg.PublicKeyCallback = func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if len(s.opts.Authorized) == 0 {
				return nil, nil
			}
			for _, k := range s.opts.Authorized {
				if string(k.Marshal()) == string(key.Marshal()) {
					return nil, nil
				}
			}
			return nil, fmt.Errorf("key not authorized")
		}
	}
	return cfg
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(nc)
		}()
	}
}

func (s *Server) handle(nc net.Conn) {
	conn, chans, reqs, err := ssh.NewServerConn(nc, s.config())
	if err != nil {
		nc.Close()
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.conns[conn] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		conn.Close()
	}()
	go func() {
		for r := range reqs {
			if r.Type == "keepalive@openssh.com" && s.opts.IgnoreKeepalive {
				continue
			}
			if r.WantReply {
				r.Reply(r.Type == "keepalive@openssh.com", nil)
			}
		}
	}()
	var wg sync.WaitGroup
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			wg.Add(1)
			go func() { defer wg.Done(); s.session(nch) }()
		case "direct-tcpip":
			wg.Add(1)
			go func() { defer wg.Done(); s.directTCPIP(nch) }()
		default:
			nch.Reject(ssh.UnknownChannelType, "unsupported")
		}
	}
	wg.Wait()
}

func (s *Server) directTCPIP(nch ssh.NewChannel) {
	var req struct {
		Host     string
		Port     uint32
		OrigHost string
		OrigPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &req); err != nil {
		nch.Reject(ssh.ConnectionFailed, "bad request")
		return
	}
	if s.opts.ForwardingProhibited {
		nch.Reject(ssh.Prohibited, "administratively prohibited")
		return
	}
	if s.opts.Dial == nil {
		nch.Reject(ssh.ConnectionFailed, "connect failed")
		return
	}
	c, err := s.opts.Dial(req.Host, int(req.Port))
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, "connect failed: "+err.Error())
		return
	}
	ch, reqs, err := nch.Accept()
	if err != nil {
		c.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	done := make(chan struct{}, 2)
	go func() { io.Copy(ch, c); ch.CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, ch); closeWrite(c); done <- struct{}{} }()
	<-done
	<-done
	ch.Close()
	c.Close()
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	c.Close()
}

type ptyReq struct {
	Term          string
	Width, Height uint32
	PxW, PxH      uint32
	Modes         string
}

func (s *Server) session(nch ssh.NewChannel) {
	ch, reqs, err := nch.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	var (
		env     []string
		pt      *ptyReq
		sigs    = make(chan string, 8)
		done    = make(chan struct{})
		resize  = make(chan [2]uint32, 8)
		started bool
	)
	for r := range reqs {
		ok := false
		switch r.Type {
		case "env":
			var kv struct{ K, V string }
			if ssh.Unmarshal(r.Payload, &kv) == nil {
				env = append(env, kv.K+"="+kv.V)
				ok = true
			}
		case "pty-req":
			var p ptyReq
			if ssh.Unmarshal(r.Payload, &p) == nil {
				pt = &p
				ok = true
			}
		case "window-change":
			if len(r.Payload) >= 8 {
				select {
				case resize <- [2]uint32{binary.BigEndian.Uint32(r.Payload), binary.BigEndian.Uint32(r.Payload[4:])}:
				default:
				}
			}
		case "signal":
			var sig struct{ Name string }
			if ssh.Unmarshal(r.Payload, &sig) == nil {
				select {
				case sigs <- sig.Name:
				default:
				}
			}
		case "exec", "shell":
			if started {
				break
			}
			var cmd struct{ Command string }
			if r.Type == "exec" {
				ssh.Unmarshal(r.Payload, &cmd)
			}
			s.mu.Lock()
			s.execs = append(s.execs, cmd.Command)
			s.mu.Unlock()
			started, ok = true, true
			// Reply before the command can exit and close the channel, as
			// sshd does: a client waiting for the reply would see EOF.
			if r.WantReply {
				r.Reply(true, nil)
				r.WantReply = false
			}
			go func() {
				status := s.run(ch, cmd.Command, env, pt, sigs, done, resize)
				var b [4]byte
				binary.BigEndian.PutUint32(b[:], uint32(status))
				ch.SendRequest("exit-status", false, b[:])
				ch.Close()
			}()
		}
		if r.WantReply {
			r.Reply(ok, nil)
		}
	}
	close(done)
}

func (s *Server) run(ch ssh.Channel, command string, env []string, pt *ptyReq, sigs chan string, done chan struct{}, resize chan [2]uint32) int {
	sess := &Session{Command: command, Env: env, Stdin: ch, Stdout: ch, Stderr: ch.Stderr(), Signals: sigs, Done: done}
	if pt != nil {
		sess.Term = pt.Term
	}
	if s.opts.Exec != nil {
		if pt != nil {
			ptmx, tty, err := pty.Open()
			if err != nil {
				return 255
			}
			defer ptmx.Close()
			defer tty.Close()
			pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(pt.Width), Rows: uint16(pt.Height)})
			go io.Copy(ptmx, ch)
			copied := make(chan struct{})
			go func() { io.Copy(ch, ptmx); close(copied) }()
			sess.PTY, sess.Stdin, sess.Stdout, sess.Stderr = tty, tty, tty, tty
			// Window changes resize the PTY, as for the built-in shell.
			stopResize := make(chan struct{})
			resized := make(chan struct{})
			go func() {
				defer close(resized)
				for {
					select {
					case wh := <-resize:
						pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(wh[0]), Rows: uint16(wh[1])})
					case <-stopResize:
						return
					}
				}
			}()
			status := s.opts.Exec(sess)
			close(stopResize)
			<-resized // before the deferred Close: a resize must not use a closed ptmx
			tty.Close()
			<-copied
			return status
		}
		return s.opts.Exec(sess)
	}
	return runShell(ch, sess, pt, resize)
}

// runShell runs the command with /bin/sh like sshd would.
func runShell(ch ssh.Channel, sess *Session, pt *ptyReq, resize chan [2]uint32) int {
	cmd := exec.Command("/bin/sh", "-c", sess.Command)
	cmd.Env = append(os.Environ(), sess.Env...)
	if pt != nil {
		cmd.Env = append(cmd.Env, "TERM="+pt.Term)
		ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(pt.Width), Rows: uint16(pt.Height)})
		if err != nil {
			fmt.Fprintln(ch.Stderr(), err)
			return 255
		}
		defer ptmx.Close()
		go io.Copy(ptmx, ch)
		copied := make(chan struct{})
		go func() { io.Copy(ch, ptmx); close(copied) }()
		stop := watchSignals(cmd, sess, resize, ptmx)
		err = cmd.Wait()
		stop() // before the deferred Close: a resize must not use a closed ptmx
		<-copied
		return exitStatus(err)
	}
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 255
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(ch.Stderr(), err)
		return 127
	}
	go func() { io.Copy(stdin, ch); stdin.Close() }()
	stop := watchSignals(cmd, sess, resize, nil)
	defer stop()
	return exitStatus(cmd.Wait())
}

// watchSignals passes signals and window changes to the running cmd until the
// returned stop is called (which waits for it to finish) or the client goes.
func watchSignals(cmd *exec.Cmd, sess *Session, resize chan [2]uint32, ptmx *os.File) (stop func()) {
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		forwardSignals(cmd, sess, resize, ptmx, quit)
	}()
	return func() {
		close(quit)
		<-finished
	}
}

func forwardSignals(cmd *exec.Cmd, sess *Session, resize chan [2]uint32, ptmx *os.File, quit chan struct{}) {
	for {
		select {
		case <-quit:
			return
		case name := <-sess.Signals:
			if sig, ok := signals[name]; ok {
				cmd.Process.Signal(sig)
			}
		case wh := <-resize:
			if ptmx != nil {
				pty.Setsize(ptmx, &pty.Winsize{Cols: uint16(wh[0]), Rows: uint16(wh[1])})
			}
		case <-sess.Done:
			// The client went away: hang up like sshd does.
			cmd.Process.Signal(syscall.SIGHUP)
			return
		}
	}
}

var signals = map[string]os.Signal{
	"INT": syscall.SIGINT, "TERM": syscall.SIGTERM, "HUP": syscall.SIGHUP, "KILL": syscall.SIGKILL,
}

func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return 128 + int(st.Signal())
		}
		return ee.ExitCode()
	}
	return 255
}

// Shell is an Exec that runs the command with /bin/sh -c, without a PTY, in
// this process's environment plus env (e.g. "PATH=" + a test's bin). When the
// client closes the session only the shell itself is killed, as a hangup
// would be: what the command started in the background lives on unless the
// client stops it, which is what tests of kfwd's stop need.
func Shell(env ...string) Exec {
	return func(s *Session) int {
		cmd := exec.Command("/bin/sh", "-c", s.Command)
		cmd.Env = append(append(os.Environ(), s.Env...), env...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin, s.Stdout, s.Stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(s.Stderr, err)
			return 127
		}
		go func() {
			<-s.Done
			cmd.Process.Kill()
		}()
		return exitStatus(cmd.Wait())
	}
}
