// Command kfwd signs in to a CLI on a remote machine through the browser on this
// one: it runs the remote login over SSH, finds the OAuth callback port in the
// login's output, forwards that port over the same connection, and opens the
// browser.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/kfwd/kfwd/internal/ui"

	"github.com/urfave/cli/v3"
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// env is what a command needs from the process: its streams, its environment
// and the one ui that writes to them. Commands take it instead of reaching for
// os.* so that tests drive them in-process.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
	ui     *ui.UI
	what   situation // the command and destination, once parsed
}

// run runs kfwd with args and returns the exit status. The ui exists before
// any flag is parsed, so that every error, a usage error included, is
// reported through it. Every command returns an error instead of exiting, so
// the deferred cleanups (raw terminal, listeners, remote session) always run
// before the process ends.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	e.ui = ui.New(e.stdout, e.stderr, e.getenv)
	// --json must hold for errors in the flags themselves, found before the
	// root flags are known.
	e.ui.Configure(wantsJSON(args), false, 0)
	err := newApp(e).Run(ctx, args)
	return report(e.ui, e.what, err)
}

func init() {
	// Only --version: -v is verbose in every command, as in ssh (whose
	// version flag is -V).
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Aliases: []string{"V"}, Usage: "print the version"}
}

// rootFlags are the flags every command takes; they set up the ui.
func rootFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "json", Usage: "newline-delimited JSON events on stdout; the remote login's output goes to stderr"},
		&cli.BoolFlag{Name: "q", Usage: "quiet: no status lines"},
		&cli.BoolFlag{Name: "v", Usage: "verbose: say what kfwd does (repeat for more)", Config: cli.BoolConfig{Count: new(int)}},
	}
}

func newApp(e *env) *cli.Command {
	app := &cli.Command{
		Name:                      "kfwd",
		Usage:                     "sign in to a CLI on a remote machine with the browser on this one",
		Version:                   version(),
		Writer:                    e.stdout,
		ErrWriter:                 e.stderr,
		EnableShellCompletion:     true,
		UseShortOptionHandling:    true,
		DisableSliceFlagSeparator: true,
		HideHelpCommand:           true,
		Flags:                     rootFlags(),
		// Before runs once the whole command line is parsed, before the
		// command's Action: the root flags given anywhere are known.
		Before: func(ctx context.Context, cmd *cli.Command) (context.Context, error) {
			e.ui.Configure(cmd.Bool("json"), cmd.Bool("q"), cmd.Count("v"))
			return ctx, nil
		},
		Action:         e.unknownCommand,
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		Commands: []*cli.Command{
			loginCommand(e),
			configCommand(e),
			scanCommand(e),
			demoCommand(e),
			doctorCommand(e),
			forwardCommand(e),
			helpCommand(e),
		},
		ConfigureShellCompletionCommand: func(c *cli.Command) {
			c.Hidden = false
			c.Usage = "print a shell completion script: bash, zsh, fish or pwsh"
			c.Action = func(_ context.Context, cmd *cli.Command) error {
				if cmd.Args().Len() == 0 {
					return cli.ShowSubcommandHelp(cmd)
				}
				return usageError{err: fmt.Errorf("completion: unknown shell %q", cmd.Args().First()), hint: "kfwd completion bash, zsh, fish or pwsh"}
			}
			e.setUsage(c)
		},
	}
	if e.ui.JSON() {
		// stdout holds only events: help asked for goes to stderr.
		app.Writer = e.stderr
	}
	e.setUsage(app)
	return app
}

// version is the module version from the build info ("(devel)" for a local build).
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && (v == "" || v == "(devel)") {
			if len(s.Value) > 12 {
				s.Value = s.Value[:12]
			}
			v = fmt.Sprintf("(devel) %s", s.Value)
		}
	}
	return v
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
