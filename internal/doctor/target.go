package doctor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/kfwd/kfwd/callback"
	"github.com/kfwd/kfwd/tunnel"
)

// container checks that the container runs (and which runtime runs it); host
// is nil for a local container.
func (r *run) container(ctx context.Context, host *tunnel.Client, alias string) (*tunnel.Container, bool) {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	spec := *r.o.Container
	ctr, err := tunnel.OpenContainer(ctx, spec, tunnel.ContainerOptions{Host: host, Logf: r.o.Logf})
	if err != nil {
		r.res.NoConnection = true
		r.report(Check{Name: "container", Detail: err.Error(), Hint: r.hint(err)})
		return nil, false
	}
	where := "on this machine"
	if host != nil {
		where = "on " + alias
	}
	r.report(Check{Name: "container", OK: true, Detail: fmt.Sprintf("%s runs %s %s", ctr.Spec.Runtime, spec.Name, where)})
	return ctr, true
}

// targetChecks are the checks inside a container: a relay program (its
// loopback is reached only through one), the CLI, the callback ports here.
func (r *run) targetChecks(ctx context.Context, ctr *tunnel.Container, where string) {
	rctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	if route, err := ctr.Route(rctx); err != nil {
		r.report(Check{Name: "relay", Detail: err.Error(), Hint: r.hint(err)})
	} else {
		r.report(Check{Name: "relay", OK: true, Detail: fmt.Sprintf("kfwd will relay through %s in the container", route.Kind())})
	}
	r.cliChecks(ctx, ctr, where)
}

// cliChecks are the checks for the login CLI where it runs: the program, its
// fixed callback ports here, and the listener watch there.
func (r *run) cliChecks(ctx context.Context, t tunnel.Target, where string) {
	binary, ports, cliHint := cliInfo(r.o.CLI)
	c := remoteCLICheck(ctx, t, binary, where)
	if !c.OK && cliHint != "" {
		c.Hint += "; " + cliHint
	}
	r.report(c)
	r.report(portsCheck(binary, ports))
	r.report(watchCheck(ctx, t))
}

// watchCheck tells whether the remote listener watch runs there. Without it
// a login still works, from the callback ports its output names.
func watchCheck(ctx context.Context, t tunnel.Target) Check {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	method, err := tunnel.CheckWatch(ctx, t)
	if err != nil {
		var ue *tunnel.WatchUnavailableError
		reason := err.Error()
		if errors.As(err, &ue) {
			reason = ue.Reason
		}
		return Check{Name: "watch", OK: true, Detail: "unavailable (" + reason + "): kfwd finds callback ports from the login's output only",
			Hint: "a CLI that never prints its callback port cannot be signed in here"}
	}
	how := "/proc"
	if method == "lsof" {
		how = "lsof"
	}
	return Check{Name: "watch", OK: true, Detail: "kfwd sees which ports the login listens on (" + how + ")"}
}

// cliInfo returns the program to look for, its known callback ports, and a
// hint, for a --cli name; unknown names are taken as program names.
func cliInfo(name string) (binary string, ports []int, hint string) {
	if c, ok := callback.LookupCLI(name); ok {
		binary = name
		if len(c.Login) > 0 {
			binary = c.Login[0]
		}
		return binary, c.Ports, c.Hint
	}
	return name, nil, ""
}

// remoteCLICheck runs `command -v` and `--version` on the remote.
func remoteCLICheck(ctx context.Context, c tunnel.Target, binary, host string) Check {
	q := tunnel.ShellQuote(binary)
	path, status, err := remoteOutput(ctx, c, "command -v "+q)
	if err != nil {
		return Check{Name: "cli", Detail: fmt.Sprintf("could not run a command on %s: %v", host, err),
			Hint: "the server must allow exec sessions for kfwd login to run the CLI"}
	}
	if status != 0 || path == "" {
		return Check{Name: "cli", Detail: fmt.Sprintf("%s not found on %s", binary, host),
			Hint: fmt.Sprintf("install %s on %s (in the PATH of non-interactive ssh sessions), or name another with --cli", binary, host)}
	}
	path = firstLine(path)
	version, status, err := remoteOutput(ctx, c, q+" --version")
	if err != nil || status != 0 || firstLine(version) == "" {
		return Check{Name: "cli", OK: true, Detail: fmt.Sprintf("%s (version unknown)", path)}
	}
	return Check{Name: "cli", OK: true, Detail: fmt.Sprintf("%s: %s", path, firstLine(version))}
}

// remoteOutput runs command on the remote and returns its output: stdout,
// else stderr (some CLIs print --version there).
func remoteOutput(ctx context.Context, c tunnel.Target, command string) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	stdout, stderr, status, err := c.Output(ctx, command)
	if err != nil {
		return "", 0, err
	}
	out := strings.TrimSpace(string(stdout))
	if out == "" {
		out = strings.TrimSpace(string(stderr))
	}
	return out, status, nil
}

// firstLine is the first non-blank line of s, cut to 120 bytes.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	line = strings.TrimSpace(line)
	if len(line) > 120 {
		line = line[:120] + "..."
	}
	return line
}

// portsCheck tries to listen on each known callback port on local loopback.
func portsCheck(binary string, ports []int) Check {
	if len(ports) == 0 {
		return Check{Name: "ports", OK: true, Detail: binary + " has no fixed callback port; kfwd forwards the one it prints"}
	}
	var free, busy []string
	for _, p := range ports {
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			l.Close()
			free = append(free, strconv.Itoa(p))
			continue
		}
		s := strconv.Itoa(p)
		if pid, proc := tunnel.PortOwner(p); pid != 0 {
			s += fmt.Sprintf(" (pid %d %s)", pid, proc)
		}
		busy = append(busy, s)
	}
	if len(busy) > 0 {
		return Check{Name: "ports", Detail: "callback ports in use here: " + strings.Join(busy, ", "),
			Hint: "stop the program holding them (an old 'ssh -L' tunnel?): the login fails if its CLI picks a busy port"}
	}
	return Check{Name: "ports", OK: true, Detail: "callback ports free here: " + strings.Join(free, ", ")}
}
