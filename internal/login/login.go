// Package login runs `kfwd login` from a resolved destination on: it runs the
// login command on the SSH host or in a container, feeds its output and the
// remote listener watch to callback.Decider, carries out the decisions
// (forward a callback port, open the browser, show a device code), waits for
// the login to end or stops it, and tears everything down on every path. It
// prints through the one *ui.UI, as gh's pkg/cmd packages print through
// iostreams; the command layer maps its errors to words and exit codes.
package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/kfwd/kfwd/callback"
	"github.com/kfwd/kfwd/internal/ui"
	"github.com/kfwd/kfwd/sshconfig"
	"github.com/kfwd/kfwd/tunnel"
)

// Options are what one login needs: where it runs, what it runs, and the
// process's streams, environment and UI.
type Options struct {
	UI     *ui.UI
	Stdin  io.Reader // a terminal: the login runs in a remote PTY, in raw mode
	Stdout io.Writer // the login's output (stderr too, in a PTY); with --json, Stderr
	Stderr io.Writer
	Getenv func(string) string // TERM, BROWSER, DISPLAY

	// Host is the SSH host the login runs on, or whose container it runs in;
	// nil for a container on this machine.
	Host *sshconfig.Host
	// Connect opens the connection to Host (the command's status lines,
	// spinner and prompts go with it).
	Connect func(context.Context) (*tunnel.Client, error)
	// Container is where on the host (or, without one, on this machine) the
	// login runs; nil: on the host itself.
	Container *tunnel.ContainerSpec

	Command []string // the login command line (Command[0] is named in errors)
	// Ports are the user's callback ports (kfwd login -L): forwarded
	// before the login starts, and taken as the login's own where the
	// listener watch cannot see them (a container's published port).
	Ports     []int
	NoBrowser bool // print sign-in URLs instead of opening them
	Timeout   time.Duration
	// Open overrides how URLs are opened (default: $BROWSER, else the
	// platform's opener), and Opening the status line that says so (%s: the
	// URL as shown; "" is "opening %s in your browser").
	Open    func(url string) error
	Opening string
}

// Run is the whole of a login: connect, run the remote login, forward what it
// asks for, open the browser, and wait for it to exit (its status 0 is nil,
// another an ExitError) or for ctx to end, --timeout (a TimeoutError), the
// connection to be lost or a forward to fail, which stop it on the remote.
func Run(ctx context.Context, o Options) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if o.Timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, o.Timeout, TimeoutError{o.Timeout})
		defer stop()
	}

	var target tunnel.Target
	var client *tunnel.Client
	where := ""
	if o.Host != nil {
		var err error
		if client, err = o.Connect(ctx); err != nil {
			return err
		}
		defer client.Close()
		go func() {
			interval, count := tunnel.KeepaliveSettings(o.Host)
			if err := client.Keepalive(ctx, interval, count); err != nil {
				cancel(err)
			}
		}()
		target, where = client, o.Host.Alias
	}
	if o.Container != nil {
		c, err := openContainer(ctx, o.UI, *o.Container, client, where)
		if err != nil {
			return causeOr(ctx, err)
		}
		target, where = c, "container "+o.Container.Name
	}

	fw := tunnel.NewForwards(ctx, target)
	defer fw.Close()
	h := &actions{u: o.UI, fw: fw, container: o.Container != nil, noBrowser: o.NoBrowser, open: o.Open, opening: o.Opening, opened: map[string]bool{}, declared: o.Ports}
	if h.open == nil {
		h.open = func(url string) error { return openBrowser(o.Getenv, url) }
	}
	// The user's ports first: one that cannot be forwarded (busy here)
	// fails the login before anything runs on the remote.
	for _, port := range o.Ports {
		if err := h.forward(ctx, port); err != nil {
			return causeOr(ctx, err)
		}
	}
	events := make(chan callback.Event, 16)
	r := &remoteLogin{o: &o, target: target, where: where}
	if err := r.start(ctx, events); err != nil {
		return err
	}
	defer r.close()
	go h.run(ctx, cancel, events, r.watch)
	return r.wait(ctx)
}

// ExitError carries the remote login's own exit status. The login printed
// its own error, so kfwd adds no words, except for 127 and 126: the wrapper's
// shell did not find the command, or found it but could not run it.
type ExitError struct {
	Status  int
	Command string // the remote command's program, as typed
	Where   string // the host's alias, or "container NAME"
}

// The shell's statuses for a command it did not find, and for one it found
// but could not run (not executable, a directory).
const (
	exitNotFound      = 127
	exitNotExecutable = 126
)

func (e ExitError) Error() string {
	if e.NotFound() {
		return fmt.Sprintf("%s is not installed on %s (exit %d)", e.Command, e.Where, e.Status)
	}
	if e.NotExecutable() {
		return fmt.Sprintf("%s cannot be run on %s (exit %d)", e.Command, e.Where, e.Status)
	}
	return fmt.Sprintf("the login on %s exited with status %d", e.Where, e.Status)
}

// NotFound tells whether the remote shell did not find the command (127).
func (e ExitError) NotFound() bool { return e.Status == exitNotFound }

// NotExecutable tells whether the remote shell found the command but could
// not run it (126: no execute permission, a directory).
func (e ExitError) NotExecutable() bool { return e.Status == exitNotExecutable }

// TimeoutError is the cause of a login that did not end within
// Options.Timeout.
type TimeoutError struct{ After time.Duration }

func (e TimeoutError) Error() string {
	return "the login did not finish within " + e.After.String()
}

// causeOr prefers the reason the context ended (timeout, Ctrl-C, connection
// lost) over the error it caused further down.
func causeOr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}
