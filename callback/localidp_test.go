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

// TestSecondSignIn: a CLI that signs in twice in one run, on the same port and
// then on another, gets a callback event with each new URL; a bare loopback
// mention after the first sign-in still gives none.
func TestSecondSignIn(t *testing.T) {
	auth := func(port, state string) string {
		return "https://idp.example.com/authorize?client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A" + port + "%2Fcallback&state=" + state
	}
	out := "Open this URL to sign in:\n" + auth("41000", "one") + "\nLogged in as A\n" +
		"Server listening on http://127.0.0.1:8080\n" +
		"Open this URL to sign in:\n" + auth("41000", "two") + "\nLogged in as A\n" +
		"Open this URL to sign in:\n" + auth("42000", "three") + "\nLogged in as B\n"
	s := NewScanner()
	_, evs := s.Feed([]byte(out))
	_, more := s.Close()
	evs = append(evs, more...)
	var got []string
	for _, ev := range evs {
		if ev.Type != TypeCallback {
			t.Errorf("unexpected event %+v", ev)
			continue
		}
		got = append(got, ev.URL)
	}
	want := []string{auth("41000", "one"), auth("41000", "two"), auth("42000", "three")}
	if len(got) != len(want) {
		t.Fatalf("got URLs %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: URL %q, want %q", i, got[i], want[i])
		}
	}
}
