package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// TestHostKnownByOtherKeyType: the real sshd offers ed25519, RSA and ECDSA
// host keys and known_hosts records only the ECDSA one. Without
// HostKeyAlgorithms in the configuration kfwd, like ssh, asks the server for
// the recorded type first and verifies the host with it, instead of
// negotiating ed25519 and calling the host unknown (issue 9).
func TestHostKnownByOtherKeyType(t *testing.T) {
	t.Parallel()
	ecdsaKey := filepath.Join(t.TempDir(), "ssh_host_ecdsa_key")
	if err := keygen(ecdsaKey, "-t", "ecdsa", "-b", "256"); err != nil {
		t.Fatal(err)
	}
	tools := BuildKfwd(t)
	env := Setup(t, SSHDOptions{Extra: []string{"HostKey " + ecdsaKey}})
	pub := readPublicKey(t, ecdsaKey+".pub")
	kh := knownhosts.Line([]string{knownhosts.Normalize(env.SSHD.Addr)}, pub) + "\n"
	cfg := env.SSHConfig(t, "srv", ClientConfig{KnownHosts: &kh, StrictHostKeyChecking: "yes"})

	r := Run(env.KfwdCommand(t.Context(), tools, "doctor", "-F", cfg, "srv"))
	if !strings.Contains(r.Stdout, "✓ host key") || !strings.Contains(r.Stdout, ssh.FingerprintSHA256(pub)) {
		t.Fatalf("host known by its ECDSA key not verified with it:\n%s\nsshd log:\n%s", r, env.SSHD.Log())
	}
	if !strings.Contains(r.Stdout, "✓ auth") {
		t.Errorf("no login after the host key check:\n%s", r)
	}

	// A configured HostKeyAlgorithms is used as it is: ed25519 is then
	// negotiated and unknown, as with ssh.
	cfg = env.SSHConfig(t, "srv", ClientConfig{KnownHosts: &kh, StrictHostKeyChecking: "yes", Extra: []string{"HostKeyAlgorithms ssh-ed25519"}})
	r = Run(env.KfwdCommand(t.Context(), tools, "doctor", "-F", cfg, "srv"))
	if r.ExitCode == 0 || !strings.Contains(r.Output(), "unknown") {
		t.Errorf("HostKeyAlgorithms ssh-ed25519 with only an ECDSA key known: want an unknown host key:\n%s", r)
	}
}
