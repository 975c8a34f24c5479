package callback

import "testing"

// TestLocalIdentityProvider: an authorize URL served from loopback (a local
// dev identity provider, kfwd's demo) is not the callback; the port inside its
// redirect_uri is.
func TestLocalIdentityProvider(t *testing.T) {
	out := "Open this URL to sign in:\nhttp://127.0.0.1:43411/authorize?client_id=x&redirect_uri=http%3A%2F%2Flocalhost%3A45353%2Fcallback&state=s\n"
	for _, viaOpener := range []bool{false, true} {
		s := NewScanner()
		var evs []Event
		if viaOpener {
			_, evs = s.Feed([]byte(marker("http://127.0.0.1:43411/authorize?client_id=x&redirect_uri=http%3A%2F%2Flocalhost%3A45353%2Fcallback&state=s")))
		} else {
			_, evs = s.Feed([]byte(out))
		}
		_, more := s.Close()
		evs = append(evs, more...)
		if len(evs) == 0 {
			t.Fatalf("opener=%v: no event", viaOpener)
		}
		for _, ev := range evs {
			if ev.Type != "callback" || ev.Port != 45353 {
				t.Errorf("opener=%v: got %+v, want a callback on 45353", viaOpener, ev)
			}
		}
	}
}
