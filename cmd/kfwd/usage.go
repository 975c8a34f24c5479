package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/urfave/cli/v3"
)

// wantsJSON tells whether --json is among kfwd's own arguments (before "--").
func wantsJSON(args []string) bool {
	for _, a := range args[min(1, len(args)):] {
		switch a {
		case "--":
			return false
		case "--json", "-json":
			return true
		}
	}
	return false
}

// setUsage makes every command report usage errors as kfwd does: one error
// line naming what was typed and one hint, exit status 2, no help unless it
// was asked for. It also records which command runs, for hints.
func (e *env) setUsage(root *cli.Command) {
	var walk func(c *cli.Command)
	walk = func(c *cli.Command) {
		c.OnUsageError = func(_ context.Context, cmd *cli.Command, err error, _ bool) error {
			if cmd != cmd.Root() {
				e.what.command = cmd.Name
			}
			return flagUsageError(cmd, err)
		}
		if c != root {
			before := c.Before
			c.Before = func(ctx context.Context, cmd *cli.Command) (context.Context, error) {
				e.what.command = cmd.Name
				if before != nil {
					return before(ctx, cmd)
				}
				return ctx, nil
			}
		}
		for _, sub := range c.Commands {
			walk(sub)
		}
	}
	walk(root)
}

var invalidValue = regexp.MustCompile(`^invalid value "(.*)" for flag -(\S+): (.*)$`)

// flagUsageError rewrites urfave/cli's flag errors in kfwd's words, with a
// "did you mean" for a misspelt flag and, for login, the hint that the remote
// command's own flags go after "--".
func flagUsageError(cmd *cli.Command, err error) error {
	prefix := ""
	if cmd.Root() != cmd {
		prefix = cmd.Name + ": "
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		ue := usageError{err: fmt.Errorf("%sunknown flag %s", prefix, dashed(name))}
		switch sug := suggest(name, flagNames(cmd)); {
		case sug != "":
			ue.hint = "did you mean " + dashed(sug) + "?"
		case cmd.Name == "login":
			ue.hint = "options of the remote command go after --: kfwd login HOST -- COMMAND " + dashed(name) + " ..."
		}
		return ue
	}
	if m := invalidValue.FindStringSubmatch(msg); m != nil {
		why := m[3]
		switch {
		case strings.Contains(why, "strconv."):
			why = "not a number"
		case strings.Contains(why, "time: "):
			why = "not a duration (e.g. 90s, 10m)"
		}
		return usageError{err: fmt.Errorf("%sinvalid value %q for %s: %s", prefix, m[1], dashed(m[2]), why)}
	}
	return usageError{err: fmt.Errorf("%s%s", prefix, msg)}
}

// dashed spells a flag name as typed on the command line.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

func flagNames(cmd *cli.Command) []string {
	var names []string
	for _, c := range cmd.Lineage() {
		for _, f := range c.Flags {
			names = append(names, f.Names()...)
		}
	}
	return names
}

// suggest returns the candidate closest to typed when it is close enough to
// be a typo (an edit distance of at most 2, or 1 for short words), else "".
func suggest(typed string, candidates []string) string {
	best, bestD := "", 3
	if len(typed) <= 3 {
		bestD = 2
	}
	for _, c := range candidates {
		if d := editDistance(typed, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance with transpositions counted as one
// edit (Damerau), as typos are.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// commandNames are the commands a user may type (hidden ones included).
func commandNames(root *cli.Command) []string {
	var names []string
	for _, c := range root.Commands {
		names = append(names, c.Name)
		names = append(names, c.Aliases...)
	}
	return names
}

// unknownCommand is the root's action: without a command it shows the help,
// as asked for; with one it is not a command kfwd knows.
func (e *env) unknownCommand(ctx context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() == 0 {
		return cli.ShowRootCommandHelp(cmd)
	}
	return unknownCommandError(cmd, cmd.Args().First())
}

func unknownCommandError(root *cli.Command, name string) error {
	ue := usageError{err: fmt.Errorf("unknown command %q", name), hint: "run 'kfwd help' for the commands"}
	if sug := suggest(name, commandNames(root)); sug != "" {
		ue.hint = "did you mean 'kfwd " + sug + "'?"
	}
	return ue
}

// helpCommand is `kfwd help [COMMAND]`.
func helpCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "help",
		Usage:     "show the help of kfwd or of one command",
		ArgsUsage: "[COMMAND]",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			root := cmd.Root()
			switch cmd.Args().Len() {
			case 0:
				return cli.ShowRootCommandHelp(root)
			case 1:
			default:
				return usageError{err: errors.New("help: one command at a time")}
			}
			name := cmd.Args().First()
			if !slices.Contains(commandNames(root), name) {
				return unknownCommandError(root, name)
			}
			return cli.ShowCommandHelp(ctx, root, name)
		},
	}
}
