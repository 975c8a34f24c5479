// Package doctor owns the checks of kfwd doctor: whether 'kfwd login HOST'
// can work, one Check per step, from the resolved configuration to the
// callback ports on this machine. It prints nothing; the caller shows each
// Check as it is reported and decides the exit status.
package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kfwd/kfwd/sshconfig"
	"github.com/kfwd/kfwd/tunnel"
)

// Check is the outcome of one step.
type Check struct {
	Name   string // "config", "reach", "host key", "auth", "forwarding", "container", "relay", "cli", "ports", "watch", "ssh"
	OK     bool
	Detail string // what was found; may carry remote text (a banner, a --version), unsanitised
	Hint   string // what to do about a failure; "" when nothing to add
}

// Options say what to check and how to reach it.
type Options struct {
	// Target is the destination as typed, for hints.
	Target string
	// Host is the resolved SSH host; nil for a local container.
	Host *sshconfig.Host
	// ConfigErr is why the host could not be resolved; it fails the config check.
	ConfigErr error
	// Container is a container on Host (--container), or a local one when
	// Host and ConfigErr are nil; nil for a plain SSH login.
	Container *tunnel.ContainerSpec
	// CLI is the login CLI to look for: a name callback knows, or a program.
	CLI string
	// Dial connects to Host as kfwd login does (prompts, jump hosts).
	Dial func(context.Context) (*tunnel.Client, error)
	// Hints gives the hints for a typed error (host key, auth, container,
	// no route), so that one table maps errors to advice; nil gives none.
	Hints func(error) []string
	// Logf receives verbose progress; may be nil.
	Logf func(string, ...any)
	// Report receives each check as it completes.
	Report func(Check)
}

// Result sums up a run.
type Result struct {
	Failed int // the checks that failed
	// NoConnection is set when a failed check keeps kfwd from connecting at
	// all: reach, host key, auth, or the container.
	NoConnection bool
	// Login is the destination as kfwd login takes it ("HOST",
	// "HOST --container NAME"), for the closing line.
	Login string
}

// stepTimeout bounds each remote step after the connection is up.
const stepTimeout = 20 * time.Second

type run struct {
	o   Options
	res Result
}

// Run runs the checks in order, stopping where a later one cannot run, and
// reports each through o.Report.
func Run(ctx context.Context, o Options) Result {
	r := &run{o: o}
	r.run(ctx)
	return r.res
}

func (r *run) report(c Check) {
	if !c.OK {
		r.res.Failed++
	}
	r.o.Report(c)
}

func (r *run) hint(err error) string {
	if r.o.Hints == nil {
		return ""
	}
	return strings.Join(r.o.Hints(err), "; ")
}

func (r *run) run(ctx context.Context) {
	o := r.o
	r.res.Login = o.Target
	if o.Host == nil && o.ConfigErr == nil {
		if ctr, ok := r.container(ctx, nil, ""); ok {
			r.targetChecks(ctx, ctr, o.Container.String())
		}
		return
	}
	if o.ConfigErr != nil {
		r.report(Check{Name: "config", Detail: o.ConfigErr.Error(), Hint: "fix the ssh configuration; 'kfwd config " + o.Target + "' shows what kfwd reads"})
		return
	}
	h := o.Host
	r.res.Login = h.Alias
	r.report(Check{Name: "config", OK: true, Detail: configSummary(h)})

	if h.ProxyJump == "" && h.ProxyCommand == "" {
		c := reachCheck(ctx, h)
		r.report(c)
		if !c.OK {
			r.res.NoConnection = true
			return
		}
	}
	client, ok := r.connect(ctx, h)
	if !ok {
		r.res.NoConnection = true
		return
	}
	defer client.Close()

	if o.Container != nil {
		r.res.Login = h.Alias + " --container " + o.Container.Name
		if ctr, ok := r.container(ctx, client, h.Alias); ok {
			r.targetChecks(ctx, ctr, "container "+o.Container.Name)
		}
		return
	}
	r.report(r.forwardingCheck(ctx, client))
	r.cliChecks(ctx, client, h.Alias)
}

// configSummary is the one-line view of what kfwd config prints in full.
func configSummary(h *sshconfig.Host) string {
	s := fmt.Sprintf("%s: %s@%s port %d", h.Alias, h.User, h.HostName, h.Port)
	switch {
	case h.ProxyJump != "":
		s += ", via ProxyJump " + h.ProxyJump
	case h.ProxyCommand != "":
		s += ", via ProxyCommand " + h.ProxyCommand
	}
	if len(h.IdentityFiles) > 0 {
		s += ", keys " + strings.Join(h.IdentityFiles, " ")
	}
	if h.IdentitiesOnly {
		s += " (IdentitiesOnly)"
	}
	if len(h.UserKnownHostsFiles) > 0 {
		s += ", known_hosts " + strings.Join(h.UserKnownHostsFiles, " ")
	}
	if h.StrictHostKeyChecking != "" {
		s += ", StrictHostKeyChecking " + h.StrictHostKeyChecking
	}
	return s
}
