package main

import (
	"fmt"
	"strings"

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
	}
}

// configOptions turns the ssh flags into resolver options; Match exec
// commands write their errors on stderr, as under ssh.
func (e *env) configOptions(cmd *cli.Command) sshconfig.Options {
	return sshconfig.Options{
		ExecStderr: e.stderr,
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
func (e *env) resolveHost(cmd *cli.Command, arg string) (*sshconfig.Host, sshconfig.Options, error) {
	opts := e.configOptions(cmd)
	alias := splitTarget(arg, &opts)
	if alias == "" {
		return nil, opts, usageError{err: fmt.Errorf("missing destination host")}
	}
	h, err := sshconfig.Resolve(alias, opts)
	if err != nil {
		return nil, opts, fmt.Errorf("reading ssh configuration for %s: %w", alias, err)
	}
	return h, opts, nil
}

// hopResolver resolves jump hosts with the same config files as the destination,
// but without the destination's command-line overrides, as ssh does.
func hopResolver(opts sshconfig.Options) func(string) (*sshconfig.Host, error) {
	return func(alias string) (*sshconfig.Host, error) {
		return sshconfig.Resolve(alias, sshconfig.Options{ConfigFile: opts.ConfigFile, SystemFile: opts.SystemFile, Home: opts.Home, LocalUser: opts.LocalUser, ExecStderr: opts.ExecStderr})
	}
}

// destination returns the first argument, the destination as typed, which
// messages and hints then name; a usage error when there is none.
func (e *env) destination(cmd *cli.Command) (string, error) {
	if cmd.Args().Len() < 1 {
		return "", usageError{err: fmt.Errorf("%s: missing destination host", cmd.Name)}
	}
	e.what.target = cmd.Args().First()
	return e.what.target, nil
}
