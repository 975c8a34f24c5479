// Package demo owns the self-contained world of `kfwd demo`: an identity
// provider on this machine's loopback, and an in-process SSH "remote host" whose
// own loopback is an in-memory network, running a built-in CLI that signs in to
// the provider through a loopback callback on that remote loopback.
package demo

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kfwd/kfwd/internal/minisshd"
	"github.com/kfwd/kfwd/internal/oauthdemo"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Command is the name of the demo host's built-in login CLI. A remote command
// line that runs it (directly or wrapped in a shell line, as kfwd's browser
// opener shims do) starts the built-in login.
const Command = "kfwd-demo-login"

// loginVersion is what `kfwd-demo-login --version` prints on the demo host.
const loginVersion = "kfwd-demo-login 1.0.0"

// Alias and loginUser are the ssh_config Host alias and login user WriteSSHConfig uses.
const (
	Alias     = "kfwd-demo"
	loginUser = "demo"
)

// Options configure Start.
type Options struct {
	// LoginTimeout bounds one remote login (default 2 minutes).
	LoginTimeout time.Duration
	// Logf receives diagnostics (never codes or tokens); may be nil.
	Logf func(format string, args ...any)
}

// Demo is a running demo world. Close stops it.
type Demo struct {
	// Issuer is the identity provider's base URL on local loopback.
	Issuer string
	// SSH is the demo host's SSH server on local loopback.
	SSH *minisshd.Server
	// remote is the demo host's loopback: reachable only through SSH forwards.
	remote *minisshd.MemNet

	idp       *oauthdemo.Server
	clientKey ed25519.PrivateKey
	opts      Options
	http      *http.Client

	mu     sync.Mutex
	logins []oauthdemo.Claims
}

// Start starts the identity provider and the SSH server, both on 127.0.0.1
// with random ports, with an SSH host key and a client key made in memory.
func Start(opts Options) (*Demo, error) {
	if opts.LoginTimeout <= 0 {
		opts.LoginTimeout = 2 * time.Minute
	}
	d := &Demo{
		idp:    oauthdemo.New(""),
		remote: minisshd.NewMemNet(),
		opts:   opts,
		// The token exchange goes over real loopback HTTP, never through a proxy.
		http: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}},
	}
	issuer, err := d.idp.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the demo identity provider: %w", err)
	}
	d.Issuer = issuer
	if err := d.startSSH(); err != nil {
		d.idp.Close()
		return nil, err
	}
	return d, nil
}

// startSSH makes the host and client keys and starts the demo host's SSH server.
func (d *Demo) startSSH() error {
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generating the demo host key: %w", err)
	}
	hostKey, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return fmt.Errorf("generating the demo host key: %w", err)
	}
	clientPub, clientPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fmt.Errorf("generating the demo client key: %w", err)
	}
	d.clientKey = clientPriv
	authorized, err := ssh.NewPublicKey(clientPub)
	if err != nil {
		return fmt.Errorf("generating the demo client key: %w", err)
	}
	d.SSH, err = minisshd.New(minisshd.Options{
		HostKey:    hostKey,
		Authorized: []ssh.PublicKey{authorized},
		Exec:       d.exec,
		Dial:       d.remote.Dial,
	})
	if err != nil {
		return fmt.Errorf("starting the demo SSH server: %w", err)
	}
	return nil
}

// Close stops the SSH server and the identity provider.
func (d *Demo) Close() error {
	return errors.Join(d.SSH.Close(), d.idp.Close())
}

// Logins returns the claims of every login the demo host completed.
func (d *Demo) Logins() []oauthdemo.Claims {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]oauthdemo.Claims(nil), d.logins...)
}

// issued returns every code and token the identity provider handed out, so
// tests can check that none of them reached the terminal.
func (d *Demo) issued() []string { return d.idp.Issued() }

// hostPublicKey returns the demo host's public host key.
func (d *Demo) hostPublicKey() ssh.PublicKey { return d.SSH.HostKey.PublicKey() }

// knownHostsLine returns the known_hosts line for the demo host.
func (d *Demo) knownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(d.SSH.Addr)}, d.hostPublicKey())
}

// clientKeyPEM returns the client's private key in OpenSSH format, unencrypted.
func (d *Demo) clientKeyPEM() ([]byte, error) {
	b, err := ssh.MarshalPrivateKey(d.clientKey, "kfwd demo")
	if err != nil {
		return nil, fmt.Errorf("encoding the demo client key: %w", err)
	}
	return pem.EncodeToMemory(b), nil
}

// WriteSSHConfig writes into dir the client key (id_ed25519, mode 0600), a
// known_hosts file holding the demo host key, and an ssh_config whose Host
// Alias reaches the demo host with StrictHostKeyChecking yes and no agent. It
// returns the ssh_config path.
func (d *Demo) WriteSSHConfig(dir string) (string, error) {
	key, err := d.clientKeyPEM()
	if err != nil {
		return "", err
	}
	keyFile := filepath.Join(dir, "id_ed25519")
	khFile := filepath.Join(dir, "known_hosts")
	cfgFile := filepath.Join(dir, "ssh_config")
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		return "", fmt.Errorf("writing the demo key: %w", err)
	}
	if err := os.WriteFile(khFile, []byte(d.knownHostsLine()+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing the demo known_hosts: %w", err)
	}
	cfg := fmt.Sprintf(`# kfwd demo: an in-process SSH server on this machine's loopback.
Host %s
    HostName 127.0.0.1
    Port %d
    User %s
    IdentityFile %s
    IdentitiesOnly yes
    IdentityAgent none
    UserKnownHostsFile %s
    StrictHostKeyChecking yes
`, Alias, d.SSH.Port(), loginUser, quote(keyFile), quote(khFile))
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return "", fmt.Errorf("writing the demo ssh_config: %w", err)
	}
	return cfgFile, nil
}

// quote quotes a path for ssh_config when it holds spaces.
func quote(s string) string {
	if strings.ContainsAny(s, " \t") {
		return `"` + s + `"`
	}
	return s
}

func (d *Demo) logf(format string, args ...any) {
	if d.opts.Logf != nil {
		d.opts.Logf(format, args...)
	}
}

// exec is the demo host's command runner: it knows the built-in login, and
// enough of a shell for `command -v` and `--version`, which kfwd doctor asks.
func (d *Demo) exec(s *minisshd.Session) int {
	fields := strings.Fields(s.Command)
	switch {
	case len(fields) == 3 && fields[0] == "command" && fields[1] == "-v":
		if unquote(fields[2]) == Command {
			fmt.Fprintln(s.Stdout, "/usr/local/bin/"+Command)
			return 0
		}
		return 1
	case len(fields) == 2 && unquote(fields[0]) == Command && fields[1] == "--version":
		fmt.Fprintln(s.Stdout, loginVersion)
		return 0
	case strings.Contains(s.Command, Command):
		return d.login(s)
	}
	name := s.Command
	if len(fields) > 0 {
		name = fields[0]
	}
	fmt.Fprintf(s.Stderr, "sh: 1: %s: not found (the kfwd demo host only runs %s)\n", name, Command)
	return 127
}

func unquote(s string) string { return strings.Trim(s, `'"`) }

// login is the built-in CLI: a PKCE loopback login whose callback listener is
// on the demo host's in-memory loopback, printed the way most CLIs print it
// (the port only URL-encoded inside redirect_uri=).
func (d *Demo) login(s *minisshd.Session) int {
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.LoginTimeout)
	defer cancel()
	go func() {
		// Ctrl-C or a closed session ends the login, as they would a real CLI.
		select {
		case <-s.Signals:
		case <-s.Done:
		case <-ctx.Done():
		}
		cancel()
	}()
	out := s.Stdout
	fail := func(err error) int {
		fmt.Fprintf(s.Stderr, "%s: error: %v\n", Command, err)
		return 1
	}
	ln, err := d.listen()
	if err != nil {
		return fail(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	d.logf("demo host: login callback listener on remote loopback port %d", port)
	fmt.Fprintf(out, "%s: signing in to the kfwd demo identity provider\n", Command)
	tok, err := oauthdemo.Login(ctx, oauthdemo.LoginOptions{
		Issuer:       d.Issuer,
		Listener:     ln,
		RedirectHost: "localhost",
		Style:        oauthdemo.StyleURLEncoded,
		Out:          out,
		HTTPClient:   d.http,
		Logf:         d.opts.Logf,
	})
	if err != nil {
		return fail(err)
	}
	claims, err := oauthdemo.UserInfo(ctx, d.http, d.Issuer, tok.AccessToken)
	if err != nil {
		return fail(err)
	}
	d.mu.Lock()
	d.logins = append(d.logins, *claims)
	d.mu.Unlock()
	writeClaims(out, claims)
	return 0
}

// writeClaims prints the token's claims, never the token.
func writeClaims(w io.Writer, c *oauthdemo.Claims) {
	exp := time.Unix(c.Exp, 0)
	fmt.Fprintf(w, "Token claims:\n")
	fmt.Fprintf(w, "  sub:  %s\n", c.Sub)
	fmt.Fprintf(w, "  name: %s\n", c.Name)
	fmt.Fprintf(w, "  iss:  %s\n", c.Iss)
	fmt.Fprintf(w, "  exp:  %s (in %s)\n", exp.UTC().Format(time.RFC3339), time.Until(exp).Round(time.Minute))
}

// listen opens the login's callback listener on the remote loopback, on a
// port that is also free on local loopback so that kfwd can forward it as is.
func (d *Demo) listen() (net.Listener, error) {
	var lastErr error
	for range 20 {
		port, err := freeLocalPort()
		if err != nil {
			return nil, err
		}
		ln, err := d.listenRemote(port)
		if err == nil {
			return ln, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func (d *Demo) listenRemote(port int) (net.Listener, error) {
	ln, err := d.remote.Listen(port)
	if err != nil {
		return nil, fmt.Errorf("listening for the callback: %w", err)
	}
	return tcpAddrListener{ln, port}, nil
}

// freeLocalPort returns a port free on 127.0.0.1 at the time of asking.
func freeLocalPort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tcpAddrListener reports a *net.TCPAddr, as callers of a loopback listener
// (oauthdemo.Login) expect, for a listener on the in-memory remote loopback.
type tcpAddrListener struct {
	net.Listener
	port int
}

func (l tcpAddrListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: l.port}
}

// Follow fetches url and its redirects as a signed-in browser would: the
// identity provider approves at once and redirects to the callback on local
// loopback, which kfwd forwards to the remote login. It is the demo's stand-in
// where no real browser can be opened.
func (d *Demo) Follow(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		d.logf("demo browser: %v", err)
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("demo browser: %s", resp.Status)
	}
	return nil
}
