package tunnel

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kfwd/kfwd/sshconfig"
)

// ProxyCommandError is a ProxyCommand that exited before the SSH connection was
// set up (or failed to start).
type ProxyCommandError struct {
	Command string
	Status  string // e.g. "exit status 1", "signal: killed"; "" when it did not start
	Stderr  string // the last line it wrote to stderr, if any
	Err     error  // start failure
}

func (e *ProxyCommandError) Error() string {
	var msg string
	if e.Err != nil {
		msg = fmt.Sprintf("proxy command %q: %v", e.Command, e.Err)
	} else {
		msg = fmt.Sprintf("proxy command %q exited early (%s)", e.Command, e.Status)
	}
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (e *ProxyCommandError) Unwrap() error { return e.Err }

// proxyConn is a ProxyCommand's stdin and stdout used as the SSH transport.
type proxyConn struct {
	command string
	cmd     *exec.Cmd
	r, w    *os.File // our ends: its stdout, its stdin
	tail    *tailWriter

	done    chan struct{} // closed once the process is reaped
	waitErr error

	closeOnce sync.Once
	killOnce  sync.Once
}

// startProxyCommand runs command with the user's shell, as ssh does ("exec"
// saves a process). Its stderr goes to stderr (if not nil) and a small tail is
// kept for error messages.
func startProxyCommand(command string, stderr io.Writer) (*proxyConn, error) {
	shell := os.Getenv("SHELL")
	if shell == "" {
		shell = "/bin/sh"
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, &ProxyCommandError{Command: command, Err: err}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, &ProxyCommandError{Command: command, Err: err}
	}
	tail := &tailWriter{}
	cmd := exec.Command(shell, "-c", "exec "+command)
	cmd.Stdin, cmd.Stdout = inR, outW
	if stderr != nil {
		cmd.Stderr = io.MultiWriter(tail, stderr)
	} else {
		cmd.Stderr = tail
	}
	// A grandchild holding stderr open must not keep Wait from returning.
	cmd.WaitDelay = time.Second
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, &ProxyCommandError{Command: command, Err: err}
	}
	c := &proxyConn{command: command, cmd: cmd, r: outR, w: inW, tail: tail, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *proxyConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *proxyConn) Write(p []byte) (int, error) { return c.w.Write(p) }

// Close closes the pipes. The process is left to notice; kill ends it.
func (c *proxyConn) Close() error {
	c.closeOnce.Do(func() {
		c.w.Close()
		c.r.Close()
	})
	return nil
}

// kill closes the pipes, then ends the process (SIGHUP like ssh, SIGKILL if it
// lingers) and reaps it.
func (c *proxyConn) kill() error {
	c.Close()
	c.killOnce.Do(func() {
		select {
		case <-c.done:
			return
		default:
		}
		c.cmd.Process.Signal(syscall.SIGHUP)
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
			c.cmd.Process.Kill()
			<-c.done
		}
	})
	return nil
}

// exited waits up to d for the process to end and describes how it ended.
func (c *proxyConn) exited(d time.Duration) (*ProxyCommandError, bool) {
	select {
	case <-c.done:
	case <-time.After(d):
		return nil, false
	}
	status := "exit status 0"
	if c.waitErr != nil {
		status = c.waitErr.Error()
	}
	return &ProxyCommandError{Command: c.command, Status: status, Stderr: c.tail.lastLine()}, true
}

func (c *proxyConn) LocalAddr() net.Addr  { return proxyAddr{} }
func (c *proxyConn) RemoteAddr() net.Addr { return proxyAddr{} }

func (c *proxyConn) SetDeadline(t time.Time) error {
	return errors.Join(c.r.SetReadDeadline(t), c.w.SetWriteDeadline(t))
}
func (c *proxyConn) SetReadDeadline(t time.Time) error  { return c.r.SetReadDeadline(t) }
func (c *proxyConn) SetWriteDeadline(t time.Time) error { return c.w.SetWriteDeadline(t) }

type proxyAddr struct{}

func (proxyAddr) Network() string { return "proxy-command" }
func (proxyAddr) String() string  { return "proxy-command" }

// tailWriter keeps the last few hundred bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

const tailMax = 512

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailMax {
		t.buf = t.buf[len(t.buf)-tailMax:]
	}
	return len(p), nil
}

func (t *tailWriter) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(strings.ReplaceAll(string(t.buf), "\r", ""))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// resolveHop turns a jump hop into a host configuration: the hop's host looked
// up like any alias, then its user and port (when given) applied on top, as
// `ssh -l user -p port host` would.
func resolveHop(o *DialOptions, hop sshconfig.Jump) (*sshconfig.Host, error) {
	var h *sshconfig.Host
	if o.Resolve != nil {
		r, err := o.Resolve(hop.Host)
		if err != nil {
			return nil, err
		}
		c := *r
		h = &c
	} else {
		// Without a resolver, reuse the target's settings for keys and known hosts.
		c := *o.Host
		c.Alias, c.HostName, c.Port, c.ProxyJump, c.ProxyCommand, c.HostKeyAlias = hop.Host, hop.Host, 0, "", "", ""
		h = &c
	}
	if hop.User != "" {
		h.User = hop.User
	}
	if hop.Port != 0 {
		h.Port = hop.Port
	}
	if h.HostName == "" {
		h.HostName = hop.Host
	}
	return h, nil
}
