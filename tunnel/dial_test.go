package tunnel

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/minisshd"
	"github.com/kfwd/kfwd/sshconfig"
	"golang.org/x/crypto/ssh"
)

// --- helpers shared by the dial, auth, host key and keepalive tests ---

func newEd25519(t testing.TB) (ed25519.PrivateKey, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv, signerOf(t, priv)
}

func signerOf(t testing.TB, key crypto.Signer) ssh.Signer {
	t.Helper()
	s, err := ssh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeKey writes key in OpenSSH format (encrypted when passphrase != "") and,
// when withPub, its .pub file.
func writeKey(t testing.TB, path string, key crypto.PrivateKey, passphrase string, withPub bool) {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(key, "test key")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(key, "test key", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if withPub {
		writePub(t, path+".pub", signerOf(t, key.(crypto.Signer)).PublicKey())
	}
}

func writePub(t testing.TB, path string, pub ssh.PublicKey) {
	t.Helper()
	if err := os.WriteFile(path, ssh.MarshalAuthorizedKey(pub), 0o644); err != nil {
		t.Fatal(err)
	}
}

func knownHostsLine(srv *minisshd.Server, key ssh.PublicKey) string {
	return fmt.Sprintf("[127.0.0.1]:%d %s", srv.Port(), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key))))
}

func writeFile(t testing.TB, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hostFor returns a config for srv whose known_hosts file holds srv's host key,
// with StrictHostKeyChecking yes, no agent and no identity files.
func hostFor(t testing.TB, srv *minisshd.Server) *sshconfig.Host {
	t.Helper()
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, knownHostsLine(srv, srv.HostKey.PublicKey()))
	return &sshconfig.Host{
		Alias: "target", HostName: "127.0.0.1", Port: srv.Port(), User: "alice",
		IdentityAgent:         "none",
		UserKnownHostsFiles:   []string{kh},
		GlobalKnownHostsFiles: []string{filepath.Join(dir, "no_such_global")},
		StrictHostKeyChecking: "yes",
	}
}

// withKey adds an unencrypted ed25519 identity file to h and returns its public key.
func withKey(t testing.TB, h *sshconfig.Host) ssh.PublicKey {
	t.Helper()
	priv, s := newEd25519(t)
	path := filepath.Join(t.TempDir(), "id_test")
	writeKey(t, path, priv, "", false)
	h.IdentityFiles = append(h.IdentityFiles, path)
	return s.PublicKey()
}

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logBuf) has(sub string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// fakePrompter answers from queues and records the prompts.
type fakePrompter struct {
	mu      sync.Mutex
	secrets []string
	answers []string
	prompts []string
}

func (p *fakePrompter) Secret(prompt string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prompts = append(p.prompts, prompt)
	if len(p.secrets) == 0 {
		return nil, io.EOF
	}
	s := p.secrets[0]
	p.secrets = p.secrets[1:]
	return []byte(s), nil
}

func (p *fakePrompter) Ask(prompt string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prompts = append(p.prompts, prompt)
	if len(p.answers) == 0 {
		return "", io.EOF
	}
	s := p.answers[0]
	p.answers = p.answers[1:]
	return s, nil
}

func (p *fakePrompter) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.prompts...)
}

func dialT(t testing.TB, o DialOptions) (*Client, error) {
	t.Helper()
	if o.Logf == nil {
		l := &logBuf{}
		o.Logf = l.logf
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("dial log:\n%s", l)
			}
		})
	}
	// Only a guard against a hang: under -race on a loaded machine, three
	// bcrypt-derived passphrase attempts alone take tens of seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Dial(ctx, o)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// mustRun checks the connection works by running a command on it.
func mustRun(t testing.TB, c *Client) {
	t.Helper()
	sess, err := c.conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.Output("echo ok")
	if err != nil || string(out) != "ok\n" {
		t.Fatalf("echo over the connection: %q %v", out, err)
	}
}

// --- tests ---

func TestDialKeyTypes(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edKey, _ := newEd25519(t)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})
	for _, tc := range []struct {
		name  string
		key   crypto.Signer
		write func(path string)
	}{
		{"rsa-pem", rsaKey, func(p string) { os.WriteFile(p, rsaPEM, 0o600) }},
		{"rsa-openssh", rsaKey, func(p string) { writeKey(t, p, rsaKey, "", false) }},
		{"ecdsa", ecKey, func(p string) { writeKey(t, p, ecKey, "", false) }},
		{"ed25519", edKey, func(p string) { writeKey(t, p, edKey, "", false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := minisshd.Start(t, minisshd.Options{Authorized: []ssh.PublicKey{signerOf(t, tc.key).PublicKey()}})
			h := hostFor(t, srv)
			path := filepath.Join(t.TempDir(), "key.pem")
			tc.write(path)
			h.IdentityFiles = []string{path}
			c, err := dialT(t, DialOptions{Host: h})
			if err != nil {
				t.Fatal(err)
			}
			mustRun(t, c)
		})
	}
}

func TestDialWrongKeyIsAuthError(t *testing.T) {
	_, other := newEd25519(t)
	srv := minisshd.Start(t, minisshd.Options{Authorized: []ssh.PublicKey{other.PublicKey()}})
	h := hostFor(t, srv)
	pub := withKey(t, h)
	_, err := dialT(t, DialOptions{Host: h})
	var ae *AuthError
	var de *DialError
	if !errors.As(err, &ae) || !errors.As(err, &de) {
		t.Fatalf("got %v, want a DialError wrapping an AuthError", err)
	}
	if len(ae.Offered) != 1 || !strings.Contains(ae.Offered[0], ssh.FingerprintSHA256(pub)) {
		t.Errorf("Offered = %q, want the key's fingerprint", ae.Offered)
	}
	if ae.User != "alice" || !strings.Contains(err.Error(), "dialing target 127.0.0.1:") {
		t.Errorf("error %q", err)
	}
}

func TestProxyJumpTwoHops(t *testing.T) {
	dialLoopback := func(host string, port int) (net.Conn, error) {
		return net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	}
	b1 := minisshd.Start(t, minisshd.Options{Dial: dialLoopback})
	b2 := minisshd.Start(t, minisshd.Options{Dial: dialLoopback})
	target := minisshd.Start(t, minisshd.Options{})
	hosts := map[string]*sshconfig.Host{}
	for name, srv := range map[string]*minisshd.Server{"b1": b1, "b2": b2} {
		h := hostFor(t, srv)
		h.Alias = name
		withKey(t, h)
		hosts[name] = h
	}
	h := hostFor(t, target)
	withKey(t, h)
	h.ProxyJump = "b1,bob@b2"
	var resolved []string
	resolve := func(alias string) (*sshconfig.Host, error) {
		resolved = append(resolved, alias)
		if hh, ok := hosts[alias]; ok {
			return hh, nil
		}
		return nil, fmt.Errorf("no host %s", alias)
	}
	c, err := dialT(t, DialOptions{Host: h, Resolve: resolve})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, c)
	if strings.Join(resolved, ",") != "b1,b2" {
		t.Errorf("resolved %q", resolved)
	}
	if hosts["b2"].User != "alice" {
		t.Error("the hop's user override leaked into the resolved config")
	}
	if b1.Conns() != 1 || b2.Conns() != 1 || target.Conns() != 1 {
		t.Errorf("conns b1=%d b2=%d target=%d", b1.Conns(), b2.Conns(), target.Conns())
	}
	c.Close()
	waitFor(t, "hops closed", func() bool { return b1.Conns() == 0 && b2.Conns() == 0 && target.Conns() == 0 })

	// A hop that fails names itself.
	hosts["b2"].StrictHostKeyChecking = "yes"
	hosts["b2"].UserKnownHostsFiles = nil
	_, err = dialT(t, DialOptions{Host: h, Resolve: resolve})
	var de *DialError
	var he *HostKeyError
	if !errors.As(err, &de) || !de.Jump || de.Host != "b2" || !errors.As(err, &he) {
		t.Fatalf("got %v, want the b2 hop's host key error", err)
	}
	waitFor(t, "b1 closed after the failure", func() bool { return b1.Conns() == 0 })
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestProxyCommand(t *testing.T) {
	proxy := "socat"
	if _, err := exec.LookPath(proxy); err != nil {
		t.Skip("socat not installed")
	}
	srv := minisshd.Start(t, minisshd.Options{})
	h := hostFor(t, srv)
	withKey(t, h)
	pidFile := filepath.Join(t.TempDir(), "pid")
	// ssh runs "exec <ProxyCommand>", so a compound command needs its own shell.
	h.ProxyCommand = fmt.Sprintf("sh -c 'echo $$ > %s; exec socat - TCP:127.0.0.1:%d'", pidFile, srv.Port())
	var stderr strings.Builder
	c, err := dialT(t, DialOptions{Host: h, Stderr: &stderr})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, c)
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("proxy command %d not running while connected: %v", pid, err)
	}
	c.Close()
	// Close reaps the process, so its pid is gone (not a zombie) right away.
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("proxy command %d still exists after Close: %v", pid, err)
	}
}

func TestProxyCommandExitsEarly(t *testing.T) {
	srv := minisshd.Start(t, minisshd.Options{})
	h := hostFor(t, srv)
	h.ProxyCommand = `sh -c "echo 'no route to bastion' >&2; exit 3"`
	var stderr strings.Builder
	_, err := dialT(t, DialOptions{Host: h, Stderr: &stderr})
	var pe *ProxyCommandError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want a ProxyCommandError", err)
	}
	if pe.Status != "exit status 3" || pe.Stderr != "no route to bastion" {
		t.Errorf("got status %q stderr %q", pe.Status, pe.Stderr)
	}
	if !strings.Contains(stderr.String(), "no route to bastion") {
		t.Errorf("stderr not passed on: %q", stderr.String())
	}
}

func TestConnectTimeoutSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c) // accept, then say nothing
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	h := &sshconfig.Host{Alias: "silent", HostName: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, User: "u",
		IdentityAgent: "none", StrictHostKeyChecking: "yes", ConnectTimeout: 200 * time.Millisecond}
	_, err = dialT(t, DialOptions{Host: h})
	if !errors.Is(err, ErrConnectTimeout) {
		t.Fatalf("got %v, want ErrConnectTimeout", err)
	}

	// Without ConnectTimeout, the context bounds the handshake.
	h.ConnectTimeout = 0
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = Dial(ctx, DialOptions{Host: h})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
}

type slowPrompter struct {
	fakePrompter
	delay time.Duration
}

func (p *slowPrompter) Ask(prompt string) (string, error) {
	time.Sleep(p.delay)
	return p.fakePrompter.Ask(prompt)
}

// Time spent answering a prompt does not count against ConnectTimeout.
func TestConnectTimeoutPausedWhilePrompting(t *testing.T) {
	srv := minisshd.Start(t, minisshd.Options{})
	h := hostFor(t, srv)
	withKey(t, h)
	h.UserKnownHostsFiles = []string{filepath.Join(t.TempDir(), "known_hosts")}
	h.StrictHostKeyChecking = "ask"
	h.ConnectTimeout = 100 * time.Millisecond
	p := &slowPrompter{fakePrompter: fakePrompter{answers: []string{"yes"}}, delay: 400 * time.Millisecond}
	c, err := dialT(t, DialOptions{Host: h, Prompt: p})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, c)
}
