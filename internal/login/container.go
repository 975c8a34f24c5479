package login

import (
	"context"

	"github.com/kfwd/kfwd/internal/ui"
	"github.com/kfwd/kfwd/tunnel"
)

// openContainer checks the container and says where the login runs; host is
// nil for a local container.
func openContainer(ctx context.Context, u *ui.UI, spec tunnel.ContainerSpec, host *tunnel.Client, hostAlias string) (*tunnel.Container, error) {
	c, err := tunnel.OpenContainer(ctx, spec, tunnel.ContainerOptions{Host: host, Logf: u.Logf(1)})
	if err != nil {
		return nil, err
	}
	where := "this machine"
	if host != nil {
		where = hostAlias
	}
	u.Statusf("container %s (%s on %s)", spec.Name, c.Spec.Runtime, where)
	u.Event("container", map[string]any{"name": spec.Name, "runtime": c.Spec.Runtime, "host": hostAlias})
	return c, nil
}
