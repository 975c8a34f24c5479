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
