package callback

import (
	"bytes"
	"testing"
	"time"
)

// TestFeedIdlePrompt writes a prompt without a newline, as "Press Enter to
// open" prompts are: the event comes once the output pauses, and the text
// reaches dst unchanged.
func TestFeedIdlePrompt(t *testing.T) {
	var dst bytes.Buffer
	events := make(chan Event, 4)
	f := NewFeed(&dst, events)
	prompt := "Visit: " + authURL
	if _, err := f.Write([]byte(prompt)); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.Type != TypeCallback || ev.Port != 49153 {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event after the output paused")
	}
	f.Close()
	if dst.String() != prompt {
		t.Errorf("dst got %q, want %q", dst.String(), prompt)
	}
}

// TestFeedStripsMarker hides an opener marker from dst and sends its URL.
func TestFeedStripsMarker(t *testing.T) {
	var dst bytes.Buffer
	events := make(chan Event, 4)
	f := NewFeed(&dst, events)
	f.Write([]byte("a\x1b]5379;kfwd-open;aHR0cHM6Ly9leGFtcGxlLmNvbS9sb2dpbg==\x07b\n"))
	f.Close()
	if dst.String() != "ab\n" {
		t.Errorf("dst got %q", dst.String())
	}
	select {
	case ev := <-events:
		if ev.URL != "https://example.com/login" {
			t.Errorf("event %+v", ev)
		}
	default:
		t.Error("no event for the marker")
	}
}

// TestFeedTerminatedURL: a URL that ends a finished line is trusted after
// wrapDelay, before the idle pause; the candidate-waiting rest of idle does
// not run early. A line cut at 80 columns still waits for the idle pause.
func TestFeedTerminatedURL(t *testing.T) {
	var dst bytes.Buffer
	events := make(chan Event, 4)
	f := NewFeed(&dst, events)
	defer f.Close()
	pending := func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.s.wrapPending()
	}
	if pending() {
		t.Fatal("wrapPending before any output")
	}
	// Held for a continuation: a line that continues the URL arrives in
	// the same write and is joined.
	s0 := NewScanner()
	s0.Feed([]byte("Open " + authURL + "\r\n"))
	if !s0.wrapPending() {
		t.Fatal("a finished URL line is not held for a continuation")
	}
	f.Write([]byte("Open " + authURL + "\r\n"))
	select {
	case ev := <-events:
		if ev.Type != TypeCallback || ev.Port != 49153 || ev.URL != authURL {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no event for the finished URL line")
	}

	cut := "Open https://idp.example.com/authorize?client_id=c&state=0123456789abcdefghijklm" // 80 bytes
	if len(cut) != 80 {
		t.Fatalf("cut line is %d bytes", len(cut))
	}
	s := NewScanner()
	s.Feed([]byte(cut + "\n"))
	if s.wrapPending() {
		t.Error("a line cut at 80 columns is trusted early")
	}
}
