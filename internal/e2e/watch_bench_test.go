package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kfwd/kfwd/tunnel"
)

// BenchmarkWatchLatency measures what the listener watch is for: the time from
// the remote login's listen() to kfwd's local listener on the same port being
// ready, through a real OpenSSH sshd. The remote program (testlogin -style
// listener) records the time listen() returned; the namespace shares the
// host's clock. Each iteration is one listen; the benchmark reports the
// median and the 95th percentile in milliseconds, once directly over the
// namespace's veth and once through a relay adding 25 ms each way.
func BenchmarkWatchLatency(b *testing.B) {
	for _, delay := range []time.Duration{0, 25 * time.Millisecond} {
		b.Run("rtt="+(2*delay).String(), func(b *testing.B) { benchmarkWatchLatency(b, delay) })
	}
}

func benchmarkWatchLatency(b *testing.B, oneWay time.Duration) {
	env := Setup(b, SSHDOptions{})
	tools := BuildTools(b)
	cfg := env.SSHConfig(b, "srv", ClientConfig{})
	if oneWay > 0 {
		relay := NewRelay(b, env.SSHD.Addr, oneWay)
		host, port := relay.HostPort()
		kh := env.SSHD.KnownHostsFor(relay.Addr)
		cfg = env.SSHConfig(b, "srv", ClientConfig{HostName: host, Port: port, KnownHosts: &kh})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := dialSrv(b, ctx, cfg)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	login, w, err := tunnel.StartWatchedLogin(ctx, c, env.TestLoginArgs(tools, "listener"), tunnel.SessionOptions{Stdin: inR, Stdout: outW}, tunnel.WatchOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { inW.Close(); login.Stop(); w.Close() }()
	out := bufio.NewScanner(outR)
	fw := tunnel.NewForwards(ctx, c)
	defer fw.Close()

	type ready struct {
		port int // negative: no sample
		at   time.Time
	}
	appeared := make(chan ready, 16)
	failed := make(chan error, 16) // read by the loop only: the end of the login is no failure
	go func() {
		for r := range w.Reports() {
			switch r.Kind {
			case tunnel.ListenAppeared:
				// Forward as kfwd login does: the local listener is ready when Add returns.
				_, _, err := fw.Add(ctx, r.Port)
				var busy *tunnel.PortInUseError
				switch {
				case errors.As(err, &busy):
					// The remote's random port is taken here by another program: no sample.
					appeared <- ready{-r.Port, time.Now()}
				case err != nil:
					failed <- fmt.Errorf("forwarding %d: %w", r.Port, err)
				default:
					appeared <- ready{r.Port, time.Now()}
				}
			case tunnel.WatchUnavailable:
				failed <- fmt.Errorf("watch unavailable: %s", r.Reason)
			}
		}
	}()

	var lat []time.Duration
	for b.Loop() {
		fmt.Fprintln(inW, "listen")
		if !out.Scan() {
			b.Fatal("the listener program ended")
		}
		f := strings.Fields(out.Text())
		if len(f) != 3 || f[0] != "port" {
			b.Fatalf("listener said %q", out.Text())
		}
		at, _ := strconv.ParseInt(f[2], 10, 64)
		select {
		case rd := <-appeared:
			p := rd.port
			if p > 0 {
				lat = append(lat, rd.at.Sub(time.Unix(0, at)))
			}
			if strconv.Itoa(max(p, -p)) != f[1] {
				b.Fatalf("the watch saw port %d, the program listens on %s", p, f[1])
			}
		case err := <-failed:
			b.Fatal(err)
		case <-time.After(10 * time.Second):
			b.Fatalf("the watch did not see port %s", f[1])
		}
		fmt.Fprintln(inW, "close", f[1])
		out.Scan()
	}
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	median, p95 := lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*95/100)]
	b.ReportMetric(float64(median.Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(p95.Microseconds())/1000, "p95-ms")
	b.ReportMetric(0, "ns/op")
}
