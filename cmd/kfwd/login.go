package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/kfwd/kfwd/callback"
	"github.com/kfwd/kfwd/internal/login"
	"github.com/urfave/cli/v3"
)

// defaultLogin is what `kfwd login HOST` runs when no command and no --cli is given.
var defaultLogin = []string{"kiro-cli", "login"}

func loginFlags() []cli.Flag {
	return append(append(sshFlags(), containerFlags()...),
		&cli.StringFlag{Name: "cli", Usage: "run the login command of a known `CLI` (kiro-cli, aws, az, gh, gcloud, codex, ...)"},
		&cli.StringSliceFlag{Name: "L", Usage: "forward `port` to the remote's localhost:port for the login, for a callback kfwd cannot see (repeatable)"},
		&cli.BoolFlag{Name: "no-browser", Usage: "print the URL instead of opening a browser"},
		&cli.DurationFlag{Name: "timeout", Value: 10 * time.Minute, Usage: "give up on the whole login after this long"},
	)
}

// maxLoginPorts bounds -L, as the remote's output is bounded to as many
// forwarded ports per login.
const maxLoginPorts = 8

// loginPorts parses kfwd login's -L values: PORT, or ssh's
// PORT:localhost:PORT (127.0.0.1, [::1]) with the same port twice, as a
// browser's callback reaches the same port on both sides.
func loginPorts(vals []string) ([]int, error) {
	var ports []int
	seen := map[int]bool{}
	for _, v := range vals {
		spec := v
		if i, j := strings.Index(v, ":"), strings.LastIndex(v, ":"); i >= 0 {
			first, host, remote := v[:i], "", v[j+1:]
			if j > i {
				host = strings.Trim(v[i+1:j], "[]")
			}
			if remote != first || (host != "localhost" && host != "127.0.0.1" && host != "::1") {
				return nil, usageError{err: fmt.Errorf("-L %s: kfwd login forwards a port to the same port on the remote's localhost", v),
					hint: "write -L PORT (the callback port); for other forwards run kfwd forward HOST LOCAL:REMOTE"}
			}
			spec = first
		}
		n, err := strconv.Atoi(spec)
		if err != nil || n < 1 || n > 65535 {
			return nil, usageError{err: fmt.Errorf("-L %s: not a port (1-65535)", v)}
		}
		if !seen[n] {
			seen[n] = true
			ports = append(ports, n)
		}
	}
	if len(ports) > maxLoginPorts {
		return nil, usageError{err: fmt.Errorf("-L: at most %d ports per login", maxLoginPorts)}
	}
	return ports, nil
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
			ports, err := loginPorts(cmd.StringSlice("L"))
			if err != nil {
				return err
			}
			o := login.Options{Container: ctr, Ports: ports, NoBrowser: cmd.Bool("no-browser"), Timeout: cmd.Duration("timeout")}
			if !local {
				h, opts, err := e.resolveHost(cmd, arg)
				if err != nil {
					return err
				}
				o.Host, o.Connect = h, dialer{e: e, host: h, resolve: hopResolver(opts)}.connect
			}
			if o.Command, err = loginArgv(cmd.String("cli"), cmd.Args().Tail()); err != nil {
				return err
			}
			return runLogin(ctx, e, o)
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

// runLogin runs login.Run with the process's UI, streams and environment;
// SIGINT, SIGTERM and SIGHUP end it (errInterrupted). kfwd login and kfwd
// demo both sign in through it.
func runLogin(ctx context.Context, e *env, o login.Options) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer notifyInterrupt(cancel)()
	o.UI, o.Stdin, o.Stdout, o.Stderr, o.Getenv = e.ui, e.stdin, e.stdout, e.stderr, e.getenv
	return login.Run(ctx, o)
}
