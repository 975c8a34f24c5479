// Package tunnel owns kfwd's SSH connection: dialing (direct, jump hosts, proxy
// commands), authentication, host-key checks, keepalive, remote sessions, and the
// loopback listeners whose connections it carries to the remote.
package tunnel

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Client is an established SSH connection together with everything that keeps it
// alive underneath: jump-host connections and proxy-command processes. Closing the
// Client closes them all, innermost first.
type Client struct {
	conn *ssh.Client
	info ConnInfo
	logf func(string, ...any) // DialOptions.Logf; a no-op for newClient
	// dialed is what Dial was called with (Host nil for newClient).
	dialed DialOptions

	mu      sync.Mutex
	closers []func() error
	closed  bool
	lostErr error // why Keepalive gave the connection up
}

// newClient wraps an established connection. The closers run after the connection
// is closed, in order; they tear down what the connection runs over.
func newClient(c *ssh.Client, closers ...func() error) *Client {
	return &Client{conn: c, closers: closers, logf: func(string, ...any) {}}
}

// ConnInfo records how Dial reached the target host: the host key it accepted
// and the credential that logged in. ProxyJump hops are not described.
type ConnInfo struct {
	HostKey HostKeyInfo
	Auth    AuthInfo
}

// Info returns what Dial recorded about the target host (the zero ConnInfo
// for a Client made with newClient, in tests).
func (c *Client) Info() ConnInfo { return c.info }

// Close closes the connection, then every hop and proxy process beneath it. It is
// safe to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	closers := c.closers
	c.mu.Unlock()

	errs := []error{c.conn.Close()}
	for _, f := range closers {
		errs = append(errs, f())
	}
	return ignoreClosed(errors.Join(errs...))
}

func ignoreClosed(err error) error {
	if err == nil || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// lost returns the error (wrapping ErrConnectionLost) with which Keepalive
// gave up the connection, or nil.
func (c *Client) lost() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lostErr
}

func (c *Client) setLost(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lostErr == nil {
		c.lostErr = err
	}
}

// redial connects again to the host this Client was dialed to, asking nobody
// anything (a host key or passphrase that needs a question fails), within the
// host's ConnectTimeout (10 s when unset). It is for cleaning up after a lost
// connection, such as stopping the remote login it ran.
func (c *Client) redial() (*Client, error) {
	o := c.dialed
	if o.Host == nil {
		return nil, errNoRedial
	}
	o.Prompt = nil
	d := o.Host.ConnectTimeout
	if d <= 0 {
		d = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return Dial(ctx, o)
}

// redialTarget returns t over a new connection to its SSH host (see
// redial), and the function that closes that connection: the host itself for
// a Client, the same container on it for a Container on an SSH host.
func redialTarget(t Target) (Target, func(), error) {
	lost := sshHost(t)
	if lost == nil {
		return nil, nil, errNoRedial
	}
	c, err := lost.redial()
	if err != nil {
		return nil, nil, err
	}
	closeConn := func() { c.Close() }
	if ct, ok := t.(*Container); ok {
		nc := *ct
		nc.host = c
		return &nc, closeConn, nil
	}
	return c, closeConn, nil
}

// LostConnection returns why the SSH connection under t was given up as lost
// (Keepalive's error), or nil: for a Client, and for a Container on an SSH host.
func LostConnection(t Target) error {
	if c := sshHost(t); c != nil {
		return c.lost()
	}
	return nil
}

// sshHost is the SSH connection under t: t itself for a Client, the host of
// a Container on an SSH host; nil for a local container.
func sshHost(t Target) *Client {
	switch t := t.(type) {
	case *Client:
		return t
	case *Container:
		return t.host
	}
	return nil
}
