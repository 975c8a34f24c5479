package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kfwd/kfwd/callback"
	"github.com/kfwd/kfwd/sshconfig"
	"github.com/kfwd/kfwd/tunnel"
	"github.com/urfave/cli/v3"
	"golang.org/x/term"
)

// defaultLogin is what `kfwd login HOST` runs when no command and no --cli is given.
var defaultLogin = []string{"kiro-cli", "login"}

func loginFlags() []cli.Flag {
	return append(sshFlags(),
		&cli.StringFlag{Name: "cli", Usage: "run the login command of a known `CLI` (kiro-cli, aws, az, gh, gcloud, codex, ...)"},
		&cli.BoolFlag{Name: "no-browser", Usage: "print the URL instead of opening a browser"},
		&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "give up on the whole login after this long"},
		&cli.BoolFlag{Name: "json", Usage: "newline-delimited JSON events on stdout; the login's output goes to stderr"},
	)
}

func loginCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:          "login",
		Usage:         "run a CLI's browser sign-in on a remote host, forwarding its callback port",
		ArgsUsage:     "[user@]HOST [--] [COMMAND [ARG...]]",
		Flags:         loginFlags(),
		ShellComplete: completeHosts,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			arg, err := destinationArg(ctx, cmd)
			if err != nil {
				return err
			}
			h, opts, err := resolveHost(cmd, arg)
			if err != nil {
				return err
			}
			command, err := loginArgv(cmd.String("cli"), cmd.Args().Tail())
			if err != nil {
				return err
			}
			u := newUI(e, cmd.Bool("json"), cmd.Bool("q"), cmd.Count("v"))
			return login(ctx, e, u, loginOptions{
				host:      h,
				resolve:   hopResolver(opts),
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
			return nil, usageError{fmt.Errorf("unknown --cli %q (known: %s)", cliName, strings.Join(names, ", "))}
		}
		return c.Login, nil
	}
	return defaultLogin, nil
}

// hopResolver resolves jump hosts with the same config files as the destination,
// but without the destination's command-line overrides, as ssh does.
func hopResolver(opts sshconfig.Options) func(string) (*sshconfig.Host, error) {
	return func(alias string) (*sshconfig.Host, error) {
		return sshconfig.Resolve(alias, sshconfig.Options{ConfigFile: opts.ConfigFile, SystemFile: opts.SystemFile, Home: opts.Home, LocalUser: opts.LocalUser})
	}
}

type loginOptions struct {
	host      *sshconfig.Host
	resolve   func(string) (*sshconfig.Host, error)
	command   []string
	noBrowser bool
	timeout   time.Duration
	// prompt overrides the terminal prompter (the demo trusts its own key).
	prompt tunnel.Prompter
	// open overrides how URLs are opened (default openBrowser).
	open func(url string) error
}

// login is the whole of `kfwd login`: dial, run the remote login, forward what it
// asks for, open the browser, and tear everything down on every exit path.
func login(ctx context.Context, e *env, u *ui, o loginOptions) (err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if o.timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, o.timeout, timeoutError{o.timeout.String()})
		defer stop()
	}
	stopSignals := notifyInterrupt(cancel)
	defer stopSignals()

	h := o.host
	u.statusf("connecting to %s (%s port %d)", h.Alias, h.HostName, h.Port)
	u.event("connecting", map[string]any{"host": h.Alias, "hostname": h.HostName, "port": h.Port})
	prompt := o.prompt
	if prompt == nil {
		prompt = terminalPrompter(e)
	}
	stopSpin := func() {}
	if u.verbose == 0 {
		stopSpin = u.spin("connecting to " + h.Alias)
		if prompt != nil {
			// A question (host key, passphrase) ends the spinner first.
			prompt = spinStopper{prompt, stopSpin}
		}
	}
	client, err := tunnel.Dial(ctx, tunnel.DialOptions{Host: h, Resolve: o.resolve, Prompt: prompt, Logf: u.logf(1), Stderr: e.stderr})
	stopSpin()
	if err != nil {
		return causeOr(ctx, err)
	}
	defer client.Close()
	u.statusf("connected to %s", h.Alias)
	u.event("connected", map[string]any{"host": h.Alias})

	interval, count := keepaliveSettings(h)
	go func() {
		if err := client.Keepalive(ctx, interval, count); err != nil {
			cancel(err)
		}
	}()

	fw := newForwarder(ctx, client, u)
	defer fw.close()

	stdinFile, isTTY := e.stdin.(*os.File)
	isTTY = isTTY && term.IsTerminal(int(stdinFile.Fd()))
	opts := tunnel.SessionOptions{
		PTY:   isTTY,
		Term:  e.getenv("TERM"),
		Stdin: e.stdin,
	}
	if opts.Term == "" {
		opts.Term = "xterm-256color"
	}
	userOut := e.stdout
	if u.json {
		userOut = e.stderr
	}
	events := make(chan callback.Event, 16)
	stdout := newScanWriter(userOut, events)
	stderr := stdout
	if !isTTY {
		stderr = newScanWriter(e.stderr, events)
	}
	opts.Stdout, opts.Stderr = stdout, stderr

	if isTTY {
		fd := int(stdinFile.Fd())
		if w, hgt, err := term.GetSize(fd); err == nil {
			opts.Width, opts.Height = w, hgt
		}
		old, err := term.MakeRaw(fd)
		if err != nil {
			return fmt.Errorf("putting the terminal in raw mode: %w", err)
		}
		u.setRaw(true)
		defer func() {
			term.Restore(fd, old)
			u.setRaw(false)
		}()
	}
	u.debugf(1, "running %q on %s", strings.Join(o.command, " "), h.Alias)
	sess, err := client.StartLogin(ctx, o.command, opts)
	if err != nil {
		return causeOr(ctx, fmt.Errorf("starting %q on %s: %w", strings.Join(o.command, " "), h.Alias, err))
	}
	defer sess.Close()
	if isTTY {
		stopResize := watchResize(int(stdinFile.Fd()), sess.Session)
		defer stopResize()
	}

	open := o.open
	if open == nil {
		open = func(url string) error { return openBrowser(e, url) }
	}
	go handleEvents(ctx, cancel, u, fw, o.noBrowser, open, events)

	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		st, err := sess.Wait()
		done <- result{st, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		sess.Stop()
		return context.Cause(ctx)
	}
	stdout.close()
	stderr.close()
	if res.err != nil {
		return causeOr(ctx, fmt.Errorf("remote login on %s: %w", h.Alias, res.err))
	}
	u.statusf("login finished (exit status %d)", res.status)
	u.event("exit", map[string]any{"status": res.status})
	if res.status != 0 {
		return remoteExit{res.status}
	}
	return nil
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

// handleEvents acts on what the scanner found: forward each callback port once,
// open each URL once, show device codes.
func handleEvents(ctx context.Context, cancel context.CancelCauseFunc, u *ui, fw *forwarder, noBrowser bool, openURL func(string) error, events <-chan callback.Event) {
	opened := map[string]bool{}
	open := func(url, what string) {
		if url == "" || opened[url] {
			return
		}
		opened[url] = true
		if noBrowser {
			u.noticef("open this URL in your browser: %s", url)
			return
		}
		if err := openURL(url); err != nil {
			u.noticef("could not open a browser (%v); open this URL: %s", err, url)
			return
		}
		u.statusf("browser opened for the %s", what)
		u.event("browser", map[string]any{"url": url})
	}
	for {
		var ev callback.Event
		select {
		case ev = <-events:
		case <-ctx.Done():
			return
		}
		u.eventJSON(ev)
		switch ev.Type {
		case "callback":
			if err := fw.forward(ctx, ev.Port); err != nil {
				cancel(err)
				return
			}
			open(ev.URL, "sign-in")
		case "device":
			u.noticef("device sign-in: enter code %s at %s", ev.Code, ev.URL)
			open(ev.URL, "device sign-in")
		case "open":
			open(ev.URL, "sign-in")
		}
	}
}

// scanWriter passes the login's output to the user as it arrives (minus kfwd's
// opener markers) and sends what the scanner finds to events. When the output
// pauses it asks the scanner to look at the unterminated last line, where
// prompts such as "Press Enter to open the browser" sit.
type scanWriter struct {
	mu     sync.Mutex
	dst    io.Writer
	s      *callback.Scanner
	events chan<- callback.Event
	idle   *time.Timer
	closed bool
}

const idleDelay = 50 * time.Millisecond

func newScanWriter(dst io.Writer, events chan<- callback.Event) *scanWriter {
	w := &scanWriter{dst: dst, s: callback.NewScanner(), events: events}
	w.idle = time.AfterFunc(time.Hour, w.onIdle)
	w.idle.Stop()
	return w
}

func (w *scanWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	show, evs := w.s.Feed(p)
	if len(show) > 0 {
		if _, err := w.dst.Write(show); err != nil {
			return 0, err
		}
	}
	w.send(evs)
	w.idle.Reset(idleDelay)
	return len(p), nil
}

func (w *scanWriter) onIdle() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.send(w.s.Idle())
	}
}

func (w *scanWriter) send(evs []callback.Event) {
	for _, ev := range evs {
		select {
		case w.events <- ev:
		default:
			// The handler is gone or hopelessly behind; the login goes on.
		}
	}
}

func (w *scanWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	w.idle.Stop()
	show, evs := w.s.Close()
	w.dst.Write(show)
	w.send(evs)
}

// spinStopper stops the progress spinner before a question is asked, so that
// the prompt is not drawn over.
type spinStopper struct {
	tunnel.Prompter
	stop func()
}

func (p spinStopper) Secret(prompt string) ([]byte, error) {
	p.stop()
	return p.Prompter.Secret(prompt)
}

func (p spinStopper) Ask(prompt string) (string, error) {
	p.stop()
	return p.Prompter.Ask(prompt)
}
