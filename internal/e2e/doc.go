// Package e2e owns kfwd's end-to-end harness: a network namespace per test with a real OpenSSH sshd,
// the oauthdemo authorization server, a TCP relay with delay and blackhole switches, and builds of
// kfwd and the test programs.
//
// Prerequisites: run as root on Linux with iproute2 (`ip netns`), openssh-server (/usr/sbin/sshd,
// ssh-keygen) and openssh-client (ssh). Tests skip when these are missing, except when $CI is set,
// where they fail. Every address used is 127.0.0.0/8, ::1 or 10.78.N.0/24 inside a namespace the
// harness creates (kfwd-e2e-<pid>-<n>) and deletes when the test ends.
//
// A test that uses the harness looks like:
//
//	env := e2e.Setup(t, e2e.SSHDOptions{})
//	tools := e2e.BuildKfwd(t)
//	cfg := env.SSHConfig("srv", e2e.ClientConfig{})
//	cmd := exec.Command(tools.Kfwd, append([]string{"login", "-F", cfg, "srv", "--"}, env.TestLoginArgs(tools, "plain")...)...)
//	cmd.Env = env.KfwdEnv(tools)
//
// Test binaries should use Main from TestMain so the built programs and stale namespaces are removed.
//
// Environment: KFWD_E2E_BINARY tests a prebuilt kfwd instead of building ./cmd/kfwd;
// KFWD_TEST_BROWSER_LOG is where testbrowser records the URLs it opens (Env sets it);
// KFWD_TEST_BROWSER_FETCH=0 makes testbrowser only record, like a user who never signs in.
package e2e
