package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/kfwd/kfwd/internal/doctor"
	"github.com/kfwd/kfwd/internal/ui"
	"github.com/kfwd/kfwd/tunnel"
	"github.com/urfave/cli/v3"
)

func doctorCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "doctor",
		Usage:     "check, one line per step, whether 'kfwd login HOST' can work",
		ArgsUsage: "[user@]HOST|docker://NAME|podman://NAME|kubectl://[CONTEXT/][NAMESPACE/]POD[/CONTAINER]",
		Description: "kfwd doctor checks the resolved ssh configuration, TCP reach, the host key, authentication,\n" +
			"whether the server allows port forwarding (or kfwd can relay instead), whether the login CLI\n" +
			"exists on the remote and its version, and whether the CLI's fixed callback ports are free here.\n" +
			"For a container (docker://, podman://, kubectl:// or --container on the host) it checks that the\n" +
			"container runs and has a relay program instead of the server's forwarding.\n" +
			"It exits 0 only when a login can work; 255 when it cannot connect, 1 for any other failed check.",
		Flags: append(append(sshFlags(), containerFlags()...),
			&cli.StringFlag{Name: "cli", Value: defaultLogin[0], Usage: "the login `CLI` to look for on the remote (kiro-cli, aws, az, gh, ...)"},
		),
		ShellComplete: completeTargets,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			arg, err := e.destination(cmd)
			if err != nil {
				return err
			}
			if cmd.Args().Len() > 1 {
				return usageError{err: fmt.Errorf("doctor: unexpected argument %q", cmd.Args().Get(1))}
			}
			return e.doctor(ctx, cmd, arg)
		},
	}
}

// doctorFailed is the result of a doctor run with failed checks; the checks
// printed themselves, so report only sets the exit status.
type doctorFailed struct {
	failed int
	status int
}

func (e doctorFailed) Error() string { return fmt.Sprintf("%d checks failed", e.failed) }
func (e doctorFailed) Unwrap() error { return reported{status: e.status} }

// doctor runs the checks of internal/doctor, printing each as it completes.
func (e *env) doctor(ctx context.Context, cmd *cli.Command, arg string) error {
	spec, local, err := containerTarget(cmd, arg)
	if err != nil {
		return err
	}
	o := doctor.Options{
		Target: arg, Container: spec, CLI: cmd.String("cli"), Logf: e.ui.Logf(1),
		Hints:  func(err error) []string { return explain(err, e.what).hints },
		Report: func(c doctor.Check) { printCheck(e.ui, c) },
	}
	// Ctrl-C ends a host-key question or passphrase prompt (and doctor) at once.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stopInterrupt, dialErr := func() {}, error(nil)
	defer func() { stopInterrupt() }()
	if !local {
		h, opts, err := e.resolveHost(cmd, arg)
		o.Host, o.ConfigErr = h, err
		o.Dial = func(ctx context.Context) (*tunnel.Client, error) {
			stopInterrupt = notifyInterrupt(cancel)
			c, err := dialer{e: e, host: h, resolve: hopResolver(opts)}.dial(ctx)
			dialErr = err
			return c, err
		}
	}
	res := doctor.Run(ctx, o)
	if err := context.Cause(ctx); dialErr != nil && errors.Is(err, errInterrupted) {
		return err
	}
	if res.Failed == 0 {
		e.ui.Statusf("doctor: 'kfwd login %s' should work", res.Login)
		return nil
	}
	e.ui.Statusf("doctor: %d check(s) failed", res.Failed)
	status := exitFailure
	if res.NoConnection {
		status = exitConnection
	}
	return doctorFailed{failed: res.Failed, status: status}
}

// printCheck prints one check: a line with ✓ or ✗ and its hint, or with
// --json a "check" event.
func printCheck(u *ui.UI, c doctor.Check) {
	if u.JSON() {
		u.Event("check", map[string]any{"name": c.Name, "ok": c.OK, "detail": c.Detail, "hint": c.Hint})
		return
	}
	mark := u.Paint("32", "✓")
	if !c.OK {
		mark = u.Paint("31", "✗")
	}
	// Details carry remote text: the server's banner, the CLI's --version.
	u.Result(fmt.Sprintf("%s %-10s %s", mark, c.Name, ui.Safe(c.Detail)))
	if c.Hint != "" {
		u.Result("  " + u.Paint("33", "hint:") + " " + ui.Safe(c.Hint))
	}
}
