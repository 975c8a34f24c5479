package e2e

// End-to-end tests for issue 4 ("catch every login"): servers that forbid TCP forwarding (relay
// fallback, and failing fast without a relay), several sign-ins in one run, `kfwd login --json`
// and `kfwd scan --json`.

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kfwd/kfwd/tunnel"
)

func TestCatchForwardingProhibitedRelay(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{AllowTCPForwarding: "no"})
	tokenFile := filepath.Join(env.Dir, "token")
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "urlencoded", "-token-file", tokenFile)...)...))
	assertLoggedIn(t, env, "AllowTcpForwarding no", r)
	assertNoLeaks(t, env, tokenFile, r)
	// The status line names the relay program carrying the browser's connection.
	if !regexp.MustCompile(`through (python3|bash|socat|nc) on the remote`).MatchString(r.Stderr) {
		t.Errorf("stderr does not say which relay carries the connection:\n%s", r.Stderr)
	}
	assertGone(t, env, "after the relayed login", tools.TestLogin, "sshd: root")
}

// restrictedBin makes a directory with the few programs a remote login session needs (a shell and
// coreutils for kfwd's wrapper) and none of the relay programs (python3, bash, socat, nc).
func restrictedBin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"sh", "mktemp", "rm", "chmod", "cp", "cat", "kill", "sleep", "mkdir", "env", "grep", "ls", "id", "true", "false", "rmdir", "head"} {
		p, err := exec.LookPath(name)
		if err != nil {
			continue
		}
		if err := os.Symlink(p, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestCatchNoRelayFailsFast(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	bin := restrictedBin(t)
	// HOME too: root's ~/.bashrc (sourced by bash for sshd commands) would put python3 back in PATH.
	home := t.TempDir()
	env := Setup(t, SSHDOptions{AllowTCPForwarding: "no", Extra: []string{"SetEnv PATH=" + bin + " HOME=" + home}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := env.SSHConfig(t, "srv", ClientConfig{})

	// Precondition, checked with OpenSSH: the session finds no relay program.
	probe := `for p in python3 bash socat nc; do command -v $p; done; echo probe-end`
	out, err := openssh(ctx, env, tools, "-F", cfg, "srv", probe).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "probe-end" {
		t.Fatalf("the remote session still finds relay programs (or failed): %v\n%s", err, out)
	}

	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, env.TestLoginArgs(tools, "plain")...)...))
	if ctx.Err() != nil {
		t.Fatalf("kfwd did not give up before the 30s deadline: %s", r)
	}
	if r.ExitCode == 0 || r.ExitCode == -1 {
		t.Fatalf("no relay and no forwarding: want a failure exit, got %s", r)
	}
	if !strings.Contains(r.Stderr, "device-code") && !strings.Contains(r.Stderr, "AllowTcpForwarding") {
		t.Errorf("the error has no hint about the device-code flow or AllowTcpForwarding:\n%s", r.Stderr)
	}
	if n := len(env.BrowserURLs()); n != 0 {
		t.Errorf("the browser was opened %d times although the callback cannot reach the remote", n)
	}
	t.Logf("kfwd gave up after %v with exit %d:\n%s", r.Elapsed.Round(time.Millisecond), r.ExitCode, r.Stderr)
	assertGone(t, env, "after the failed login", tools.TestLogin, "sshd: root")
}

// shJoin quotes args for a POSIX shell.
func shJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = tunnel.ShellQuote(a)
	}
	return strings.Join(q, " ")
}

func TestCatchTwoSignIns(t *testing.T) {
	t.Parallel()
	// The local ports are shared by the parallel subtests' kfwd processes: each gets its own.
	cases := []struct {
		name     string
		samePort bool
	}{
		{"two ports", false},
		{"same port twice", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			first, other := FreePort(t), FreePort(t)
			for other == first {
				other = FreePort(t)
			}
			if tc.samePort {
				other = first
			}
			tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
			login := func(port int) string {
				return shJoin(env.TestLoginArgs(tools, "plain", "-port", strconv.Itoa(port), "-timeout", "15s"))
			}
			// One remote command that signs in twice, one after the other.
			script := login(first) + " && " + login(other)
			r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, "sh", "-c", script)...))
			if r.ExitCode != 0 {
				t.Fatalf("two sign-ins in one run: %s", r)
			}
			if n := strings.Count(r.Stdout, "Logged in as Demo User"); n != 2 {
				t.Errorf("want both sign-ins to succeed, %d did:\n%s", n, r)
			}
			authorize := 0
			for _, u := range env.BrowserURLs() {
				if strings.HasPrefix(u, env.Issuer+"/authorize?") {
					authorize++
				}
			}
			if authorize != 2 {
				t.Errorf("want the browser opened on 2 authorize URLs, got %q", env.BrowserURLs())
			}
			for _, p := range []int{first, other} {
				fwd := regexp.MustCompile(`callback port ` + strconv.Itoa(p) + `: forwarding`)
				if n := len(fwd.FindAllString(r.Stderr, -1)); n != 1 {
					t.Errorf("port %d forwarded %d times, want once:\n%s", p, n, r.Stderr)
				}
			}
			env.AssertNoSecrets(t, "kfwd output", r.Output())
		})
	}
}

func TestCatchLoginJSON(t *testing.T) {
	t.Parallel()
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	port := FreePort(t)
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", []string{"--json"}, env.TestLoginArgs(tools, "urlencoded", "-port", strconv.Itoa(port))...)...))
	if r.ExitCode != 0 {
		t.Fatalf("kfwd login --json: %s", r)
	}
	var events []map[string]any
	for _, l := range strings.Split(strings.TrimRight(r.Stdout, "\n"), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("stdout line is not JSON: %q (%v)\nstdout:\n%s", l, err, r.Stdout)
		}
		if _, ok := ev["type"].(string); !ok {
			t.Errorf("event without a string \"type\": %q", l)
		}
		events = append(events, ev)
	}
	// The events appear in this order (others may come in between).
	want := []struct {
		typ   string
		check func(map[string]any) bool
		what  string
	}{
		{"connecting", nil, ""},
		{"connected", nil, ""},
		{"callback", func(ev map[string]any) bool { return ev["port"] == float64(port) }, "port " + strconv.Itoa(port)},
		{"forwarding", func(ev map[string]any) bool { return ev["port"] == float64(port) }, "port " + strconv.Itoa(port)},
		{"browser", func(ev map[string]any) bool {
			u, _ := ev["url"].(string)
			return strings.HasPrefix(u, env.Issuer+"/authorize?")
		}, "the authorize URL"},
		{"exit", func(ev map[string]any) bool { st, ok := ev["status"]; return ok && st == float64(0) }, "status 0"},
	}
	i := 0
	for _, ev := range events {
		if i < len(want) && ev["type"] == want[i].typ && (want[i].check == nil || want[i].check(ev)) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("the event sequence lacks %q (%s) after the earlier ones:\n%s", want[i].typ, want[i].what, r.Stdout)
	}
	if last := events[len(events)-1]; last["type"] != "exit" {
		t.Errorf("the last event is %v, want exit", last)
	}
	if strings.Contains(r.Stdout, "Logged in as Demo User") || !strings.Contains(r.Stderr, "Logged in as Demo User") {
		t.Errorf("with --json the login's own output belongs on stderr:\n%s", r)
	}
	if strings.Contains(r.Stderr, "kfwd: connecting") {
		t.Errorf("with --json the status lines are events, not stderr lines:\n%s", r.Stderr)
	}
	env.AssertNoSecrets(t, "kfwd output", r.Output())
}

func TestCatchScanJSON(t *testing.T) {
	t.Parallel()
	tools := BuildKfwd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	scan := func(t *testing.T, input string, flags ...string) []map[string]any {
		t.Helper()
		cmd := exec.CommandContext(ctx, tools.Kfwd, append([]string{"scan"}, flags...)...)
		cmd.Stdin = strings.NewReader(input)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kfwd scan: %v\n%s", err, stderr.String())
		}
		if len(flags) == 0 {
			if s := strings.TrimSpace(string(out)); s != "" {
				return []map[string]any{{"type": "text", "text": s}}
			}
			return nil
		}
		var evs []map[string]any
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if l == "" {
				continue
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("kfwd scan --json line is not JSON: %q: %v", l, err)
			}
			evs = append(evs, ev)
		}
		// Every --json run ends with its exit event (issue 10); the
		// findings are the events before it.
		if n := len(evs); n == 0 || evs[n-1]["type"] != "exit" || evs[n-1]["status"] != float64(0) {
			t.Fatalf("kfwd scan --json did not end with {\"type\":\"exit\",\"status\":0}: %v", evs)
		}
		return evs[:len(evs)-1]
	}
	find := func(evs []map[string]any, typ string, ok func(map[string]any) bool) bool {
		for _, ev := range evs {
			if ev["type"] == typ && ok(ev) {
				return true
			}
		}
		return false
	}

	t.Run("callback", func(t *testing.T) {
		in := "Starting the sign-in...\n" +
			"Listening for the redirect on http://127.0.0.1:43123/oauth/callback\n" +
			"If the browser does not open, visit:\n" +
			"  https://auth.example.test/oauth2/authorize?client_id=cli&response_type=code&redirect_uri=http%3A%2F%2F127.0.0.1%3A43123%2Foauth%2Fcallback&state=xyz\n"
		evs := scan(t, in, "--json")
		if !find(evs, "callback", func(ev map[string]any) bool { return ev["port"] == float64(43123) && ev["host"] == "127.0.0.1" }) {
			t.Errorf("no callback event for 127.0.0.1:43123: %v", evs)
		}
		if !find(evs, "open", func(ev map[string]any) bool {
			u, _ := ev["url"].(string)
			return strings.HasPrefix(u, "https://auth.example.test/oauth2/authorize?") && ev["port"] == float64(43123)
		}) {
			t.Errorf("no open decision for the authorize URL of port 43123: %v", evs)
		}
	})
	t.Run("urlencoded port only, split by a spinner", func(t *testing.T) {
		in := "\x1b[32m⠋ waiting\r⠙ waiting\r\x1b[0mOpen https://login.example.test/authorize?redirect_uri=http%3A%2F%2Flocalhost%3A50153%2Fcb&code_challenge=abc\n"
		evs := scan(t, in, "--json")
		if !find(evs, "callback", func(ev map[string]any) bool { return ev["port"] == float64(50153) }) {
			t.Errorf("no callback event for the URL-encoded port 50153: %v", evs)
		}
	})
	t.Run("device code", func(t *testing.T) {
		in := "To sign in, use a web browser to open the page https://device.example.test/activate and enter the code QWRT-ZXCV to authenticate.\n"
		evs := scan(t, in, "--json")
		if !find(evs, "device", func(ev map[string]any) bool {
			return ev["code"] == "QWRT-ZXCV" && strings.HasPrefix(ev["url"].(string), "https://device.example.test/activate")
		}) {
			t.Errorf("no device event with the code and URL: %v", evs)
		}
		if find(evs, "callback", func(map[string]any) bool { return true }) {
			t.Errorf("a device-code flow needs no tunnel: %v", evs)
		}
	})
	t.Run("two sign-ins", func(t *testing.T) {
		// A CLI that signs in to two services in one run (issue 4, item 7): both ports are callbacks.
		sign := func(port, state string) string {
			return "Listening for the sign-in callback on http://127.0.0.1:" + port + "/callback\n" +
				"Open this URL to sign in:\n" +
				"https://auth.example.test/authorize?client_id=cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A" + port + "%2Fcallback&response_type=code&state=" + state + "\n"
		}
		in := sign("41001", "one") + "Logged in as Demo User\n" + sign("41002", "two") + "Logged in as Demo User\n"
		evs := scan(t, in, "--json")
		for _, p := range []float64{41001, 41002} {
			if !find(evs, "callback", func(ev map[string]any) bool { return ev["port"] == p }) {
				t.Errorf("no callback event for port %v of the second sign-in: %v", p, evs)
			}
		}
	})
	t.Run("local agent after the sign-in", func(t *testing.T) {
		// After a finished login, a loopback address that is not a sign-in's redirect is no callback.
		in := "Open this URL to sign in:\n" +
			"https://auth.example.test/authorize?client_id=cli&redirect_uri=http%3A%2F%2F127.0.0.1%3A41003%2Fcallback&state=s\n" +
			"Logged in as Demo User\n" +
			"Starting the local agent on http://127.0.0.1:41004/\n" +
			"Dashboard: http://localhost:41005/ui\n"
		evs := scan(t, in, "--json")
		if !find(evs, "callback", func(ev map[string]any) bool { return ev["port"] == float64(41003) }) {
			t.Errorf("no callback event for the sign-in's port 41003: %v", evs)
		}
		if find(evs, "callback", func(ev map[string]any) bool { return ev["port"] != float64(41003) }) {
			t.Errorf("a loopback address printed after the sign-in was taken for a callback: %v", evs)
		}
	})
	t.Run("loopback mentioned in passing", func(t *testing.T) {
		in := "psql: error: connection to server at \"127.0.0.1\", port 5432 failed: Connection refused\n" +
			"dial tcp 127.0.0.1:5432: connect: connection refused\n" +
			"Error: connection refused 127.0.0.1:5432\n"
		if evs := scan(t, in, "--json"); len(evs) != 0 {
			t.Errorf("kfwd scan --json acted on a connection error: %v", evs)
		}
		if evs := scan(t, in); len(evs) != 0 {
			t.Errorf("kfwd scan printed something for a connection error: %v", evs)
		}
	})
}
