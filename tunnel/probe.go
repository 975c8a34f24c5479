package tunnel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"golang.org/x/crypto/ssh"
)

// errProhibited means the server refused a direct-tcpip channel as
// "administratively prohibited": OpenSSH's answer under AllowTcpForwarding no
// (or a no-port-forwarding key option). Test with errors.Is or isProhibited;
// the relay fallback (FindRelay) is the way around it.
var errProhibited = errors.New("port forwarding is administratively prohibited by the server")

// isProhibited reports whether err says the server prohibits port forwarding.
func isProhibited(err error) bool {
	if errors.Is(err, errProhibited) {
		return true
	}
	var oe *ssh.OpenChannelError
	return errors.As(err, &oe) && oe.Reason == ssh.Prohibited
}

// isRefused reports whether err says the server tried to connect and failed
// (nothing listens on the remote port, "connect failed").
func isRefused(err error) bool {
	var oe *ssh.OpenChannelError
	return errors.As(err, &oe) && oe.Reason == ssh.ConnectionFailed
}

// prohibitedError keeps the server's message while matching errProhibited.
type prohibitedError struct{ err error }

func (e *prohibitedError) Error() string        { return errProhibited.Error() + ": " + e.err.Error() }
func (e *prohibitedError) Is(target error) bool { return target == errProhibited }
func (e *prohibitedError) Unwrap() error        { return e.err }

// dialRemote opens a direct-tcpip channel to the remote host's loopback port:
// 127.0.0.1 first, then [::1] when the server reports that connection as failed
// (a callback server that listens on ::1 only, as "localhost" resolves on some
// hosts). The returned net.Conn supports CloseWrite (half-close). A prohibited
// forward fails at once with an error matching errProhibited.
func (c *Client) dialRemote(ctx context.Context, port int) (net.Conn, error) {
	conn, err := c.dialLoopback(ctx, "127.0.0.1", port)
	if err == nil || !isRefused(err) {
		return conn, err
	}
	conn, err6 := c.dialLoopback(ctx, "::1", port)
	if err6 == nil {
		return conn, nil
	}
	if isRefused(err6) {
		// Report the IPv4 failure: it is what a user expects to read.
		return nil, err
	}
	return nil, err6
}

func (c *Client) dialLoopback(ctx context.Context, host string, port int) (net.Conn, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	conn, err := c.conn.DialContext(ctx, "tcp", addr)
	if err != nil {
		if isProhibited(err) {
			err = &prohibitedError{err}
		}
		return nil, fmt.Errorf("forwarding to remote %s: %w", addr, err)
	}
	return conn, nil
}

// ForwardStatus is what ProbeForwarding learned about the server.
type ForwardStatus int

const (
	// ForwardUnknown: the probe failed for another reason (see the error).
	ForwardUnknown ForwardStatus = iota
	// ForwardAllowed: the server accepts direct-tcpip channels.
	ForwardAllowed
	// ForwardProhibited: the server refuses them ("administratively prohibited").
	ForwardProhibited
)

func (s ForwardStatus) String() string {
	switch s {
	case ForwardAllowed:
		return "allowed"
	case ForwardProhibited:
		return "prohibited"
	}
	return "unknown"
}

// probePort is a remote loopback port that is almost surely closed (tcpmux).
const probePort = 1

// ProbeForwarding asks the server, in one round trip, whether it will carry
// forwards: it opens a direct-tcpip channel to the remote's 127.0.0.1:1. A
// "connect failed" answer means the server tried, so forwarding is allowed; an
// "administratively prohibited" answer means it is not. Any other failure
// returns ForwardUnknown and the error.
func (c *Client) ProbeForwarding(ctx context.Context) (ForwardStatus, error) {
	conn, err := c.conn.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(probePort)))
	switch {
	case err == nil:
		conn.Close()
		return ForwardAllowed, nil
	case isRefused(err):
		return ForwardAllowed, nil
	case isProhibited(err):
		return ForwardProhibited, nil
	}
	return ForwardUnknown, fmt.Errorf("probing port forwarding: %w", err)
}
