package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// latencySamples is how many logins BenchmarkDetectToBrowser runs per operation.
const latencySamples = 20

// BenchmarkDetectToBrowser measures, through the kfwd binary and a real sshd, the time from the
// byte that completes a callback URL in the login's output (the newline after it, written by the
// remote shell) to the browser command having started with the local listener already up: the
// remote command records the time just before it writes the newline, and $BROWSER is
// internal/testprog/stamp, which records the time it started and whether the callback port
// already accepted a connection. Both clocks are the same kernel's. The figure is an upper bound:
// it includes the shell's own step from `date` to `printf`, and the stub's exec and start-up.
// It prints the median and the 95th percentile of latencySamples logins.
//
// Two cases: the URL followed by more output (most CLIs print "Waiting for ..." next), and the URL
// on the last line of output for now, which the scanner holds until output pauses (callback.Feed's
// idle delay, 50 ms), because a hard-wrapped URL may continue on the next line.
func BenchmarkDetectToBrowser(b *testing.B) {
	env := Setup(b, SSHDOptions{Extra: []string{"SetEnv HOME=" + b.TempDir()}})
	tools := BuildKfwd(b)
	cfg := env.SSHConfig(b, "srv", ClientConfig{})
	for _, c := range []struct{ name, tail string }{
		{"more-output-follows", `\nWaiting for the browser...\n`},
		{"url-on-last-line", `\n`},
	} {
		b.Run(c.name, func(b *testing.B) {
			var all []time.Duration
			down := 0
			for b.Loop() {
				for i := 0; i < latencySamples; i++ {
					d, up := detectToBrowser(b, env, tools, cfg, c.tail, i)
					all = append(all, d)
					if !up {
						down++
					}
				}
			}
			if down > 0 {
				b.Fatalf("%d of %d browsers started before the callback port was listening", down, len(all))
			}
			slices.Sort(all)
			p50, p95 := all[len(all)/2], all[(len(all)*95+99)/100-1]
			b.ReportMetric(ms(p50), "ms-p50")
			b.ReportMetric(ms(p95), "ms-p95")
			fmt.Printf("%s: newline completing the URL -> listener up and browser started: median %.1f ms, p95 %.1f ms, max %.1f ms (%d logins)\n",
				b.Name(), ms(p50), ms(p95), ms(all[len(all)-1]), len(all))
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func detectToBrowser(b *testing.B, env *Env, tools *Tools, cfg, tail string, i int) (time.Duration, bool) {
	dir := b.TempDir()
	stamps := filepath.Join(dir, "stamps")
	t0 := filepath.Join(dir, "t0") // the namespace shares the file system
	port := strconv.Itoa(FreePort(b))
	u := "https://idp.example/authorize?client_id=bench&redirect_uri=http%3A%2F%2Flocalhost%3A" + port +
		"%2Fcallback&state=s" + strconv.Itoa(i)
	// The login listens on its callback port before it prints the URL, as a
	// real CLI does, so the listener watch confirms the port (a port nothing
	// listens on is not forwarded when the watch runs).
	script := `nc -l 127.0.0.1 ` + port + ` </dev/null >/dev/null 2>&1 & sleep 0.3; ` +
		`printf '%s' 'Open this URL to sign in: ` + u + `'; date +%s%N > ` + t0 + `; printf '` + tail + `'; sleep 0.3; kill $! 2>/dev/null`
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := env.KfwdCommand(ctx, tools, "login", "-F", cfg, "-q", "srv", "--", "sh", "-c", script)
	cmd.Env = append(cmd.Env, "BROWSER="+tools.Stamp, "KFWD_STAMP_FILE="+stamps)
	if r := Run(cmd); r.ExitCode != 0 {
		b.Fatalf("kfwd login: %s", r)
	}
	tb, err := os.ReadFile(t0)
	if err != nil {
		b.Fatalf("the remote command recorded no time: %v", err)
	}
	sb, err := os.ReadFile(stamps)
	if err != nil {
		b.Fatalf("kfwd started no browser: %v", err)
	}
	f := strings.Fields(string(sb))
	if len(f) < 2 {
		b.Fatalf("stamp wrote %q", sb)
	}
	start, err1 := strconv.ParseInt(strings.TrimSpace(string(tb)), 10, 64)
	end, err2 := strconv.ParseInt(f[0], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("bad times %q %q", tb, sb)
	}
	return time.Duration(end - start), f[1] == "up"
}
