package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/kfwd/kfwd/internal/ui"

	"github.com/kfwd/kfwd/callback"
	"github.com/kfwd/kfwd/tunnel"
	"github.com/urfave/cli/v3"
)

// defaultLogin is what `kfwd login HOST` runs when no command and no --cli is given.
var defaultLogin = []string{"kiro-cli", "login"}

func loginFlags() []cli.Flag {
	return append(append(sshFlags(), containerFlags()...),
		&cli.StringFlag{Name: "cli", Usage: "run the login command of a known `CLI` (kiro-cli, aws, az, gh, gcloud, codex, ...)"},
		&cli.BoolFlag{Name: "no-browser", Usage: "print the URL instead of opening a browser"},
		&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "give up on the whole login after this long"},
	)
}

func loginCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:          "login",
		Usage:         "run a CLI's browser sign-in on a remote host, forwarding its callback port",
		ArgsUsage:     "[user@]HOST|docker://NAME|podman://NAME|kubectl://[CONTEXT/][NAMESPACE/]POD[/CONTAINER] [--] [COMMAND [ARG...]]",
		Flags:         loginFlags(),
		ShellComplete: completeTargets,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			arg, err := e.destination(cmd)
			if err != nil {
				return err
			}
			ctr, local, err := containerTarget(cmd, arg)
			if err != nil {
				return err
			}
			var d dialer
			if !local {
				h, opts, err := resolveHost(cmd, arg)
				if err != nil {
					return err
				}
				d = dialer{e: e, host: h, resolve: hopResolver(opts)}
			}
			command, err := loginArgv(cmd.String("cli"), cmd.Args().Tail())
			if err != nil {
				return err
			}
			return login(ctx, e, loginOptions{
				dialer:    d,
				container: ctr,
				command:   command,
				noBrowser: cmd.Bool("no-browser"),
				timeout:   cmd.Duration("timeout"),
			})
		},
	}
}

// loginArgv picks the remote command: the arguments after HOST, else the --cli
// table's login, else kiro-cli login.
func loginArgv(cliName string, rest []string) ([]string, error) {
	if len(rest) > 0 && rest[0] == "--" {
		rest = rest[1:]
	}
	if len(rest) > 0 {
		return rest, nil
	}
	if cliName != "" {
		c, ok := callback.LookupCLI(cliName)
		if !ok {
			names := make([]string, 0, len(callback.CLIs))
			for _, c := range callback.CLIs {
				names = append(names, c.Name)
			}
			return nil, usageError{err: fmt.Errorf("unknown --cli %q (known: %s)", cliName, strings.Join(names, ", "))}
		}
		return c.Login, nil
	}
	return defaultLogin, nil
}

type loginOptions struct {
	dialer dialer // the host, its jump hosts, and the prompter; no host for a local container
	// container is where on the host (or, without one, on this machine) the
	// login runs; nil: on the host itself.
	container *tunnel.ContainerSpec
	command   []string
	noBrowser bool
	timeout   time.Duration
	// open overrides how URLs are opened (default openBrowser), and opening
	// the status line that says so (%s: the URL as shown).
	open    func(url string) error
	opening string
}

// login is the whole of `kfwd login`: dial, run the remote login, forward what it
// asks for, open the browser, and tear everything down on every exit path.
func login(ctx context.Context, e *env, o loginOptions) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if o.timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, o.timeout, timeoutError{o.timeout.String()})
		defer stop()
	}
	defer notifyInterrupt(cancel)()

	var target tunnel.Target
	var client *tunnel.Client
	where := ""
	if o.dialer.host != nil {
		var err error
		if client, err = o.dialer.connect(ctx); err != nil {
			return err
		}
		defer client.Close()
		go func() {
			interval, count := tunnel.KeepaliveSettings(o.dialer.host)
			if err := client.Keepalive(ctx, interval, count); err != nil {
				cancel(err)
			}
		}()
		target, where = client, o.dialer.host.Alias
	}
	if o.container != nil {
		c, err := openContainer(ctx, e.ui, *o.container, client, where)
		if err != nil {
			return causeOr(ctx, err)
		}
		target, where = c, "container "+o.container.Name
	}

	fw := tunnel.NewForwards(ctx, target)
	defer fw.Close()
	events := make(chan callback.Event, 16)
	r := &remoteLogin{e: e, target: target, where: where, command: o.command}
	if err := r.start(ctx, events); err != nil {
		return err
	}
	defer r.close()

	h := &loginEvents{u: e.ui, fw: fw, container: o.container != nil, noBrowser: o.noBrowser, open: o.open, opening: o.opening, opened: map[string]bool{}}
	if h.open == nil {
		h.open = func(url string) error { return openBrowser(e, url) }
	}
	go h.run(ctx, cancel, events, r.watch)
	return r.wait(ctx)
}

// remoteLogin is the login command running on the remote: its session, the
// feeds that scan its output, and the local terminal it runs in.
type remoteLogin struct {
	e       *env
	target  tunnel.Target
	where   string // the host's alias, or "container NAME"
	command []string

	sess     *tunnel.Login
	watch    *tunnel.Watch // the login's listener watch
	feeds    []*callback.Feed
	cleanups []func() // in reverse order of setup
}

// stop stops the remote login and says so when it could not.
func (r *remoteLogin) stop() {
	if err := r.sess.Stop(); err != nil {
		r.e.ui.Noticef("could not stop the remote login (%v); the next kfwd login to %s stops it", err, r.where)
	}
}

// start starts the login in a PTY when stdin is a terminal (which it puts in
// raw mode and whose resizes it follows), else with plain pipes, and feeds
// its output through scanners that send to events.
func (r *remoteLogin) start(ctx context.Context, events chan<- callback.Event) error {
	e, u := r.e, r.e.ui
	t := ui.StdinTerminal(e.stdin)
	opts := tunnel.SessionOptions{
		PTY:   t != nil,
		Term:  e.getenv("TERM"),
		Stdin: e.stdin,
	}
	userOut := e.stdout
	if u.JSON() {
		userOut = e.stderr
	}
	stdout := callback.NewFeed(u.Relay(userOut), events)
	stderr := stdout
	if t == nil {
		stderr = callback.NewFeed(u.Relay(e.stderr), events)
	}
	opts.Stdout, opts.Stderr = stdout, stderr
	r.feeds = []*callback.Feed{stdout, stderr}
	if t != nil {
		opts.Width, opts.Height = t.Size()
		restore, err := t.MakeRaw(u)
		if err != nil {
			return err
		}
		r.cleanups = append(r.cleanups, restore)
	}
	u.Debugf(1, "running %q on %s", strings.Join(r.command, " "), r.where)
	sess, watch, err := tunnel.StartWatchedLogin(ctx, r.target, r.command, opts, tunnel.WatchOptions{Logf: u.Logf(2)})
	if err != nil {
		r.close()
		return causeOr(ctx, fmt.Errorf("starting %q on %s: %w", strings.Join(r.command, " "), r.where, err))
	}
	r.sess, r.watch = sess, watch
	r.cleanups = append(r.cleanups, func() { sess.Close(); watch.Close() })
	if t != nil {
		r.cleanups = append(r.cleanups, t.FollowResize(sess.Session))
	}
	return nil
}

// wait waits for the login to exit, or for ctx to end (Ctrl-C, --timeout, a
// lost connection, a failed forward), which stops it on the remote.
func (r *remoteLogin) wait(ctx context.Context) error {
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		st, err := r.sess.Wait()
		done <- result{st, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		r.stop()
		if lost := tunnel.LostConnection(r.target); lost != nil {
			return lost
		}
		return context.Cause(ctx)
	}
	for _, f := range r.feeds {
		f.Close()
	}
	if lost := tunnel.LostConnection(r.target); lost != nil {
		r.stop()
		return lost
	}
	if res.err != nil {
		return causeOr(ctx, fmt.Errorf("remote login on %s: %w", r.where, res.err))
	}
	r.e.ui.Statusf("login finished (exit status %d)", res.status)
	if res.status != 0 {
		return remoteExit{status: res.status, command: r.command[0], where: r.where}
	}
	return nil
}

// close undoes start: stops following resizes, closes the session, restores
// the terminal.
func (r *remoteLogin) close() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}

// causeOr prefers the reason the context ended (timeout, Ctrl-C, connection
// lost) over the error it caused further down.
func causeOr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

// notifyInterrupt cancels with errInterrupted on SIGINT, SIGTERM or SIGHUP. In raw
// mode Ctrl-C is a keystroke for the remote login, not a signal.
func notifyInterrupt(cancel context.CancelCauseFunc) func() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	stop := make(chan struct{})
	go func() {
		select {
		case <-ch:
			cancel(errInterrupted)
		case <-stop:
		}
	}()
	return func() { signal.Stop(ch); close(stop) }
}
