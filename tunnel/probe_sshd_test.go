package tunnel

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// Against a real OpenSSH sshd (when present and we are root): AllowTcpForwarding
// no answers "administratively prohibited", and the relays reach a local server.
func TestRealSSHDProhibitedAndRelay(t *testing.T) {
	if os.Getuid() != 0 || testing.Short() {
		t.Skip("needs root")
	}
	if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
		t.Skip("no sshd")
	}
	dir := t.TempDir()
	for _, k := range []string{"host", "user"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatal(err, string(out))
		}
	}
	pub, _ := os.ReadFile(filepath.Join(dir, "user.pub"))
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)
	port := relayClosedPort(t)
	cfg := fmt.Sprintf("Port %d\nListenAddress 127.0.0.1\nHostKey %s/host\nAuthorizedKeysFile %s/authorized_keys\nPidFile none\nStrictModes no\nUsePAM no\nPermitRootLogin yes\nAllowTcpForwarding no\n"+
		// As internal/e2e's sshd: a pyenv lock left by a killed root session must not stall this one.
		"SetEnv PYENV_REHASH_TIMEOUT=0\n", port, dir, dir)
	os.WriteFile(filepath.Join(dir, "sshd_config"), []byte(cfg), 0o600)
	os.MkdirAll("/run/sshd", 0o755)
	cmd := exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", filepath.Join(dir, "sshd_config"))
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	keyPEM, _ := os.ReadFile(filepath.Join(dir, "user"))
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	var sc *ssh.Client
	for i := 0; i < 50; i++ {
		sc, err = ssh.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port), &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()})
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(sc)
	defer c.Close()
	st, err := c.ProbeForwarding(context.Background())
	if st != ForwardProhibited {
		t.Fatalf("probe: %v, %v", st, err)
	}
	r, err := c.FindRelay(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	target := relayTarget(t, "line")
	for _, kind := range r.available {
		rk, _ := r.with(kind)
		f, err := c.forward(context.Background(), ForwardOptions{dial: func(ctx context.Context) (net.Conn, error) { return rk.dial(ctx, target) }})
		if err != nil {
			t.Fatal(err)
		}
		conn, _ := net.Dial("tcp", f.addrs[0].String())
		io.WriteString(conn, "real\n")
		start := time.Now()
		if kind == RelayNC {
			conn.(*net.TCPConn).CloseWrite()
		}
		got := readAllTimeout(t, conn)
		t.Logf("%s: %q after %v", kind, got, time.Since(start))
		if got != "echo:real\n" {
			t.Errorf("%s: got %q", kind, got)
		}
		conn.Close()
		f.Close()
	}
}
