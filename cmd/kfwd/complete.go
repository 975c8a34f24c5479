package main

import (
	"context"
	"fmt"

	"github.com/kfwd/kfwd/sshconfig"
	"github.com/urfave/cli/v3"
)

// completeHosts completes Host aliases from the ssh config (patterns with
// wildcards are left out: they name no host), after the default flag completion.
func completeHosts(ctx context.Context, cmd *cli.Command) {
	if cmd.NArg() > 0 {
		return
	}
	cli.DefaultCompleteWithFlags(ctx, cmd)
	hosts, _ := sshconfig.Hosts(sshconfig.Options{ConfigFile: cmd.String("F")})
	for _, h := range hosts {
		fmt.Fprintln(cmd.Root().Writer, h)
	}
}

// completeTargets completes login and doctor destinations: Host aliases and
// the running local containers.
func completeTargets(ctx context.Context, cmd *cli.Command) {
	if cmd.NArg() > 0 {
		return
	}
	completeHosts(ctx, cmd)
	completeContainers(ctx, cmd)
}
