package callback

import (
	"io"
	"sync"
	"time"
)

// idleDelay is how long output must pause before Feed asks the scanner about
// the unterminated last line, where prompts such as "Press Enter to open the
// browser" sit. Long enough for a burst of output to arrive whole, short
// enough that a person does not notice.
const idleDelay = 50 * time.Millisecond

// wrapDelay is how long a finished line ending in a URL waits for a
// continuation line before it is trusted (Scanner.wrapPending): the lines of
// a hard-wrapped URL are written together, and the sign-in should not wait
// idleDelay for every URL that ends a line.
const wrapDelay = 5 * time.Millisecond

// Feed passes a login's output to dst as it arrives (minus kfwd's opener
// markers) and sends what a Scanner finds in it to events. When the output
// pauses for idleDelay it runs Scanner.idle. It is an io.Writer, so a remote
// session writes into it directly; it is safe for concurrent use.
type Feed struct {
	mu     sync.Mutex
	dst    io.Writer
	s      *Scanner
	events chan<- Event
	idle   *time.Timer
	wrap   *time.Timer
	closed bool
}

// NewFeed returns a Feed writing to dst and sending to events. Events are
// dropped, not waited for, when events is full: the login must not stall on a
// reader that is gone.
func NewFeed(dst io.Writer, events chan<- Event) *Feed {
	f := &Feed{dst: dst, s: NewScanner(), events: events}
	f.idle = time.AfterFunc(time.Hour, f.onIdle)
	f.idle.Stop()
	f.wrap = time.AfterFunc(time.Hour, f.onWrap)
	f.wrap.Stop()
	return f
}

func (f *Feed) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	show, evs := f.s.Feed(p)
	if len(show) > 0 {
		if _, err := f.dst.Write(show); err != nil {
			return 0, err
		}
	}
	f.send(evs)
	f.idle.Reset(idleDelay)
	if f.s.wrapPending() {
		f.wrap.Reset(wrapDelay)
	} else {
		f.wrap.Stop()
	}
	return len(p), nil
}

func (f *Feed) onWrap() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed && f.s.wrapPending() {
		f.send(f.s.flushWrap())
	}
}

func (f *Feed) onIdle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.send(f.s.idle())
	}
}

func (f *Feed) send(evs []Event) {
	for _, ev := range evs {
		select {
		case f.events <- ev:
		default:
			// The handler is gone or hopelessly behind; the login goes on.
		}
	}
}

// Close flushes what the scanner still holds (a partial marker, the last
// line) to dst and events. Later writes are scanned no more. It is safe to
// call more than once.
func (f *Feed) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed = true
	f.idle.Stop()
	f.wrap.Stop()
	show, evs := f.s.Close()
	_, err := f.dst.Write(show)
	f.send(evs)
	return err
}
