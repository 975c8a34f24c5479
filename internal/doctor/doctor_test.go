package doctor

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/kfwd/kfwd/internal/minisshd"
	"github.com/kfwd/kfwd/sshconfig"
	"github.com/kfwd/kfwd/tunnel"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// remote is a minisshd "remote host" whose commands run with /bin/sh and a
// PATH holding only bin (with sh in it), so the test decides which programs
// the remote has.
type remote struct {
	srv  *minisshd.Server
	bin  string
	host *sshconfig.Host
}

func startRemote(t *testing.T, opts minisshd.Options) *remote {
	t.Helper()
	bin := t.TempDir()
	if err := os.Symlink("/bin/sh", filepath.Join(bin, "sh")); err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clientPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Authorized == nil {
		opts.Authorized = []ssh.PublicKey{clientPub}
	}
	opts.Exec = minisshd.Shell("PATH=" + bin)
	srv := minisshd.Start(t, opts)

	dir := t.TempDir()
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "id_ed25519")
	writeFile(t, key, string(pem.EncodeToMemory(block)), 0o600)
	kh := filepath.Join(dir, "known_hosts")
	writeFile(t, kh, knownhosts.Line([]string{knownhosts.Normalize(srv.Addr)}, srv.HostKey.PublicKey())+"\n", 0o600)
	return &remote{srv: srv, bin: bin, host: &sshconfig.Host{
		Alias: "target", HostName: "127.0.0.1", Port: srv.Port(), User: "alice",
		IdentityFiles: []string{key}, IdentitiesOnly: true, IdentityAgent: "none",
		UserKnownHostsFiles:   []string{kh},
		GlobalKnownHostsFiles: []string{filepath.Join(dir, "no_such_global")},
		StrictHostKeyChecking: "yes",
	}}
}

// program installs an executable script on the remote.
func (r *remote) program(t *testing.T, name, script string) {
	t.Helper()
	writeFile(t, filepath.Join(r.bin, name), "#!/bin/sh\n"+script+"\n", 0o755)
}

func writeFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

// hintFor is the test's stand-in for kfwd's table of hints: it names the
// error's type, so a test sees which error reached it.
func hintFor(err error) []string {
	var hk *tunnel.HostKeyError
	var ae *tunnel.AuthError
	var nr *tunnel.NoRouteError
	var ce *tunnel.ContainerError
	switch {
	case errors.As(err, &ce):
		return []string{"container hint"}
	case errors.As(err, &hk):
		return []string{"host key hint"}
	case errors.As(err, &ae):
		return []string{"auth hint", "second"}
	case errors.As(err, &nr):
		return []string{"no route hint"}
	}
	return nil
}

// doctorRun runs the checks against r's host, dialing it for real, and
// returns the checks (in order) and the result.
func doctorRun(t *testing.T, h *sshconfig.Host, cli string) ([]Check, Result) {
	t.Helper()
	return doctorRunIn(t, h, nil, cli)
}

// doctorRunIn is doctorRun for a container on the host.
func doctorRunIn(t *testing.T, h *sshconfig.Host, ctr *tunnel.ContainerSpec, cli string) ([]Check, Result) {
	t.Helper()
	var checks []Check
	res := Run(t.Context(), Options{
		Target: h.Alias, Host: h, Container: ctr, CLI: cli, Hints: hintFor,
		Dial: func(ctx context.Context) (*tunnel.Client, error) {
			return tunnel.Dial(ctx, tunnel.DialOptions{Host: h})
		},
		Report: func(c Check) { checks = append(checks, c) },
	})
	return checks, res
}

func names(checks []Check) string {
	var s []string
	for _, c := range checks {
		mark := "+"
		if !c.OK {
			mark = "-"
		}
		s = append(s, mark+c.Name)
	}
	return strings.Join(s, " ")
}

func find(t *testing.T, checks []Check, name string) Check {
	t.Helper()
	for _, c := range checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no %s check in %s", name, names(checks))
	return Check{}
}

func TestReachableHost(t *testing.T) {
	r := startRemote(t, minisshd.Options{Dial: minisshd.NewMemNet().Dial})
	r.program(t, "fakecli", `case "$1" in --version) echo "fakecli 1.2.3"; echo second line ;; esac`)
	checks, res := doctorRun(t, r.host, "fakecli")
	if got, want := names(checks), "+config +reach +host key +auth +forwarding +cli +ports +watch"; got != want {
		t.Fatalf("checks %q, want %q: %+v", got, want, checks)
	}
	if res != (Result{Login: "target"}) {
		t.Errorf("result %+v", res)
	}
	for name, want := range map[string]string{
		"config":     fmt.Sprintf("target: alice@127.0.0.1 port %d, keys %s (IdentitiesOnly), known_hosts %s, StrictHostKeyChecking yes", r.srv.Port(), r.host.IdentityFiles[0], r.host.UserKnownHostsFiles[0]),
		"forwarding": "allowed (the server accepts direct-tcpip forwards)",
		"cli":        filepath.Join(r.bin, "fakecli") + ": fakecli 1.2.3",
		"ports":      "fakecli has no fixed callback port; kfwd forwards the one it prints",
		"auth":       "logged in as alice with public key " + r.host.IdentityFiles[0] + " ED25519 SHA256:",
	} {
		if got := find(t, checks, name).Detail; !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	reach := find(t, checks, "reach").Detail
	if !strings.HasPrefix(reach, r.srv.Addr+" answers (SSH-2.0-") {
		t.Errorf("reach: %q", reach)
	}
	if hk := find(t, checks, "host key").Detail; !strings.HasPrefix(hk, "matches known_hosts (ED25519 SHA256:") {
		t.Errorf("host key: %q", hk)
	}
}

func TestMissingCLI(t *testing.T) {
	r := startRemote(t, minisshd.Options{Dial: minisshd.NewMemNet().Dial})
	checks, res := doctorRun(t, r.host, "fakecli")
	c := find(t, checks, "cli")
	if c.OK || c.Detail != "fakecli not found on target" || !strings.Contains(c.Hint, "install fakecli on target") {
		t.Errorf("cli check %+v", c)
	}
	if res.Failed != 1 || res.NoConnection {
		t.Errorf("result %+v, want one failure and a connection", res)
	}
}

// A known CLI's hint is added to the not-found hint, and its binary is the
// one looked for.
func TestMissingKnownCLI(t *testing.T) {
	r := startRemote(t, minisshd.Options{Dial: minisshd.NewMemNet().Dial})
	checks, _ := doctorRun(t, r.host, "codex")
	c := find(t, checks, "cli")
	_, _, hint := cliInfo("codex")
	if c.OK || !strings.HasPrefix(c.Detail, "codex not found on target") || hint == "" || !strings.HasSuffix(c.Hint, "; "+hint) {
		t.Errorf("cli check %+v (cli hint %q)", c, hint)
	}
}

func TestVersionUnknown(t *testing.T) {
	r := startRemote(t, minisshd.Options{Dial: minisshd.NewMemNet().Dial})
	r.program(t, "fakecli", `exit 3`)
	checks, res := doctorRun(t, r.host, "fakecli")
	if c := find(t, checks, "cli"); !c.OK || c.Detail != filepath.Join(r.bin, "fakecli")+" (version unknown)" {
		t.Errorf("cli check %+v", c)
	}
	if res.Failed != 0 {
		t.Errorf("result %+v", res)
	}
}

func TestForwardingProhibited(t *testing.T) {
	t.Run("relay", func(t *testing.T) {
		r := startRemote(t, minisshd.Options{ForwardingProhibited: true})
		r.program(t, "socat", "exit 1")
		r.program(t, "fakecli", "echo v1")
		checks, res := doctorRun(t, r.host, "fakecli")
		c := find(t, checks, "forwarding")
		if !c.OK || c.Detail != "administratively prohibited; kfwd will relay through socat on the remote" {
			t.Errorf("forwarding check %+v", c)
		}
		if res.Failed != 0 {
			t.Errorf("result %+v: %+v", res, checks)
		}
	})
	t.Run("no relay", func(t *testing.T) {
		r := startRemote(t, minisshd.Options{ForwardingProhibited: true})
		r.program(t, "fakecli", "echo v1")
		checks, res := doctorRun(t, r.host, "fakecli")
		c := find(t, checks, "forwarding")
		if c.OK || !strings.HasPrefix(c.Detail, "administratively prohibited, and no relay program") || c.Hint != "no route hint" {
			t.Errorf("forwarding check %+v", c)
		}
		if res.Failed != 1 || res.NoConnection {
			t.Errorf("result %+v, want one failure and a connection", res)
		}
	})
}

// A port that accepts connections but speaks something else fails reach,
// and doctor does not dial.
func TestNoBanner(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\n\r\n")
			c.Close()
		}
	}()
	h := &sshconfig.Host{Alias: "web", HostName: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, User: "alice"}
	var checks []Check
	res := Run(t.Context(), Options{
		Target: "web", Host: h,
		Dial: func(context.Context) (*tunnel.Client, error) {
			t.Error("dialed after a failed reach check")
			return nil, errors.New("no")
		},
		Report: func(c Check) { checks = append(checks, c) },
	})
	if got := names(checks); got != "+config -reach" {
		t.Fatalf("checks %q", got)
	}
	c := checks[1]
	if c.Detail != ln.Addr().String()+" accepts connections but sent no SSH banner" || !strings.Contains(c.Hint, "is this port an SSH server?") {
		t.Errorf("reach check %+v", c)
	}
	if res.Failed != 1 || !res.NoConnection {
		t.Errorf("result %+v, want a connection failure", res)
	}
}

func TestNothingListens(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	checks, res := doctorRun(t, &sshconfig.Host{Alias: "closed", HostName: "127.0.0.1", Port: port, User: "alice"}, "fakecli")
	if got := names(checks); got != "+config -reach" {
		t.Fatalf("checks %q", got)
	}
	if c := checks[1]; !strings.HasPrefix(c.Detail, "cannot connect to 127.0.0.1:"+strconv.Itoa(port)+": ") || !strings.HasPrefix(c.Hint, "check HostName and Port") {
		t.Errorf("reach check %+v", c)
	}
	if !res.NoConnection {
		t.Errorf("result %+v, want a connection failure", res)
	}
}

// The dial's typed errors become the host key or auth check, with the hints
// of the caller's table.
func TestDialOutcome(t *testing.T) {
	t.Run("unknown host key", func(t *testing.T) {
		r := startRemote(t, minisshd.Options{})
		writeFile(t, r.host.UserKnownHostsFiles[0], "", 0o600)
		checks, res := doctorRun(t, r.host, "fakecli")
		if got := names(checks); got != "+config +reach -host key" {
			t.Fatalf("checks %q: %+v", got, checks)
		}
		if c := checks[2]; c.Hint != "host key hint" {
			t.Errorf("host key check %+v", c)
		}
		if res.Failed != 1 || !res.NoConnection {
			t.Errorf("result %+v, want a connection failure", res)
		}
	})
	t.Run("key not authorized", func(t *testing.T) {
		other, _, _ := ed25519.GenerateKey(rand.Reader)
		otherPub, _ := ssh.NewPublicKey(other)
		r := startRemote(t, minisshd.Options{Authorized: []ssh.PublicKey{otherPub}})
		checks, res := doctorRun(t, r.host, "fakecli")
		if got := names(checks); got != "+config +reach +host key -auth" {
			t.Fatalf("checks %q: %+v", got, checks)
		}
		if c := checks[3]; c.Hint != "auth hint; second" {
			t.Errorf("auth check %+v", c)
		}
		if !res.NoConnection {
			t.Errorf("result %+v, want a connection failure", res)
		}
	})
	t.Run("other error", func(t *testing.T) {
		r := startRemote(t, minisshd.Options{})
		var checks []Check
		Run(t.Context(), Options{
			Target: "target", Host: r.host,
			Dial:   func(context.Context) (*tunnel.Client, error) { return nil, errors.New("boom") },
			Report: func(c Check) { checks = append(checks, c) },
		})
		c := find(t, checks, "ssh")
		if c.OK || c.Detail != "boom" || c.Hint != "run 'kfwd doctor -vv target' for details" {
			t.Errorf("ssh check %+v", c)
		}
	})
}

func TestConfigError(t *testing.T) {
	var checks []Check
	res := Run(t.Context(), Options{
		Target: "bad", ConfigErr: errors.New("line 3: bad keyword"),
		Report: func(c Check) { checks = append(checks, c) },
	})
	if len(checks) != 1 || checks[0].Name != "config" || checks[0].OK || checks[0].Hint != "fix the ssh configuration; 'kfwd config bad' shows what kfwd reads" {
		t.Errorf("checks %+v", checks)
	}
	if res.Failed != 1 || res.NoConnection {
		t.Errorf("result %+v", res)
	}
}

func TestPorts(t *testing.T) {
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bp := busy.Addr().(*net.TCPAddr).Port
	free, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fp := free.Addr().(*net.TCPAddr).Port
	free.Close()

	c := portsCheck("prog", []int{fp})
	if !c.OK || c.Detail != "callback ports free here: "+strconv.Itoa(fp) {
		t.Errorf("free port: %+v", c)
	}
	c = portsCheck("prog", []int{fp, bp})
	want := "callback ports in use here: " + strconv.Itoa(bp)
	if runtime.GOOS == "linux" {
		want += fmt.Sprintf(" (pid %d ", os.Getpid())
	}
	if c.OK || !strings.HasPrefix(c.Detail, want) || !strings.Contains(c.Hint, "stop the program holding them") {
		t.Errorf("busy port: %+v, want detail %q...", c, want)
	}
}

func TestReadBanner(t *testing.T) {
	long := strings.Repeat("x", 300) + "\r\n"
	for _, tc := range []struct {
		name, in string
		want     string
		ok       bool
	}{
		{"banner", "SSH-2.0-OpenSSH_9.6\r\n", "SSH-2.0-OpenSSH_9.6", true},
		{"lines before", "hello\r\nwelcome\nSSH-2.0-x\r\n", "SSH-2.0-x", true},
		{"no newline", "SSH-2.0-x", "SSH-2.0-x", true},
		{"http", "HTTP/1.1 400 Bad Request\r\n\r\n", "", false},
		{"line too long", long + "SSH-2.0-x\r\n", "", false},
		{"too much before", strings.Repeat("hello there\r\n", maxBannerBytes/13+1) + "SSH-2.0-x\r\n", "", false},
		{"empty", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := readBanner(iotest.OneByteReader(strings.NewReader(tc.in)))
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestFirstLine(t *testing.T) {
	if got := firstLine("\n  v1.0  \nmore"); got != "v1.0" {
		t.Errorf("got %q", got)
	}
	if got := firstLine(strings.Repeat("a", 130)); got != strings.Repeat("a", 120)+"..." {
		t.Errorf("long line not cut: %q", got)
	}
}

func TestConfigSummaryRoute(t *testing.T) {
	h := &sshconfig.Host{Alias: "a", HostName: "h", User: "u", Port: 22, ProxyJump: "bastion"}
	if got := configSummary(h); got != "a: u@h port 22, via ProxyJump bastion" {
		t.Errorf("got %q", got)
	}
	h = &sshconfig.Host{Alias: "a", HostName: "h", User: "u", Port: 22, ProxyCommand: "nc %h %p"}
	if got := configSummary(h); got != "a: u@h port 22, via ProxyCommand nc %h %p" {
		t.Errorf("got %q", got)
	}
}

// A container on the SSH host: a fake docker there runs "exec" in the host's
// own shell, so the container has the same programs as the host.
func TestContainerOnHost(t *testing.T) {
	t.Run("runs", func(t *testing.T) {
		r := startRemote(t, minisshd.Options{ForwardingProhibited: true})
		tr, err := exec.LookPath("tr")
		if err != nil {
			t.Skip("no tr here for the runtime check script")
		}
		if err := os.Symlink(tr, filepath.Join(r.bin, "tr")); err != nil {
			t.Fatal(err)
		}
		r.program(t, "docker", `case "$1" in
container) echo true ;;
exec) while [ "$1" != dev ]; do shift; done; shift; exec "$@" ;;
*) exit 2 ;;
esac`)
		r.program(t, "socat", "exit 1")
		r.program(t, "fakecli", "echo v1")
		checks, res := doctorRunIn(t, r.host, &tunnel.ContainerSpec{Name: "dev"}, "fakecli")
		if got, want := names(checks), "+config +reach +host key +auth +container +relay +cli +ports +watch"; got != want {
			t.Fatalf("checks %q, want %q: %+v", got, want, checks)
		}
		for name, want := range map[string]string{
			"container": "docker runs dev on target",
			"relay":     "kfwd will relay through socat in the container",
			"cli":       filepath.Join(r.bin, "fakecli") + ": v1",
		} {
			if got := find(t, checks, name).Detail; got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
		if res != (Result{Login: "target --container dev"}) {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("no runtime", func(t *testing.T) {
		r := startRemote(t, minisshd.Options{})
		checks, res := doctorRunIn(t, r.host, &tunnel.ContainerSpec{Name: "dev"}, "fakecli")
		if got := names(checks); got != "+config +reach +host key +auth -container" {
			t.Fatalf("checks %q: %+v", got, checks)
		}
		if c := checks[4]; c.Hint != "container hint" {
			t.Errorf("container check %+v", c)
		}
		if res.Failed != 1 || !res.NoConnection {
			t.Errorf("result %+v, want a connection failure", res)
		}
	})
}
