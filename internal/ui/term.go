package ui

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kfwd/kfwd/tunnel"
	"golang.org/x/term"
)

// ttyPrompter asks questions on the controlling terminal, as ssh does, so that
// prompts work even when stdin and stdout are redirected. A question ends at
// once when ctx does (Ctrl-C, --timeout): the read is left behind (kfwd is
// about to exit) and the terminal's echo and line mode are restored.
type ttyPrompter struct {
	ctx context.Context
	tty *os.File
}

func (p ttyPrompter) Secret(prompt string) ([]byte, error) {
	fmt.Fprint(p.tty, prompt)
	// The terminal does not echo the Enter that ends a passphrase.
	return p.read(true, func() ([]byte, error) { return term.ReadPassword(int(p.tty.Fd())) })
}

func (p ttyPrompter) Ask(prompt string) (string, error) {
	fmt.Fprint(p.tty, prompt)
	line, err := p.read(false, func() ([]byte, error) {
		return bufio.NewReader(p.tty).ReadBytes('\n')
	})
	return strings.TrimSpace(string(line)), err
}

// read runs one blocking read of the terminal until it returns or ctx ends.
func (p ttyPrompter) read(newline bool, f func() ([]byte, error)) ([]byte, error) {
	state, _ := term.GetState(int(p.tty.Fd()))
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := f()
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		if newline {
			fmt.Fprintln(p.tty)
		}
		return r.b, r.err
	case <-p.ctx.Done():
		if state != nil {
			term.Restore(int(p.tty.Fd()), state)
		}
		fmt.Fprintln(p.tty)
		return nil, context.Cause(p.ctx)
	}
}

// Prompter returns the prompter kfwd uses to ask for passphrases and
// host-key confirmations: the terminal when there is one, else SSH_ASKPASS as
// OpenSSH's SSH_ASKPASS_REQUIRE says; nil when nobody can be asked. Questions
// end when ctx does.
func Prompter(ctx context.Context, getenv func(string) string) tunnel.Prompter {
	var p tunnel.Prompter
	if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil && term.IsTerminal(int(tty.Fd())) {
		p = ttyPrompter{ctx: ctx, tty: tty}
	}
	return tunnel.ChoosePrompter(ctx, p, getenv)
}

// Terminal is the local terminal a login runs in when stdin is one: the
// remote login then gets a PTY of its size, keystrokes go to it raw, and
// window resizes follow it. Tests drive this path with a pty (creack/pty) as
// stdin.
type Terminal struct{ fd int }

// StdinTerminal returns the terminal on stdin, or nil when stdin is not one.
func StdinTerminal(stdin io.Reader) *Terminal {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &Terminal{fd: int(f.Fd())}
}

// Size returns the terminal's width and height, 0 when unknown.
func (t *Terminal) Size() (width, height int) {
	w, h, err := term.GetSize(t.fd)
	if err != nil {
		return 0, 0
	}
	return w, h
}

// MakeRaw puts the terminal in raw mode and tells u, whose lines then end in
// \r\n; restore undoes both.
func (t *Terminal) MakeRaw(u *UI) (restore func(), err error) {
	old, err := term.MakeRaw(t.fd)
	if err != nil {
		return nil, fmt.Errorf("putting the terminal in raw mode: %w", err)
	}
	u.setRaw(true)
	return func() {
		term.Restore(t.fd, old)
		u.setRaw(false)
	}, nil
}

// Resizer is the remote PTY a terminal's size goes to (a *tunnel.Session).
type Resizer interface{ Resize(width, height int) error }

// FollowResize sends the terminal's size to s whenever it changes, until
// the returned stop is called.
func (t *Terminal) FollowResize(s Resizer) (stop func()) {
	return watchResize(t.fd, s)
}
