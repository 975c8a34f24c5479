package tunnel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RelayKind names a remote program that can carry a TCP connection over a
// session's stdin and stdout.
type RelayKind string

// The relay programs FindRelay looks for, in order of preference:
//
//   - python3: the browser's half-close reaches the server; the server's close
//     ends the relay at once (a server that half-closes and keeps reading is
//     cut off, which HTTP callback servers never need).
//   - bash: /dev/tcp; the server's close reaches the browser at once, but the
//     browser's half-close does not reach the server (bash cannot shutdown).
//   - socat: half-close both ways, but after the first EOF it waits up to 2s
//     for the other direction before it exits.
//   - nc: with OpenBSD nc -N the browser's half-close reaches the server; the
//     server's close reaches the browser only when the browser closes too.
const (
	RelayPython3 RelayKind = "python3"
	RelayBash    RelayKind = "bash"
	RelaySocat   RelayKind = "socat"
	RelayNC      RelayKind = "nc"
)

// relayKinds lists the relay programs in order of preference.
var relayKinds = []RelayKind{RelayPython3, RelayBash, RelaySocat, RelayNC}

// errNoRelay means none of the relay programs exists on the remote host.
var errNoRelay = errors.New("no relay program on the remote host")

// NoRelayError is returned by FindRelay when no relay program was found.
type NoRelayError struct {
	Probed []RelayKind
	// Where is "" for the remote host, else where the probe ran ("in container
	// dev").
	Where string
}

func (e *NoRelayError) Error() string {
	names := make([]string, len(e.Probed))
	for i, k := range e.Probed {
		names[i] = string(k)
	}
	msg := errNoRelay.Error()
	if e.Where != "" {
		msg = "no relay program " + e.Where
	}
	return fmt.Sprintf("%s (looked for %s)", msg, strings.Join(names, ", "))
}

func (e *NoRelayError) Is(target error) bool { return target == errNoRelay }

// Relay reaches the remote host's loopback ports by running a relay program in
// an exec session, for servers that prohibit port forwarding (OpenSSH
// AllowTcpForwarding no) but still run commands, and for containers, whose
// loopback only their runtime's exec reaches. Each Dial is one session.
type Relay struct {
	Kind      RelayKind   // the program Dial runs
	available []RelayKind // every relay program found, in order of preference

	st         starter
	where      string // "" (the remote host) or "in container NAME", for errors
	ncShutdown bool   // nc understands -N (OpenBSD netcat)
	ncBusybox  bool   // nc is only a BusyBox applet: run "busybox nc"
}

// starter starts the sessions a relay runs in: *Client, *Container.
type starter interface {
	Start(ctx context.Context, o SessionOptions) (*Session, error)
}

// relayProbe runs under the user's login shell, whatever it is: the script is a
// single-quoted sh -c argument without newlines, which sh, bash, zsh, csh and
// fish all pass through unchanged.
//
// A BusyBox without an nc link (a minimal image) still counts: "busybox nc".
const relayProbe = `sh -c 'for p in python3 bash socat nc; do if command -v "$p" >/dev/null 2>&1; then echo "have $p"; fi; done; if command -v nc >/dev/null 2>&1; then if nc -h 2>&1 | grep -q -e "-N[[:space:]]"; then echo "nc -N"; fi; elif command -v busybox >/dev/null 2>&1 && busybox --list 2>/dev/null | grep -qx nc; then echo "have nc"; echo "nc busybox"; fi; exit 0'`

// FindRelay probes once, in a single exec session, which relay programs the
// remote host has, and returns a Relay using the preferred one. Without any it
// returns a *NoRelayError.
func (c *Client) FindRelay(ctx context.Context) (Relay, error) {
	return findRelay(ctx, c, "")
}

// findRelay runs the relay probe on t; where names the place in errors.
func findRelay(ctx context.Context, t Target, where string) (Relay, error) {
	out, _, _, err := t.Output(ctx, relayProbe)
	if err != nil {
		return Relay{}, fmt.Errorf("probing relay programs: %w", err)
	}
	r := parseRelayProbe(out)
	r.st, r.where = t, where
	if len(r.available) == 0 {
		return Relay{}, &NoRelayError{Probed: slices.Clone(relayKinds), Where: where}
	}
	r.Kind = r.available[0]
	return r, nil
}

func parseRelayProbe(out []byte) Relay {
	var r Relay
	have := map[RelayKind]bool{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "nc -N":
			r.ncShutdown = true
		case line == "nc busybox":
			r.ncBusybox = true
		case strings.HasPrefix(line, "have "):
			have[RelayKind(strings.TrimPrefix(line, "have "))] = true
		}
	}
	for _, k := range relayKinds {
		if have[k] {
			r.available = append(r.available, k)
		}
	}
	return r
}

// with returns the same relay using another available program.
func (r Relay) with(kind RelayKind) (Relay, error) {
	if !slices.Contains(r.available, kind) {
		where := r.where
		if where == "" {
			where = "on the remote host"
		}
		return Relay{}, fmt.Errorf("relay %s is not available %s", kind, where)
	}
	r.Kind = kind
	return r, nil
}

// Command returns the remote command line that relays to 127.0.0.1:port. It
// starts with exec so that the relay itself holds the session's stdout: its
// close is the EOF the browser sees, with no shell keeping the pipe open.
func (r Relay) command(port int) string {
	p := strconv.Itoa(port)
	switch r.Kind {
	case RelayPython3:
		return `exec python3 -c 'exec("import socket,os,threading\ns=socket.create_connection((\"127.0.0.1\",` + p + `))\n` +
			`def up():\n while 1:\n  b=os.read(0,65536)\n  if not b: break\n  s.sendall(b)\n s.shutdown(socket.SHUT_WR)\n` +
			`t=threading.Thread(target=up,daemon=True)\nt.start()\n` +
			`while 1:\n b=s.recv(65536)\n if not b: break\n while b: b=b[os.write(1,b):]\n` +
			`os._exit(0)")'`
	case RelayBash:
		// fd 4 keeps stdin for the background writer (an asynchronous command's
		// stdin would otherwise be /dev/null); when the server closes, the reader
		// ends, the writer is killed and the session ends, so the close arrives.
		return `exec bash -c 'exec 3<>/dev/tcp/127.0.0.1/` + p + ` || exit 1; exec 4<&0; cat <&4 >&3 & cat <&3; kill $! 2>/dev/null; exit 0'`
	case RelaySocat:
		return `exec socat -t 2 - TCP:127.0.0.1:` + p
	case RelayNC:
		if r.ncBusybox {
			return `exec busybox nc 127.0.0.1 ` + p
		}
		if r.ncShutdown {
			return `exec nc -N 127.0.0.1 ` + p
		}
		return `exec nc 127.0.0.1 ` + p
	}
	return ""
}

// Dial runs the relay program to the remote's 127.0.0.1:port in a new exec
// session and returns its stdin/stdout as a net.Conn. CloseWrite sends EOF to
// the program; Close ends the session. A failed connect (nothing listens)
// shows as a Read error carrying the program's message.
func (r Relay) dial(ctx context.Context, port int) (net.Conn, error) {
	if r.st == nil || r.Kind == "" {
		return nil, errors.New("relay: not initialised by FindRelay")
	}
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	rc := &relayConn{kind: r.Kind, port: port, stdin: inW, stdout: outR}
	s, err := r.st.Start(ctx, SessionOptions{Command: r.command(port), Stdin: inR, Stdout: outW, Stderr: &rc.stderr})
	if err != nil {
		return nil, fmt.Errorf("relay %s to 127.0.0.1:%d: %w", r.Kind, port, err)
	}
	rc.s = s
	go func() {
		s.Wait()
		outW.Close() // the relay's output is complete: EOF for Read
	}()
	return rc, nil
}

// relayConn adapts a relay session to net.Conn.
type relayConn struct {
	kind   RelayKind
	port   int
	s      *Session
	stdin  *io.PipeWriter
	stdout *io.PipeReader
	stderr limitedBuffer
	read   bool // some bytes were read

	closeOnce sync.Once
}

func (c *relayConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if n > 0 {
		c.read = true
	}
	if err == io.EOF && !c.read {
		// Nothing came back: tell a refused connect from an empty answer.
		select {
		case <-c.s.done():
		case <-time.After(2 * time.Second):
		}
		select {
		case <-c.s.done():
			if status, werr := c.s.Wait(); werr == nil && status != 0 {
				msg := strings.TrimSpace(c.stderr.String())
				return n, fmt.Errorf("relay %s to 127.0.0.1:%d exited with status %d: %s", c.kind, c.port, status, msg)
			}
		default:
		}
	}
	return n, err
}

func (c *relayConn) Write(p []byte) (int, error) { return c.stdin.Write(p) }

// CloseWrite sends EOF to the relay program.
func (c *relayConn) CloseWrite() error { return c.stdin.Close() }

// Close ends the session: SIGTERM first (a relay without a terminal would
// otherwise outlive the channel while its server stays silent), then close.
func (c *relayConn) Close() error {
	c.closeOnce.Do(func() {
		select {
		case <-c.s.done():
		default:
			c.s.signal(syscall.SIGTERM)
		}
		c.stdin.Close()
		c.stdout.Close() // unblocks the session's output copy
		c.s.Close()
	})
	return nil
}

func (c *relayConn) LocalAddr() net.Addr  { return relayAddr("local") }
func (c *relayConn) RemoteAddr() net.Addr { return relayAddr(fmt.Sprintf("127.0.0.1:%d", c.port)) }

var errNoDeadline = errors.New("relay connections have no deadlines")

func (c *relayConn) SetDeadline(time.Time) error      { return errNoDeadline }
func (c *relayConn) SetReadDeadline(time.Time) error  { return errNoDeadline }
func (c *relayConn) SetWriteDeadline(time.Time) error { return errNoDeadline }

type relayAddr string

func (relayAddr) Network() string  { return "ssh-relay" }
func (a relayAddr) String() string { return string(a) }

// limitedBuffer keeps the first 4 KiB written to it (a relay's error message).
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := 4096 - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
