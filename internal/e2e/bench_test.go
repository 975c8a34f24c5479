package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// BenchmarkLogin measures a whole loopback login over a 50ms round-trip network (a Relay adding 25ms
// each way): OpenSSH's manual flow (ssh -L PORT:localhost:PORT, copy the URL into the browser) as the
// baseline, and kfwd login.
func BenchmarkLogin(b *testing.B) {
	env := Setup(b, SSHDOptions{})
	relay := NewRelay(b, env.SSHD.Addr, 25*time.Millisecond)
	host, port := relay.HostPort()
	kh := env.SSHD.KnownHostsFor(relay.Addr)
	cfg := env.SSHConfig(b, "srv", ClientConfig{HostName: host, Port: port, KnownHosts: &kh})

	b.Run("openssh-manual", func(b *testing.B) {
		tools := BuildTools(b)
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			res, err := env.ManualLogin(ctx, b, tools, cfg, "srv", "urlencoded")
			cancel()
			if err != nil || !strings.Contains(res.Output, "Logged in as") {
				b.Fatalf("manual login: %v\n%s", err, res.Output)
			}
		}
	})
	b.Run("kfwd", func(b *testing.B) {
		tools := BuildKfwd(b)
		for b.Loop() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"-q"}, env.TestLoginArgs(tools, "urlencoded")...)...))
			cancel()
			if r.ExitCode != 0 || !strings.Contains(r.Stdout, "Logged in as") {
				b.Fatalf("kfwd login: %s", r)
			}
		}
	})
}
