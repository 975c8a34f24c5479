//go:build !unix

package ui

import (
	"time"

	"golang.org/x/term"
)

// watchResize polls the console size where there is no SIGWINCH (Windows) and
// sends changes to the remote PTY.
func watchResize(fd int, s Resizer) func() {
	done := make(chan struct{})
	go func() {
		w0, h0, _ := term.GetSize(fd)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if w, h, err := term.GetSize(fd); err == nil && (w != w0 || h != h0) {
					w0, h0 = w, h
					s.Resize(w, h)
				}
			case <-done:
				return
			}
		}
	}()
	return func() { close(done) }
}
