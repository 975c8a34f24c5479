package e2e

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkLogin measures a whole loopback login over a 50 ms round-trip network
// (a Relay adding 25 ms each way), in one run:
//
//   - openssh-manual: the documented manual flow scripted with OpenSSH: run the
//     login with `ssh host login`, read the port it prints, open a second
//     connection with `ssh -N -L PORT:localhost:PORT host`, open the URL in the
//     browser, wait for the login, close the tunnel;
//   - kfwd: `kfwd login host -- login`, one connection.
//
// Compare the two ns/op figures as a ratio (kfwd / openssh-manual), which the
// benchmark also prints; absolute times depend on the machine.
//
// Both flows run twice: with the remote user's own shell start-up files (on the
// project's machines root's .bashrc runs `pyenv init`, ~170 ms per session, which
// both flows pay once for the login), and with an empty remote HOME, as on a
// plain server. The first favours neither flow but dilutes the difference.
func BenchmarkLogin(b *testing.B) {
	for _, home := range []struct{ name, dir string }{{"root", ""}, {"empty", b.TempDir()}} {
		b.Run("remote-home="+home.name, func(b *testing.B) {
			opts := SSHDOptions{}
			if home.dir != "" {
				opts.Extra = []string{"SetEnv HOME=" + home.dir}
			}
			benchmarkLogin(b, opts)
		})
	}
}

func benchmarkLogin(b *testing.B, opts SSHDOptions) {
	env := Setup(b, opts)
	relay := NewRelay(b, env.SSHD.Addr, 25*time.Millisecond)
	host, port := relay.HostPort()
	kh := env.SSHD.KnownHostsFor(relay.Addr)
	cfg := env.SSHConfig(b, "srv", ClientConfig{HostName: host, Port: port, KnownHosts: &kh})

	var manual, kfwd time.Duration // per login
	b.Run("openssh-manual", func(b *testing.B) {
		tools := BuildTools(b)
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, err := manualTwoConnections(ctx, env, tools, cfg, "srv")
			cancel()
			if err != nil || !strings.Contains(out, "Logged in as") {
				b.Fatalf("manual login: %v\n%s", err, out)
			}
		}
		manual = b.Elapsed() / time.Duration(b.N)
	})
	var sshTrue time.Duration // `ssh host true`: OpenSSH connecting and doing nothing
	b.Run("ssh-true", func(b *testing.B) {
		tools := BuildTools(b)
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			cmd := exec.CommandContext(ctx, "ssh", "-F", cfg, "srv", "true")
			cmd.Env = env.KfwdEnv(tools)
			out, err := cmd.CombinedOutput()
			cancel()
			if err != nil {
				b.Fatalf("ssh srv true: %v\n%s", err, out)
			}
		}
		sshTrue = b.Elapsed() / time.Duration(b.N)
	})
	var rss int64 // kfwd's peak RSS over the logins, KiB
	b.Run("kfwd", func(b *testing.B) {
		tools := BuildKfwd(b)
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"-q"}, env.TestLoginArgs(tools, "urlencoded")...)...)
			r := Run(cmd)
			cancel()
			if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Logged in as") {
				b.Fatalf("kfwd login: %s", r)
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rss = max(rss, ru.Maxrss)
			}
		}
		kfwd = b.Elapsed() / time.Duration(b.N)
	})
	if manual > 0 && kfwd > 0 && sshTrue > 0 {
		fmt.Printf("%s: kfwd %v, openssh-manual %v, ssh-true %v per login: kfwd/manual %.2f, kfwd/ssh-true %.2f; kfwd peak RSS %.1f MB\n", b.Name(),
			kfwd.Round(time.Millisecond), manual.Round(time.Millisecond), sshTrue.Round(time.Millisecond),
			float64(kfwd)/float64(manual), float64(kfwd)/float64(sshTrue), float64(rss)/1024)
	}
}

var encodedPort = regexp.MustCompile(`redirect_uri=http%3A%2F%2F[^%]+%3A([0-9]+)`)

// manualTwoConnections is the manual flow a person follows without kfwd, with
// no human delays: each step starts as soon as the previous one allows it.
func manualTwoConnections(ctx context.Context, env *Env, tools *Tools, cfg, alias string) (string, error) {
	var out syncBuffer
	urlCh := make(chan string, 1)
	login := exec.CommandContext(ctx, "ssh", append([]string{"-F", cfg, alias, "--"}, env.TestLoginArgs(tools, "urlencoded")...)...)
	login.Env = env.KfwdEnv(tools)
	login.Stdout = &urlWatcher{w: &out, ch: urlCh}
	login.Stderr = &out
	if err := login.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- login.Wait() }()
	var u string
	select {
	case u = <-urlCh:
	case err := <-exited:
		return out.String(), fmt.Errorf("login exited before printing a URL: %v", err)
	}
	m := encodedPort.FindStringSubmatch(u)
	if m == nil {
		login.Process.Kill()
		return out.String(), fmt.Errorf("no port in %s", u)
	}
	p := m[1]
	tunnel := exec.CommandContext(ctx, "ssh", "-F", cfg, "-o", "ExitOnForwardFailure=yes", "-N", "-L", p+":localhost:"+p, alias)
	tunnel.Env = env.KfwdEnv(tools)
	tunnel.Stderr = &out
	if err := tunnel.Start(); err != nil {
		return out.String(), err
	}
	defer func() { tunnel.Process.Kill(); tunnel.Wait() }()
	// The tunnel is usable once ssh listens locally (after its own handshake).
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+p)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-ctx.Done():
			return out.String(), ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	br := exec.CommandContext(ctx, tools.TestBrowser, u)
	br.Env = env.KfwdEnv(tools)
	if bout, err := br.CombinedOutput(); err != nil {
		login.Process.Kill()
		return out.String() + string(bout), fmt.Errorf("browser: %v", err)
	}
	err := <-exited
	return out.String(), err
}
