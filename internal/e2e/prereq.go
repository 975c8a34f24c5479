package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// SSHDPath is the OpenSSH server the harness runs.
const SSHDPath = "/usr/sbin/sshd"

// Require skips the test in -short mode and when the harness cannot run here (not root, not Linux,
// iproute2 or OpenSSH missing). With $CI set it fails instead, so a misconfigured CI cannot go green by skipping.
func Require(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	if err := missing(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("e2e prerequisite missing: %v", err)
		}
		t.Skipf("e2e prerequisite missing: %v", err)
	}
}

func missing() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("network namespaces need linux, not %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root to create network namespaces")
	}
	for _, p := range []string{"ip", "ssh", "ssh-keygen", SSHDPath} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s not found (install iproute2, openssh-server and openssh-client): %w", p, err)
		}
	}
	return nil
}

// RequireProgram returns the path of program name, a real third-party CLI a test runs, from the
// Debian package pkg (.ci/run installs it). Like Require, it fails with $CI set and skips otherwise.
func RequireProgram(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("e2e prerequisite missing: %s (apt-get install %s): %v", name, pkg, err)
	}
	t.Skipf("e2e prerequisite missing: %s (apt-get install %s): %v", name, pkg, err)
	return ""
}
