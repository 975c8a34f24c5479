package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kfwd/kfwd/sshconfig"
	"github.com/urfave/cli/v3"
)

// sshFlags are the OpenSSH-spelled flags shared by every command that connects.
func sshFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "F", Usage: "read ssh client configuration from `configfile`", TakesFile: true},
		&cli.StringSliceFlag{Name: "i", Usage: "use the private key in `identity` (repeatable)", TakesFile: true},
		&cli.StringFlag{Name: "l", Usage: "log in as `user`"},
		&cli.IntFlag{Name: "p", Usage: "connect to `port` on the remote host", HideDefault: true},
		&cli.StringSliceFlag{Name: "o", Usage: "set an ssh_config `Keyword=Value` (repeatable)"},
		&cli.StringFlag{Name: "J", Usage: "connect through jump hosts `[user@]host[:port][,...]`"},
		&cli.BoolFlag{Name: "v", Usage: "verbose: say what kfwd does (repeat for more)", Config: cli.BoolConfig{Count: new(int)}},
		&cli.BoolFlag{Name: "q", Usage: "quiet: no status lines"},
	}
}

// configOptions turns the ssh flags into resolver options.
func configOptions(cmd *cli.Command) sshconfig.Options {
	return sshconfig.Options{
		ConfigFile: cmd.String("F"),
		User:       cmd.String("l"),
		Port:       int(cmd.Int("p")),
		Identities: cmd.StringSlice("i"),
		ProxyJump:  cmd.String("J"),
		Overrides:  cmd.StringSlice("o"),
	}
}

// splitTarget accepts ssh's "[user@]host" destination form.
func splitTarget(arg string, opts *sshconfig.Options) string {
	if i := strings.LastIndex(arg, "@"); i > 0 {
		if opts.User == "" {
			opts.User = arg[:i]
		}
		return arg[i+1:]
	}
	return arg
}

// resolveHost resolves the destination argument with the flags, and applies
// kfwd's own defaults where the config leaves a setting unset.
func resolveHost(cmd *cli.Command, arg string) (*sshconfig.Host, sshconfig.Options, error) {
	opts := configOptions(cmd)
	alias := splitTarget(arg, &opts)
	if alias == "" {
		return nil, opts, usageError{fmt.Errorf("missing destination host")}
	}
	h, err := sshconfig.Resolve(alias, opts)
	if err != nil {
		return nil, opts, fmt.Errorf("reading ssh configuration for %s: %w", alias, err)
	}
	return h, opts, nil
}

// defaultAliveInterval is kfwd's keepalive when the config sets none: a login
// waits on a person, and a silently dead network must end it rather than hang.
const defaultAliveInterval = 15 * time.Second

func keepaliveSettings(h *sshconfig.Host) (time.Duration, int) {
	interval, count := h.ServerAliveInterval, h.ServerAliveCountMax
	if interval <= 0 {
		interval = defaultAliveInterval
	}
	if count <= 0 {
		count = 3
	}
	return interval, count
}

// destinationArg returns the first argument or a usage error.
func destinationArg(_ context.Context, cmd *cli.Command) (string, error) {
	if cmd.Args().Len() < 1 {
		return "", usageError{fmt.Errorf("%s: missing destination host", cmd.Name)}
	}
	return cmd.Args().First(), nil
}
