package e2e

// End-to-end tests of `kfwd login` inside podman containers (docs/recipes.md, "Containers"): the
// login runs in the container through `podman exec`, on this machine (podman://NAME) or on the
// real sshd's host (srv --container NAME), and the callback reaches the container's own loopback
// through a relay program run the same way, with no published port.

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
)

// containerLoginArgs is testlogin inside the image against the env's issuer.
func containerLoginArgs(env *Env, style string, extra ...string) []string {
	return append([]string{TestLoginInImage, "-issuer", env.Issuer, "-style", style, "-timeout", "60s"}, extra...)
}

func setupContainer(t *testing.T, kind string, sshd SSHDOptions) (*Tools, *Env, *Container, context.Context) {
	t.Helper()
	tools := BuildKfwd(t)
	c := RunContainer(t, ContainerImage(t, tools, kind))
	env := Setup(t, sshd)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return tools, env, c, ctx
}

// assertContainerEmpty fails when anything but the container's main process is left in it.
func assertContainerEmpty(t *testing.T, c *Container, when string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		procs := c.Processes(t)
		if len(procs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("left running in the container %s: %q", when, procs)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLoginLocalContainer(t *testing.T) {
	t.Parallel()
	tools, env, c, ctx := setupContainer(t, ImageBusybox, SSHDOptions{})
	for _, style := range []string{"plain", "xdgopen"} {
		r := Run(env.KfwdCommand(ctx, tools, append([]string{"login", "--timeout", "60s", "podman://" + c.Name, "--"}, containerLoginArgs(env, style)...)...))
		assertLoggedIn(t, env, "podman://"+c.Name+" "+style, r)
		t.Logf("%s: %v", style, r.Elapsed)
		if !strings.Contains(r.Stderr, "container "+c.Name+" (podman on this machine)") || !strings.Contains(r.Stderr, "through nc in the container") {
			t.Errorf("%s: status lines do not say where the login runs and how the callback gets there:\n%s", style, r)
		}
	}

	// From a terminal: kfwd puts it in raw mode and runs podman exec -it on a terminal of its own.
	term, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	defer tty.Close()
	remote := append([]string{"sh", "-c", `[ -t 0 ] && [ -t 1 ] && echo "in a terminal: $TERM"; exec "$@"`, "sh"}, containerLoginArgs(env, "urlencoded")...)
	cmd := env.KfwdCommand(ctx, tools, append([]string{"login", "--timeout", "60s", "podman://" + c.Name, "--"}, remote...)...)
	cmd.Stdin = tty
	cmd.Env = append(cmd.Env, "TERM=vt220")
	r := Run(cmd)
	assertLoggedIn(t, env, "podman://"+c.Name+" from a terminal", r)
	t.Logf("from a terminal: %v", r.Elapsed)
	if !strings.Contains(r.Stdout, "in a terminal: vt220") {
		t.Errorf("the login did not run in a terminal of the local TERM:\n%s", r)
	}
	assertContainerEmpty(t, c, "after the logins")
}

// Behind SSH the runtime is found on the host (podman; the docker client there has no daemon) and
// run over the one SSH connection; the container's loopback is neither this machine's nor the
// SSH host's.
func TestLoginContainerBehindSSH(t *testing.T) {
	t.Parallel()
	tools, env, c, ctx := setupContainer(t, ImageBusybox, SSHDOptions{MountCgroups: true, AllowTCPForwarding: "no"})
	cfg := env.SSHConfig(t, "srv", ClientConfig{})
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"--container", c.Name}, containerLoginArgs(env, "urlencoded")...)...))
	assertLoggedIn(t, env, "srv --container", r)
	if !strings.Contains(r.Stderr, "container "+c.Name+" (podman on srv)") {
		t.Errorf("the status lines do not name the container and the host:\n%s", r)
	}
	assertContainerEmpty(t, c, "after the login")
	assertGone(t, env, "after the login", "podman exec")

	r = Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"--container", "kfwd-e2e-no-such", "--runtime", "podman"}, containerLoginArgs(env, "plain")...)...))
	if r.ExitCode != 255 || !strings.Contains(r.Stderr, "podman knows no container kfwd-e2e-no-such on the remote host") || !strings.Contains(r.Stderr, "kfwd: hint: 'podman ps' on the host") {
		t.Errorf("missing container on the host: want exit 255 with an error and a hint, got %s", r)
	}
}

// A container without python3, bash, socat, nc or BusyBox: kfwd says so, and what to install, as
// soon as the login asks for its callback (not at --timeout).
func TestLoginContainerWithoutRelay(t *testing.T) {
	t.Parallel()
	tools, env, c, ctx := setupContainer(t, ImageNoRelay, SSHDOptions{})
	r := Run(env.KfwdCommand(ctx, tools, append([]string{"login", "--timeout", "60s", "podman://" + c.Name, "--"}, containerLoginArgs(env, "plain")...)...))
	if r.ExitCode != 255 || !strings.Contains(r.Stderr, "no relay program in container "+c.Name+" (looked for python3, bash, socat, nc)") ||
		!strings.Contains(r.Stderr, "kfwd: hint: install one of them in the container") {
		t.Errorf("want exit 255 naming the missing relay programs and a hint, got %s", r)
	}
	// Exit 255 with that message, not 124: kfwd did not wait for --timeout. How soon it fails is
	// measured by tunnel's BenchmarkContainerNoRelay, not asserted here.
	t.Logf("gave up after %v", r.Elapsed)
	if n := len(env.BrowserURLs()); n != 0 {
		t.Errorf("the browser was opened %d times although the callback cannot work", n)
	}
	assertContainerEmpty(t, c, "after the failure")

	// A stopped container is named as such, with what to do.
	stopContainer(t, c)
	r = Run(env.KfwdCommand(ctx, tools, "login", "podman://"+c.Name, "--", "true"))
	if r.ExitCode != 255 || !strings.Contains(r.Stderr, "container "+c.Name+" is not running (podman on this machine)") || !strings.Contains(r.Stderr, "hint: start it with: podman start "+c.Name) {
		t.Errorf("stopped container: %s", r)
	}
}

// Ctrl-C (SIGINT to kfwd) while the login waits for its callback stops the login inside the
// container, the relays and the exec clients, and closes the local listener.
func TestLoginContainerInterrupt(t *testing.T) {
	t.Parallel()
	tools, env, c, ctx := setupContainer(t, ImageBusybox, SSHDOptions{})
	port := strconv.Itoa(FreePort(t))
	cmd := env.KfwdCommand(ctx, tools, append([]string{"login", "--timeout", "60s", "podman://" + c.Name, "--"}, containerLoginArgs(env, "plain", "-port", port)...)...)
	cmd.Env = append(cmd.Env, "KFWD_TEST_BROWSER_FETCH=0") // the user never finishes signing in
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the login in the container and the local forward", func() bool {
		if !strings.Contains(p.Stderr(), "forwarding localhost:"+port) {
			return false
		}
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
	if procs := c.Processes(t); !strings.Contains(strings.Join(procs, "\n"), "testlogin") {
		t.Fatalf("testlogin does not run in the container: %q", procs)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("kfwd did not exit after SIGINT:\n%s", p.Stderr())
	}
	if r := p.Wait(); r.ExitCode != 130 {
		t.Errorf("kfwd after SIGINT: want exit 130, got %s", r)
	}
	assertContainerEmpty(t, c, "after Ctrl-C")
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
		conn.Close()
		t.Errorf("a local listener on 127.0.0.1:%s is left after kfwd exited", port)
	}
}

func TestDoctorContainer(t *testing.T) {
	t.Parallel()
	tools, env, c, ctx := setupContainer(t, ImageBusybox, SSHDOptions{MountCgroups: true})
	r := Run(env.KfwdCommand(ctx, tools, "doctor", "--cli", "testlogin", "podman://"+c.Name))
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "podman runs "+c.Name+" on this machine") || !strings.Contains(r.Stdout, "relay through nc in the container") ||
		!strings.Contains(r.Stdout, TestLoginInImage) {
		t.Errorf("doctor podman://: %s", r)
	}
	cfg := env.SSHConfig(t, "srv", ClientConfig{})
	r = Run(env.KfwdCommand(ctx, tools, "doctor", "-F", cfg, "--cli", "testlogin", "--container", c.Name, "srv"))
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "podman runs "+c.Name+" on srv") || !strings.Contains(r.Stdout, "relay through nc in the container") {
		t.Errorf("doctor --container: %s", r)
	}
	r = Run(env.KfwdCommand(ctx, tools, "doctor", "podman://kfwd-e2e-no-such"))
	if r.ExitCode != 255 || !strings.Contains(r.Stdout, "podman knows no container kfwd-e2e-no-such") {
		t.Errorf("doctor on a missing container: %s", r)
	}
}

// docker:// shares the exec transport: the real docker client against podman's Docker-compatible
// API (there is no Docker daemon here), PKCE sign-in and all.
func TestLoginDockerContainer(t *testing.T) {
	t.Parallel()
	tools, env, c, ctx := setupContainer(t, ImageBusybox, SSHDOptions{})
	dockerHost := DockerAPI(t)
	cmd := env.KfwdCommand(ctx, tools, append([]string{"login", "--timeout", "60s", "docker://" + c.Name, "--"}, containerLoginArgs(env, "plain")...)...)
	cmd.Env = append(cmd.Env, "DOCKER_HOST="+dockerHost)
	r := Run(cmd)
	assertLoggedIn(t, env, "docker://"+c.Name, r)
	if !strings.Contains(r.Stderr, "container "+c.Name+" (docker on this machine)") {
		t.Errorf("the status lines do not say docker runs the login:\n%s", r)
	}
	assertContainerEmpty(t, c, "after the login")

	// Without a daemon the client's own words and what to do.
	cmd = env.KfwdCommand(ctx, tools, "login", "docker://"+c.Name, "--", "true")
	cmd.Env = append(cmd.Env, "DOCKER_HOST=unix://"+t.TempDir()+"/none.sock")
	r = Run(cmd)
	if r.ExitCode != 255 || !strings.Contains(r.Stderr, "docker cannot reach its daemon or cluster on this machine") || !strings.Contains(r.Stderr, "hint: start the daemon") {
		t.Errorf("docker without a daemon: %s", r)
	}
}

// kubectl:// shares the exec transport: the real kubectl client against a stand-in API server
// whose pods/exec runs podman exec (there is no cluster here), PKCE sign-in and all.
func TestLoginKubectlPod(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatalf("the kubectl client is not installed: %v", err)
	}
	tools, env, c, ctx := setupContainer(t, ImageBusybox, SSHDOptions{})
	api := StartKubeAPI(t)
	api.AddPod(c.Name, "Running")
	cmd := env.KfwdCommand(ctx, tools, append([]string{"login", "--timeout", "60s", "kubectl://tools/" + c.Name, "--"}, containerLoginArgs(env, "plain")...)...)
	cmd.Env = append(cmd.Env, "KUBECONFIG="+api.Kubeconfig)
	r := Run(cmd)
	assertLoggedIn(t, env, "kubectl://tools/"+c.Name, r)
	if !strings.Contains(r.Stderr, "container "+c.Name+" (kubectl on this machine)") || !strings.Contains(r.Stderr, "through nc in the container") {
		t.Errorf("the status lines do not say kubectl runs the login:\n%s", r)
	}
	if n := api.Execs(); n < 3 {
		t.Errorf("%d kubectl exec requests; want the login, the relay probe and a relay at least", n)
	}
	assertContainerEmpty(t, c, "after the login")
}

// A device-code sign-in in a container behind SSH: the code is shown, the verification URL opened,
// nothing forwarded.
func TestLoginContainerDeviceCode(t *testing.T) {
	t.Parallel()
	tools, env, c, ctx := setupContainer(t, ImageBusybox, SSHDOptions{MountCgroups: true})
	cfg := env.SSHConfig(t, "srv", ClientConfig{})
	p, err := Start(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"--container", c.Name}, containerLoginArgs(env, "device")...)...))
	if err != nil {
		t.Fatal(err)
	}
	approveDevice(t, ctx, env, p, func(string) bool { return true })
	r := p.Wait()
	if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Logged in as Demo User") || !strings.Contains(r.Stderr, "device sign-in: enter code") {
		t.Fatalf("kfwd login --container (device): %s", r)
	}
	if strings.Contains(r.Stderr, "forwarding localhost") {
		t.Errorf("a device sign-in forwarded a port:\n%s", r)
	}
	assertContainerEmpty(t, c, "after the login")
}

// TestLoginContainerBehindSSHEveryLoginShell: with fish, csh or tcsh as the remote user's login
// shell (which read \\, \' or ! inside single quotes), a login in a container on the host signs in
// (its relay and listener watch also run there through podman exec), and a login's arguments reach
// the container unchanged.
func TestLoginContainerBehindSSHEveryLoginShell(t *testing.T) {
	for _, sh := range []string{"fish", "csh", "tcsh"} {
		t.Run(sh, func(t *testing.T) {
			t.Parallel()
			path, err := exec.LookPath(sh)
			if err != nil {
				t.Fatalf("%s is not installed (.ci/run installs it): %v", sh, err)
			}
			tools, env, c, ctx := setupContainer(t, ImageBusybox, SSHDOptions{MountCgroups: true, LoginShell: path})
			cfg := env.SSHConfig(t, "srv", ClientConfig{})
			r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"-v", "--container", c.Name}, containerLoginArgs(env, "urlencoded")...)...))
			assertLoggedIn(t, env, "srv --container under "+sh, r)
			if !strings.Contains(r.Stderr, "watching the login's listening sockets on the remote") {
				t.Errorf("under %s the listener watch did not run in the container:\n%s", sh, r.Stderr)
			}

			args := append([]string{"ünï", "tab\there"}, hostileArgs...)
			want := ""
			for _, a := range args {
				want += "<" + a + ">"
			}
			r = Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"-q", "--container", c.Name}, append([]string{"printf", "<%s>"}, args...)...)...))
			if r.ExitCode != 0 || !strings.Contains(r.Stdout, want) {
				t.Errorf("under %s the arguments changed on their way into the container:\n got %q\nwant %q\n%s", sh, r.Stdout, want, r)
			}
			if out := c.Exec(t, "sh", "-c", "ls /tmp/kfwd-e2e-pwned 2>/dev/null; true"); out != "" {
				t.Errorf("under %s an argument ran a command in the container", sh)
			}
			if _, err := os.Stat("/tmp/kfwd-e2e-pwned"); err == nil {
				os.Remove("/tmp/kfwd-e2e-pwned")
				t.Errorf("under %s an argument ran a command on the host", sh)
			}

			// From a terminal kfwd sets the local TERM in the container (podman exec -e), outside
			// the wrapper's escaped words: an awkward one arrives unchanged too.
			term := `vt\'220\\!%ü`
			cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"-q", "--container", c.Name}, "sh", "-c", `printf '<%s>' "$TERM"`)...)
			cmd.Env = append(cmd.Env, "TERM="+term)
			r = runOnTerminal(t, cmd)
			if r.ExitCode != 0 || !strings.Contains(r.Stdout, "<"+term+">") {
				t.Errorf("under %s the terminal type changed on its way into the container:\n got %q\nwant %q\n%s", sh, r.Stdout, "<"+term+">", r)
			}
			assertContainerEmpty(t, c, "after the logins")
		})
	}
}

// TestLoginContainerConnectionLostStopsLogin: a login in a container on the SSH host, and the
// network drops the connection silently but works again; kfwd reports the loss, reconnects once
// and stops the login inside the container.
func TestLoginContainerConnectionLostStopsLogin(t *testing.T) {
	t.Parallel()
	tools, env, c, ctx := setupContainer(t, ImageBusybox, SSHDOptions{MountCgroups: true})
	relay := NewRelay(t, env.SSHD.Addr, 0)
	host, rport := relay.HostPort()
	kh := env.SSHD.KnownHostsFor(relay.Addr)
	cfg := env.SSHConfig(t, "srv", ClientConfig{HostName: host, Port: rport, KnownHosts: &kh})
	flags := []string{"-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=2", "-o", "ConnectTimeout=2", "--container", c.Name}
	cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", flags, containerLoginArgs(env, "plain")...)...)
	cmd.Env = append(cmd.Env, "KFWD_TEST_BROWSER_FETCH=0") // the user never finishes signing in
	p, err := Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, ctx, "the login in the container", func() bool {
		return strings.Contains(p.Stdout(), "Open this URL") && strings.Contains(strings.Join(c.Processes(t), "\n"), "testlogin")
	})
	relay.BlackholeExisting()
	r := p.Wait()
	assertLostError(t, r)
	if strings.Contains(r.Stderr, "could not stop") {
		t.Errorf("kfwd says it could not stop the login although the network is back:\n%s", r.Stderr)
	}
	assertContainerEmpty(t, c, "after the lost connection")
}
