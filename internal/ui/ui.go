// Package ui owns every byte kfwd itself writes to the user: status lines,
// verbose lines, JSON events, errors with hints, prompts, and the local
// terminal the remote login runs in (raw mode, size, resizes), as gh's
// iostreams does for gh. Commands decide what to say; this package decides
// how it is written under --json, -q, -v, colour and raw mode.
package ui

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// UI owns every byte kfwd itself writes: a command's result, status lines,
// verbose lines, JSON events, errors and hints. There is one per run, made
// before the flags are parsed and configured from the root flags before the
// command runs, so that -q, -v, --json and colour hold on every path, errors
// included. The remote login's own output does not pass through here; it is
// relayed unchanged.
type UI struct {
	mu      sync.Mutex
	out     io.Writer // stdout: JSON events
	err     io.Writer // stderr: status, verbose, errors
	json    bool
	quiet   bool
	verbose int
	color   bool
	tty     bool // stderr is a terminal: progress may be drawn in place
	raw     bool // the local terminal is in raw mode: lines end in \r\n
	midLine bool // the remote login's last output to the screen ended mid-line
}

// New returns the UI for a command's streams: colour and in-place progress
// when stderr is a terminal (colour unless NO_COLOR or TERM=dumb).
func New(stdout, stderr io.Writer, getenv func(string) string) *UI {
	u := &UI{out: stdout, err: stderr}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		u.tty = true
		u.color = getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
	}
	return u
}

// JSON tells whether --json is on: stdout holds only events.
func (u *UI) JSON() bool { return u.json }

// Verbose is the number of -v flags.
func (u *UI) Verbose() int { return u.verbose }

// Say writes a line on stderr whatever -q and --json say: a command's
// answer that is not its result (kfwd scan found nothing).
func (u *UI) Say(s string) { u.line(u.err, s) }

// configure applies the root flags.
func (u *UI) Configure(jsonOut, quiet bool, verbose int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.json, u.quiet, u.verbose = jsonOut, quiet, verbose
}

// print writes a command's result (kfwd config's settings) on stdout as it is.
func (u *UI) Print(s string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	_, err := io.WriteString(u.out, s)
	return err
}

// result writes one line of a command's result (kfwd scan's findings, kfwd
// doctor's checks) on stdout.
func (u *UI) Result(s string) { u.line(u.out, s) }

func (u *UI) setRaw(raw bool) {
	u.mu.Lock()
	u.raw = raw
	u.mu.Unlock()
}

func (u *UI) line(w io.Writer, s string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	nl := "\n"
	if u.raw {
		nl = "\r\n"
		s = strings.ReplaceAll(s, "\n", "\r\n")
	}
	if w == u.err && u.midLine {
		// The remote login left its line unterminated ("Press Enter to
		// open the browser"): kfwd's line starts on its own.
		s = nl + s
		u.midLine = false
	}
	io.WriteString(w, s+nl)
}

// relay wraps w, where the remote login's output goes, so that the ui knows
// when that output ends mid-line on the screen kfwd's own lines go to.
func (u *UI) Relay(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if w != u.err && !(ok && u.tty && term.IsTerminal(int(f.Fd()))) {
		return w
	}
	return relayWriter{u, w}
}

type relayWriter struct {
	u *UI
	w io.Writer
}

func (r relayWriter) Write(p []byte) (int, error) {
	r.u.mu.Lock()
	defer r.u.mu.Unlock()
	n, err := r.w.Write(p)
	if n > 0 {
		r.u.midLine = p[n-1] != '\n'
	}
	return n, err
}

func (u *UI) Paint(code, s string) string {
	if !u.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// statusf prints a "kfwd: ..." progress line on stderr unless -q or --json.
func (u *UI) Statusf(format string, args ...any) {
	if u.quiet || u.json {
		return
	}
	u.line(u.err, u.Paint("2", "kfwd: "+Safe(fmt.Sprintf(format, args...))))
}

// noticef prints a line the user must see (a device code, a URL to open) even
// with -q; with --json it is left to the event.
func (u *UI) Noticef(format string, args ...any) {
	if u.json {
		return
	}
	u.line(u.err, u.Paint("1", "kfwd: "+Safe(fmt.Sprintf(format, args...))))
}

// debugf prints a verbose line when -v was given at least level times.
func (u *UI) Debugf(level int, format string, args ...any) {
	if u.verbose < level {
		return
	}
	u.line(u.err, "kfwd: debug"+fmt.Sprint(level)+": "+Safe(fmt.Sprintf(format, args...)))
}

// logf adapts debugf for packages that take a Logf.
func (u *UI) Logf(level int) func(string, ...any) {
	return func(format string, args ...any) { u.Debugf(level, format, args...) }
}

// event writes one JSON event on stdout when --json is on.
func (u *UI) Event(typ string, fields map[string]any) {
	if !u.json {
		return
	}
	obj := map[string]any{"type": typ}
	for k, v := range fields {
		obj[k] = v
	}
	u.EventJSON(obj)
}

// eventJSON writes an already-typed value (one with a "type" field) as an event.
func (u *UI) EventJSON(v any) {
	if !u.json {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	enc := json.NewEncoder(u.out)
	enc.SetEscapeHTML(false) // URLs stay readable: & not \u0026
	enc.Encode(v)
}

// fail prints "kfwd: error: ..." and "kfwd: hint: ..." lines on stderr, and
// with --json also the error event on stdout.
func (u *UI) Fail(msg string, hints []string, code string) {
	u.Event("error", map[string]any{"message": msg, "hint": strings.Join(hints, "\n"), "code": code})
	u.line(u.err, u.Paint("31", "kfwd: error: ")+Safe(msg))
	for _, h := range hints {
		u.line(u.err, u.Paint("33", "kfwd: hint: ")+Safe(h))
	}
}

// spin draws a progress line in place on a terminal ("⠋ connecting to host")
// until the returned stop is called, which clears it. Off the terminal, with
// -q or --json it draws nothing: pipes and logs get only whole status lines.
func (u *UI) Spin(what string) (stop func()) {
	if !u.tty || u.quiet || u.json {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		what := Safe(what)
		frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			u.mu.Lock()
			io.WriteString(u.err, "\r\x1b[K"+u.Paint("2", frames[i%len(frames)]+" "+what))
			u.mu.Unlock()
			select {
			case <-t.C:
			case <-done:
				u.mu.Lock()
				io.WriteString(u.err, "\r\x1b[K")
				u.mu.Unlock()
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-finished }) }
}
