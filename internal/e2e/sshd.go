package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/testutil"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHDOptions configure StartSSHD.
type SSHDOptions struct {
	// ExtraListen adds ListenAddress entries (host:port, inside the namespace), e.g. "127.0.0.1:2222"
	// for a target reachable only through this sshd as a jump host.
	ExtraListen []string
	// AllowTCPForwarding is the AllowTcpForwarding value; "" means "yes".
	AllowTCPForwarding string
	// TrustedUserCAKeys and RevokedKeys are file paths for the keywords of the same name.
	TrustedUserCAKeys string
	RevokedKeys       string
	// AuthorizedKeys are extra authorized_keys lines (the generated client keys are always there).
	AuthorizedKeys []string
	// Extra are appended to sshd_config verbatim.
	Extra []string
	// MountCgroups mounts the cgroup hierarchies in sshd's mount namespace, which `ip netns exec`
	// leaves without them, so that podman run in its sessions works.
	MountCgroups bool
	// ProcMount, when set, gives sshd (and so every session) its own /proc,
	// mounted with these options in sshd's mount namespace: "subset=pid"
	// hides /proc/net as a hardened host does (systemd's ProcSubset=pid).
	ProcMount string
	// LoginShell, when set, is root's login shell for this sshd: `ip netns exec` bind-mounts
	// /etc/netns/NAME/passwd over /etc/passwd for the processes it starts, so only this sshd sees it.
	LoginShell string
}

// SSHD is a real OpenSSH server running in a test namespace.
type SSHD struct {
	NS   *Netns
	Dir  string // config, keys and logs
	Host string // NSIP
	Port int    // 22
	Addr string // Host:Port

	HostKeys []ssh.PublicKey // ed25519, rsa
	// HostKeyFiles are the private host key files (ed25519, rsa), e.g. for building a second sshd that
	// shares identity.
	HostKeyFiles []string

	ClientKey       string // ed25519 private key file (OpenSSH format, no passphrase)
	ClientPublicKey string // its authorized_keys line
	RSAKey          string // RSA private key file in PEM ("BEGIN RSA PRIVATE KEY"), as EC2 hands out
	RSAPublicKey    string

	// KnownHosts is known_hosts content naming Addr with every host key.
	KnownHosts string

	ConfigFile         string
	AuthorizedKeysFile string

	cmd  *exec.Cmd
	log  *syncBuffer
	done chan struct{}
}

// StartSSHD runs /usr/sbin/sshd -D -e -f CONFIG inside ns, listening on ns.NSIP:22, and waits until it
// accepts connections. t.Cleanup stops it.
func StartSSHD(t testing.TB, ns *Netns, opts SSHDOptions) *SSHD {
	t.Helper()
	dir := t.TempDir()
	s := &SSHD{NS: ns, Dir: dir, Host: ns.NSIP, Port: 22}
	s.Addr = net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation directory
		t.Fatalf("creating /run/sshd: %v", err)
	}

	keys := []struct {
		file string
		args []string
	}{
		{"ssh_host_ed25519_key", []string{"-t", "ed25519"}},
		{"ssh_host_rsa_key", []string{"-t", "rsa", "-b", "2048"}},
		{"id_ed25519", []string{"-t", "ed25519"}},
		{"id_rsa_pem", []string{"-t", "rsa", "-b", "2048", "-m", "PEM"}},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(keys))
	for i, k := range keys {
		wg.Go(func() { errs[i] = keygen(filepath.Join(dir, k.file), k.args...) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"ssh_host_ed25519_key", "ssh_host_rsa_key"} {
		p := filepath.Join(dir, f)
		s.HostKeyFiles = append(s.HostKeyFiles, p)
		s.HostKeys = append(s.HostKeys, readPublicKey(t, p+".pub"))
	}
	s.ClientKey = filepath.Join(dir, "id_ed25519")
	s.ClientPublicKey = readFileLine(t, s.ClientKey+".pub")
	s.RSAKey = filepath.Join(dir, "id_rsa_pem")
	s.RSAPublicKey = readFileLine(t, s.RSAKey+".pub")
	s.KnownHosts = s.KnownHostsFor(s.Addr)

	s.AuthorizedKeysFile = filepath.Join(dir, "authorized_keys")
	authorized := append([]string{s.ClientPublicKey, s.RSAPublicKey}, opts.AuthorizedKeys...)
	writeFile(t, s.AuthorizedKeysFile, strings.Join(authorized, "\n")+"\n")

	forwarding := opts.AllowTCPForwarding
	if forwarding == "" {
		forwarding = "yes"
	}
	cfg := []string{
		"ListenAddress " + s.Addr,
	}
	for _, a := range opts.ExtraListen {
		cfg = append(cfg, "ListenAddress "+a)
	}
	cfg = append(cfg,
		"HostKey "+s.HostKeyFiles[0],
		"HostKey "+s.HostKeyFiles[1],
		"PidFile "+filepath.Join(dir, "sshd.pid"),
		"AuthorizedKeysFile "+s.AuthorizedKeysFile,
		"StrictModes no",
		"PermitRootLogin yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"UseDNS no",
		"PrintMotd no",
		"PrintLastLog no",
		"AllowTcpForwarding "+forwarding,
		"LogLevel VERBOSE",
	)
	if opts.TrustedUserCAKeys != "" {
		cfg = append(cfg, "TrustedUserCAKeys "+opts.TrustedUserCAKeys)
	}
	if opts.RevokedKeys != "" {
		cfg = append(cfg, "RevokedKeys "+opts.RevokedKeys)
	}
	cfg = append(cfg, withSessionEnv(opts.Extra)...)
	s.ConfigFile = filepath.Join(dir, "sshd_config")
	writeFile(t, s.ConfigFile, strings.Join(cfg, "\n")+"\n")

	if opts.LoginShell != "" {
		setLoginShell(t, ns, opts.LoginShell)
	}
	s.log = &syncBuffer{}
	s.cmd = ns.Command(context.Background(), SSHDPath, "-D", "-e", "-f", s.ConfigFile)
	// ip netns exec runs each command in a mount namespace of its own: what
	// these mount is sshd's alone.
	var prelude []string
	if opts.MountCgroups {
		script, err := cgroupMountScript()
		if err != nil {
			t.Fatal(err)
		}
		prelude = append(prelude, script)
	}
	if opts.ProcMount != "" {
		prelude = append(prelude, "mount -t proc -o "+opts.ProcMount+" proc /proc")
	}
	if len(prelude) > 0 {
		s.cmd = ns.Command(context.Background(), "sh", "-c", strings.Join(prelude, " && ")+` && exec "$0" "$@"`, SSHDPath, "-D", "-e", "-f", s.ConfigFile)
	}
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// Session processes inherit sshd's stderr (-e) and may outlive it; do not wait for them.
	s.cmd.WaitDelay = time.Second
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }() //nolint:errcheck // reported through the log
	t.Cleanup(s.stop)

	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-s.done:
			t.Fatalf("sshd exited: %v\n%s", s.cmd.ProcessState, s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen on %s: %v\n%s", s.Addr, err, s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

func (s *SSHD) stop() {
	s.cmd.Process.Kill() //nolint:errcheck // may have exited
	<-s.done
}

// Log returns what sshd wrote so far (useful in failure messages).
func (s *SSHD) Log() string { return s.log.String() }

// KnownHostsFor returns known_hosts lines naming hostport (e.g. a Relay's "127.0.0.1:PORT") with
// every host key of the server.
func (s *SSHD) KnownHostsFor(hostport string) string {
	var b strings.Builder
	for _, k := range s.HostKeys {
		b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(hostport)}, k) + "\n")
	}
	return b.String()
}

// ClientConfig describes a Host block written by SSHConfig.
type ClientConfig struct {
	HostName string // default the sshd's address
	Port     int    // default 22
	User     string // default root
	// IdentityFile defaults to the ed25519 client key.
	IdentityFile   string
	IdentitiesOnly bool
	// KnownHosts is the content of the UserKnownHostsFile; nil means the server's KnownHosts.
	KnownHosts *string
	// KnownHostsFile, when set, is used as is instead of writing KnownHosts.
	KnownHostsFile string
	// StrictHostKeyChecking defaults to "yes".
	StrictHostKeyChecking string
	// IdentityAgent is the IdentityAgent value; "" means "none" (no agent). NoIdentityAgent leaves
	// the keyword out, so that $SSH_AUTH_SOCK applies.
	IdentityAgent   string
	NoIdentityAgent bool
	// Extra lines go into the Host block.
	Extra []string
}

// SSHConfig writes an ssh_config file with a Host block for alias pointing at the server and returns
// its path. The block uses only this test's files: IdentityAgent none (unless c says otherwise),
// GlobalKnownHostsFile /dev/null.
func (s *SSHD) SSHConfig(t testing.TB, alias string, c ClientConfig) string {
	t.Helper()
	dir := t.TempDir()
	if c.HostName == "" {
		c.HostName = s.Host
	}
	if c.Port == 0 {
		c.Port = s.Port
	}
	if c.User == "" {
		c.User = "root"
	}
	if c.IdentityFile == "" {
		c.IdentityFile = s.ClientKey
	}
	if c.StrictHostKeyChecking == "" {
		c.StrictHostKeyChecking = "yes"
	}
	kh := c.KnownHostsFile
	if kh == "" {
		kh = filepath.Join(dir, "known_hosts")
		content := s.KnownHosts
		if c.KnownHosts != nil {
			content = *c.KnownHosts
		}
		writeFile(t, kh, content)
	}
	agent := c.IdentityAgent
	if agent == "" {
		agent = "none"
	}
	lines := []string{
		"Host " + alias,
		"  HostName " + c.HostName,
		"  Port " + strconv.Itoa(c.Port),
		"  User " + c.User,
		"  IdentityFile " + c.IdentityFile,
	}
	if !c.NoIdentityAgent {
		lines = append(lines, "  IdentityAgent "+agent)
	}
	lines = append(lines,
		"  UserKnownHostsFile "+kh,
		"  GlobalKnownHostsFile /dev/null",
		"  StrictHostKeyChecking "+c.StrictHostKeyChecking,
		"  BatchMode yes",
	)
	if c.IdentitiesOnly {
		lines = append(lines, "  IdentitiesOnly yes")
	}
	for _, e := range c.Extra {
		lines = append(lines, "  "+e)
	}
	p := filepath.Join(dir, "ssh_config")
	writeFile(t, p, strings.Join(lines, "\n")+"\n")
	return p
}

func keygen(path string, args ...string) error {
	args = append(args, "-q", "-N", "", "-C", "kfwd-e2e", "-f", path)
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ssh-keygen %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func readPublicKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return k
}

func readFileLine(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is the package's name for testutil.SyncBuffer, used by the other files here.
type syncBuffer = testutil.SyncBuffer

// sessionEnv is set in every session of a test sshd. The machines' root
// .bashrc runs `pyenv init`, whose `pyenv rehash` takes a lock file in the
// shared shims directory and waits up to 60 s for it; a session killed at test
// teardown mid-rehash leaves that lock behind, and then every later root
// session of every test stalls a minute. PYENV_REHASH_TIMEOUT=0 makes rehash
// give up at once instead (it is not needed for anything a test runs).
const sessionEnv = "PYENV_REHASH_TIMEOUT=0"

// withSessionEnv adds sessionEnv to extra's SetEnv line, or adds one: sshd
// uses only the first SetEnv line of its configuration, so a test's own
// SetEnv and this one must share it.
func withSessionEnv(extra []string) []string {
	out := make([]string, 0, len(extra)+1)
	merged := false
	for _, l := range extra {
		if f := strings.Fields(l); !merged && len(f) > 0 && strings.EqualFold(f[0], "SetEnv") {
			l += " " + sessionEnv
			merged = true
		}
		out = append(out, l)
	}
	if !merged {
		out = append(out, "SetEnv "+sessionEnv)
	}
	return out
}

// setLoginShell writes /etc/netns/NAME/passwd: /etc/passwd with root's shell replaced.
func setLoginShell(t testing.TB, ns *Netns, shell string) {
	t.Helper()
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if f := strings.Split(l, ":"); len(f) == 7 && f[0] == "root" {
			f[6] = shell
			lines[i] = strings.Join(f, ":")
		}
	}
	dir := filepath.Join("/etc/netns", ns.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "passwd"), []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}
