package main

import (
	"context"
	"reflect"
	"testing"

	"github.com/urfave/cli/v3"
)

// TestLoginArgs checks how flags and the remote command split around HOST:
// kfwd's flags may come before or after HOST, and everything after "--" is the
// remote command, flags included.
func TestLoginArgs(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		host    string
		cliName string
		command []string
	}{
		{[]string{"login", "srv"}, "srv", "", defaultLogin},
		{[]string{"login", "-v", "srv", "--", "aws", "sso", "login", "--profile", "dev"}, "srv", "", []string{"aws", "sso", "login", "--profile", "dev"}},
		{[]string{"login", "srv", "--cli", "gh"}, "srv", "gh", []string{"gh", "auth", "login"}},
		{[]string{"login", "--cli", "codex", "srv"}, "srv", "codex", []string{"codex", "login"}},
		{[]string{"login", "srv", "--", "-x"}, "srv", "", []string{"-x"}},
	} {
		var gotHost, gotCLI string
		var gotCmd []string
		cmd := &cli.Command{Name: "kfwd", Flags: rootFlags(), Commands: []*cli.Command{{
			Name:  "login",
			Flags: loginFlags(),
			Action: func(ctx context.Context, cmd *cli.Command) error {
				gotHost = cmd.Args().First()
				gotCLI = cmd.String("cli")
				var err error
				gotCmd, err = loginArgv(gotCLI, cmd.Args().Tail())
				return err
			},
		}}}
		if err := cmd.Run(context.Background(), append([]string{"kfwd"}, tc.args...)); err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if gotHost != tc.host || gotCLI != tc.cliName || !reflect.DeepEqual(gotCmd, tc.command) {
			t.Errorf("%q: host %q cli %q command %q; want %q %q %q", tc.args, gotHost, gotCLI, gotCmd, tc.host, tc.cliName, tc.command)
		}
	}
}
