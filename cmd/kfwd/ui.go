package main

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

// ui owns every byte kfwd itself writes: a command's result, status lines,
// verbose lines, JSON events, errors and hints. There is one per run, made
// before the flags are parsed and configured from the root flags before the
// command runs, so that -q, -v, --json and colour hold on every path, errors
// included. The remote login's own output does not pass through here; it is
// relayed unchanged.
type ui struct {
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

// newUI returns the ui for e's streams: colour and in-place progress when
// stderr is a terminal (colour unless NO_COLOR or TERM=dumb).
func newUI(e *env) *ui {
	u := &ui{out: e.stdout, err: e.stderr}
	if f, ok := e.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		u.tty = true
		u.color = e.getenv("NO_COLOR") == "" && e.getenv("TERM") != "dumb"
	}
	return u
}

// configure applies the root flags.
func (u *ui) configure(jsonOut, quiet bool, verbose int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.json, u.quiet, u.verbose = jsonOut, quiet, verbose
}

// print writes a command's result (kfwd config's settings) on stdout as it is.
func (u *ui) print(s string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	_, err := io.WriteString(u.out, s)
	return err
}

// result writes one line of a command's result (kfwd scan's findings, kfwd
// doctor's checks) on stdout.
func (u *ui) result(s string) { u.line(u.out, s) }

func (u *ui) setRaw(raw bool) {
	u.mu.Lock()
	u.raw = raw
	u.mu.Unlock()
}

func (u *ui) line(w io.Writer, s string) {
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
func (u *ui) relay(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if w != u.err && !(ok && u.tty && term.IsTerminal(int(f.Fd()))) {
		return w
	}
	return relayWriter{u, w}
}

type relayWriter struct {
	u *ui
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

func (u *ui) paint(code, s string) string {
	if !u.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// statusf prints a "kfwd: ..." progress line on stderr unless -q or --json.
func (u *ui) statusf(format string, args ...any) {
	if u.quiet || u.json {
		return
	}
	u.line(u.err, u.paint("2", "kfwd: "+termSafe(fmt.Sprintf(format, args...))))
}

// noticef prints a line the user must see (a device code, a URL to open) even
// with -q; with --json it is left to the event.
func (u *ui) noticef(format string, args ...any) {
	if u.json {
		return
	}
	u.line(u.err, u.paint("1", "kfwd: "+termSafe(fmt.Sprintf(format, args...))))
}

// debugf prints a verbose line when -v was given at least level times.
func (u *ui) debugf(level int, format string, args ...any) {
	if u.verbose < level {
		return
	}
	u.line(u.err, "kfwd: debug"+fmt.Sprint(level)+": "+termSafe(fmt.Sprintf(format, args...)))
}

// logf adapts debugf for packages that take a Logf.
func (u *ui) logf(level int) func(string, ...any) {
	return func(format string, args ...any) { u.debugf(level, format, args...) }
}

// event writes one JSON event on stdout when --json is on.
func (u *ui) event(typ string, fields map[string]any) {
	if !u.json {
		return
	}
	obj := map[string]any{"type": typ}
	for k, v := range fields {
		obj[k] = v
	}
	u.eventJSON(obj)
}

// eventJSON writes an already-typed value (one with a "type" field) as an event.
func (u *ui) eventJSON(v any) {
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
func (u *ui) fail(msg string, hints []string, code string) {
	u.event("error", map[string]any{"message": msg, "hint": strings.Join(hints, "\n"), "code": code})
	u.line(u.err, u.paint("31", "kfwd: error: ")+termSafe(msg))
	for _, h := range hints {
		u.line(u.err, u.paint("33", "kfwd: hint: ")+termSafe(h))
	}
}

// spin draws a progress line in place on a terminal ("⠋ connecting to host")
// until the returned stop is called, which clears it. Off the terminal, with
// -q or --json it draws nothing: pipes and logs get only whole status lines.
func (u *ui) spin(what string) (stop func()) {
	if !u.tty || u.quiet || u.json {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		what := termSafe(what)
		frames := []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			u.mu.Lock()
			io.WriteString(u.err, "\r\x1b[K"+u.paint("2", frames[i%len(frames)]+" "+what))
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
