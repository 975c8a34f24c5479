package main

import (
	"context"
	"io"

	"github.com/urfave/cli/v3"
)

func configCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "config",
		Usage:     "print the settings kfwd resolves for a host, as 'ssh -G' does",
		ArgsUsage: "[user@]HOST",
		Flags:     sshFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			arg, err := destinationArg(ctx, cmd)
			if err != nil {
				return err
			}
			h, _, err := resolveHost(cmd, arg)
			if err != nil {
				return err
			}
			_, err = io.WriteString(e.stdout, h.Format())
			return err
		},
	}
}
