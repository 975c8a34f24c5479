package main

import (
	"context"

	"github.com/urfave/cli/v3"
)

func configCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "config",
		Usage:     "print the settings kfwd resolves for a host, as 'ssh -G' does",
		ArgsUsage: "[user@]HOST",
		Flags:     sshFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			arg, err := e.destination(cmd)
			if err != nil {
				return err
			}
			h, _, err := e.resolveHost(cmd, arg)
			if err != nil {
				return err
			}
			return e.ui.Print(h.Format())
		},
	}
}
