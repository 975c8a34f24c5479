package tunnel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// SessionOptions describe one remote command.
type SessionOptions struct {
	// Command is the remote command line (run by the user's login shell); ""
	// starts a login shell.
	Command string
	// PTY requests a terminal of Term (default "xterm-256color") sized
	// Width x Height (default 80x24), echo on, 38400 baud.
	PTY           bool
	Term          string
	Width, Height int
	// Env is sent as env requests before the command starts. Best effort:
	// OpenSSH accepts only the names its AcceptEnv lists; refusals are logged.
	Env map[string]string
	// Stdin is copied to the command as a byte stream; its end sends EOF. nil
	// sends nothing (and no EOF until Close). See Session.Wait about stdin that
	// never ends, such as a terminal.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output; nil discards it. With a
	// PTY everything arrives on Stdout.
	Stdout, Stderr io.Writer
	// Logf receives verbose diagnostics; may be nil.
	Logf func(format string, args ...any)
}

// Session is a running command: an exec session on the SSH connection, or a
// local process (a container runtime's exec, see Container).
type Session struct {
	p      process
	stdin  io.Reader
	exited chan struct{}

	stdinDone chan struct{} // closed when the stdin copy has returned; nil without Stdin

	once   sync.Once
	status int
	err    error
}

// Start starts a remote command. Cancelling ctx closes the session (sshd then
// hangs up the command), like exec.CommandContext.
func (c *Client) Start(ctx context.Context, o SessionOptions) (*Session, error) {
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	ss, err := c.newSession(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("opening session: %w", err)
	}
	// Close the session if ctx ends while (or after) it starts.
	stop := context.AfterFunc(ctx, func() { ss.Close() })
	fail := func(err error) (*Session, error) {
		stop()
		ss.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, err
	}

	reqs := startRequests(o)
	ss.Stdout, ss.Stderr = o.Stdout, o.Stderr
	s := &Session{p: sshProcess{ss}, stdin: o.Stdin, exited: make(chan struct{})}
	var stdin io.WriteCloser
	if o.Stdin != nil {
		if stdin, err = ss.StdinPipe(); err != nil {
			return fail(fmt.Errorf("opening session stdin: %w", err))
		}
	}
	// env, pty-req and exec go out together and their replies come back
	// together: one round trip where waiting for each would take three.
	oks, err := ss.StartPipelined(reqs)
	ptyRefused := false
	for i, ok := range oks {
		switch {
		case ok:
		case reqs[i].Name == "env":
			logf("session: server refused environment variable %s", envName(reqs[i].Payload))
		case reqs[i].Name == "pty-req":
			ptyRefused = true
		}
	}
	if ptyRefused {
		// The server runs the command anyway; without the terminal it was
		// asked for, it must not go on: fail closes the session.
		return fail(errors.New("requesting a terminal: the server refused (pty-req)"))
	}
	if err != nil {
		return fail(fmt.Errorf("starting remote command: %w", err))
	}
	s.run(stdin, func() (int, error) {
		status, err := waitStatus(ss.Wait())
		if lost := c.lost(); err != nil && lost != nil {
			err = lost // not x/crypto's "wait: remote command exited without exit status"
		}
		return status, err
	}, func() { stop() })
	return s, nil
}

// run copies the caller's Stdin to stdin (nil: none), closing it at the end
// (EOF), and waits for the process in the background; after wait, release
// runs and Done is closed.
func (s *Session) run(stdin io.WriteCloser, wait func() (int, error), release func()) {
	if stdin != nil {
		s.stdinDone = make(chan struct{})
		go func() {
			defer close(s.stdinDone)
			io.Copy(stdin, s.stdin)
			stdin.Close() // EOF
		}()
	}
	go func() {
		s.status, s.err = wait()
		release()
		close(s.exited)
	}()
}

// startRequests are the requests that start o's command on a session: env
// (sorted by name), pty-req when asked for, then exec or shell.
func startRequests(o SessionOptions) []ssh.ChannelRequest {
	var reqs []ssh.ChannelRequest
	names := make([]string, 0, len(o.Env))
	for k := range o.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		reqs = append(reqs, ssh.ChannelRequest{Name: "env", Payload: ssh.Marshal(&struct{ Name, Value string }{k, o.Env[k]})})
	}
	if o.PTY {
		term, w, h := o.Term, o.Width, o.Height
		if term == "" {
			term = "xterm-256color"
		}
		if w <= 0 {
			w = 80
		}
		if h <= 0 {
			h = 24
		}
		modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
		opcodes := make([]int, 0, len(modes))
		for k := range modes {
			opcodes = append(opcodes, int(k))
		}
		sort.Ints(opcodes)
		var list []byte
		for _, k := range opcodes {
			list = append(list, byte(k))
			list = binary.BigEndian.AppendUint32(list, modes[uint8(k)])
		}
		list = append(list, 0) // TTY_OP_END
		reqs = append(reqs, ssh.ChannelRequest{Name: "pty-req", Payload: ssh.Marshal(&struct {
			Term                         string
			Columns, Rows, Width, Height uint32
			Modelist                     string
		}{term, uint32(w), uint32(h), uint32(w * 8), uint32(h * 8), string(list)})})
	}
	if o.Command == "" {
		reqs = append(reqs, ssh.ChannelRequest{Name: "shell"})
	} else {
		reqs = append(reqs, ssh.ChannelRequest{Name: "exec", Payload: ssh.Marshal(&struct{ Command string }{o.Command})})
	}
	return reqs
}

// envName is the variable name in an env request's payload.
func envName(payload []byte) string {
	var m struct{ Name, Value string }
	if ssh.Unmarshal(payload, &m) != nil {
		return "?"
	}
	return m.Name
}

// newSession opens a session channel, giving up when ctx ends.
func (c *Client) newSession(ctx context.Context) (*ssh.Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	type result struct {
		s   *ssh.Session
		err error
	}
	ch := make(chan result, 1)
	go func() {
		s, err := c.conn.NewSession()
		ch <- result{s, err}
	}()
	select {
	case res := <-ch:
		return res.s, res.err
	case <-ctx.Done():
		go func() {
			if res := <-ch; res.s != nil {
				res.s.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// waitStatus turns x/crypto's Wait error into an exit status the way ssh(1)
// reports it: the command's status, or 128+signal number when it was killed by a
// signal. A session that ended without either (connection lost, server closed
// the channel) returns -1 and an error.
func waitStatus(err error) (int, error) {
	var ee *ssh.ExitError
	var me *ssh.ExitMissingError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee):
		return ee.ExitStatus(), nil
	case errors.As(err, &me):
		return -1, fmt.Errorf("remote command ended without an exit status (connection lost?): %w", err)
	}
	return -1, fmt.Errorf("waiting for remote command: %w", err)
}

// Wait waits for the command to exit and its output to be delivered, and
// returns its exit status (see waitStatus). It may be called more than once.
//
// Wait does not wait for Stdin to end. The stdin copy goroutine keeps reading
// until its next Read returns and then exits because the session is gone; with
// a terminal as Stdin that next Read is the user's next key press, which it
// consumes. When Stdin has SetReadDeadline (an *os.File in non-blocking mode,
// a net.Conn), Wait interrupts that Read and then clears the deadline, so the
// caller gets its stdin back intact. Otherwise the caller must not wait for the
// copy (kfwd exits right after), and should not read the terminal afterwards.
func (s *Session) Wait() (status int, err error) {
	<-s.exited
	s.once.Do(func() {
		if s.stdinDone == nil {
			return
		}
		d, ok := s.stdin.(interface{ SetReadDeadline(time.Time) error })
		if !ok {
			return
		}
		if d.SetReadDeadline(time.Now()) != nil {
			return
		}
		select {
		case <-s.stdinDone:
		case <-time.After(time.Second):
		}
		d.SetReadDeadline(time.Time{})
	})
	return s.status, s.err
}

// Done is closed when the command has exited (or the session was lost).
func (s *Session) done() <-chan struct{} { return s.exited }

// Resize tells the remote terminal its new size (window-change), which sends
// SIGWINCH to the command.
func (s *Session) Resize(width, height int) error {
	if err := s.p.resize(width, height); err != nil {
		return fmt.Errorf("resizing remote terminal: %w", err)
	}
	return nil
}

var signalNames = map[os.Signal]ssh.Signal{
	syscall.SIGABRT: ssh.SIGABRT, syscall.SIGALRM: ssh.SIGALRM, syscall.SIGFPE: ssh.SIGFPE,
	syscall.SIGHUP: ssh.SIGHUP, syscall.SIGILL: ssh.SIGILL, syscall.SIGINT: ssh.SIGINT,
	syscall.SIGKILL: ssh.SIGKILL, syscall.SIGPIPE: ssh.SIGPIPE, syscall.SIGQUIT: ssh.SIGQUIT,
	syscall.SIGSEGV: ssh.SIGSEGV, syscall.SIGTERM: ssh.SIGTERM,
}

// Signal sends sig to the remote command (a "signal" request). OpenSSH honours
// it since 7.9 (2018); older servers ignore it, so to end a login reliably send
// SIGINT and then Close: sshd hangs up the command's process group when the
// channel closes.
func (s *Session) signal(sig os.Signal) error {
	if err := s.p.signal(sig); err != nil {
		return fmt.Errorf("signalling remote command: %w", err)
	}
	return nil
}

// Close closes the session channel. sshd then hangs up the command (SIGHUP to a
// PTY's process group) if it still runs. Wait returns afterwards.
func (s *Session) Close() error {
	err := s.p.close()
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("closing session: %w", err)
}

// process is what a Session runs on: an SSH exec session or a local process.
type process interface {
	signal(os.Signal) error
	resize(width, height int) error
	close() error
}

// sshProcess is a session channel on the SSH connection.
type sshProcess struct{ s *ssh.Session }

func (p sshProcess) signal(sig os.Signal) error {
	name, ok := signalNames[sig]
	if !ok {
		return fmt.Errorf("unsupported signal %v", sig)
	}
	return p.s.Signal(name)
}

func (p sshProcess) resize(width, height int) error { return p.s.WindowChange(height, width) }
func (p sshProcess) close() error                   { return p.s.Close() }
