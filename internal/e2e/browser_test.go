package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestLoginBrowserFails: a $BROWSER that is not found or exits non-zero is
// reported as a failure with the URL to open by hand, never as opened
// (issue 9). Nobody opens the URL, so the login ends at --timeout.
func TestLoginBrowserFails(t *testing.T) {
	t.Parallel()
	for _, browser := range []string{"/nonexistent/kfwd-browser", "false"} {
		t.Run(filepath.Base(browser), func(t *testing.T) {
			t.Parallel()
			tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
			cmd := env.KfwdCommand(ctx, tools, "login", "-F", cfg, "--timeout", "8s", "srv", "--")
			cmd.Args = append(cmd.Args, env.TestLoginArgs(tools, "plain", "-timeout", "20s")...)
			cmd.Env = append(cmd.Env, "BROWSER="+browser)
			r := Run(cmd)
			if r.ExitCode != 124 {
				t.Errorf("want the --timeout exit 124 (nobody opened the URL), got %s", r)
			}
			hand := regexp.MustCompile(`kfwd: could not open a browser \(running \$BROWSER: ` + regexp.QuoteMeta(browser) + `: [^)]+\); open this URL yourself: ` +
				regexp.QuoteMeta(env.Issuer) + `/authorize\?\S+`)
			if !hand.MatchString(r.Stderr) {
				t.Errorf("the failure and the URL to open by hand are missing (%s):\n%s", hand, r)
			}
			if strings.Contains(r.Output(), "browser opened") {
				t.Errorf("a failed browser reported as opened:\n%s", r)
			}
		})
	}
}

// TestLoginBrowserOpenerKeepsRunning: without $BROWSER, kfwd uses the
// system's opener, and xdg-open may wait for the browser it started to exit.
// The stub here opens the page (signing in) and then keeps running; the
// login's second sign-in, on another port, must still be forwarded and
// opened meanwhile (issue 9).
func TestLoginBrowserOpenerKeepsRunning(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	bin := t.TempDir()
	stub := "#!/bin/sh\n" + tunnelQuote(tools.TestBrowser) + " \"$1\"\nexec sleep 30\n"
	if err := os.WriteFile(filepath.Join(bin, "xdg-open"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	first, other := FreePort(t), FreePort(t)
	for other == first {
		other = FreePort(t)
	}
	login := func(port int) string {
		return shJoin(env.TestLoginArgs(tools, "plain", "-port", strconv.Itoa(port), "-timeout", "20s"))
	}
	cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, "sh", "-c", login(first)+" && "+login(other))...)
	cmd.Env = append(cmd.Env, "BROWSER=", "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	r := Run(cmd)
	if r.ExitCode != 0 || strings.Count(r.Stdout, "Logged in as Demo User") != 2 {
		t.Fatalf("two sign-ins while the first opener still runs: want both, got %s", r)
	}
	for _, p := range []int{first, other} {
		if !strings.Contains(r.Stderr, "callback port "+strconv.Itoa(p)+": forwarding") {
			t.Errorf("port %d was not forwarded:\n%s", p, r)
		}
	}
}

func tunnelQuote(s string) string { return shJoin([]string{s}) }
