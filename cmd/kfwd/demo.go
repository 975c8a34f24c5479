package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/kfwd/kfwd/internal/demo"
	"github.com/kfwd/kfwd/internal/login"
	"github.com/kfwd/kfwd/sshconfig"
	"github.com/urfave/cli/v3"
)

func demoCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "sign in through kfwd against a built-in SSH host and identity provider (no remote host needed)",
		Description: "kfwd demo starts, inside this process, an identity provider on local loopback and an SSH\n" +
			"server whose \"remote\" loopback is an in-memory network. The remote runs a built-in CLI that\n" +
			"signs in with a real PKCE loopback flow, and kfwd signs it in through the same path as\n" +
			"'kfwd login': ssh_config, dial, host-key check, session, output scanner, same-port forward,\n" +
			"browser. It works offline and needs no ~/.ssh.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "no-browser", Usage: "print the URL instead of opening a browser"},
			&cli.DurationFlag{Name: "timeout", Value: 2 * time.Minute, Usage: "give up after this long"},
		},
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() > 0 {
				return usageError{err: fmt.Errorf("demo: unexpected argument %q", cmd.Args().First())}
			}
			return runDemo(ctx, e, cmd.Bool("no-browser"), cmd.Duration("timeout"))
		},
	}
}

// runDemo starts the demo world, writes an ssh_config for it in a temporary
// directory, and runs the real login path against it.
func runDemo(ctx context.Context, e *env, noBrowser bool, timeout time.Duration) error {
	u := e.ui
	// The demo's CLI waits a little longer than kfwd, so that --timeout,
	// not the CLI giving up first, decides how an unfinished demo ends.
	d, err := demo.Start(demo.Options{LoginTimeout: timeout + 5*time.Second, Logf: u.Logf(2)})
	if err != nil {
		return err
	}
	defer d.Close()
	dir, err := os.MkdirTemp("", "kfwd-demo-")
	if err != nil {
		return fmt.Errorf("demo: making a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg, err := d.WriteSSHConfig(dir)
	if err != nil {
		return err
	}
	u.Statusf("demo: identity provider at %s (on this machine)", d.Issuer)
	u.Statusf("demo: SSH host %s with its own in-memory loopback, reachable only through SSH", d.SSH.Addr)
	u.Statusf("demo: ssh_config for Host %s in %s", demo.Alias, cfg)
	u.Event("demo", map[string]any{"issuer": d.Issuer, "ssh": d.SSH.Addr, "config": cfg})

	h, err := sshconfig.Resolve(demo.Alias, sshconfig.Options{ConfigFile: cfg})
	if err != nil {
		return fmt.Errorf("demo: reading its ssh_config: %w", err)
	}
	u.Statusf("demo: running kfwd login -F %s %s -- %s", cfg, demo.Alias, demo.Command)
	var open func(string) error
	opening := ""
	if !noBrowser && !login.HasBrowser(e.getenv) {
		opening = "demo: following %s in-process, as a signed-in browser would"
		// A fresh server or CI has no browser to show: the demo signs in the
		// way a signed-in browser would, following the URL itself.
		u.Statusf("demo: no browser on this machine ($BROWSER unset, no display): following the sign-in URL in-process instead")
		open = func(url string) error {
			go d.Follow(ctx, url)
			return nil
		}
	}
	dial := dialer{e: e, host: h, prompt: noPrompter{}, resolve: func(alias string) (*sshconfig.Host, error) {
		return sshconfig.Resolve(alias, sshconfig.Options{ConfigFile: cfg})
	}}
	err = runLogin(ctx, e, login.Options{
		Host:      h,
		Connect:   dial.connect,
		Command:   []string{demo.Command},
		NoBrowser: noBrowser,
		Timeout:   timeout,
		Open:      open,
		Opening:   opening,
	})
	if err != nil {
		return err
	}
	if len(d.Logins()) == 0 {
		return errors.New("demo: the login ended without signing in")
	}
	u.Statusf("demo: done: the remote CLI signed in through the forwarded callback; with a real host run: kfwd login HOST")
	return nil
}

// noPrompter answers no question: the demo's key is unencrypted and its host
// key is in the known_hosts it wrote, so a question would be a bug.
type noPrompter struct{}

func (noPrompter) Secret(prompt string) ([]byte, error) {
	return nil, fmt.Errorf("demo: unexpected prompt %q", prompt)
}

func (noPrompter) Ask(prompt string) (string, error) {
	return "", fmt.Errorf("demo: unexpected prompt %q", prompt)
}
