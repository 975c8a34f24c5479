package main

import (
	"context"
	"fmt"

	"github.com/kfwd/kfwd/callback"
	"github.com/kfwd/kfwd/tunnel"
)

// loginEvents acts on what the scanner found in a login's output: it forwards
// each callback port once, opens each URL once, and shows device codes.
type loginEvents struct {
	u         *ui
	fw        *tunnel.Forwards
	container bool // the login runs in a container, reached only by a relay
	noBrowser bool
	open      func(url string) error
	opened    map[string]bool
}

// run handles events until ctx ends; a forward that fails ends the login
// through cancel.
func (h *loginEvents) run(ctx context.Context, cancel context.CancelCauseFunc, events <-chan callback.Event) {
	for {
		select {
		case ev := <-events:
			if err := h.handle(ctx, ev); err != nil {
				cancel(err)
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

func (h *loginEvents) handle(ctx context.Context, ev callback.Event) error {
	h.u.eventJSON(ev)
	switch ev.Type {
	case callback.TypeCallback:
		if err := h.forward(ctx, ev.Port); err != nil {
			return err
		}
		h.openURL(ev.URL, "sign-in")
	case callback.TypeDevice:
		h.u.noticef("device sign-in: enter code %s at %s", ev.Code, ev.URL)
		h.openURL(ev.URL, "device sign-in")
	case callback.TypeOpen:
		h.openURL(ev.URL, "sign-in")
	}
	return nil
}

// forward listens on the callback port here, once per port.
func (h *loginEvents) forward(ctx context.Context, port int) error {
	kind, added, err := h.fw.Add(ctx, port)
	if err != nil || !added {
		return err
	}
	via := "the SSH connection"
	switch {
	case h.container:
		via = fmt.Sprintf("%s in the container", kind)
	case kind != tunnel.RouteDirect:
		via = fmt.Sprintf("%s on the remote (the server does not allow TCP forwarding)", kind)
	}
	h.u.statusf("callback port %d: forwarding localhost:%d to the remote through %s", port, port, via)
	h.u.event("forwarding", map[string]any{"port": port, "via": kind})
	return nil
}

// openURL opens url in the browser, or prints it, once.
func (h *loginEvents) openURL(url, what string) {
	if url == "" || h.opened[url] {
		return
	}
	h.opened[url] = true
	if h.noBrowser {
		h.u.noticef("open this URL in your browser: %s", url)
		return
	}
	h.u.statusf("opening the %s in your browser", what)
	h.u.event("browser", map[string]any{"url": url})
	// The opener may run as long as the browser does: never wait for it here,
	// where the next event (a second callback port) must be handled.
	go func() {
		if err := h.open(url); err != nil {
			h.u.noticef("could not open a browser (%v); open this URL yourself: %s", err, url)
			h.u.event("browser-failed", map[string]any{"url": url, "error": err.Error()})
		}
	}()
}
