//go:build unix

package ui

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

// watchResize sends the local terminal's size to the remote PTY on SIGWINCH.
func watchResize(fd int, s Resizer) func() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				if w, h, err := term.GetSize(fd); err == nil {
					s.Resize(w, h)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}
