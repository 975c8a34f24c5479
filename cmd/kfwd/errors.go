package main

import (
	"context"
	"errors"
	"fmt"

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

// usageError marks an error in how kfwd was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// remoteExit carries the remote login's own exit status; it is not an error to
// report, only a status to exit with.
type remoteExit struct{ status int }

func (e remoteExit) Error() string {
	return fmt.Sprintf("remote command exited with status %d", e.status)
}

// errInterrupted is returned when the user pressed Ctrl-C (outside raw mode) or
// sent SIGINT/SIGTERM.
var errInterrupted = errors.New("interrupted")

// timeoutError is returned when --timeout expired.
type timeoutError struct{ after string }

func (e timeoutError) Error() string {
	return "the login did not finish within " + e.after
}

// reported wraps an error that has been printed already, with its exit status.
type reported struct{ status int }

func (e reported) Error() string { return fmt.Sprintf("exit status %d", e.status) }

// report prints err with its hints through u and returns the exit status for
// it (0 for nil). This is the one place where errors become words and numbers.
func report(u *ui, err error) int {
	if err == nil {
		return 0
	}
	var re remoteExit
	if errors.As(err, &re) {
		return re.status
	}
	var done reported
	if errors.As(err, &done) {
		return done.status
	}
	x := explain(err)
	u.fail(x.msg, x.hints)
	return x.status
}

// explanation is what kfwd says about an error: its message, the hints that
// apply to it, and the exit status.
type explanation struct {
	msg    string
	hints  []string
	status int
}

// explain is the one table from errors to messages, hints and exit statuses,
// used by every command (kfwd doctor shows the hints of its failed checks).
func explain(err error) explanation {
	msg := err.Error()
	var (
		ue    usageError
		te    timeoutError
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
		return explanation{msg, []string{"run 'kfwd --help' or 'kfwd COMMAND --help' for usage"}, exitUsage}
	case errors.Is(err, errInterrupted):
		return explanation{"interrupted", nil, exitInterrupted}
	case errors.As(err, &te):
		return explanation{msg, []string{"raise --timeout, or finish the sign-in in the browser sooner"}, exitTimeout}
	case errors.Is(err, context.DeadlineExceeded):
		return explanation{msg, nil, exitTimeout}
	case errors.As(err, &hk):
		return explanation{msg, hostKeyHints(hk), exitConnection}
	case errors.As(err, &auth):
		hints := []string{
			"give the key with -i KEYFILE (e.g. the .pem file EC2 gave you) or add it to the agent with ssh-add",
			"check the user name (-l USER or user@host); EC2 images use ec2-user, ubuntu or admin",
		}
		if errors.Is(err, tunnel.ErrBadPassphrase) {
			hints = append([]string{"the passphrase was wrong; ssh-keygen -y -f KEYFILE checks it"}, hints...)
		}
		if unprotected := (*tunnel.UnprotectedKeyError)(nil); errors.As(err, &unprotected) {
			hints = append([]string{"make the key readable only by you: chmod 600 " + tunnel.ShellQuote(unprotected.Path)}, hints...)
		}
		return explanation{msg, hints, exitConnection}
	case errors.As(err, &proxy):
		return explanation{msg, []string{"run the ProxyCommand by hand to see why it fails; check with 'kfwd config HOST' what kfwd runs"}, exitConnection}
	case errors.As(err, &busy):
		hints := []string{"close the program holding the port (an old kfwd or 'ssh -L' tunnel?) and run kfwd login again"}
		if busy.Family == "IPv6" {
			hints = append(hints, "kfwd does not forward 127.0.0.1 alone: a browser may send the sign-in for localhost to ::1, to that program")
		}
		return explanation{msg, hints, exitConnection}
	case errors.As(err, &ctr):
		return explanation{msg, containerHints(ctr), exitConnection}
	case errors.As(err, &nofwd):
		return explanation{msg, []string{
			"ask for 'AllowTcpForwarding local' (or yes) in the server's sshd_config, or install nc, socat or python3 on the remote",
			"or use the CLI's device-code sign-in if it has one (e.g. aws sso login --use-device-code, az login --use-device-code)",
		}, exitConnection}
	case errors.As(err, &relay) && relay.Where != "":
		return explanation{msg, []string{
			"install one of them in the container (BusyBox's nc will do: apk add busybox, apt-get install netcat-openbsd or python3-minimal), or use an image that has one",
			"or use the CLI's device-code sign-in if it has one (e.g. aws sso login --use-device-code, az login --use-device-code)",
		}, exitConnection}
	case errors.Is(err, tunnel.ErrConnectionLost):
		return explanation{msg, []string{"the network to the host went silent; check it and run kfwd login again (-o ServerAliveInterval tunes the keepalive)"}, exitConnection}
	case errors.Is(err, tunnel.ErrConnectTimeout):
		return explanation{msg, []string{"check the host name and port ('kfwd config HOST'), the network and any firewall or security group"}, exitConnection}
	case errors.As(err, &dial):
		return explanation{msg, []string{"check the host name and port ('kfwd config HOST') and that 'ssh " + dial.Host + "' works"}, exitConnection}
	}
	return explanation{msg, nil, exitFailure}
}

func hostKeyHints(hk *tunnel.HostKeyError) []string {
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
		"check the fingerprint with the host's administrator, then connect once with 'ssh " + hk.Host + "' to record it,",
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
