package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// TestDoctorRealSSHD runs `kfwd doctor` against the real sshd, once with
// forwarding allowed and once with AllowTcpForwarding no (issue 5): each check
// is one line, the forwarding line says what the server answered, and the exit
// status is 0 because a login can work both ways (directly, or through a relay
// program on the remote).
func TestDoctorRealSSHD(t *testing.T) {
	for _, tc := range []struct {
		name, allow string
		forwarding  *regexp.Regexp
	}{
		{"allowed", "yes", regexp.MustCompile(`(?m)^✓ forwarding +allowed`)},
		{"prohibited", "no", regexp.MustCompile(`(?m)^✓ forwarding +administratively prohibited; kfwd will relay through [a-z0-9]+`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tools, env, ctx, cfg := setupLogin(t, SSHDOptions{AllowTCPForwarding: tc.allow})
			// testlogin stands in for the CLI: doctor checks that it exists on the remote.
			r := Run(env.KfwdCommand(ctx, tools, "doctor", "-F", cfg, "--cli", tools.TestLogin, "srv"))
			if r.ExitCode != 0 {
				t.Fatalf("kfwd doctor: %s", r)
			}
			if !tc.forwarding.MatchString(r.Stdout) {
				t.Errorf("forwarding check does not match %s:\n%s", tc.forwarding, r.Stdout)
			}
			for _, check := range []string{"config", "reach", "host key", "auth", "forwarding", "cli"} {
				if !regexp.MustCompile(`(?m)^✓ ` + regexp.QuoteMeta(check) + `\b`).MatchString(r.Stdout) {
					t.Errorf("no passing %q check:\n%s", check, r.Stdout)
				}
			}
			if strings.Contains(r.Stdout, "✗") {
				t.Errorf("a check failed:\n%s", r.Stdout)
			}
		})
	}
}
