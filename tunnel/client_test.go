package tunnel

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/kfwd/kfwd/internal/minisshd"
	"github.com/kfwd/kfwd/sshconfig"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestConnInfo(t *testing.T) {
	known := func(srv *minisshd.Server) HostKeyInfo {
		return HostKeyInfo{Host: fmt.Sprintf("[127.0.0.1]:%d", srv.Port()), Type: "ED25519",
			Fingerprint: ssh.FingerprintSHA256(srv.HostKey.PublicKey())}
	}
	dial := func(t *testing.T, o DialOptions) ConnInfo {
		t.Helper()
		c, err := dialT(t, o)
		if err != nil {
			t.Fatal(err)
		}
		return c.Info()
	}

	t.Run("file-key", func(t *testing.T) {
		privA, a := newEd25519(t)
		privB, b := newEd25519(t)
		srv := minisshd.Start(t, minisshd.Options{Authorized: []ssh.PublicKey{b.PublicKey()}})
		h := hostFor(t, srv)
		dir := t.TempDir()
		pathA, pathB := filepath.Join(dir, "id_a"), filepath.Join(dir, "id_b")
		writeKey(t, pathA, privA, "", false)
		writeKey(t, pathB, privB, "", false)
		h.IdentityFiles = []string{pathA, pathB}
		want := ConnInfo{HostKey: known(srv), Auth: AuthInfo{Method: "publickey",
			Key: pathB + " ED25519 " + ssh.FingerprintSHA256(b.PublicKey())}}
		if got := dial(t, DialOptions{Host: h}); got != want {
			t.Errorf("Info() = %+v, want %+v (key a is %s)", got, want, ssh.FingerprintSHA256(a.PublicKey()))
		}
	})

	t.Run("agent-key", func(t *testing.T) {
		privA, _ := newEd25519(t)
		privB, b := newEd25519(t)
		sock := startAgent(t, agent.AddedKey{PrivateKey: privA, Comment: "key-a"}, agent.AddedKey{PrivateKey: privB, Comment: "key-b"})
		srv := minisshd.Start(t, minisshd.Options{Authorized: []ssh.PublicKey{b.PublicKey()}})
		h := hostFor(t, srv)
		h.IdentityAgent = sock
		want := ConnInfo{HostKey: known(srv), Auth: AuthInfo{Method: "publickey",
			Key: "agent: key-b ED25519 " + ssh.FingerprintSHA256(b.PublicKey())}}
		if got := dial(t, DialOptions{Host: h}); got != want {
			t.Errorf("Info() = %+v, want %+v", got, want)
		}
	})

	t.Run("password", func(t *testing.T) {
		_, other := newEd25519(t)
		srv := minisshd.Start(t, minisshd.Options{Authorized: []ssh.PublicKey{other.PublicKey()}, Password: "hunter2"})
		h := hostFor(t, srv)
		withKey(t, h) // refused, before the interactive methods
		// keyboard-interactive comes first; after three wrong answers, password.
		for _, tc := range []struct {
			secrets []string
			method  string
		}{
			{[]string{"hunter2"}, "keyboard-interactive"},
			{[]string{"wrong1", "wrong2", "wrong3", "hunter2"}, "password"},
		} {
			want := ConnInfo{HostKey: known(srv), Auth: AuthInfo{Method: tc.method}}
			if got := dial(t, DialOptions{Host: h, Prompt: &fakePrompter{secrets: tc.secrets}}); got != want {
				t.Errorf("answers %q: Info() = %+v, want %+v", tc.secrets, got, want)
			}
		}
	})

	t.Run("host-key-added", func(t *testing.T) {
		srv, h := unknownHost(t)
		h.StrictHostKeyChecking = "accept-new"
		hk := known(srv)
		hk.Added, hk.File = true, h.UserKnownHostsFiles[0]
		if got := dial(t, DialOptions{Host: h}).HostKey; got != hk {
			t.Errorf("Info().HostKey = %+v, want %+v", got, hk)
		}
		// The next time it is found there.
		h.StrictHostKeyChecking = "yes"
		if got := dial(t, DialOptions{Host: h}).HostKey; got != known(srv) {
			t.Errorf("second dial: Info().HostKey = %+v, want %+v", got, known(srv))
		}
	})

	// A jump host's key and login do not show: Info describes the target.
	t.Run("jump-host", func(t *testing.T) {
		jump := minisshd.Start(t, minisshd.Options{Password: "hunter2", Dial: func(_ string, port int) (net.Conn, error) {
			return net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		}})
		target := minisshd.Start(t, minisshd.Options{})
		jh := hostFor(t, jump)
		jh.Alias = "jump"
		jh.StrictHostKeyChecking = "accept-new"
		jh.UserKnownHostsFiles = []string{filepath.Join(t.TempDir(), "known_hosts")}
		h := hostFor(t, target)
		pub := withKey(t, h)
		h.ProxyJump = "jump"
		resolve := func(string) (*sshconfig.Host, error) { return jh, nil }
		want := ConnInfo{HostKey: known(target), Auth: AuthInfo{Method: "publickey",
			Key: h.IdentityFiles[0] + " ED25519 " + ssh.FingerprintSHA256(pub)}}
		if got := dial(t, DialOptions{Host: h, Resolve: resolve, Prompt: &fakePrompter{secrets: []string{"hunter2"}}}); got != want {
			t.Errorf("Info() = %+v, want %+v", got, want)
		}
	})
}
