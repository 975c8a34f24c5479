package tunnel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Login is a login command running on the remote host under kfwd's wrapper.
// The wrapper installs the browser-opener shims, marks every process of the
// login with KFWD_SESSION=<id> in its environment, and can be stopped from
// outside, whole (see loginScript and stopScript). Next to it a lease session
// tells later kfwds that this login still has an owner, and stops the login
// when kfwd is gone (see leaseScript). It is a Session with a Stop.
type Login struct {
	*Session
	t  Target
	id string

	started chan struct{} // closed once Session is set (it stays nil when the login did not start)
	mu      sync.Mutex
	closed  bool
	lease   *Session
	leaseIn *io.PipeWriter
}

// Lease timing: kfwd refreshes the lease every leaseInterval; a later kfwd
// takes a login whose lease is older than leaseStale seconds as abandoned.
// The wrapper writes the first lease (its start time), so a login that kfwd
// lost before the lease session refreshed it goes stale as well.
const (
	leaseInterval = 3 * time.Second
	leaseStale    = 10
)

// startLogin starts argv on t under the login wrapper as session id, with o
// for everything but the command line (o.Command is ignored). The lease
// session is opened together with the login's: both channel opens, then both
// execs, travel together, so the login starts no later, and a login that
// loses its kfwd in its first seconds is stopped too. kfwd writes the lease
// session nothing before leaseInterval, when the login's first output has
// long arrived (data sent sooner would make the output an answer to it: one
// more round trip, see internal/e2e TestRoundTripsToFirstOutput).
func startLogin(ctx context.Context, t Target, id string, argv []string, o SessionOptions) (*Login, error) {
	o.Command = loginCommand(argv, id)
	l := &Login{t: t, id: id, started: make(chan struct{})}
	go l.holdLease(o.Logf)
	s, err := t.Start(ctx, o)
	l.Session = s
	close(l.started)
	if err != nil {
		l.mu.Lock()
		l.closed = true
		in := l.leaseIn
		l.mu.Unlock()
		if in != nil {
			in.Close()
		}
		return nil, err
	}
	return l, nil
}

// ID is the login's random session id, its KFWD_SESSION value on the remote.
func (l *Login) ID() string { return l.id }

// holdLease runs the lease session and feeds it a line every leaseInterval
// until Close or the login's end. When it cannot start, it tries again at
// each interval while the login runs: without it the wrapper's first lease
// goes stale, and a later kfwd would stop a login that has an owner.
func (l *Login) holdLease(logf func(string, ...any)) {
	tick := time.NewTicker(leaseInterval)
	defer tick.Stop()
	for {
		pr, pw := io.Pipe()
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return
		}
		l.leaseIn = pw
		l.mu.Unlock()
		s, err := l.t.Start(context.Background(), SessionOptions{Command: leaseCommand(l.id), Stdin: pr})
		if err == nil {
			l.feedLease(s, pw, tick)
			return
		}
		if logf != nil {
			logf("login: no lease session (%v); trying again in %v, a later kfwd may take this login for abandoned", err, leaseInterval)
		}
		<-l.started
		if l.Session == nil {
			return
		}
		select {
		case <-tick.C:
		case <-l.done():
			return
		}
	}
}

// feedLease writes lease session s a line (on in) every tick until it ends
// or the Login is closed.
func (l *Login) feedLease(s *Session, in *io.PipeWriter, tick *time.Ticker) {
	l.mu.Lock()
	closed := l.closed
	l.lease = s
	l.mu.Unlock()
	if closed {
		// Close ran while the lease started.
		l.endLease(s, in)
		return
	}
	for {
		select {
		case <-tick.C:
		case <-s.done():
			return
		}
		if _, err := in.Write([]byte("\n")); err != nil {
			return
		}
	}
}

// Close ends the lease and closes the login's session. When the login has
// exited, kfwd tells the lease session so (it then ends at once); a login
// still running has no owner: the lease session, seeing its input end
// without that word, stops it.
func (l *Login) Close() error {
	l.mu.Lock()
	l.closed = true
	in, lease := l.leaseIn, l.lease
	l.mu.Unlock()
	if lease != nil {
		l.endLease(lease, in)
	}
	// A lease still starting is ended by feedLease once it runs.
	return l.Session.Close()
}

// endLease ends lease session s, whose input is in: the word "e" when the
// login has exited, then EOF, then the channel's close.
func (l *Login) endLease(s *Session, in *io.PipeWriter) {
	if l.exited() {
		// Bounded: the lease session may be gone, and nobody reads.
		wrote := make(chan struct{})
		go func() { in.Write([]byte("e\n")); close(wrote) }()
		select {
		case <-wrote:
		case <-time.After(200 * time.Millisecond):
		}
	}
	in.Close()
	// Let the word and the EOF go out before the channel closes.
	if s.stdinDone != nil {
		select {
		case <-s.stdinDone:
		case <-time.After(200 * time.Millisecond):
		}
	}
	s.Close()
}

// exited reports whether the login's command has exited with a status (not
// merely lost with its connection).
func (l *Login) exited() bool {
	<-l.started
	if l.Session == nil {
		return false
	}
	select {
	case <-l.done():
		return l.Session.err == nil
	default:
		return false
	}
}

// Stop ends the remote login when kfwd gives up on it, on every exit path but
// the login's own end: an interrupt, then the stop command (sshd refuses
// signals in root sessions and hangs up only PTY sessions), then closing the
// session. Each step is bounded, so a dead connection delays the caller by at
// most a few seconds. When the connection was lost, Stop reconnects once
// (bounded by ConnectTimeout, no questions asked) and stops the login over the
// new connection (in the container, for a container on an SSH host); the
// error says when even that failed, and the login is then left to the next
// kfwd login to the host (see leaseScript).
func (l *Login) Stop() error {
	l.signal(os.Interrupt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := l.t.Run(ctx, stopCommand(l.id))
	if err != nil && LostConnection(l.t) != nil {
		err = l.stopOverNewConnection()
	}
	l.Close()
	if err != nil {
		return fmt.Errorf("stopping the remote login %s: %w", l.id, err)
	}
	return nil
}

// stopOverNewConnection dials the SSH host of the login's target again and
// runs the stop command there: on the host itself, or in the container on it.
func (l *Login) stopOverNewConnection() error {
	t, closeConn, err := redialTarget(l.t)
	if err != nil {
		return err
	}
	defer closeConn()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = t.Run(ctx, stopCommand(l.id))
	return err
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

// shimScript is the body of every opener shim; WPID is replaced by the
// wrapper's pid. It takes the first argument that looks like a URL (macOS
// `open -a Safari URL`), encodes it in base64, or in hex with od when base64
// is missing, and writes the kfwd marker (an OSC that terminals ignore, read
// by callback.Scanner) straight into the wrapper's own standard output
// (/proc/WPID/fd/1: the session's pipe or terminal), so it reaches kfwd
// whatever the CLI did with the opener's stdin, stdout, stderr and other
// descriptors (Go's exec default, Node's stdio 'ignore', Python's close_fds).
// Without /proc it writes to the controlling terminal, else to stderr. It
// always succeeds at once so that the CLI goes on to wait for the callback
// (some wait for the opener to exit before they accept it).
var shimScript = []string{
	`#!/bin/sh`,
	`PATH=$PATH:/usr/bin:/bin`,
	`u=`,
	`for a in "$@"; do case $a in *://*) u=$a; break;; esac; done`,
	`[ -n "$u" ] || u=$1`,
	`[ -n "$u" ] || exit 0`,
	`p=$(printf %s "$u" | base64 2>/dev/null | tr -d "\r\n")`,
	`[ -n "$p" ] || p=h:$(printf %s "$u" | od -An -v -tx1 | tr -d " \n")`,
	`m="\033]5379;kfwd-open;%s\007"`,
	`{ printf "$m" "$p" >/proc/WPID/fd/1; } 2>/dev/null && exit 0`,
	`if ( : >/dev/tty ) 2>/dev/null; then printf "$m" "$p" >/dev/tty; else printf "$m" "$p" >&2; fi`,
	`exit 0`,
}

// procFunctions are the shell functions the wrapper, the stop command and the
// lease session share. kfwd_envpids lists the live processes (but this shell
// and the subshell running it, which inherit a marker the lease session
// carries, and its own grep, gone by then) whose environment carries login $1's marker: KFWD_SESSION=$1 (every process
// the login started), KFWD_WRAPPER=$1 (its wrapper) or KFWD_LEASE=$1 (its
// lease session); that is every process of that login,
// also one reparented to init or in a session of its own. Only the user's
// own processes' environments are readable, so nobody else's is ever listed.
// kfwd_wrapper prints the pid of the login's wrapper, from the pid file in its
// private directory, when that pid is still the wrapper. kfwd_stopid stops a
// whole login: TERM to the wrapper (which passes it on to its process group)
// and to everything carrying the id, KILL to what is left after 2 s, then the
// directory goes.
const procFunctions = `kfwd_envpids() {
  [ -d /proc/self ] || return 0
  kfwd_me=; read -r kfwd_me kfwd_f </proc/self/stat 2>/dev/null
  for kfwd_f in $(grep -lzxF -e "KFWD_SESSION=$1" -e "KFWD_WRAPPER=$1" -e "KFWD_LEASE=$1" /proc/[0-9]*/environ 2>/dev/null); do
    kfwd_f=${kfwd_f#/proc/}; kfwd_f=${kfwd_f%/environ}
    case $kfwd_f in $$|"$kfwd_me") continue;; esac
    [ ! -d "/proc/$kfwd_f" ] || printf '%s ' "$kfwd_f"
  done
}
kfwd_dirs() {
  for kfwd_f in "${TMPDIR:-/tmp}"/kfwd-$1.*; do
    [ -d "$kfwd_f" ] && [ -O "$kfwd_f" ] && printf '%s\n' "$kfwd_f"
  done
}
kfwd_wrapper() {
  kfwd_w=; read -r kfwd_w <"$2/pid" 2>/dev/null
  case $kfwd_w in ''|*[!0-9]*) return 1;; esac
  if [ -d /proc/self ]; then
    grep -qzxF -e "KFWD_WRAPPER=$1" "/proc/$kfwd_w/environ" 2>/dev/null || return 1
  else
    ps -p "$kfwd_w" -o args= 2>/dev/null | grep -qF kfwd || return 1
  fi
  echo "$kfwd_w"
}
kfwd_stopid() {
  for kfwd_g in $(kfwd_dirs "$1"); do
    kfwd_g=$(kfwd_wrapper "$1" "$kfwd_g") && kill -TERM "$kfwd_g" 2>/dev/null
  done
  kfwd_l=$(kfwd_envpids "$1"); kfwd_t=0
  [ -z "$kfwd_l" ] || kill -TERM $kfwd_l 2>/dev/null
  while [ -n "$kfwd_l" ] && [ $kfwd_t -lt 20 ]; do
    sleep 0.1 2>/dev/null || sleep 1
    kfwd_t=$((kfwd_t+1)); kfwd_l=$(kfwd_envpids "$1")
  done
  [ -z "$kfwd_l" ] || kill -KILL $kfwd_l 2>/dev/null
  for kfwd_g in $(kfwd_dirs "$1"); do rm -rf "$kfwd_g"; done
}
`

// loginScript is the wrapper, run by /bin/sh with KFWD_WRAPPER=<id> in its
// environment (which it passes on as KFWD_SESSION=<id>: the agreed marker of
// the login's processes, which the listener watch also reads; the wrapper
// itself is the unmarked parent of the marked ones) and the login's argv as arguments (those holding a backslash
// still octal-escaped, see remoteLine). In order:
//
//   - decode the arguments;
//   - create its private directory ${TMPDIR:-/tmp}/kfwd-<id>.XXXXXX (mktemp
//     -d: mode 0700, a name nobody can guess or take first), removed on exit;
//   - write the opener shims there (printf is a builtin: only the chmod costs a
//     process, and the login's start-up is on the critical path), first in
//     PATH, BROWSER pointing at one;
//   - run argv in the background with KFWD_SESSION=<id> in its environment
//     only (exported earlier, the marker would also be on the commands the
//     wrapper runs itself, such as mktemp in a $(...) subshell: the watch then
//     took that short-lived subshell, their unmarked parent, for the wrapper
//     and ended when it exited), with the shell's stdin (fd 3: a background
//     job's stdin would be /dev/null), so that the shell can act on signals
//     while argv runs: a shell runs traps only between commands, and wait is
//     one it can leave. A session without a PTY gets no hangup from sshd when
//     kfwd closes it, and a "signal" request reaches only this shell;
//   - write its pid to the directory's pid file, created exclusively (set -C),
//     once the traps are set, so a stop never finds a wrapper that cannot act,
//     and the remote clock to its lease file: the login's first lease, which
//     goes stale unless kfwd's lease session refreshes it (see leaseScript);
//   - on HUP, INT or TERM stop the whole login: TERM to argv, to the process
//     group (sshd makes each session its own group, led by this shell, which
//     the shell checks first) and to every process carrying the id (those
//     that left the group, reparented to init), then exit with the status the
//     signal means;
//   - otherwise exit with argv's status (127 when not found).
const loginScript = `case $* in *\\*)
  kfwd_n=$#
  while [ $kfwd_n -gt 0 ]; do
    kfwd_a=$1; shift
    case $kfwd_a in *\\*) kfwd_a=$(printf "$kfwd_a"; echo x); kfwd_a=${kfwd_a%x};; esac
    set -- "$@" "$kfwd_a"; kfwd_n=$((kfwd_n-1))
  done;;
esac
kfwd_i=$KFWD_WRAPPER; unset KFWD_WRAPPER
kfwd_d=$(mktemp -d "${TMPDIR:-/tmp}/kfwd-$kfwd_i.XXXXXX" 2>/dev/null || mktemp -d -t "kfwd-$kfwd_i" 2>/dev/null) || kfwd_d=
trap '[ -z "$kfwd_d" ] || rm -rf "$kfwd_d"' EXIT
if [ -n "$kfwd_d" ] && [ -d "$kfwd_d" ]; then
  for kfwd_n in SHIMNAMES; do printf '%s\n' SHIMLINES >"$kfwd_d/$kfwd_n"; done
  chmod 755 "$kfwd_d"/*
  PATH="$kfwd_d:$PATH"; BROWSER="$kfwd_d/xdg-open"; export PATH BROWSER
fi
PROCFUNCTIONS
kfwd_stop() {
  kfwd_x=$1
  trap '' HUP INT TERM
  kill -TERM $kfwd_p 2>/dev/null
  kfwd_g=; { read -r kfwd_g </proc/$$/stat; } 2>/dev/null
  kfwd_g=${kfwd_g##*) }; kfwd_g=${kfwd_g#* }; kfwd_g=${kfwd_g#* }; kfwd_g=${kfwd_g%% *}
  [ "$kfwd_g" != $$ ] || kill -TERM -$$ 2>/dev/null
  kfwd_l=$(kfwd_envpids "$kfwd_i")
  [ -z "$kfwd_l" ] || kill -TERM $kfwd_l 2>/dev/null
}
kfwd_x=; kfwd_p=
trap 'kfwd_stop 129' HUP
trap 'kfwd_stop 130' INT
trap 'kfwd_stop 143' TERM
exec 3<&0; KFWD_SESSION=$kfwd_i "$@" <&3 3<&- & kfwd_p=$!; exec 3<&-
[ -z "$kfwd_d" ] || ( set -C; echo $$ >"$kfwd_d/pid"; exec date +%s >"$kfwd_d/lease" ) 2>/dev/null
wait $kfwd_p; kfwd_s=$?
while kill -0 $kfwd_p 2>/dev/null; do wait $kfwd_p; kfwd_s=$?; done
[ -z "$kfwd_x" ] || kfwd_s=$kfwd_x
exit $kfwd_s
`

// stopScript stops the login whose id is $1 (kfwd_stopid).
const stopScript = `PROCFUNCTIONS
kfwd_stopid "$1"
exit 0
`

// leaseScript is the lease session of login $KFWD_LEASE, started together
// with the login. It first stops the logins of earlier kfwds that nobody owns
// any more: the user's own directories of other ids whose lease is older than
// leaseStale seconds (the wrapper writes the first one, so this holds also for
// a login whose kfwd went before its lease session refreshed it), or that
// have no lease and whose wrapper is gone. Then, for each line kfwd sends, it
// writes the remote clock (date +%s) to its login's lease file; the line "e"
// says the login has exited, and the script ends. When its input ends without
// it (kfwd was killed, or the connection dropped), the login has no owner: it
// stops it, ignoring the TERM the wrapper then sends to everything of the
// login, so that it finishes. As the two sessions start at the same time, the
// login's processes may not be there yet: it looks for them for a second, and
// for as long as a shell is about to run the wrapper (its command line holds
// KFWD_WRAPPER=<id>: the user's shell start-up files still running). That
// shell becomes the wrapper through two execs (env, then /bin/sh), each on the
// same pid: the shell's command line names the id followed by a space, env's
// holds it as a whole argument, and the wrapper's environment carries it. The
// command lines are read before the environments, so a pid that moves on
// between the two reads is still found by the second.
const leaseScript = `PROCFUNCTIONS
kfwd_i=$KFWD_LEASE; kfwd_now=
kfwd_pending() {
  [ -d /proc/self ] || return 0
  grep -lz -e "KFWD_WRAPPE[R]=$1 " -e "^KFWD_WRAPPE[R]=$1\$" /proc/[0-9]*/cmdline 2>/dev/null
}
for kfwd_d in "${TMPDIR:-/tmp}"/kfwd-*.*; do
  [ -d "$kfwd_d" ] && [ -O "$kfwd_d" ] || continue
  kfwd_j=${kfwd_d##*/kfwd-}; kfwd_j=${kfwd_j%%.*}
  case $kfwd_j in "$kfwd_i"|''|*[!0-9a-f]*) continue;; esac
  kfwd_v=; read -r kfwd_v <"$kfwd_d/lease" 2>/dev/null
  case $kfwd_v in
  ''|*[!0-9]*) kfwd_wrapper "$kfwd_j" "$kfwd_d" >/dev/null && continue
     [ -f "$kfwd_d/pid" ] || continue;;
  *) [ -n "$kfwd_now" ] || kfwd_now=$(date +%s)
     [ $((kfwd_now - kfwd_v)) -gt LEASESTALE ] || continue;;
  esac
  kfwd_stopid "$kfwd_j"
done
while read -r kfwd_v; do
  [ "$kfwd_v" != e ] || exit 0
  kfwd_v=$(date +%s)
  for kfwd_d in $(kfwd_dirs "$kfwd_i"); do echo "$kfwd_v" >"$kfwd_d/lease"; done 2>/dev/null
done
trap '' TERM HUP
kfwd_t=0
while [ $kfwd_t -lt 300 ]; do
  kfwd_w=; [ $kfwd_t -lt 10 ] || kfwd_w=$(kfwd_pending "$kfwd_i")
  if [ -n "$(kfwd_dirs "$kfwd_i")$(kfwd_envpids "$kfwd_i")" ]; then kfwd_stopid "$kfwd_i"; break; fi
  [ $kfwd_t -lt 10 ] || [ -n "$kfwd_w" ] || break
  sleep 0.1 2>/dev/null || sleep 1
  kfwd_t=$((kfwd_t+1))
done
exit 0
`

// loginCommand returns the remote command line of the wrapper around argv
// for login id (hex).
func loginCommand(argv []string, id string) string {
	var lines strings.Builder
	for _, l := range shimScript {
		lines.WriteString(" ")
		if strings.Contains(l, "WPID") {
			// Double-quoted, so that the wrapper puts its own pid in.
			l = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`").Replace(l)
			lines.WriteString(`"` + strings.ReplaceAll(l, "WPID", "$$") + `"`)
			continue
		}
		lines.WriteString(ShellQuote(l))
	}
	script := strings.NewReplacer(
		"SHIMNAMES", strings.Join(shimNames, " "),
		"SHIMLINES", lines.String(),
		"PROCFUNCTIONS", procFunctions,
	).Replace(loginScript)
	return remoteLine("KFWD_WRAPPER", id, script, argv)
}

// stopCommand returns the remote command line that stops login id whole.
func stopCommand(id string) string {
	return remoteLine("", "", strings.Replace(stopScript, "PROCFUNCTIONS", procFunctions, 1), []string{id})
}

// leaseCommand returns the remote command line of login id's lease session.
func leaseCommand(id string) string {
	return remoteLine("KFWD_LEASE", id, strings.NewReplacer("PROCFUNCTIONS", procFunctions, "LEASESTALE", strconv.Itoa(leaseStale)).Replace(leaseScript), nil)
}

// remoteLine returns the command line that runs script with /bin/sh, args as
// its positional parameters and, when marker is set, marker=id in its
// environment:
//
//	exec [env MARKER=id] /bin/sh -c 'kfwd_s=$1; shift; eval "$(printf "$kfwd_s")"' sh 'SCRIPT' 'ARG'...
//
// Its $0 is "sh", so that what the shell itself says ("sh: 67: eval: aws: not
// found") reads as the remote shell's words, not as a line of kfwd's own.
//
// sshd hands the line to the user's login shell, and shells disagree about
// quoting: fish reads \\ and \' inside single quotes (an argument ending in \
// would end the quoting), csh and tcsh expand ! and end at a newline even
// there. So every word is single-quoted and holds only printable ASCII other
// than ', \, ! and %, everything else written as a \ooo octal escape, which
// sh, dash, bash, zsh, fish, csh and tcsh all pass through unchanged. /bin/sh's
// printf builtin turns the script back into bytes; arguments are decoded by
// the script only when they hold an escape (loginScript), so a plain argv
// costs no process.
func remoteLine(marker, id, script string, args []string) string {
	var b strings.Builder
	b.WriteString("exec ")
	if marker != "" {
		b.WriteString("env " + marker + "=" + id + " ")
	}
	b.WriteString(`/bin/sh -c 'kfwd_s=$1; shift; eval "$(printf "$kfwd_s")"' sh `)
	b.WriteString(octalQuote(script))
	for _, a := range args {
		b.WriteString(" ")
		b.WriteString(octalQuote(a))
	}
	return b.String()
}

// octalQuote single-quotes s for remoteLine, escaping every byte outside
// printable ASCII and ', \, ! and % as \ooo. An escaped word that starts with
// - has the - escaped too, so that printf does not take it for an option.
func octalQuote(s string) string {
	safe := func(c byte) bool { return c >= 0x20 && c < 0x7f && !strings.ContainsRune(`'\!%`, rune(c)) }
	escaped := false
	for i := 0; i < len(s); i++ {
		escaped = escaped || !safe(s[i])
	}
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !safe(c) || (escaped && i == 0 && c == '-') {
			fmt.Fprintf(&b, `\%03o`, c)
			continue
		}
		b.WriteByte(c)
	}
	b.WriteByte('\'')
	return b.String()
}

// errNoRedial is returned by redial for a Client not made by Dial.
var errNoRedial = errors.New("no dial options to reconnect with")
