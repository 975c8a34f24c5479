package callback

import "strings"

// shimNames are the commands CLIs use to open a browser on Linux and macOS;
// BROWSER is pointed at the first one.
var shimNames = []string{"xdg-open", "open", "sensible-browser", "x-www-browser", "www-browser"}

// shimScript is the body of every opener shim. It takes the first argument
// that looks like a URL (macOS `open -a Safari URL`), encodes it in base64,
// or in hex with od when base64 is missing, and writes the kfwd marker (an
// OSC that terminals ignore) to the controlling terminal, or to stderr when
// there is none. It always succeeds so that the CLI goes on to wait for the
// callback.
var shimScript = []string{
	`#!/bin/sh`,
	`u=`,
	`for a in "$@"; do case $a in *://*) u=$a; break;; esac; done`,
	`[ -n "$u" ] || u=$1`,
	`[ -n "$u" ] || exit 0`,
	`p=$(printf %s "$u" | base64 2>/dev/null | tr -d "\r\n")`,
	`[ -n "$p" ] || p=h:$(printf %s "$u" | od -An -v -tx1 | tr -d " \n")`,
	`if ( : >/dev/tty ) 2>/dev/null; then printf "\033]5379;kfwd-open;%s\007" "$p" >/dev/tty; else printf "\033]5379;kfwd-open;%s\007" "$p" >&2; fi`,
	`exit 0`,
}

// WrapCommand returns the remote shell command line that installs the
// browser-opener shims (xdg-open, open, sensible-browser, x-www-browser,
// www-browser, BROWSER) in a temp dir first in PATH, runs argv, removes the
// dir, and exits with argv's status (127 if not found).
//
// The line is `exec /bin/sh -c '<script>' kfwd <argv...>` on one line with
// every word single-quoted, so that it means the same to a POSIX login
// shell, fish and csh; the script itself needs only POSIX sh (dash, bash,
// busy box), mktemp, chmod, cp, rm, tr and base64 or od. Many CLIs print
// only part of what they hand to the browser (claude, q): the shims make
// the full URL reach the Scanner.
func WrapCommand(argv []string) string { return wrap(argv, "") }

// WrapStoppable is WrapCommand for a login kfwd may have to stop from outside:
// the wrapper records its pid in the remote file ${TMPDIR:-/tmp}/kfwd-<id>.pid
// (removed on exit), and StopCommand(id) is the remote command that stops it.
// This is how kfwd ends a remote login on Ctrl-C or an error: OpenSSH refuses
// "signal" requests in root sessions ("session signalling requires privilege
// separation") and hangs up only sessions that have a PTY. id must be
// [0-9a-zA-Z] only.
func WrapStoppable(argv []string, id string) string { return wrap(argv, id) }

// StopCommand returns the remote command that sends TERM to the login wrapped
// by WrapStoppable(argv, id); the wrapper passes it on and exits.
func StopCommand(id string) string {
	script := `f="${TMPDIR:-/tmp}/kfwd-` + id + `.pid"; [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; exit 0`
	return "exec /bin/sh -c " + shQuote(script)
}

func wrap(argv []string, id string) string {
	var b strings.Builder
	if id != "" {
		b.WriteString(`kfwd_f="${TMPDIR:-/tmp}/kfwd-` + id + `.pid"; `)
	} else {
		b.WriteString(`kfwd_f=; `)
	}
	b.WriteString(`kfwd_d=$(mktemp -d 2>/dev/null || mktemp -d -t kfwd 2>/dev/null) || kfwd_d=; `)
	b.WriteString(`trap 'rm -rf ${kfwd_d:+"$kfwd_d"} ${kfwd_f:+"$kfwd_f"}' EXIT; `)
	b.WriteString(`if [ -n "$kfwd_d" ] && [ -d "$kfwd_d" ]; then `)

	// printf is a builtin: writing each shim costs no process, only the
	// chmod does (the login's start-up is on the critical path).
	b.WriteString(`for kfwd_n in`)
	for _, n := range shimNames {
		b.WriteString(" " + n)
	}
	b.WriteString(`; do printf '%s\n'`)
	for _, l := range shimScript {
		b.WriteString(" ")
		b.WriteString(shQuote(l))
	}
	b.WriteString(` >"$kfwd_d/$kfwd_n"; done; chmod 755 "$kfwd_d"/*; `)
	b.WriteString(`PATH="$kfwd_d:$PATH"; BROWSER="$kfwd_d/xdg-open"; export PATH BROWSER; `)
	b.WriteString(`fi; `)
	// Not exec: the EXIT trap must run after argv ends. argv runs in the
	// background with the shell's stdin (fd 3: a background job's stdin would
	// be /dev/null) so that the shell can act on signals while argv runs: a
	// shell runs traps only between commands, and `wait` is one it can leave.
	// A session without a PTY gets no hangup from sshd when kfwd closes it, and
	// a "signal" request reaches only this shell, so the shell passes HUP, INT
	// and TERM on to argv as TERM (a background job ignores INT) and exits with
	// the status the signal means.
	b.WriteString(`kfwd_x=; kfwd_p=; `)
	b.WriteString(`trap 'kfwd_x=129; kill -TERM $kfwd_p 2>/dev/null' HUP; `)
	b.WriteString(`trap 'kfwd_x=130; kill -TERM $kfwd_p 2>/dev/null' INT; `)
	b.WriteString(`trap 'kfwd_x=143; kill -TERM $kfwd_p 2>/dev/null' TERM; `)
	b.WriteString(`exec 3<&0; "$@" <&3 3<&- & kfwd_p=$!; exec 3<&-; `)
	// The pid file appears only once the traps are set and argv runs, so a stop
	// never finds a wrapper that cannot pass it on.
	b.WriteString(`[ -z "$kfwd_f" ] || echo $$ >"$kfwd_f" 2>/dev/null || kfwd_f=; `)
	b.WriteString(`wait $kfwd_p; kfwd_s=$?; `)
	b.WriteString(`while kill -0 $kfwd_p 2>/dev/null; do wait $kfwd_p; kfwd_s=$?; done; `)
	b.WriteString(`[ -z "$kfwd_x" ] || kfwd_s=$kfwd_x; exit $kfwd_s`)

	var cmd strings.Builder
	cmd.WriteString("exec /bin/sh -c ")
	cmd.WriteString(shQuote(b.String()))
	cmd.WriteString(" kfwd")
	for _, a := range argv {
		cmd.WriteString(" ")
		cmd.WriteString(shQuote(a))
	}
	return cmd.String()
}

// shQuote quotes s as one word for sh, bash, zsh, fish and csh: inside
// single quotes, with each ' written as '\”.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
