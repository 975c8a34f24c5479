package tunnel

import "strings"

// ShellQuote quotes s as one word for a POSIX shell (sh, dash, bash, zsh),
// leaving it bare when it holds only characters no shell treats specially. It
// is kfwd's one quoter: for remote command lines built from fixed parts, and
// for commands kfwd prints for the user to run. (The login wrapper carries the
// user's arguments in a form no login shell interprets, see loginCommand, and
// a container's exec line on an SSH host is only ShellQuote's words when
// every login shell reads them alike, see hostLine.)
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
