package demo

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/testutil"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// dialDemo connects to the demo host with the files WriteSSHConfig wrote,
// checking the host key against the written known_hosts.
func dialDemo(t *testing.T, d *Demo) *ssh.Client {
	t.Helper()
	dir := t.TempDir()
	cfg, err := d.WriteSSHConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Host " + Alias, "Port " + strconv.Itoa(d.SSH.Port()), "StrictHostKeyChecking yes", "IdentitiesOnly yes"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("ssh_config lacks %q:\n%s", want, b)
		}
	}
	st, err := os.Stat(filepath.Join(dir, "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "id_ed25519"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	hk, err := knownhosts.New(filepath.Join(dir, "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", d.SSH.Addr, &ssh.ClientConfig{User: loginUser, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hk, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func startDemo(t *testing.T, opts Options) *Demo {
	t.Helper()
	d, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

var authorizeRE = regexp.MustCompile(`http://127\.0\.0\.1:\d+/authorize\?\S+`)

// TestLoginThroughForward plays kfwd and the browser by hand: it runs the
// built-in login, reads the authorize URL, and follows it with an HTTP client
// whose connections to the callback port go through a direct-tcpip channel.
func TestLoginThroughForward(t *testing.T) {
	d := startDemo(t, Options{})
	c := dialDemo(t, d)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	pr, pw := io.Pipe()
	var all testutil.SyncBuffer
	sess.Stdout = io.MultiWriter(pw, &all)
	sess.Stderr = &all
	// A shell line around the command, as kfwd's opener shims make, still runs it.
	if err := sess.Start("dir=$(mktemp -d); PATH=$dir:$PATH " + Command + "; st=$?; rm -rf $dir; exit $st"); err != nil {
		t.Fatal(err)
	}
	var authURL string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if m := authorizeRE.FindString(sc.Text()); m != "" {
			authURL = m
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if authURL == "" {
		t.Fatalf("no authorize URL in output:\n%s", all.String())
	}
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	redirect, err := url.Parse(u.Query().Get("redirect_uri"))
	if err != nil {
		t.Fatal(err)
	}
	if redirect.Hostname() != "localhost" {
		t.Errorf("redirect_uri host %q, want localhost", redirect.Hostname())
	}
	port, _ := strconv.Atoi(redirect.Port())
	if port == 0 {
		t.Fatalf("no port in redirect_uri %q", redirect)
	}
	if strings.Contains(all.String(), "localhost:"+redirect.Port()) {
		t.Errorf("the port should appear only URL-encoded:\n%s", all.String())
	}
	// The callback listens on the remote loopback only.
	if l, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", redirect.Port())); err == nil {
		l.Close()
		t.Errorf("callback port %d reachable on local loopback; the remote loopback must be separate", port)
	}

	browser := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, p, _ := net.SplitHostPort(addr)
			if host == "localhost" && p == redirect.Port() {
				return c.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", p))
			}
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "signed in") {
		t.Fatalf("callback page: %d %s", resp.StatusCode, body)
	}
	if err := sess.Wait(); err != nil {
		t.Fatalf("login: %v\n%s", err, all.String())
	}
	out := all.String()
	for _, want := range []string{"sub:  demo-user-1", "name: Demo User", "iss:  " + d.Issuer, "exp:  "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range d.issued() {
		if strings.Contains(out, secret) {
			t.Errorf("output leaks an issued code or token")
		}
	}
	if got := d.Logins(); len(got) != 1 || got[0].Sub != "demo-user-1" {
		t.Errorf("Logins() = %+v", got)
	}
}

func TestDoctorCommands(t *testing.T) {
	d := startDemo(t, Options{})
	c := dialDemo(t, d)
	run := func(cmd string) (string, error) {
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		out, err := s.CombinedOutput(cmd)
		return string(out), err
	}
	if out, err := run("command -v '" + Command + "'"); err != nil || !strings.Contains(out, Command) {
		t.Errorf("command -v: %q %v", out, err)
	}
	if out, err := run("command -v kiro-cli"); err == nil {
		t.Errorf("command -v kiro-cli succeeded: %q", out)
	}
	if out, err := run(Command + " --version"); err != nil || strings.TrimSpace(out) != loginVersion {
		t.Errorf("--version: %q %v", out, err)
	}
	_, err := run("ls /")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 127 {
		t.Errorf("other command: %v, want exit status 127", err)
	}
}

func TestInterruptEndsLogin(t *testing.T) {
	d := startDemo(t, Options{LoginTimeout: 10 * time.Second})
	c := dialDemo(t, d)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var out testutil.SyncBuffer
	sess.Stdout, sess.Stderr = &out, &out
	if err := sess.Start(Command); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), "/authorize?") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	if err := sess.Signal(ssh.SIGINT); err != nil {
		t.Fatal(err)
	}
	err = sess.Wait()
	if err == nil {
		t.Fatal("login succeeded after interrupt")
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("interrupt took %v", time.Since(start))
	}
}
