package tunnel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"time"
)

// Login is a login command running on the remote host under kfwd's wrapper,
// which installs the browser-opener shims and can be stopped from outside
// (see loginCommand and stopCommand). It is a Session with a Stop.
type Login struct {
	*Session
	t  Target
	id string
}

// StartLogin starts argv on the remote host wrapped by loginCommand, with o
// for everything but the command line (o.Command is ignored).
func (c *Client) StartLogin(ctx context.Context, argv []string, o SessionOptions) (*Login, error) {
	return startLogin(ctx, c, newLoginID(), argv, o)
}

func startLogin(ctx context.Context, t Target, id string, argv []string, o SessionOptions) (*Login, error) {
	o.Command = loginCommand(argv, id)
	s, err := t.Start(ctx, o)
	if err != nil {
		return nil, err
	}
	return &Login{Session: s, t: t, id: id}, nil
}

// ID is the login's random session id (names its remote pid file).
func (l *Login) ID() string { return l.id }

// Stop ends the remote login when kfwd gives up on it: an interrupt, then TERM
// through the wrapper's pid file (sshd refuses signals in root sessions and
// hangs up only PTY sessions), then closing the session. Each step is bounded,
// so a dead connection delays the caller by at most a few seconds.
func (l *Login) Stop() {
	l.Signal(os.Interrupt)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	l.t.Run(ctx, stopCommand(l.id))
	l.Close()
}

// newLoginID returns a random hex id for one login.
func newLoginID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// shimNames are the commands CLIs use to open a browser on Linux and macOS;
// BROWSER is pointed at the first one.
var shimNames = []string{"xdg-open", "open", "sensible-browser", "x-www-browser", "www-browser"}

// shimScript is the body of every opener shim. It takes the first argument
// that looks like a URL (macOS `open -a Safari URL`), encodes it in base64,
// or in hex with od when base64 is missing, and writes the kfwd marker (an
// OSC that terminals ignore, read by callback.Scanner) to the controlling
// terminal, or to stderr when there is none. It always succeeds so that the
// CLI goes on to wait for the callback.
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

// loginCommand returns the remote shell command line that installs the
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
//
// With an id, the wrapper records its pid in the remote file
// ${TMPDIR:-/tmp}/kfwd-<id>.pid (removed on exit), and stopCommand(id) is the
// remote command that stops it. This is how kfwd ends a remote login on Ctrl-C
// or an error: OpenSSH refuses "signal" requests in root sessions ("session
// signalling requires privilege separation") and hangs up only sessions that
// have a PTY. id must be [0-9a-zA-Z] only. The wrapper also exports
// KFWD_SESSION=<id> to argv.
func loginCommand(argv []string, id string) string {
	var b strings.Builder
	if id != "" {
		b.WriteString(`kfwd_f="${TMPDIR:-/tmp}/kfwd-` + id + `.pid"; `)
		// The agreed marker: every process of the login carries it in its
		// environment, so that the listener watch (see Watch) finds them.
		b.WriteString(`KFWD_SESSION=` + id + `; export KFWD_SESSION; `)
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
		b.WriteString(ShellQuote(l))
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
	cmd.WriteString(ShellQuote(b.String()))
	cmd.WriteString(" kfwd")
	for _, a := range argv {
		cmd.WriteString(" ")
		cmd.WriteString(ShellQuote(a))
	}
	return cmd.String()
}

// stopCommand returns the remote command that sends TERM to the login wrapped
// by loginCommand(argv, id); the wrapper passes it on and exits.
func stopCommand(id string) string {
	script := `f="${TMPDIR:-/tmp}/kfwd-` + id + `.pid"; [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; exit 0`
	return "exec /bin/sh -c " + ShellQuote(script)
}
