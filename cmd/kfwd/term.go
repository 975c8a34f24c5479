package main

import (
	"bufio"
	"fmt"
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
