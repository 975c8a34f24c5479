package tunnel

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/minisshd"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

func TestEncryptedKeyPassphrase(t *testing.T) {
	priv, s := newEd25519(t)
	for _, tc := range []struct {
		name    string
		answers []string
		ok      bool
		asked   int
	}{
		{"right", []string{"sesame"}, true, 1},
		{"wrong-then-right", []string{"nope-pass-1", "sesame"}, true, 2},
		{"wrong-three-times", []string{"wrong-pass-1", "wrong-pass-2", "wrong-pass-3", "sesame"}, false, 3},
		{"empty-skips-key", []string{""}, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := minisshd.Start(t, minisshd.Options{Authorized: []ssh.PublicKey{s.PublicKey()}})
			h := hostFor(t, srv)
			path := filepath.Join(t.TempDir(), "id_ed25519")
			writeKey(t, path, priv, "sesame", false)
			h.IdentityFiles = []string{path}
			p := &fakePrompter{secrets: tc.answers}
			l := &logBuf{}
			c, err := dialT(t, DialOptions{Host: h, Prompt: p, Logf: l.logf})
			if tc.ok && err != nil {
				t.Fatal(err)
			}
			if tc.ok {
				mustRun(t, c)
			}
			if !tc.ok {
				var ae *AuthError
				if !errors.As(err, &ae) {
					t.Fatalf("got %v, want an AuthError", err)
				}
				if tc.asked == 3 && !errors.Is(err, ErrBadPassphrase) {
					t.Errorf("got %v, want ErrBadPassphrase", err)
				}
			}
			prompts := p.seen()
			if len(prompts) != tc.asked {
				t.Fatalf("asked %d times (%q), want %d", len(prompts), prompts, tc.asked)
			}
			if want := "Enter passphrase for key '" + path + "': "; prompts[0] != want {
				t.Errorf("prompt %q, want %q", prompts[0], want)
			}
			for _, a := range tc.answers {
				if a != "" && (l.has(a) || (err != nil && strings.Contains(err.Error(), a))) {
					t.Errorf("passphrase %q leaked into log or error", a)
				}
			}
		})
	}
}

// A key the server would refuse is never decrypted: no prompt.
func TestEncryptedKeyNotAskedWhenRefused(t *testing.T) {
	priv, _ := newEd25519(t)
	_, other := newEd25519(t)
	srv := minisshd.Start(t, minisshd.Options{Authorized: []ssh.PublicKey{other.PublicKey()}})
	h := hostFor(t, srv)
	dir := t.TempDir()
	withPub := filepath.Join(dir, "with_pub")
	writeKey(t, withPub, priv, "sesame", true)
	noPub := filepath.Join(dir, "no_pub") // OpenSSH format keeps the public key in clear
	writeKey(t, noPub, priv, "sesame", false)
	for _, path := range []string{withPub, noPub} {
		h.IdentityFiles = []string{path}
		p := &fakePrompter{secrets: []string{"sesame"}}
		_, err := dialT(t, DialOptions{Host: h, Prompt: p})
		var ae *AuthError
		if !errors.As(err, &ae) {
			t.Fatalf("%s: got %v, want an AuthError", path, err)
		}
		if n := len(p.seen()); n != 0 {
			t.Errorf("%s: asked for a passphrase %d times for a key the server refuses", path, n)
		}
	}
}

// Legacy encrypted PEM keys (no public half in clear, no .pub) are decrypted
// when their turn comes.
func TestEncryptedLegacyPEM(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	//lint:ignore SA1019 legacy PEM encryption is what old key files use
	block, err := x509.EncryptPEMBlock(rand.Reader, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key), []byte("sesame"), x509.PEMCipherAES128) //nolint:staticcheck
	if err != nil {
		t.Fatal(err)
	}
	srv := minisshd.Start(t, minisshd.Options{Authorized: []ssh.PublicKey{signerOf(t, key).PublicKey()}})
	h := hostFor(t, srv)
	path := filepath.Join(t.TempDir(), "legacy.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	h.IdentityFiles = []string{path}
	p := &fakePrompter{secrets: []string{"wrong", "sesame"}}
	c, err := dialT(t, DialOptions{Host: h, Prompt: p})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, c)
}

func TestBatchModeNeverPrompts(t *testing.T) {
	priv, s := newEd25519(t)
	srv := minisshd.Start(t, minisshd.Options{Authorized: []ssh.PublicKey{s.PublicKey()}, Password: "pw"})
	h := hostFor(t, srv)
	path := filepath.Join(t.TempDir(), "id_ed25519")
	writeKey(t, path, priv, "sesame", false)
	h.IdentityFiles = []string{path}
	h.BatchMode = true
	p := &fakePrompter{secrets: []string{"sesame", "pw"}}
	_, err := dialT(t, DialOptions{Host: h, Prompt: p})
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want an AuthError", err)
	}
	if n := len(p.seen()); n != 0 {
		t.Errorf("prompted %d times in BatchMode", n)
	}
}

func TestMissingIdentityFiles(t *testing.T) {
	_, other := newEd25519(t)
	srv := minisshd.Start(t, minisshd.Options{Authorized: []ssh.PublicKey{other.PublicKey()}})
	h := hostFor(t, srv)
	home := t.TempDir()
	explicit := filepath.Join(home, "work", "key.pem")
	h.IdentityFiles = []string{filepath.Join(home, ".ssh", "id_ed25519"), explicit}
	l := &logBuf{}
	_, err := dialT(t, DialOptions{Host: h, Logf: l.logf})
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want an AuthError", err)
	}
	if l.has("id_ed25519") {
		t.Errorf("warned about a missing default identity:\n%s", l)
	}
	if !l.has("warning: identity file " + explicit) {
		t.Errorf("no warning about the missing explicit identity:\n%s", l)
	}
}

// startAgent serves a keyring holding keys on a unix socket.
func startAgent(t *testing.T, keys ...agent.AddedKey) string {
	t.Helper()
	kr := agent.NewKeyring()
	for _, k := range keys {
		if err := kr.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				agent.ServeAgent(kr, c)
				c.Close()
			}()
		}
	}()
	return sock
}

func TestAgent(t *testing.T) {
	privA, a := newEd25519(t)
	privB, b := newEd25519(t)
	sock := startAgent(t, agent.AddedKey{PrivateKey: privA, Comment: "key-a"}, agent.AddedKey{PrivateKey: privB, Comment: "key-b"})
	srv := minisshd.Start(t, minisshd.Options{Authorized: []ssh.PublicKey{b.PublicKey()}})

	t.Run("any-agent-key", func(t *testing.T) {
		h := hostFor(t, srv)
		h.IdentityAgent = sock
		l := &logBuf{}
		c, err := dialT(t, DialOptions{Host: h, Logf: l.logf})
		if err != nil {
			t.Fatal(err)
		}
		mustRun(t, c)
		if !l.has("server refused key agent: key-a ED25519 " + ssh.FingerprintSHA256(a.PublicKey())) {
			t.Errorf("refusal of key-a not logged:\n%s", l)
		}
	})
	t.Run("SSH_AUTH_SOCK", func(t *testing.T) {
		t.Setenv("SSH_AUTH_SOCK", sock)
		h := hostFor(t, srv)
		h.IdentityAgent = ""
		if _, err := dialT(t, DialOptions{Host: h}); err != nil {
			t.Fatal(err)
		}
		h.IdentityAgent = "none"
		if _, err := dialT(t, DialOptions{Host: h}); err == nil {
			t.Fatal("IdentityAgent none still used the agent")
		}
	})
	t.Run("IdentitiesOnly", func(t *testing.T) {
		h := hostFor(t, srv)
		h.IdentityAgent = sock
		h.IdentitiesOnly = true
		// Only key-a's public half is configured: key-b stays in the agent.
		pubA := filepath.Join(t.TempDir(), "id_a")
		writePub(t, pubA+".pub", a.PublicKey())
		h.IdentityFiles = []string{pubA}
		_, err := dialT(t, DialOptions{Host: h})
		var ae *AuthError
		if !errors.As(err, &ae) {
			t.Fatalf("got %v, want an AuthError", err)
		}
		if len(ae.Offered) != 1 || !strings.Contains(ae.Offered[0], ssh.FingerprintSHA256(a.PublicKey())) {
			t.Errorf("offered %q, want only key-a", ae.Offered)
		}
		// Configured by its private key file, key-b is picked from the agent.
		pathB := filepath.Join(t.TempDir(), "id_b")
		writeKey(t, pathB, privB, "", false)
		h.IdentityFiles = []string{pathB}
		l := &logBuf{}
		c, err := dialT(t, DialOptions{Host: h, Logf: l.logf})
		if err != nil {
			t.Fatal(err)
		}
		mustRun(t, c)
		if !l.has("offering public key agent: key-b") || l.has("key-a") {
			t.Errorf("want only the agent's key-b offered:\n%s", l)
		}
	})
}

func TestCertificates(t *testing.T) {
	_, ca := newEd25519(t)
	priv, s := newEd25519(t)
	cert := &ssh.Certificate{
		Key: s.PublicKey(), CertType: ssh.UserCert, KeyId: "alice", ValidPrincipals: []string{"alice"},
		ValidBefore: uint64(time.Now().Add(time.Hour).Unix()),
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	checker := &ssh.CertChecker{IsUserAuthority: func(auth ssh.PublicKey) bool {
		return string(auth.Marshal()) == string(ca.PublicKey().Marshal())
	}}
	srv := minisshd.Start(t, minisshd.Options{CertChecker: checker})

	dir := t.TempDir()
	path := filepath.Join(dir, "id_ed25519")
	writeKey(t, path, priv, "", false)
	h := hostFor(t, srv)
	h.IdentityFiles = []string{path}
	if _, err := dialT(t, DialOptions{Host: h}); err == nil {
		t.Fatal("plain key accepted by a certificate-only server")
	}

	writePub(t, path+"-cert.pub", cert)
	l := &logBuf{}
	c, err := dialT(t, DialOptions{Host: h, Logf: l.logf})
	if err != nil {
		t.Fatalf("with %s-cert.pub: %v", path, err)
	}
	mustRun(t, c)
	if !l.has("ED25519-CERT") {
		t.Errorf("certificate offer not logged:\n%s", l)
	}
	os.Remove(path + "-cert.pub")

	certFile := filepath.Join(dir, "elsewhere.cert")
	writePub(t, certFile, cert)
	h.CertificateFiles = []string{certFile}
	if _, err := dialT(t, DialOptions{Host: h}); err != nil {
		t.Fatalf("with CertificateFile: %v", err)
	}

	// A certificate for an agent key.
	sock := startAgent(t, agent.AddedKey{PrivateKey: priv, Comment: "agent-key"})
	h.IdentityFiles, h.IdentityAgent = nil, sock
	if _, err := dialT(t, DialOptions{Host: h}); err != nil {
		t.Fatalf("agent key with CertificateFile: %v", err)
	}
}

func TestPasswordAndKeyboardInteractive(t *testing.T) {
	_, other := newEd25519(t)
	srv := minisshd.Start(t, minisshd.Options{Authorized: []ssh.PublicKey{other.PublicKey()}, Password: "hunter2"})
	h := hostFor(t, srv)
	p := &fakePrompter{secrets: []string{"wrong", "hunter2"}}
	c, err := dialT(t, DialOptions{Host: h, Prompt: p})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, c)
	if prompts := p.seen(); len(prompts) != 2 || !strings.Contains(prompts[0], "Password") {
		t.Errorf("prompts %q", prompts)
	}

	// Without a prompter nothing interactive is tried.
	if _, err := dialT(t, DialOptions{Host: h}); err == nil {
		t.Fatal("connected without a password")
	}
}

func TestChoosePrompter(t *testing.T) {
	term := &fakePrompter{}
	for _, tc := range []struct {
		name    string
		term    Prompter
		env     map[string]string
		askpass bool
	}{
		{"terminal", term, map[string]string{"SSH_ASKPASS": "/x", "DISPLAY": ":0"}, false},
		{"no-terminal-display", nil, map[string]string{"SSH_ASKPASS": "/x", "DISPLAY": ":0"}, true},
		{"no-terminal-no-display", nil, map[string]string{"SSH_ASKPASS": "/x"}, false},
		{"force", term, map[string]string{"SSH_ASKPASS": "/x", "SSH_ASKPASS_REQUIRE": "force"}, true},
		{"prefer-display", term, map[string]string{"SSH_ASKPASS": "/x", "SSH_ASKPASS_REQUIRE": "prefer", "WAYLAND_DISPLAY": "w"}, true},
		{"prefer-no-display", term, map[string]string{"SSH_ASKPASS": "/x", "SSH_ASKPASS_REQUIRE": "prefer"}, false},
		{"never", nil, map[string]string{"SSH_ASKPASS": "/x", "DISPLAY": ":0", "SSH_ASKPASS_REQUIRE": "never"}, false},
		{"force-no-program", term, map[string]string{"SSH_ASKPASS_REQUIRE": "force"}, false},
	} {
		got := ChoosePrompter(context.Background(), tc.term, func(k string) string { return tc.env[k] })
		_, isAskpass := got.(askpassPrompter)
		if isAskpass != tc.askpass {
			t.Errorf("%s: got %#v, askpass want %v", tc.name, got, tc.askpass)
		}
		if !tc.askpass && got != tc.term {
			t.Errorf("%s: got %#v, want the terminal prompter", tc.name, got)
		}
	}
}

func TestAskpassPrompter(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "askpass")
	writeFile(t, script, "#!/bin/sh", `printf '%s\n' "$1" > "$(dirname "$0")/prompt"`, `echo "answer-${SSH_ASKPASS_PROMPT:-secret}"`)
	os.Chmod(script, 0o755)
	p := askpassPrompter{Program: script}
	got, err := p.Secret("Enter passphrase for key 'k': ")
	if err != nil || string(got) != "answer-secret" {
		t.Fatalf("Secret = %q, %v", got, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "prompt"))
	if string(b) != "Enter passphrase for key 'k': \n" {
		t.Errorf("askpass got prompt %q", b)
	}
	ans, err := p.Ask("continue?")
	if err != nil || ans != "answer-secret" {
		t.Fatalf("Ask = %q, %v", ans, err)
	}
	if _, err := (askpassPrompter{Program: filepath.Join(dir, "missing")}).Secret("x"); err == nil {
		t.Fatal("missing askpass program did not fail")
	}
}

// TestAskpassInterrupted: Ctrl-C or --timeout (ctx's end) ends an askpass
// question at once with ctx's cause, and the program is killed.
func TestAskpassInterrupted(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "askpass")
	pidFile := filepath.Join(dir, "pid")
	writeFile(t, script, "#!/bin/sh", `echo $$ > "`+pidFile+`"`, "exec sleep 60")
	os.Chmod(script, 0o755)
	interrupted := errors.New("interrupted")
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		for {
			if _, err := os.Stat(pidFile); err == nil {
				cancel(interrupted)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	p := ChoosePrompter(ctx, nil, func(k string) string {
		return map[string]string{"SSH_ASKPASS": script, "SSH_ASKPASS_REQUIRE": "force"}[k]
	})
	if _, err := p.Secret("Enter passphrase: "); !errors.Is(err, interrupted) {
		t.Fatalf("Secret = %v, want the context's cause", err)
	}
	b, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if pid <= 0 || syscall.Kill(pid, 0) == nil {
		t.Errorf("the askpass program (pid %d) still runs", pid)
	}
}
