package login

import (
	"context"
	"fmt"
	"strings"

	"github.com/kfwd/kfwd/callback"
	"github.com/kfwd/kfwd/internal/ui"
	"github.com/kfwd/kfwd/tunnel"
)

// remoteLogin is the login command running on the remote: its session, the
// feeds that scan its output, and the local terminal it runs in.
type remoteLogin struct {
	o      *Options
	target tunnel.Target
	where  string // the host's alias, or "container NAME"

	sess     *tunnel.Login
	watch    *tunnel.Watch // the login's listener watch
	feeds    []*callback.Feed
	cleanups []func() // in reverse order of setup
}

// stop stops the remote login and says so when it could not.
func (r *remoteLogin) stop() {
	if err := r.sess.Stop(); err != nil {
		r.o.UI.Noticef("could not stop the remote login (%v); the next kfwd login to %s stops it", err, r.where)
	}
}

// start starts the login in a PTY when stdin is a terminal (which it puts in
// raw mode and whose resizes it follows), else with plain pipes, and feeds
// its output through scanners that send to events.
func (r *remoteLogin) start(ctx context.Context, events chan<- callback.Event) error {
	o, u := r.o, r.o.UI
	t := ui.StdinTerminal(o.Stdin)
	opts := tunnel.SessionOptions{
		PTY:   t != nil,
		Term:  o.Getenv("TERM"),
		Stdin: o.Stdin,
	}
	userOut := o.Stdout
	if u.JSON() {
		userOut = o.Stderr
	}
	stdout := callback.NewFeed(u.Relay(userOut), events)
	stderr := stdout
	if t == nil {
		stderr = callback.NewFeed(u.Relay(o.Stderr), events)
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
	line := strings.Join(o.Command, " ")
	u.Debugf(1, "running %q on %s", line, r.where)
	sess, watch, err := tunnel.StartWatchedLogin(ctx, r.target, o.Command, opts, tunnel.WatchOptions{Logf: u.Logf(2)})
	if err != nil {
		r.close()
		return causeOr(ctx, fmt.Errorf("starting %q on %s: %w", line, r.where, err))
	}
	r.sess, r.watch = sess, watch
	r.cleanups = append(r.cleanups, func() { sess.Close(); watch.Close() })
	if t != nil {
		r.cleanups = append(r.cleanups, t.FollowResize(sess.Session))
	}
	return nil
}

// wait waits for the login to exit, or for ctx to end (Ctrl-C, --timeout, a
// lost connection, a failed forward), which stops it on the remote. A login
// that exits because its connection was lost is stopped too (tunnel.Login's
// Stop reconnects for that): what it started may live on without it.
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
	r.o.UI.Statusf("login finished (exit status %d)", res.status)
	if res.status != 0 {
		return ExitError{Status: res.status, Command: r.o.Command[0], Where: r.where}
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
