package tunnel

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WatchKind says what a WatchReport tells.
type WatchKind int

const (
	// WatchStarted: the watch runs on the remote; Method says how it looks.
	WatchStarted WatchKind = iota + 1
	// WatchUnavailable: the remote cannot be watched, or the watch stopped
	// by itself (Reason says why), so only the login's text tells which
	// port it listens on. It is the last report.
	WatchUnavailable
	// ListenAppeared: the login now listens on Addr:Port.
	ListenAppeared
	// ListenGone: the login no longer listens on Addr:Port.
	ListenGone
	// WatchEnded: the login's wrapper has exited (Linux only; elsewhere the
	// watch ends when it is closed). It is the last report.
	WatchEnded
)

func (k WatchKind) String() string {
	switch k {
	case WatchStarted:
		return "started"
	case WatchUnavailable:
		return "unavailable"
	case ListenAppeared:
		return "appeared"
	case ListenGone:
		return "gone"
	case WatchEnded:
		return "ended"
	}
	return "WatchKind(" + strconv.Itoa(int(k)) + ")"
}

// WatchReport is one thing the remote listener watch learnt. Listen reports
// name only loopback and wildcard addresses: a socket bound to another of the
// remote's addresses cannot be reached through its loopback, which is where
// kfwd forwards to.
type WatchReport struct {
	Kind   WatchKind
	Addr   netip.Addr // ListenAppeared, ListenGone: 127.0.0.1, ::1, 0.0.0.0, :: ...
	Port   int        // ListenAppeared, ListenGone
	Method string     // WatchStarted: "proc" (Linux /proc) or "lsof"
	Reason string     // WatchUnavailable
	// Time is when kfwd received the report.
	Time time.Time
}

func (r WatchReport) String() string {
	switch r.Kind {
	case ListenAppeared, ListenGone:
		return fmt.Sprintf("%s %s", r.Kind, netip.AddrPortFrom(r.Addr, uint16(r.Port)))
	case WatchStarted:
		return "started (" + r.Method + ")"
	case WatchUnavailable:
		return "unavailable: " + r.Reason
	}
	return r.Kind.String()
}

// WatchOptions configure Watch.
type WatchOptions struct {
	// Session is the login's KFWD_SESSION id, the value the login wrapper
	// exports to every process of the login ([0-9a-zA-Z] only).
	Session string
	// method forces "proc" or "lsof" (tests); "" picks by the remote's OS.
	method string
	// interval between two looks at the remote's sockets; default 40 ms (the
	// watch must see a listen() within 100 ms, and each look starts a process
	// or two on the remote).
	interval time.Duration
	// findLogin is how long the watch looks for the login before it gives
	// up with WatchUnavailable (the login ended before the watch found it,
	// or never ran); default a minute.
	findLogin time.Duration
	// Logf receives verbose diagnostics; may be nil.
	Logf func(format string, args ...any)
}

// Watch learns which TCP sockets in LISTEN state the login's processes hold
// on the remote, so that kfwd knows the callback port instead of guessing it
// from the login's output (many CLIs never print it). It runs as a second exec
// session on the connection, a POSIX sh script (see watchScript) that ends
// with the login or when the Watch is closed.
type Watch struct {
	reports chan WatchReport
	stop    chan struct{}
	done    chan struct{}

	t Target

	mu     sync.Mutex
	closed bool
	sess   *Session
	pid    string // the script's pid on the remote, once it started
	final  bool   // the script said it ends (WatchEnded, WatchUnavailable)
}

// StartWatch starts the remote listener watch for the login whose wrapper exports
// KFWD_SESSION=o.Session. It returns at once: the session is opened in the
// background, so that a login started right after is not delayed by a round
// trip (both channel opens travel together). Reports arrives on Reports; a
// watch that cannot run sends one WatchUnavailable report.
func StartWatch(ctx context.Context, t Target, o WatchOptions) *Watch {
	w := &Watch{t: t, reports: make(chan WatchReport, 16), stop: make(chan struct{}), done: make(chan struct{})}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	go func() {
		defer close(w.done)
		defer close(w.reports)
		w.run(ctx, t, o, logf)
	}()
	return w
}

// StartWatchedLogin starts argv on t under kfwd's login wrapper, with o for
// everything but the command line (o.Command is ignored), and the listener
// watch for that login at the same time on the same connection: both sessions
// are opened together, so the login starts as early as without the watch. wo.Session is
// set to the login's id. The caller closes the Watch.
func StartWatchedLogin(ctx context.Context, t Target, argv []string, o SessionOptions, wo WatchOptions) (*Login, *Watch, error) {
	id := newLoginID()
	wo.Session = id
	w := StartWatch(ctx, t, wo)
	l, err := startLogin(ctx, t, id, argv, o)
	if err != nil {
		w.Close()
		return nil, nil, err
	}
	return l, w, nil
}

// Reports delivers the watch's reports in order; it is closed when the watch
// has ended. The watch waits for the reader, so keep reading until it closes
// or Close the watch.
func (w *Watch) Reports() <-chan WatchReport { return w.reports }

// Close stops the watch: it closes the remote session (sshd then closes the
// script's stdin, which ends it) and waits until the watch has ended. On
// other targets (container exec, where the process in the container may
// outlive the exec client) it also signals the script by its pid.
func (w *Watch) Close() error {
	w.mu.Lock()
	first := !w.closed
	if first {
		w.closed = true
		close(w.stop)
		if w.sess != nil {
			w.sess.Close()
		}
	}
	w.mu.Unlock()
	<-w.done
	w.mu.Lock()
	pid, final := w.pid, w.final
	w.mu.Unlock()
	if _, ssh := w.t.(*Client); first && !ssh && pid != "" && !final {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		w.t.Run(ctx, watchKillCommand(pid))
	}
	return nil
}

// watchKillCommand ends the watch script with pid (TERM: its trap also ends
// its stdin reader), checking on Linux that the pid is still the script's.
func watchKillCommand(pid string) string {
	return "if [ -r /proc/" + pid + "/cmdline ]; then grep -q kfwd-watch /proc/" + pid + "/cmdline && kill -TERM " + pid +
		"; else kill -TERM " + pid + "; fi 2>/dev/null; exit 0"
}

func (w *Watch) send(r WatchReport) bool {
	r.Time = time.Now()
	select {
	case w.reports <- r:
		return true
	case <-w.stop:
		return false
	}
}

func (w *Watch) run(ctx context.Context, t Target, o WatchOptions, logf func(string, ...any)) {
	if !validSessionID(o.Session) {
		w.send(WatchReport{Kind: WatchUnavailable, Reason: "no valid login session id"})
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-w.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	pr, pw := io.Pipe()
	// The script's stdin stays open while the watch runs: its end (EOF from
	// this pipe, or sshd closing the session) tells the script to stop.
	inR, inW := io.Pipe()
	defer inW.Close()
	sess, err := t.Start(ctx, SessionOptions{Command: watchCommand(o.Session, o.method, o.interval, o.findLogin), Stdin: inR, Stdout: pw, Logf: logf})
	if err != nil {
		pw.Close()
		if ctx.Err() == nil {
			w.send(WatchReport{Kind: WatchUnavailable, Reason: fmt.Sprintf("starting the watch: %v", err)})
		}
		return
	}
	w.mu.Lock()
	w.sess = sess
	if w.closed {
		sess.Close()
	}
	w.mu.Unlock()
	go func() {
		status, err := sess.Wait()
		if err == nil && status != 0 {
			err = fmt.Errorf("exit status %d", status)
		}
		pw.CloseWithError(err)
	}()
	defer sess.Close()

	p := watchParser{}
	sc := bufio.NewScanner(pr)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	final, pid := false, ""
	for sc.Scan() {
		reps, err := p.line(sc.Text())
		if err != nil {
			logf("watch: %v", err)
			continue
		}
		if p.pid != pid {
			// Close reads it: the lock is taken when it changes, not per line.
			pid = p.pid
			w.mu.Lock()
			w.pid = pid
			w.mu.Unlock()
		}
		for _, r := range reps {
			if !final && (r.Kind == WatchUnavailable || r.Kind == WatchEnded) {
				final = true
				w.mu.Lock()
				w.final = true
				w.mu.Unlock()
			}
			if !w.send(r) {
				return
			}
		}
	}
	if final || ctx.Err() != nil {
		return
	}
	err = sc.Err()
	if !p.started {
		reason := "the watch script printed nothing"
		if err != nil {
			reason = fmt.Sprintf("the watch script failed: %v", err)
		}
		w.send(WatchReport{Kind: WatchUnavailable, Reason: reason})
		return
	}
	// The script stopped by itself although the login goes on (killed on
	// the remote, the session lost): from now on nothing confirms a port.
	reason := "the watch ended on the remote"
	if err != nil {
		reason = fmt.Sprintf("the watch ended on the remote: %v", err)
	}
	w.send(WatchReport{Kind: WatchUnavailable, Reason: reason})
}

func validSessionID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !('0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return false
		}
	}
	return true
}

// CheckWatch tells whether the listener watch can run on the remote host: it
// runs the watch script's start-up checks and returns the method it would use,
// or a *WatchUnavailableError saying why it cannot. kfwd doctor reports it.
func CheckWatch(ctx context.Context, t Target) (method string, err error) {
	out, err := t.Run(ctx, watchCommand("check", "check", 0, 0))
	if err != nil && len(out) == 0 {
		return "", &WatchUnavailableError{Reason: fmt.Sprintf("running the check: %v", err)}
	}
	p := watchParser{}
	for _, l := range strings.Split(string(out), "\n") {
		reps, _ := p.line(strings.TrimRight(l, "\r"))
		for _, r := range reps {
			switch r.Kind {
			case WatchStarted:
				return r.Method, nil
			case WatchUnavailable:
				return "", &WatchUnavailableError{Reason: r.Reason}
			}
		}
	}
	return "", &WatchUnavailableError{Reason: fmt.Sprintf("unexpected output from the check: %q", strings.TrimSpace(string(out)))}
}

// WatchUnavailableError says the remote listener watch cannot run on a host.
type WatchUnavailableError struct{ Reason string }

func (e *WatchUnavailableError) Error() string {
	return "the remote listener watch is unavailable: " + e.Reason
}

// watchParser turns the script's lines into reports. The script prints
//
//	H METHOD ENDIAN PID started: METHOD is proc (ENDIAN le or be) or lsof (-)
//	U REASON            unavailable; the script exits
//	S [SOCKET...]       the login's listening sockets, whenever the set changes
//	E                   the login's wrapper exited; the script exits
//
// where a proc SOCKET is /proc/net/tcp's local_address (hex address in host
// byte order, colon, hex port) and an lsof SOCKET is lsof's name field
// (127.0.0.1:8080, [::1]:8080, *:8080).
type watchParser struct {
	started bool
	method  string
	big     bool // proc addresses are big-endian words
	cur     []netip.AddrPort
	pid     string // the script's pid on the remote
}

func (p *watchParser) line(l string) ([]WatchReport, error) {
	kind, rest, _ := strings.Cut(l, " ")
	switch kind {
	case "H":
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("bad start line %q", l)
		}
		p.started, p.method = true, f[0]
		p.big = len(f) > 1 && f[1] == "be"
		if len(f) > 2 && strings.Trim(f[2], "0123456789") == "" {
			p.pid = f[2]
		}
		return []WatchReport{{Kind: WatchStarted, Method: p.method}}, nil
	case "U":
		return []WatchReport{{Kind: WatchUnavailable, Reason: strings.TrimSpace(rest)}}, nil
	case "E":
		return []WatchReport{{Kind: WatchEnded}}, nil
	case "S":
		if !p.started {
			return nil, fmt.Errorf("socket list before the start line")
		}
		var next []netip.AddrPort
		for _, f := range strings.Fields(rest) {
			var ap netip.AddrPort
			var err error
			if p.method == "proc" {
				ap, err = parseProcSocket(f, p.big)
			} else {
				ap, err = parseLsofSocket(f)
			}
			if err != nil {
				return nil, err
			}
			if !reachableListen(ap.Addr()) || slices.Contains(next, ap) {
				continue
			}
			next = append(next, ap)
		}
		slices.SortFunc(next, func(a, b netip.AddrPort) int { return a.Compare(b) })
		var reps []WatchReport
		for _, ap := range p.cur {
			if !slices.Contains(next, ap) {
				reps = append(reps, WatchReport{Kind: ListenGone, Addr: ap.Addr(), Port: int(ap.Port())})
			}
		}
		for _, ap := range next {
			if !slices.Contains(p.cur, ap) {
				reps = append(reps, WatchReport{Kind: ListenAppeared, Addr: ap.Addr(), Port: int(ap.Port())})
			}
		}
		p.cur = next
		return reps, nil
	case "":
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected line %q", l)
}

// reachableListen reports whether a socket listening on a is reachable
// through the remote's loopback: a loopback or wildcard address.
func reachableListen(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsUnspecified()
}

// parseProcSocket parses /proc/net/tcp{,6}'s local_address, such as
// 0100007F:C001 (127.0.0.1:49153 on a little-endian host). The kernel prints
// the address as 32-bit words in host byte order and the port as a number.
func parseProcSocket(s string, bigEndian bool) (netip.AddrPort, error) {
	ha, hp, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(hp, 16, 16)
	if !ok || err != nil || (len(ha) != 8 && len(ha) != 32) {
		return netip.AddrPort{}, fmt.Errorf("bad /proc/net/tcp address %q", s)
	}
	raw, err := hex.DecodeString(ha)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad /proc/net/tcp address %q", s)
	}
	b := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 {
		word := binary.BigEndian.Uint32(raw[i:]) // the hex digits as a number
		if bigEndian {
			binary.BigEndian.PutUint32(b[i:], word)
		} else {
			binary.LittleEndian.PutUint32(b[i:], word)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
}

// parseLsofSocket parses lsof's name field of a listening TCP socket:
// 127.0.0.1:8080, [::1]:8080 or *:8080.
func parseLsofSocket(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("bad lsof address %q", s)
	}
	port, err := strconv.ParseUint(s[i+1:], 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad lsof address %q", s)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(s[:i], "["), "]")
	if host == "*" {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)), nil
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("bad lsof address %q", s)
	}
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), nil
}

// watchCommand returns the remote command line of the watch for session id:
// `exec /bin/sh -c '<watchScript>' kfwd-watch ID METHOD NAP GIVEUP`. method is "" (by
// the OS), "proc", "lsof" or "check" (start-up checks only); interval 0 is
// 40 ms, findLogin 0 the default.
func watchCommand(id, method string, interval, findLogin time.Duration) string {
	if method == "" {
		method = "auto"
	}
	if interval <= 0 {
		interval = 40 * time.Millisecond
	}
	nap := strconv.FormatFloat(interval.Seconds(), 'f', 3, 64)
	if findLogin <= 0 {
		findLogin = time.Minute
	}
	give := strconv.Itoa(int(findLogin/interval) + 1)
	return "exec /bin/sh -c " + ShellQuote(watchScript) + " kfwd-watch " + ShellQuote(id) + " " + ShellQuote(method) + " " + nap + " " + give
}

func init() {
	// csh cannot take a newline inside quotes.
	if strings.Contains(watchScript, "\n") {
		panic("tunnel: the watch script holds a newline")
	}
}

// watchScript is the remote half of Watch, for POSIX sh and the tools BusyBox
// also has (awk, grep, ls, cat, sleep, od, tr; lsof on macOS and BSD), on one
// line (for csh login shells). $1 is the session id, $2 the method, $3 the
// pause between looks, $4 after how many looks without finding the login it
// gives up.
//
// Linux ("proc"): every look reads the LISTEN lines (st 0A) of /proc/net/tcp
// and tcp6 with one awk, which costs a process per look; only when that list
// changed does it find the login's processes: those whose /proc/PID/environ
// holds KFWD_SESSION=ID, their wrapper (the parent of the first of them) and
// every descendant of either (a process that cleared its environment still
// counts). The socket inodes in their /proc/PID/fd (ls -l) select the lines
// that are the login's: first in the processes found before (until the login
// is found the script looks for them every tenth look, off the path from
// listen() to the report), then again after finding them anew (a process
// started since). The script ends when the wrapper has exited.
//
// Elsewhere ("lsof"): the login's processes are the descendants of the sshd
// process that started the watch (its parent: every session of the
// connection is its child), except the watch itself; lsof lists their
// listening TCP sockets on every look.
//
// Either way the script also ends when its stdin reaches EOF, which is when
// kfwd closes the session or the connection is lost: a subshell blocked in
// the read builtin (no process of its own to leave behind) signals it. The
// subshell does not hold the session's output, so the session ends when the
// script does.
var watchScript = strings.Join([]string{
	`id=$1; mode=$2; nap=$3; m=KFWD_SESSION=$id;`,
	`unavail() { echo "U $*"; exit 0; };`,
	`sleep "$nap" 2>/dev/null || nap=1;`,
	`command -v awk >/dev/null 2>&1 || unavail "awk not found on the remote host";`,
	`os=$(uname -s 2>/dev/null); check=;`,
	`if [ "$mode" = check ]; then check=1; mode=auto; fi;`,
	`if [ "$mode" = auto ]; then`,
	`  if [ "$os" = Linux ]; then mode=proc;`,
	`  elif command -v lsof >/dev/null 2>&1; then mode=lsof;`,
	`  else unavail "no /proc/net/tcp and no lsof on this ${os:-unknown} host"; fi;`,
	`fi;`,
	`if [ "$mode" = proc ]; then`,
	`  [ -r /proc/net/tcp ] || unavail "/proc/net/tcp is not readable";`,
	`  [ -r /proc/$$/environ ] || unavail "/proc/PID/environ is not readable";`,
	`  ls -l /proc/$$/fd 2>/dev/null | grep -q "[0-9] -> " || unavail "/proc/PID/fd is not readable";`,
	`  files=/proc/net/tcp; [ -r /proc/net/tcp6 ] && files="$files /proc/net/tcp6";`,
	`  awk "{}" $files 2>/dev/null || unavail "awk cannot read /proc/net/tcp";`,
	`  e=$(printf ab | od -An -tx2 2>/dev/null | tr -d " ");`,
	`  if [ "$e" = 6162 ]; then e=be; else e=le; fi;`,
	`  echo "H proc $e $$";`,
	`else`,
	`  command -v lsof >/dev/null 2>&1 || unavail "lsof not found";`,
	`  command -v ps >/dev/null 2>&1 || unavail "ps not found";`,
	`  s=$PPID;`,
	`  [ "${s:-0}" -gt 1 ] || unavail "the watch has no session process to start from";`,
	`  echo "H lsof - $$";`,
	`fi;`,
	`[ -z "$check" ] || exit 0;`,
	// The end of stdin ends the watch.
	`exec 3<&0 0</dev/null;`,
	`( read -r x <&3; kill -TERM $$ 2>/dev/null ) >/dev/null 2>&1 & r=$!;`,
	`exec 3<&-;`,
	`trap "kill \$r 2>/dev/null; exit 0" TERM HUP INT;`,
	// Reap the reader: in a container the orphan's new parent (pid 1) may
	// never do it.
	`trap "kill \$r 2>/dev/null; wait \$r 2>/dev/null" EXIT;`,
	`snap=; prev=; w=; dirs=; n=0; give=$4;`,
	`if [ "$mode" = proc ]; then`,
	// tree sets dirs to the fd directories of the login's processes (and w
	// to its wrapper, once known); socks prints the listening sockets of
	// $cur held there when they differ from the last S line.
	`  tree() {`,
	`    t=$({ grep -l "$m" /proc/[0-9]*/environ 2>/dev/null; echo =; cat /proc/[0-9]*/stat 2>/dev/null; } | awk -v w="$w" -v me=$$ "`,
	`      s == 0 && \$0 == \"=\" { s = 1; next };`,
	`      s == 0 { split(\$0, a, \"/\"); mk[a[3]] = 1; next };`,
	`      { j = 0; while ((k = index(substr(\$0, j + 1), \") \")) > 0) j += k;`,
	`        split(substr(\$0, j + 2), f, \" \"); pp[\$1] = f[2]; kids[f[2]] = kids[f[2]] \" \" \$1 };`,
	`      END {`,
	`        if (w == \"\") for (p in mk) if (p in pp) { q = pp[p]; while (q in mk) q = pp[q]; if (q + 0 > 1) { w = q; break } };`,
	`        if (w != \"\") print \"w\", w;`,
	`        n = 0; for (p in mk) if (p in pp) { seen[p] = 1; u[++n] = p };`,
	`        if (w in pp) { seen[w] = 1; u[++n] = w };`,
	`        for (i = 1; i <= n; i++) { split(kids[u[i]], c, \" \"); for (x in c) if (!(c[x] in seen) && c[x] != me) { seen[c[x]] = 1; u[++n] = c[x] } };`,
	`        for (p in seen) print \"/proc/\" p \"/fd\"`,
	`      }");`,
	`    dirs=;`,
	`    for x in $t; do case $x in /proc/*) dirs="$dirs $x" ;; w) ;; *) [ -n "$w" ] || w=$x ;; esac; done;`,
	`  };`,
	`  socks() {`,
	`    new=;`,
	`    [ -z "$dirs" ] || new=$({ ls -l $dirs 2>/dev/null; echo =; echo "$cur"; } | awk "`,
	`      s == 0 && \$0 == \"=\" { s = 1; next };`,
	`      s == 0 { i = index(\$0, \"socket:[\"); if (i > 0) { v = substr(\$0, i + 8); ino[substr(v, 1, index(v, \"]\") - 1)] = 1 }; next };`,
	`      (\$2 in ino) { printf \" %s\", \$1 }");`,
	`    if [ "$new" != "$snap" ]; then snap=$new; echo "S$snap"; fi;`,
	`  };`,
	`  while :; do`,
	`    if [ -n "$w" ] && [ ! -d "/proc/$w" ]; then echo E; exit 0; fi;`,
	// Until the login is found, look for its processes every tenth look,
	// so that when it listens only its descriptors are left to read.
	`    [ -n "$w" ] || [ $((n % 10)) -ne 0 ] || tree; n=$((n + 1));`,
	// A login that ended before the watch found it (or never started)
	// must not leave the watch running where no EOF comes (container exec).
	`    [ -n "$w" ] || [ "$n" -lt "$give" ] || unavail "the processes of the login were not found";`,
	`    cur=$(awk "\$4 == \"0A\" { print \$2, \$10 }" $files 2>/dev/null);`,
	`    if [ "$cur" != "$prev" ]; then prev=$cur; socks; tree; socks; fi;`,
	`    sleep "$nap";`,
	`  done;`,
	`fi;`,
	`while :; do`,
	`  pids=$(ps -A -o pid= -o ppid= 2>/dev/null | awk -v s="$s" -v me=$$ "`,
	`    { kids[\$2] = kids[\$2] \" \" \$1 };`,
	`    END { n = 1; u[1] = s; seen[s] = 1;`,
	`      for (i = 1; i <= n; i++) { split(kids[u[i]], c, \" \"); for (x in c) if (!(c[x] in seen) && c[x] != me) { seen[c[x]] = 1; u[++n] = c[x] } };`,
	`      sep = \"\"; for (p in seen) if (p != s) { printf \"%s%s\", sep, p; sep = \",\" } }");`,
	`  new=;`,
	`  [ -z "$pids" ] || new=$(lsof -nP -a -p "$pids" -iTCP -sTCP:LISTEN -Fn 2>/dev/null | awk "/^n/ { printf \" %s\", substr(\$0, 2) }");`,
	`  if [ "$new" != "$snap" ]; then snap=$new; echo "S$snap"; fi;`,
	`  sleep "$nap";`,
	`done`,
}, " ")
