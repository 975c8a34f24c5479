package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/kfwd/kfwd/internal/ui"

	"github.com/kfwd/kfwd/tunnel"
	"github.com/urfave/cli/v3"
)

func forwardCommand(e *env) *cli.Command {
	one := 1
	return &cli.Command{
		Name:      "forward",
		Usage:     "keep loopback ports forwarded to a remote host, reconnecting when the connection drops",
		ArgsUsage: "[user@]HOST PORT[:REMOTEPORT]...",
		Description: "kfwd forward listens on each PORT on local loopback (127.0.0.1 and ::1) and carries every\n" +
			"connection to REMOTEPORT (default: the same port) on the remote host's loopback, over one SSH\n" +
			"connection with keepalive, like 'ssh -N -L PORT:localhost:REMOTEPORT HOST'. When the connection\n" +
			"drops it reconnects with backoff (1s, doubling up to 30s, reset after 30s of a healthy\n" +
			"connection), like autossh, until Ctrl-C or SIGTERM, which end it with exit status 130.\n" +
			"The local listeners stay open while reconnecting: a connection that sends its first bytes\n" +
			"then waits up to 15s for the connection to come back, and is closed if it does not.\n" +
			"A changed or unknown host key on a reconnect stops kfwd forward instead of retrying.",
		Flags:         sshFlags(),
		StopOnNthArg:  &one,
		ShellComplete: completeHosts,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			arg, err := e.destination(cmd)
			if err != nil {
				return err
			}
			rest := cmd.Args().Tail()
			if len(rest) > 0 && rest[0] == "--" {
				rest = rest[1:]
			}
			if len(rest) == 0 {
				return usageError{err: errors.New("forward: missing PORT[:REMOTEPORT]")}
			}
			specs, err := parsePortSpecs(rest)
			if err != nil {
				return usageError{err: err}
			}
			h, opts, err := e.resolveHost(cmd, arg)
			if err != nil {
				return err
			}
			return runForward(ctx, e, forwardOptions{dialer: dialer{e: e, host: h, resolve: hopResolver(opts)}, specs: specs})
		},
	}
}

// portSpec is one PORT[:REMOTEPORT] argument.
type portSpec struct{ local, remote int }

func parsePortSpecs(args []string) ([]portSpec, error) {
	var specs []portSpec
	seen := map[int]bool{}
	for _, a := range args {
		l, r, mapped := strings.Cut(a, ":")
		local, err := parsePort(l)
		if err != nil {
			return nil, fmt.Errorf("forward: %q: %w", a, err)
		}
		remote := local
		if mapped {
			if remote, err = parsePort(r); err != nil {
				return nil, fmt.Errorf("forward: %q: %w", a, err)
			}
		}
		if seen[local] {
			return nil, fmt.Errorf("forward: local port %d given twice", local)
		}
		seen[local] = true
		specs = append(specs, portSpec{local, remote})
	}
	return specs, nil
}

func parsePort(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		return 0, fmt.Errorf("not a port number (1-65535): %q", s)
	}
	return p, nil
}

type forwardOptions struct {
	dialer  dialer
	specs   []portSpec
	backoff tunnel.Backoff // zero: 1s doubling to 30s (tunnel's default)
}

// runForward is `kfwd forward`: dial, listen, and keep the connection up
// until interrupted.
func runForward(ctx context.Context, e *env, o forwardOptions) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer notifyInterrupt(cancel)()
	u, h := e.ui, o.dialer.host

	c, err := o.dialer.connect(ctx)
	if err != nil {
		return err
	}
	interval, count := tunnel.KeepaliveSettings(h)
	rc := tunnel.NewReconnecting(ctx, c, tunnel.ReconnectOptions{
		Dial:              o.dialer.dial,
		KeepaliveInterval: interval,
		KeepaliveCountMax: count,
		Backoff:           o.backoff,
		OnEvent:           func(ev tunnel.ReconnectEvent) { reportReconnect(u, h.Alias, ev) },
	})
	defer rc.Close()

	for _, s := range o.specs {
		// Not lazy: with SSH, SMTP, MySQL or VNC the server speaks first.
		fw, err := rc.Forward(ctx, tunnel.ForwardOptions{Port: s.local, Logf: u.Logf(2), OnEvent: forwardEventLogger(u),
			FirstByteWait: tunnel.PlainFirstByteWait}, s.remote)
		if err != nil {
			return err
		}
		defer fw.Close()
		u.Statusf("forwarding localhost:%d to %s's localhost:%d", s.local, h.Alias, s.remote)
		u.Event("forwarding", map[string]any{"port": s.local, "remote_port": s.remote})
	}
	if err := rc.Run(ctx); err != nil {
		return err
	}
	// Run returns nil only when ctx ended: Ctrl-C or SIGTERM (130, as the
	// man page says), or a parent's cancel.
	u.Statusf("stopped")
	return stopped{context.Cause(ctx)}
}

// reportReconnect prints what the reconnecting connection did.
func reportReconnect(u *ui.UI, alias string, ev tunnel.ReconnectEvent) {
	switch ev.Kind {
	case tunnel.ReconnectWaiting:
		u.Statusf("connection to %s lost (%v); reconnecting in %s (attempt %d)", alias, ev.Err, ev.Delay, ev.Attempt)
		u.Event("reconnecting", map[string]any{"host": alias, "attempt": ev.Attempt, "delay": ev.Delay.Seconds(), "reason": ev.Err.Error()})
	case tunnel.Reconnected:
		u.Statusf("reconnected to %s", alias)
		u.Event("connected", map[string]any{"host": alias, "attempt": ev.Attempt})
	case tunnel.RouteRelay:
		u.Statusf("the server does not allow TCP forwarding; carrying connections through %s on the remote", ev.Route)
	case tunnel.RouteNone:
		u.Statusf("the server does not allow TCP forwarding and %v", ev.Err)
	}
}

// forwardEventLogger reports forwarded connections that could not reach the
// remote, and the rest with -vv.
func forwardEventLogger(u *ui.UI) func(tunnel.ForwardEvent) {
	return func(ev tunnel.ForwardEvent) {
		if ev.Kind == tunnel.ForwardDialFailed {
			u.Statusf("port %d: connection from %s not forwarded: %v", ev.Port, ev.Client, ev.Err)
			return
		}
		u.Debugf(2, "port %d: %s %s", ev.Port, ev.Client, ev.Kind)
	}
}
