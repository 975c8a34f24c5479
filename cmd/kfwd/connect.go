package main

import (
	"context"
	"errors"
	"strings"

	"github.com/kfwd/kfwd/internal/ui"

	"github.com/kfwd/kfwd/sshconfig"
	"github.com/kfwd/kfwd/tunnel"
)

// dialer is how every command connects to the resolved host: the same
// options, prompts and verbose log, so that login, forward and doctor reach a
// host in the same way.
type dialer struct {
	e       *env
	host    *sshconfig.Host
	resolve func(string) (*sshconfig.Host, error) // jump hosts
	prompt  tunnel.Prompter                       // nil: the terminal or SSH_ASKPASS
}

// dial opens one connection, silently (kfwd forward's reconnects).
func (d dialer) dial(ctx context.Context) (*tunnel.Client, error) {
	return d.dialWith(ctx, d.promptOrTerminal(ctx))
}

func (d dialer) promptOrTerminal(ctx context.Context) tunnel.Prompter {
	if d.prompt != nil {
		return d.prompt
	}
	return ui.Prompter(ctx, d.e.getenv)
}

func (d dialer) dialWith(ctx context.Context, p tunnel.Prompter) (*tunnel.Client, error) {
	return tunnel.Dial(ctx, tunnel.DialOptions{Host: d.host, Resolve: d.resolve, Prompt: p, Logf: d.e.ui.Logf(1), Stderr: d.e.stderr})
}

// connect opens the connection with the "connecting" and "connected" status
// lines and events, and a spinner in between that a question (host key,
// passphrase) ends first.
func (d dialer) connect(ctx context.Context) (*tunnel.Client, error) {
	u, h := d.e.ui, d.host
	ev := map[string]any{"host": h.Alias, "hostname": h.HostName, "port": h.Port}
	if via := route(h); via != "" {
		u.Statusf("connecting to %s via %s", h.Alias, via)
		ev["via"] = via
	} else {
		u.Statusf("connecting to %s (%s port %d)", h.Alias, h.HostName, h.Port)
	}
	u.Event("connecting", ev)
	prompt := d.promptOrTerminal(ctx)
	stopSpin := func() {}
	if u.Verbose() == 0 {
		stopSpin = u.Spin("connecting to " + h.Alias)
		if prompt != nil {
			prompt = spinStopper{prompt, stopSpin}
		}
	}
	c, err := d.dialWith(ctx, prompt)
	stopSpin()
	if err != nil {
		return nil, causeOr(ctx, err)
	}
	u.Statusf("connected to %s", h.Alias)
	u.Event("connected", map[string]any{"host": h.Alias})
	return c, nil
}

// spinStopper stops the progress spinner before a question is asked, so that
// the prompt is not drawn over.
type spinStopper struct {
	tunnel.Prompter
	stop func()
}

func (p spinStopper) Secret(prompt string) ([]byte, error) {
	p.stop()
	return p.Prompter.Secret(prompt)
}

func (p spinStopper) Ask(prompt string) (string, error) {
	p.stop()
	return p.Prompter.Ask(prompt)
}

// route names how the connection reaches h, as the user wrote it: the jump
// hosts ("bastion", "a, b") or "ProxyCommand"; "" for a direct connection.
func route(h *sshconfig.Host) string {
	if hops, err := sshconfig.ParseJump(h.ProxyJump); err == nil && len(hops) > 0 {
		names := make([]string, len(hops))
		for i, j := range hops {
			names[i] = j.Host
		}
		return strings.Join(names, ", ")
	}
	if h.ProxyCommand != "" && h.ProxyCommand != "none" {
		return "ProxyCommand"
	}
	return ""
}

// causeOr prefers the reason the context ended (timeout, Ctrl-C, connection
// lost) over the error it caused further down.
func causeOr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}
