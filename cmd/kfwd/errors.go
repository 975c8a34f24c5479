package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/kfwd/kfwd/internal/login"
	"github.com/kfwd/kfwd/internal/ui"
	"github.com/kfwd/kfwd/tunnel"
)

// Exit codes kfwd uses when the remote login did not decide the status itself.
// They are documented in docs/kfwd.1.md; keep the two in step.
const (
	exitFailure     = 1   // any other failure
	exitUsage       = 2   // bad flags or arguments
	exitTimeout     = 124 // --timeout expired (as timeout(1))
	exitInterrupted = 130 // Ctrl-C (128+SIGINT)
	exitConnection  = 255 // could not connect, authenticate, verify the host or forward (as ssh)
)

// usageError marks an error in how kfwd was called; hint, when set, replaces
// the generic pointer to the help.
type usageError struct {
	err  error
	hint string
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// errInterrupted is returned when the user pressed Ctrl-C (outside raw mode) or
// sent SIGINT/SIGTERM.
var errInterrupted = errors.New("interrupted")

// stopped is an interrupt that is the normal end of a command (kfwd forward
// runs until Ctrl-C): exit 130 as documented, but no error line.
type stopped struct{ cause error }

func (e stopped) Error() string { return "stopped" }
func (e stopped) Unwrap() error { return e.cause }

// reported wraps an error that has been printed already, with its exit status.
type reported struct{ status int }

func (e reported) Error() string { return fmt.Sprintf("exit status %d", e.status) }

// situation is what the user asked for, so that messages and hints name what
// was typed (the alias, not the HostName or HostKeyAlias) and fit the command.
type situation struct {
	command string // "login", "forward", "doctor", ...
	target  string // the destination as typed: alias, user@host, docker://NAME
}

// host is the destination for a hint, HOST when none was given.
func (s situation) host() string {
	if s.target == "" {
		return "HOST"
	}
	return tunnel.ShellQuote(s.target)
}

// report prints err with its hints through u and returns the exit status for
// it (0 for nil); with --json it then writes the exit event. This is the one
// place where errors become words and numbers.
func report(u *ui.UI, s situation, err error) int {
	status := 0
	if err != nil {
		x := explain(err, s)
		status = x.status
		switch {
		case x.silent:
			// Printed already (by the remote login, or doctor's checks).
			u.Event("error", map[string]any{"message": x.msg, "hint": "", "code": x.code})
		default:
			u.Fail(x.msg, x.hints, x.code)
		}
	}
	u.Event("exit", map[string]any{"status": status})
	return status
}

// explanation is what kfwd says about an error: its message, the hints that
// apply to it, a stable code for --json, and the exit status.
type explanation struct {
	msg    string
	hints  []string
	status int
	code   string
	silent bool // already said: only --json gets the error event
}

// explain is the one table from errors to messages, hints, codes and exit
// statuses, used by every command (kfwd doctor shows the hints of its failed
// checks). Codes are documented in docs/kfwd.1.md.
func explain(err error, s situation) explanation {
	msg := err.Error()
	x := func(code string, status int, hints ...string) explanation {
		return explanation{msg: msg, hints: hints, status: status, code: code}
	}
	var (
		ue    usageError
		re    login.ExitError
		done  reported
		te    login.TimeoutError
		hk    *tunnel.HostKeyError
		auth  *tunnel.AuthError
		proxy *tunnel.ProxyCommandError
		busy  *tunnel.PortInUseError
		nofwd *tunnel.NoRouteError
		dial  *tunnel.DialError
		ctr   *tunnel.ContainerError
		relay *tunnel.NoRelayError
	)
	switch {
	case errors.As(err, &ue):
		hint := ue.hint
		if hint == "" {
			hint = "run 'kfwd help' for usage"
			if s.command != "" {
				hint = "run 'kfwd help " + s.command + "' for usage"
			}
		}
		return x("usage", exitUsage, hint)
	case errors.As(err, &re) && re.NotFound():
		return x("command-not-found", re.Status,
			"install "+re.Command+" on "+re.Where+" (in the PATH of non-interactive ssh sessions), or give its full path: kfwd login "+s.host()+" -- /path/to/"+re.Command)
	case errors.As(err, &re) && re.NotExecutable():
		return x("command-not-executable", re.Status,
			"make it executable on "+re.Where+" (chmod +x), or run it through its interpreter: kfwd login "+s.host()+" -- sh "+re.Command)
	case errors.As(err, &re):
		e := x("remote-exit", re.Status)
		e.silent = true
		return e
	case errors.As(err, &done):
		e := x("checks-failed", done.status)
		e.silent = true
		return e
	case errors.As(err, new(stopped)) && errors.Is(err, errInterrupted):
		e := x("interrupted", exitInterrupted)
		e.silent = true
		return e
	case errors.Is(err, errInterrupted):
		return x("interrupted", exitInterrupted)
	case errors.As(err, &te):
		return x("timeout", exitTimeout, "raise --timeout, or finish the sign-in in the browser sooner")
	case errors.Is(err, context.DeadlineExceeded):
		return x("timeout", exitTimeout)
	case errors.As(err, &hk):
		return x("host-key-"+hostKeyCode(hk), exitConnection, hostKeyHints(hk, s)...)
	case errors.As(err, &auth):
		return x("auth", exitConnection, authHints(err)...)
	case errors.As(err, &proxy):
		return x("proxy-command", exitConnection, "run the ProxyCommand by hand to see why it fails; 'kfwd config "+s.host()+"' shows what kfwd runs")
	case errors.As(err, &busy):
		return x("port-in-use", exitConnection, portInUseHints(busy, s)...)
	case errors.Is(err, syscall.EACCES) && strings.HasPrefix(msg, "listening on "):
		return x("port-denied", exitConnection, "ports below 1024 need root on this machine; forward a local port of 1024 or above (kfwd forward "+s.host()+" 8080:80)")
	case errors.As(err, &ctr):
		return x("container", exitConnection, containerHints(ctr)...)
	case errors.As(err, &nofwd):
		return x("no-route", exitConnection,
			"ask for 'AllowTcpForwarding local' (or yes) in the server's sshd_config, or install nc, socat or python3 on the remote",
			"or use the CLI's device-code sign-in if it has one (e.g. aws sso login --use-device-code, az login --use-device-code)")
	case errors.As(err, &relay) && relay.Where != "":
		return x("no-route", exitConnection,
			"install one of them in the container (BusyBox's nc will do: apk add busybox, apt-get install netcat-openbsd or python3-minimal), or use an image that has one",
			"or use the CLI's device-code sign-in if it has one (e.g. aws sso login --use-device-code, az login --use-device-code)")
	case errors.Is(err, tunnel.ErrConnectionLost):
		return x("connection-lost", exitConnection, "the network to the host went silent; check it and run kfwd "+s.command+" again (-o ServerAliveInterval tunes the keepalive)")
	case errors.Is(err, tunnel.ErrConnectTimeout):
		return x("connect-timeout", exitConnection, "check the host name and port ('kfwd config "+s.host()+"'), the network and any firewall or security group")
	case errors.As(err, &dial):
		name := s.host()
		if dial.Jump {
			name = tunnel.ShellQuote(dial.Host)
		}
		return x("dial", exitConnection, "check the host name and port ('kfwd config "+name+"') and that 'ssh "+name+"' works")
	}
	return x("failure", exitFailure)
}

func hostKeyCode(hk *tunnel.HostKeyError) string {
	switch hk.Kind {
	case tunnel.HostKeyChanged:
		return "changed"
	case tunnel.HostKeyRevoked:
		return "revoked"
	}
	return "unknown"
}

// authHints are the hints that fit why authentication failed: a wrong
// passphrase or a key others can read is its own problem, not a wrong key or
// user name.
func authHints(err error) []string {
	var unprotected *tunnel.UnprotectedKeyError
	switch {
	case errors.As(err, &unprotected):
		return []string{"make the key readable only by you: chmod 600 " + tunnel.ShellQuote(unprotected.Path)}
	case errors.Is(err, tunnel.ErrBadPassphrase):
		return []string{"the passphrase was wrong; ssh-keygen -y -f KEYFILE checks it"}
	}
	return []string{
		"give the key with -i KEYFILE (e.g. the .pem file EC2 gave you) or add it to the agent with ssh-add",
		"check the user name (-l USER or user@host); EC2 images use ec2-user, ubuntu or admin",
	}
}

// portInUseHints fit the command: a login's callback port is the CLI's
// choice, a forward's local port the user's.
func portInUseHints(busy *tunnel.PortInUseError, s situation) []string {
	var hints []string
	if s.command == "forward" {
		hints = []string{"close the program holding the port, or forward another local port to the same remote one (kfwd forward " + s.host() + " OTHER:REMOTEPORT)"}
	} else {
		hints = []string{"close the program holding the port (an old kfwd or 'ssh -L' tunnel?) and run kfwd " + s.command + " again"}
	}
	if busy.Family == "IPv6" {
		hints = append(hints, "kfwd does not forward 127.0.0.1 alone: a browser may send the sign-in for localhost to ::1, to that program")
	}
	return hints
}

func hostKeyHints(hk *tunnel.HostKeyError, s situation) []string {
	switch hk.Kind {
	case tunnel.HostKeyChanged:
		return []string{
			"if the host was reinstalled or its key rotated, remove the old key with: ssh-keygen -R " + tunnel.ShellQuote(hk.Host) + " -f " + tunnel.ShellQuote(hk.File),
			"otherwise do not connect: someone may be intercepting the connection",
		}
	case tunnel.HostKeyRevoked:
		return []string{"the key is revoked in " + hk.File + "; ask the host's administrator for its current key"}
	}
	return []string{
		"check the fingerprint with the host's administrator, then connect once with 'ssh " + s.host() + "' to record it,",
		"or use -o StrictHostKeyChecking=accept-new to record it on first use",
	}
}

// containerHints say what to do about a container kfwd cannot exec into.
func containerHints(e *tunnel.ContainerError) []string {
	rt := string(e.Spec.Runtime)
	on := ""
	if e.OnHost {
		on = " on the host"
	}
	list := rt + " ps"
	if e.Spec.Runtime == tunnel.Kubectl {
		list = "kubectl get pods"
	}
	switch e.Problem {
	case tunnel.RuntimeMissing:
		if e.OnHost {
			return []string{"install docker or podman on the host, or check that it is in the PATH of non-interactive ssh sessions"}
		}
		return []string{"install " + rt + " here, or name the runtime that runs the container (docker://, podman://, kubectl://)"}
	case tunnel.ContainerNotFound:
		return []string{"'" + list + "'" + on + " lists the running ones (shell completion offers local ones)"}
	case tunnel.ContainerNotRunning:
		if e.Spec.Runtime == tunnel.Kubectl {
			return []string{"wait until the pod runs: kubectl get pod " + tunnel.ShellQuote(e.Spec.Name) + " -w"}
		}
		return []string{"start it" + on + " with: " + rt + " start " + tunnel.ShellQuote(e.Spec.Name)}
	case tunnel.RuntimePermission:
		if e.Spec.Runtime == tunnel.Kubectl {
			return []string{"your kubeconfig user needs RBAC permission for pods/exec in that namespace"}
		}
		if e.Spec.Runtime == tunnel.Docker {
			return []string{"the docker socket is not yours: join the docker group" + on + " (sudo usermod -aG docker $USER, then log in again), or use rootless podman"}
		}
		return []string{"run kfwd as the user who owns the container (rootless podman keeps each user's containers apart)"}
	case tunnel.RuntimeUnreachable:
		if e.Spec.Runtime == tunnel.Kubectl {
			return []string{"check the cluster and the context: kubectl config current-context; kubectl cluster-info"}
		}
		return []string{"start the daemon" + on + " (systemctl start " + rt + "), or point DOCKER_HOST at it"}
	}
	return []string{"run '" + rt + " inspect " + tunnel.ShellQuote(e.Spec.Name) + "'" + on + " to see why"}
}
