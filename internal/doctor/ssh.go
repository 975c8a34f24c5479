package doctor

import (
	"context"
	"errors"
	"fmt"

	"github.com/kfwd/kfwd/sshconfig"
	"github.com/kfwd/kfwd/tunnel"
)

// connect dials as kfwd login does and reports the host key and
// authentication checks from the outcome.
func (r *run) connect(ctx context.Context, h *sshconfig.Host) (*tunnel.Client, bool) {
	client, err := r.o.Dial(ctx)
	if err == nil {
		if h.ProxyJump != "" || h.ProxyCommand != "" {
			via := "ProxyJump " + h.ProxyJump
			if h.ProxyJump == "" {
				via = "ProxyCommand"
			}
			r.report(Check{Name: "reach", OK: true, Detail: fmt.Sprintf("%s:%d through %s", h.HostName, h.Port, via)})
		}
		info := client.Info()
		r.report(Check{Name: "host key", OK: true, Detail: hostKeyDetail(info.HostKey)})
		method := "public key"
		switch info.Auth.Method {
		case "password", "keyboard-interactive":
			method = info.Auth.Method
		case "publickey":
			method += " " + info.Auth.Key
		case "none":
			method = "no credentials (the server asked for none)"
		}
		r.report(Check{Name: "auth", OK: true, Detail: fmt.Sprintf("logged in as %s with %s", h.User, method)})
		return client, true
	}

	hint := r.hint(err)
	var hk *tunnel.HostKeyError
	var ae *tunnel.AuthError
	var pe *tunnel.ProxyCommandError
	switch {
	case errors.As(err, &hk):
		r.report(Check{Name: "host key", Detail: hk.Error(), Hint: hint})
	case errors.As(err, &ae):
		r.report(Check{Name: "host key", OK: true, Detail: "matches known_hosts"})
		r.report(Check{Name: "auth", Detail: ae.Error(), Hint: hint})
	case errors.As(err, &pe), errors.Is(err, tunnel.ErrConnectTimeout):
		r.report(Check{Name: "reach", Detail: err.Error(), Hint: hint})
	default:
		if hint == "" {
			hint = "run 'kfwd doctor -vv " + h.Alias + "' for details"
		}
		r.report(Check{Name: "ssh", Detail: err.Error(), Hint: hint})
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
func (r *run) forwardingCheck(ctx context.Context, c *tunnel.Client) Check {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	st, err := c.ProbeForwarding(ctx)
	switch {
	case err != nil:
		return Check{Name: "forwarding", Detail: err.Error(), Hint: "the server neither accepted nor refused a forward; try 'ssh -L' by hand"}
	case st == tunnel.ForwardAllowed:
		return Check{Name: "forwarding", OK: true, Detail: "allowed (the server accepts direct-tcpip forwards)"}
	}
	relay, err := c.FindRelay(ctx)
	if err != nil {
		return Check{Name: "forwarding", Detail: "administratively prohibited, and " + err.Error(),
			Hint: r.hint(&tunnel.NoRouteError{Err: err})}
	}
	return Check{Name: "forwarding", OK: true, Detail: fmt.Sprintf("administratively prohibited; kfwd will relay through %s on the remote", relay.Kind)}
}
