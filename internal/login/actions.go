package login

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/kfwd/kfwd/callback"
	"github.com/kfwd/kfwd/internal/ui"
	"github.com/kfwd/kfwd/tunnel"
)

// actions carries out what the login asks for: the scanner's events and the
// remote listener watch's reports go to one callback.Decider, and its
// actions forward ports, open URLs and show device codes.
type actions struct {
	u         *ui.UI
	fw        *tunnel.Forwards
	container bool // the login runs in a container, reached only by a relay
	noBrowser bool
	open      func(url string) error
	opening   string // the status line before open, with %s for the URL; "" is the browser's
	opened    map[string]bool
	busy      map[int]error // text-only ports whose local port is taken: their URLs are not opened
	declared  []int         // the user's ports (-L), already forwarded
}

// run decides from events and the watch's reports (watch may be nil) until
// ctx ends; a forward that fails ends the login through cancel.
func (h *actions) run(ctx context.Context, cancel context.CancelCauseFunc, events <-chan callback.Event, watch *tunnel.Watch) {
	evidence := make(chan callback.Evidence, 16)
	send := func(e callback.Evidence) bool {
		select {
		case evidence <- e:
			return true
		case <-ctx.Done():
			return false
		}
	}
	go func() {
		// The user's ports (-L) come before anything the login says.
		for _, port := range h.declared {
			if !send(callback.Declared(port)) {
				return
			}
		}
		for {
			select {
			case ev := <-events:
				if !send(callback.FromEvent(ev)) {
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	if watch != nil {
		go h.watchEvidence(ctx, watch, send)
	}
	// A hosted page that redirects to a port the CLI sent it (a back
	// channel) waits for the watch to see that port; on a loaded remote a
	// look can take a few hundred milliseconds, so wait up to a second.
	d := callback.NewDecider(callback.DecideOptions{Watch: watch != nil, OpenHold: time.Second})
	if err := d.Run(ctx, evidence, func(a callback.Action) error { return h.act(ctx, a) }); err != nil {
		cancel(err)
	}
}

// watchEvidence turns the watch's reports into evidence, and says with -v
// whether the watch runs (without it, kfwd decides from the output alone).
func (h *actions) watchEvidence(ctx context.Context, w *tunnel.Watch, send func(callback.Evidence) bool) {
	for r := range w.Reports() {
		var e callback.Evidence
		switch r.Kind {
		case tunnel.WatchStarted:
			h.u.Debugf(1, "watching the login's listening sockets on the remote (%s)", r.Method)
			e = callback.WatchUp()
		case tunnel.WatchUnavailable:
			h.u.Debugf(1, "the remote listener watch is unavailable (%s); finding callback ports from the login's output only", r.Reason)
			e = callback.WatchDown(r.Reason)
		case tunnel.ListenAppeared:
			h.u.Debugf(1, "the login listens on %s", netip.AddrPortFrom(r.Addr, uint16(r.Port)))
			e = callback.Listening(r.Port, r.Addr.String())
		default:
			h.u.Debugf(2, "watch: %v", r)
			continue
		}
		if !send(e) {
			return
		}
	}
}

// act carries out one decision.
func (h *actions) act(ctx context.Context, a callback.Action) error {
	h.u.EventJSON(a)
	switch a.Type {
	case callback.ActCallback:
		err := h.forward(ctx, a.Port)
		var inUse *tunnel.PortInUseError
		if err != nil && a.By != callback.ByWatch && a.By != callback.ByUser && errors.As(err, &inUse) {
			// Only the output names this port: it may be a decoy, so a
			// busy local port does not fail the login (issue 8). Its
			// sign-in URL is not opened either: the browser would hand
			// the code to whatever holds the port here.
			h.u.Noticef("not forwarding port %d named by the login's output: %v", a.Port, err)
			if h.busy == nil {
				h.busy = map[int]error{}
			}
			h.busy[a.Port] = err
			return nil
		}
		return err
	case callback.ActOpen:
		if err := h.busy[a.Port]; a.Port != 0 && err != nil {
			if len(h.opened) == 0 {
				// The first sign-in URL redirects to the busy port: that
				// is the login's own, and it cannot finish.
				return err
			}
			h.u.Noticef("not opening %s: its callback port %d is in use here", callback.DisplayURL(a.URL), a.Port)
			return nil
		}
		h.openURL(a.URL)
	case callback.ActDevice:
		h.u.Noticef("device sign-in: enter code %s at %s", a.Code, a.URL)
	case callback.ActIgnored:
		if a.Port != 0 {
			// A sign-in redirects to a port the login does not listen on:
			// the CLI waits, so the user hears of it.
			h.u.Noticef("not forwarding port %d: a sign-in URL redirects to it, but no process of the login listens on it; "+
				"if the login's callback listens there anyway (a container's published port, a daemon), run kfwd login with -L %d", a.Port, a.Port)
			return nil
		}
		h.u.Debugf(1, "ignored: %s", a.Reason)
	}
	return nil
}

// forward listens on the callback port here, once per port.
func (h *actions) forward(ctx context.Context, port int) error {
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
	h.u.Statusf("callback port %d: forwarding localhost:%d to the remote through %s", port, port, via)
	h.u.Event("forwarding", map[string]any{"port": port, "via": kind})
	return nil
}

// openURL opens url in the browser, or prints it, once.
func (h *actions) openURL(url string) {
	if url == "" || h.opened[url] {
		return
	}
	h.opened[url] = true
	if h.noBrowser {
		h.u.Noticef("open this URL in your browser: %s", url)
		return
	}
	opening := h.opening
	if opening == "" {
		opening = "opening %s in your browser"
	}
	h.u.Statusf(opening, callback.DisplayURL(url))
	h.u.Event("browser", map[string]any{"url": url})
	// The opener may run as long as the browser does: never wait for it here,
	// where the next event (a second callback port) must be handled.
	go func() {
		if err := h.open(url); err != nil {
			h.u.Noticef("could not open a browser (%v); open this URL yourself: %s", err, url)
			h.u.Event("browser-failed", map[string]any{"url": url, "error": err.Error()})
		}
	}()
}
