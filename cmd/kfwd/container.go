package main

import (
	"context"
	"fmt"
	"time"

	"github.com/kfwd/kfwd/tunnel"
	"github.com/urfave/cli/v3"
)

// containerFlags select a container on the SSH host (login and doctor).
func containerFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "container", Usage: "run inside container `NAME` on the SSH host, through its runtime's exec"},
		&cli.StringFlag{Name: "runtime", Usage: "container runtime on the SSH host: `docker|podman` (default: whichever runs the container)"},
	}
}

// containerTarget reads the destination's container, if any: a local one
// (docker://NAME, podman://NAME, kubectl://...; local is true) or --container
// on an SSH host. nil means a plain SSH login.
func containerTarget(cmd *cli.Command, arg string) (spec *tunnel.ContainerSpec, local bool, err error) {
	s, ok, err := tunnel.ParseContainerTarget(arg)
	if err != nil {
		return nil, false, usageError{err: err}
	}
	name, rt := cmd.String("container"), cmd.String("runtime")
	switch {
	case ok && (name != "" || rt != ""):
		return nil, false, usageError{err: fmt.Errorf("%s names a local container; --container and --runtime are for a container on an SSH host", arg)}
	case ok:
		return &s, true, nil
	case name == "" && rt != "":
		return nil, false, usageError{err: fmt.Errorf("--runtime needs --container")}
	case name == "":
		return nil, false, nil
	case rt != "" && rt != string(tunnel.Docker) && rt != string(tunnel.Podman):
		return nil, false, usageError{err: fmt.Errorf("--runtime %q: want docker or podman", rt)}
	}
	return &tunnel.ContainerSpec{Runtime: tunnel.Runtime(rt), Name: name}, false, nil
}

// completeContainers offers the running containers of every runtime installed
// here as destinations (podman://NAME), for shell completion.
func completeContainers(ctx context.Context, cmd *cli.Command) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for _, rt := range []tunnel.Runtime{tunnel.Docker, tunnel.Podman, tunnel.Kubectl} {
		names, _ := tunnel.RunningContainers(ctx, rt)
		for _, n := range names {
			fmt.Fprintf(cmd.Root().Writer, "%s://%s\n", rt, n)
		}
	}
}
