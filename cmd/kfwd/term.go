package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kfwd/kfwd/tunnel"
	"golang.org/x/term"
)

// ttyPrompter asks questions on the controlling terminal, as ssh does, so that
// prompts work even when stdin and stdout are redirected.
type ttyPrompter struct{ tty *os.File }

func (p ttyPrompter) Secret(prompt string) ([]byte, error) {
	fmt.Fprint(p.tty, prompt)
	b, err := term.ReadPassword(int(p.tty.Fd()))
	fmt.Fprintln(p.tty)
	return b, err
}

func (p ttyPrompter) Ask(prompt string) (string, error) {
	fmt.Fprint(p.tty, prompt)
	line, err := bufio.NewReader(p.tty).ReadString('\n')
	return strings.TrimSpace(line), err
}

// terminalPrompter returns the prompter kfwd uses to ask for passphrases and
// host-key confirmations: the terminal when there is one, else SSH_ASKPASS as
// OpenSSH's SSH_ASKPASS_REQUIRE says; nil when nobody can be asked.
func terminalPrompter(e *env) tunnel.Prompter {
	var p tunnel.Prompter
	if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil && term.IsTerminal(int(tty.Fd())) {
		p = ttyPrompter{tty}
	}
	return tunnel.ChoosePrompter(p, e.getenv)
}

// terminal is the local terminal a login runs in when stdin is one: the
// remote login then gets a PTY of its size, keystrokes go to it raw, and
// window resizes follow it. Tests drive this path with a pty (creack/pty) as
// stdin.
type terminal struct{ fd int }

// stdinTerminal returns the terminal on stdin, or nil when stdin is not one.
func stdinTerminal(stdin io.Reader) *terminal {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return &terminal{fd: int(f.Fd())}
}

// size returns the terminal's width and height, 0 when unknown.
func (t *terminal) size() (width, height int) {
	w, h, err := term.GetSize(t.fd)
	if err != nil {
		return 0, 0
	}
	return w, h
}

// makeRaw puts the terminal in raw mode and tells u, whose lines then end in
// \r\n; restore undoes both.
func (t *terminal) makeRaw(u *ui) (restore func(), err error) {
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

// followResize sends the terminal's size to s whenever it changes, until
// the returned stop is called.
func (t *terminal) followResize(s *tunnel.Session) (stop func()) {
	return watchResize(t.fd, s)
}
