package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/kfwd/kfwd/internal/ui"

	"github.com/kfwd/kfwd/callback"
	"github.com/kfwd/kfwd/sshconfig"
	"github.com/kfwd/kfwd/tunnel"
	"github.com/urfave/cli/v3"
)

func doctorCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "doctor",
		Usage:     "check, one line per step, whether 'kfwd login HOST' can work",
		ArgsUsage: "[user@]HOST|docker://NAME|podman://NAME|kubectl://[CONTEXT/][NAMESPACE/]POD[/CONTAINER]",
		Description: "kfwd doctor checks the resolved ssh configuration, TCP reach, the host key, authentication,\n" +
			"whether the server allows port forwarding (or kfwd can relay instead), whether the login CLI\n" +
			"exists on the remote and its version, and whether the CLI's fixed callback ports are free here.\n" +
			"For a container (docker://, podman://, kubectl:// or --container on the host) it checks that the\n" +
			"container runs and has a relay program instead of the server's forwarding.\n" +
			"It exits 0 only when a login can work; 255 when it cannot connect, 1 for any other failed check.",
		Flags: append(append(sshFlags(), containerFlags()...),
			&cli.StringFlag{Name: "cli", Value: defaultLogin[0], Usage: "the login `CLI` to look for on the remote (kiro-cli, aws, az, gh, ...)"},
		),
		ShellComplete: completeTargets,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			arg, err := e.destination(cmd)
			if err != nil {
				return err
			}
			if cmd.Args().Len() > 1 {
				return usageError{err: fmt.Errorf("doctor: unexpected argument %q", cmd.Args().Get(1))}
			}
			d := &doctor{e: e, u: e.ui}
			return d.run(ctx, cmd, arg, cmd.String("cli"))
		},
	}
}

// doctorFailed is the result of a doctor run with failed checks; the checks
// printed themselves, so report only sets the exit status.
type doctorFailed struct {
	failed int
	status int
}

func (e doctorFailed) Error() string { return fmt.Sprintf("%d checks failed", e.failed) }
func (e doctorFailed) Unwrap() error { return reported{status: e.status} }

// check is one line of kfwd doctor.
type check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Hint   string `json:"hint,omitempty"`
}

type doctor struct {
	e      *env
	u      *ui.UI
	failed int
	status int
}

// report prints one check as it completes.
func (d *doctor) report(c check) {
	if !c.OK {
		d.failed++
		if d.status == 0 {
			d.status = exitFailure
		}
	}
	if d.u.JSON() {
		d.u.Event("check", map[string]any{"name": c.Name, "ok": c.OK, "detail": c.Detail, "hint": c.Hint})
		return
	}
	mark := d.u.Paint("32", "✓")
	if !c.OK {
		mark = d.u.Paint("31", "✗")
	}
	// Details carry remote text: the server's banner, the CLI's --version.
	d.u.Result(fmt.Sprintf("%s %-10s %s", mark, c.Name, ui.Safe(c.Detail)))
	if c.Hint != "" {
		d.u.Result("  " + d.u.Paint("33", "hint:") + " " + ui.Safe(c.Hint))
	}
}

func (d *doctor) finish(host string) error {
	if d.failed == 0 {
		d.u.Statusf("doctor: 'kfwd login %s' should work", host)
		return nil
	}
	d.u.Statusf("doctor: %d check(s) failed", d.failed)
	return doctorFailed{failed: d.failed, status: d.status}
}

// connectionFailed marks a failure that keeps kfwd from connecting at all.
func (d *doctor) connectionFailed() { d.status = exitConnection }

const doctorStepTimeout = 20 * time.Second

func (d *doctor) run(ctx context.Context, cmd *cli.Command, arg, cliName string) error {
	spec, local, err := containerTarget(cmd, arg)
	if err != nil {
		return err
	}
	if local {
		ctr, ok := d.container(ctx, *spec, nil, "")
		if ok {
			d.targetChecks(ctx, ctr, spec.String(), cliName)
		}
		return d.finish(arg)
	}
	h, opts, err := resolveHost(cmd, arg)
	if err != nil {
		d.report(check{Name: "config", Detail: err.Error(), Hint: "fix the ssh configuration; 'kfwd config " + arg + "' shows what kfwd reads"})
		return d.finish(arg)
	}
	d.report(check{Name: "config", OK: true, Detail: configSummary(h)})

	if h.ProxyJump == "" && h.ProxyCommand == "" {
		c := reachCheck(ctx, h)
		d.report(c)
		if !c.OK {
			d.connectionFailed()
			return d.finish(h.Alias)
		}
	}

	// Ctrl-C ends a host-key question or passphrase prompt (and doctor) at once.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer notifyInterrupt(cancel)()
	client, ok := d.connect(ctx, h, opts)
	if !ok {
		if err := context.Cause(ctx); errors.Is(err, errInterrupted) {
			return err
		}
		return d.finish(h.Alias)
	}
	defer client.Close()

	if spec != nil {
		ctr, ok := d.container(ctx, *spec, client, h.Alias)
		if ok {
			d.targetChecks(ctx, ctr, "container "+spec.Name, cliName)
		}
		return d.finish(h.Alias + " --container " + spec.Name)
	}
	d.report(forwardingCheck(ctx, client))
	d.cliChecks(ctx, client, h.Alias, cliName)
	return d.finish(h.Alias)
}

func (d *doctor) cliChecks(ctx context.Context, t tunnel.Target, where, cliName string) {
	binary, ports, cliHint := cliInfo(cliName)
	c := remoteCLICheck(ctx, t, binary, where)
	if !c.OK && cliHint != "" {
		c.Hint += "; " + cliHint
	}
	d.report(c)
	d.report(portsCheck(binary, ports))
	d.report(watchCheck(ctx, t))
}

// watchCheck tells whether the remote listener watch runs there. Without it
// a login still works, from the callback ports its output names.
func watchCheck(ctx context.Context, t tunnel.Target) check {
	ctx, cancel := context.WithTimeout(ctx, doctorStepTimeout)
	defer cancel()
	method, err := tunnel.CheckWatch(ctx, t)
	if err != nil {
		var ue *tunnel.WatchUnavailableError
		reason := err.Error()
		if errors.As(err, &ue) {
			reason = ue.Reason
		}
		return check{Name: "watch", OK: true, Detail: "unavailable (" + reason + "): kfwd finds callback ports from the login's output only",
			Hint: "a CLI that never prints its callback port cannot be signed in here"}
	}
	how := "/proc"
	if method == "lsof" {
		how = "lsof"
	}
	return check{Name: "watch", OK: true, Detail: "kfwd sees which ports the login listens on (" + how + ")"}
}

// container checks that the container runs (and which runtime runs it).
func (d *doctor) container(ctx context.Context, spec tunnel.ContainerSpec, host *tunnel.Client, alias string) (*tunnel.Container, bool) {
	ctx, cancel := context.WithTimeout(ctx, doctorStepTimeout)
	defer cancel()
	ctr, err := tunnel.OpenContainer(ctx, spec, tunnel.ContainerOptions{Host: host, Logf: d.u.Logf(1)})
	if err != nil {
		d.connectionFailed()
		d.report(check{Name: "container", Detail: err.Error(), Hint: strings.Join(explain(err, d.e.what).hints, "; ")})
		return nil, false
	}
	where := "on this machine"
	if host != nil {
		where = "on " + alias
	}
	d.report(check{Name: "container", OK: true, Detail: fmt.Sprintf("%s runs %s %s", ctr.Spec.Runtime, spec.Name, where)})
	return ctr, true
}

// targetChecks are the checks inside a container: a relay program (its
// loopback is reached only through one), the CLI, the callback ports here.
func (d *doctor) targetChecks(ctx context.Context, ctr *tunnel.Container, where, cliName string) {
	rctx, cancel := context.WithTimeout(ctx, doctorStepTimeout)
	defer cancel()
	if r, err := ctr.Route(rctx); err != nil {
		d.report(check{Name: "relay", Detail: err.Error(), Hint: strings.Join(explain(err, d.e.what).hints, "; ")})
	} else {
		d.report(check{Name: "relay", OK: true, Detail: fmt.Sprintf("kfwd will relay through %s in the container", r.Kind())})
	}
	d.cliChecks(ctx, ctr, where, cliName)
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

// reachCheck opens a plain TCP connection to the host, bounded by
// ConnectTimeout (10s when unset), and reads the server's SSH banner.
func reachCheck(ctx context.Context, h *sshconfig.Host) check {
	addr := net.JoinHostPort(h.HostName, strconv.Itoa(h.Port))
	timeout := h.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		hint := "check HostName and Port, and that a firewall or security group lets this machine reach port " + strconv.Itoa(h.Port)
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		return check{Name: "reach", Detail: fmt.Sprintf("cannot connect to %s: %v", addr, err), Hint: hint}
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(min(timeout, 5*time.Second)))
	banner, ok := readBanner(conn)
	if !ok {
		return check{Name: "reach", Detail: fmt.Sprintf("%s accepts connections but sent no SSH banner", addr),
			Hint: "is this port an SSH server? check Port in the ssh configuration"}
	}
	return check{Name: "reach", OK: true, Detail: fmt.Sprintf("%s answers (%s)", addr, banner)}
}

// maxBannerBytes bounds what reachCheck reads from the server before its
// identification line; RFC 4253 §4.2 bounds each line to 255 bytes.
const maxBannerBytes = 8 << 10

// readBanner returns the server's "SSH-..." identification line, skipping the
// lines a server may send before it, without reading a line longer than 255
// bytes or more than maxBannerBytes in all.
func readBanner(r io.Reader) (string, bool) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxBannerBytes), 256)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", false
		}
		if l := strings.TrimRight(string(line), "\r\n"); strings.HasPrefix(l, "SSH-") {
			return l, true
		}
		if err != nil {
			return "", false
		}
	}
}

// connect dials as kfwd login does and reports the host key and
// authentication checks from the outcome.
func (d *doctor) connect(ctx context.Context, h *sshconfig.Host, opts sshconfig.Options) (*tunnel.Client, bool) {
	client, err := dialer{e: d.e, host: h, resolve: hopResolver(opts)}.dial(ctx)
	if err == nil {
		if h.ProxyJump != "" || h.ProxyCommand != "" {
			via := "ProxyJump " + h.ProxyJump
			if h.ProxyJump == "" {
				via = "ProxyCommand"
			}
			d.report(check{Name: "reach", OK: true, Detail: fmt.Sprintf("%s:%d through %s", h.HostName, h.Port, via)})
		}
		info := client.Info()
		d.report(check{Name: "host key", OK: true, Detail: hostKeyDetail(info.HostKey)})
		method := "public key"
		switch info.Auth.Method {
		case "password", "keyboard-interactive":
			method = info.Auth.Method
		case "publickey":
			method += " " + info.Auth.Key
		case "none":
			method = "no credentials (the server asked for none)"
		}
		d.report(check{Name: "auth", OK: true, Detail: fmt.Sprintf("logged in as %s with %s", h.User, method)})
		return client, true
	}

	d.connectionFailed()
	hint := strings.Join(explain(err, d.e.what).hints, "; ")
	var hk *tunnel.HostKeyError
	var ae *tunnel.AuthError
	var pe *tunnel.ProxyCommandError
	switch {
	case errors.As(err, &hk):
		d.report(check{Name: "host key", Detail: hk.Error(), Hint: hint})
	case errors.As(err, &ae):
		d.report(check{Name: "host key", OK: true, Detail: "matches known_hosts"})
		d.report(check{Name: "auth", Detail: ae.Error(), Hint: hint})
	case errors.As(err, &pe), errors.Is(err, tunnel.ErrConnectTimeout):
		d.report(check{Name: "reach", Detail: err.Error(), Hint: hint})
	default:
		if hint == "" {
			hint = "run 'kfwd doctor -vv " + h.Alias + "' for details"
		}
		d.report(check{Name: "ssh", Detail: err.Error(), Hint: hint})
	}
	return nil, false
}

// hostKeyDetail says how the target's host key was accepted.
func hostKeyDetail(k tunnel.HostKeyInfo) string {
	switch {
	case !k.Added:
		return fmt.Sprintf("matches known_hosts (%s %s)", k.Type, k.Fingerprint)
	case k.File == "":
		return fmt.Sprintf("accepted but not recorded in known_hosts (%s %s)", k.Type, k.Fingerprint)
	}
	return fmt.Sprintf("added to known_hosts: '%s' (%s) to the list of known hosts in %s", k.Host, k.Type, k.File)
}

// forwardingCheck probes whether the server carries direct-tcpip channels, and
// when it refuses them, whether a relay program exists on the remote.
func forwardingCheck(ctx context.Context, c *tunnel.Client) check {
	ctx, cancel := context.WithTimeout(ctx, doctorStepTimeout)
	defer cancel()
	st, err := c.ProbeForwarding(ctx)
	switch {
	case err != nil:
		return check{Name: "forwarding", Detail: err.Error(), Hint: "the server neither accepted nor refused a forward; try 'ssh -L' by hand"}
	case st == tunnel.ForwardAllowed:
		return check{Name: "forwarding", OK: true, Detail: "allowed (the server accepts direct-tcpip forwards)"}
	}
	r, err := c.FindRelay(ctx)
	if err != nil {
		return check{Name: "forwarding", Detail: "administratively prohibited, and " + err.Error(),
			Hint: strings.Join(explain(&tunnel.NoRouteError{Err: err}, situation{}).hints, "; ")}
	}
	return check{Name: "forwarding", OK: true, Detail: fmt.Sprintf("administratively prohibited; kfwd will relay through %s on the remote", r.Kind)}
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
func remoteCLICheck(ctx context.Context, c tunnel.Target, binary, host string) check {
	q := tunnel.ShellQuote(binary)
	path, status, err := remoteOutput(ctx, c, "command -v "+q)
	if err != nil {
		return check{Name: "cli", Detail: fmt.Sprintf("could not run a command on %s: %v", host, err),
			Hint: "the server must allow exec sessions for kfwd login to run the CLI"}
	}
	if status != 0 || path == "" {
		return check{Name: "cli", Detail: fmt.Sprintf("%s not found on %s", binary, host),
			Hint: fmt.Sprintf("install %s on %s (in the PATH of non-interactive ssh sessions), or name another with --cli", binary, host)}
	}
	path = firstLine(path)
	version, status, err := remoteOutput(ctx, c, q+" --version")
	if err != nil || status != 0 || firstLine(version) == "" {
		return check{Name: "cli", OK: true, Detail: fmt.Sprintf("%s (version unknown)", path)}
	}
	return check{Name: "cli", OK: true, Detail: fmt.Sprintf("%s: %s", path, firstLine(version))}
}

// remoteOutput runs command on the remote and returns its output: stdout,
// else stderr (some CLIs print --version there).
func remoteOutput(ctx context.Context, c tunnel.Target, command string) (string, int, error) {
	ctx, cancel := context.WithTimeout(ctx, doctorStepTimeout)
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

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	line = strings.TrimSpace(line)
	if len(line) > 120 {
		line = line[:120] + "..."
	}
	return line
}

// portsCheck tries to listen on each known callback port on local loopback.
func portsCheck(binary string, ports []int) check {
	if len(ports) == 0 {
		return check{Name: "ports", OK: true, Detail: binary + " has no fixed callback port; kfwd forwards the one it prints"}
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
		return check{Name: "ports", Detail: "callback ports in use here: " + strings.Join(busy, ", "),
			Hint: "stop the program holding them (an old 'ssh -L' tunnel?): the login fails if its CLI picks a busy port"}
	}
	return check{Name: "ports", OK: true, Detail: "callback ports free here: " + strings.Join(free, ", ")}
}
