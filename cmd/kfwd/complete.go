package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v3"
)

// completeHosts completes Host aliases from the user's ssh config (patterns with
// wildcards are left out: they name no host), after the default flag completion.
func completeHosts(ctx context.Context, cmd *cli.Command) {
	if cmd.NArg() > 0 {
		return
	}
	cli.DefaultCompleteWithFlags(ctx, cmd)
	path := cmd.String("F")
	if path == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return
		}
		path = filepath.Join(home, ".ssh", "config")
	}
	for _, h := range configHosts(path, 0) {
		fmt.Fprintln(cmd.Root().Writer, h)
	}
}

// configHosts lists the literal Host names in an ssh config file and the files
// it includes.
func configHosts(path string, depth int) []string {
	if depth > 8 {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var hosts []string
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(strings.ReplaceAll(line, "=", " "))
		if len(fields) < 2 {
			continue
		}
		switch strings.ToLower(fields[0]) {
		case "host":
			for _, h := range fields[1:] {
				if !strings.ContainsAny(h, "*?!") {
					hosts = append(hosts, h)
				}
			}
		case "include":
			for _, pat := range fields[1:] {
				if strings.HasPrefix(pat, "~/") {
					if home, err := os.UserHomeDir(); err == nil {
						pat = filepath.Join(home, pat[2:])
					}
				} else if !filepath.IsAbs(pat) {
					pat = filepath.Join(filepath.Dir(path), pat)
				}
				matches, _ := filepath.Glob(pat)
				for _, m := range matches {
					hosts = append(hosts, configHosts(m, depth+1)...)
				}
			}
		}
	}
	return hosts
}
