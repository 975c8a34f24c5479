package callback

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// step is one piece of recorded evidence at an offset from t0, or a tick.
type step struct {
	at time.Duration
	e  *Evidence // nil: expire
}

func ev(at time.Duration, e Evidence) step { return step{at, &e} }
func tick(at time.Duration) step           { return step{at, nil} }

func decide(o DecideOptions, steps ...step) []Action {
	d := NewDecider(o)
	var out []Action
	for _, s := range steps {
		if s.e == nil {
			out = append(out, d.expire(t0.Add(s.at))...)
		} else {
			out = append(out, d.Add(*s.e, t0.Add(s.at))...)
		}
	}
	return append(out, d.Close()...)
}

func actTypes(acts []Action) string {
	var b []string
	for _, a := range acts {
		switch a.Type {
		case ActCallback:
			b = append(b, fmt.Sprintf("callback %d", a.Port))
		case ActOpen:
			b = append(b, "open "+a.URL)
		case ActDevice:
			b = append(b, "device "+a.Code+" "+a.URL)
		case ActIgnored:
			b = append(b, "ignored")
		}
	}
	return strings.Join(b, "; ")
}

func TestDecideRules(t *testing.T) {
	watch := DecideOptions{Watch: true}
	text := DecideOptions{}
	cb := func(port int, u string) Evidence {
		return FromEvent(Event{Type: TypeCallback, Port: port, Host: "127.0.0.1", URL: u})
	}
	opener := func(e Event) Evidence { e.Opener = true; return FromEvent(e) }
	tests := []struct {
		name  string
		o     DecideOptions
		steps []step
		want  string
	}{
		{"text only forwards and opens", text, []step{ev(0, cb(49153, authURL))},
			"callback 49153; open " + authURL},
		{"watch confirms a printed port", watch, []step{ev(0, WatchUp()), ev(10*time.Millisecond, cb(49153, authURL)), ev(50*time.Millisecond, Listening(49153, "127.0.0.1"))},
			"callback 49153; open " + authURL},
		{"watch first, text later", watch, []step{ev(0, Listening(49153, "127.0.0.1")), ev(10*time.Millisecond, cb(49153, authURL))},
			"callback 49153; open " + authURL},
		{"unconfirmed text port is not forwarded", watch, []step{ev(0, WatchUp()), ev(0, cb(9100, "")), tick(3 * time.Second)},
			"ignored"},
		{"never printed port, opener URL of a hosted page", watch, []step{
			ev(0, opener(Event{Type: TypeOpen, URL: "https://idp.example.com/start?session=1"})),
			ev(40*time.Millisecond, Listening(50123, "0.0.0.0"))},
			"callback 50123; open https://idp.example.com/start?session=1"},
		{"hosted open without any listener goes after the hold", watch, []step{ev(0, WatchUp()),
			ev(0, FromEvent(Event{Type: TypeOpen, URL: "https://idp.example.com/login?x=1"})), tick(400 * time.Millisecond)},
			"open https://idp.example.com/login?x=1"},
		{"watch down falls back to text", watch, []step{ev(0, cb(49153, authURL)), ev(20*time.Millisecond, WatchDown("no /proc"))},
			"callback 49153; open " + authURL},
		{"silent watch falls back to text", watch, []step{ev(0, cb(49153, authURL)), tick(2100 * time.Millisecond)},
			"ignored; callback 49153; open " + authURL},
		{"below 1024 never", text, []step{ev(0, cb(80, "")), ev(0, cb(443, ""))}, "ignored; ignored"},
		{"below 1024 never from the watch", watch, []step{ev(0, Listening(631, "127.0.0.1"))}, "ignored"},
		{"bare callback not opened", text, []step{ev(0, cb(53682, "http://127.0.0.1:53682/"))}, "ignored; callback 53682"},
		{"bare callback opened when the CLI opened it", text, []step{ev(0, opener(Event{Type: TypeCallback, Port: 53682, Host: "127.0.0.1", URL: "http://127.0.0.1:53682/"}))},
			"callback 53682; open http://127.0.0.1:53682/"},
		{"start page, then better authorize URL", text, []step{ev(0, cb(53682, "http://127.0.0.1:53682/auth?state=x")), ev(0, cb(53682, authURL))},
			"callback 53682; open http://127.0.0.1:53682/auth?state=x"},
		{"opener URL preferred over the text's", watch, []step{ev(0, cb(49153, "http://127.0.0.1:49153/auth?state=x")),
			ev(1*time.Millisecond, opener(Event{Type: TypeCallback, Port: 49153, Host: "127.0.0.1", URL: authURL})),
			ev(30*time.Millisecond, Listening(49153, "127.0.0.1"))},
			"callback 49153; open " + authURL},
		{"pasted response never opened or shown", text, []step{ev(0, FromEvent(Event{Type: TypeOpen, URL: "https://app.example.com/oauth/cb?code=4/0AbCdEf&state=s1"}))},
			"ignored"},
		{"device: one open, the complete URL", text, []step{
			ev(0, FromEvent(Event{Type: TypeDevice, URL: "https://example.com/device", Code: "-YKS-_KYD"})),
			ev(100*time.Millisecond, FromEvent(Event{Type: TypeDevice, URL: "https://example.com/device?user_code=-YKS-_KYD", Code: "-YKS-_KYD"})),
			tick(time.Second)},
			"device -YKS-_KYD https://example.com/device; device -YKS-_KYD https://example.com/device?user_code=-YKS-_KYD; open https://example.com/device?user_code=-YKS-_KYD"},
		{"a second sign-in on the same port opens its new authorize URL", watch, []step{ev(0, Listening(49153, "127.0.0.1")), ev(0, cb(49153, authURL)),
			ev(time.Second, cb(49153, strings.Replace(authURL, "state=", "state=second", 1)))},
			"callback 49153; open " + authURL + "; open " + strings.Replace(authURL, "state=", "state=second", 1)},
		{"a pending watch that goes down decides in the login's order, not by port", watch, []step{
			ev(0, cb(49153, authURL)), ev(0, cb(5432, "")), ev(0, cb(20000, "")), ev(0, cb(20001, "")), ev(0, cb(20002, "")),
			ev(0, cb(20003, "")), ev(0, cb(20004, "")), ev(0, cb(20005, "")), ev(0, cb(20006, "")), ev(0, cb(20007, "")),
			ev(10*time.Millisecond, WatchDown("no /proc"))},
			"callback 49153; open " + authURL + "; callback 5432; callback 20000; callback 20001; callback 20002; callback 20003; callback 20004; callback 20005; ignored; ignored"},
		{"a declared port is forwarded at once, by the user", watch, []step{ev(0, Declared(8250))},
			"callback 8250"},
		{"a declared port opens the sign-in that redirects to it, unseen by the watch", watch, []step{ev(0, Declared(49153)), ev(0, WatchUp()),
			ev(10*time.Millisecond, cb(49153, authURL)), tick(3 * time.Second)},
			"callback 49153; open " + authURL},
		{"a declared port may be below 1024", watch, []step{ev(0, Declared(80))}, "callback 80"},
		{"a declared port does not stand for a working watch", watch, []step{ev(0, Declared(8250)), ev(0, cb(9100, "")), tick(2100 * time.Millisecond)},
			"callback 8250; ignored; callback 9100"},
		{"device: plain URL opened after the hold", text, []step{
			ev(0, FromEvent(Event{Type: TypeDevice, URL: "https://github.com/login/device", Code: "ABCD-EFGH"})), tick(300 * time.Millisecond)},
			"device ABCD-EFGH https://github.com/login/device; open https://github.com/login/device"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := actTypes(decide(tc.o, tc.steps...))
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestDecideUnconfirmedSignIn: a port that a sign-in URL redirects to, but
// that the watch never sees the login listen on, is ignored with its port
// set (the command layer then tells the user about -L); a port only named
// (no sign-in) is ignored without one, as the decoys of a metrics line are.
func TestDecideUnconfirmedSignIn(t *testing.T) {
	cb := func(port int, u string) Evidence {
		return FromEvent(Event{Type: TypeCallback, Port: port, Host: "127.0.0.1", URL: u})
	}
	acts := decide(DecideOptions{Watch: true}, ev(0, WatchUp()), ev(0, cb(49153, authURL)), ev(0, cb(9100, "")), tick(3*time.Second))
	ports := map[int]bool{}
	for _, a := range acts {
		if a.Type != ActIgnored {
			t.Errorf("unexpected %s action: %+v", a.Type, a)
			continue
		}
		ports[a.Port] = true
	}
	if !ports[49153] || ports[9100] || len(acts) != 2 {
		t.Errorf("want two ignored actions, the sign-in's with port 49153 and the decoy's without: %+v", acts)
	}
}

func TestDecideBounds(t *testing.T) {
	d := NewDecider(DecideOptions{})
	var acts []Action
	for i := 0; i < 2000; i++ {
		port := 2000 + i
		acts = append(acts, d.Add(FromEvent(Event{Type: TypeCallback, Port: port, Host: "localhost",
			URL: fmt.Sprintf("https://idp.example.com/authorize?redirect_uri=http%%3A%%2F%%2Flocalhost%%3A%d%%2Fcb", port)}), t0)...)
	}
	acts = append(acts, d.Close()...)
	var fw, opens, ign int
	for _, a := range acts {
		switch a.Type {
		case ActCallback:
			fw++
		case ActOpen:
			opens++
		case ActIgnored:
			ign++
		}
	}
	if fw != maxPorts || opens != maxOpens || ign != maxIgnored {
		t.Errorf("forwards %d opens %d ignored %d, want %d %d %d", fw, opens, ign, maxPorts, maxOpens, maxIgnored)
	}
}

func TestIsPastedResponse(t *testing.T) {
	for u, want := range map[string]bool{
		"https://sdk.cloud.google.com/authcode.html?code=4/0AbC&state=x": true,
		"https://app.example.com/cb?code=abcdef0123456789":               true,
		"https://app.example.com/cb#access_token=xyz":                    true,
		"https://login.example.com/activate?code=ABCD-EFGH":              false,
		"http://127.0.0.1:8085/?code=abc&state=x":                        false,
		"https://idp.example.com/authorize?client_id=c&state=x":          false,
	} {
		if got := isPastedResponse(u); got != want {
			t.Errorf("isPastedResponse(%q) = %v, want %v", u, got, want)
		}
	}
}

func TestDisplayURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://idp.example.com/authorize?x=1": "https://idp.example.com/…",
		"https://idp.example.com":               "https://idp.example.com",
		"http://127.0.0.1:8085/":                "http://127.0.0.1:8085",
	} {
		if got := DisplayURL(in); got != want {
			t.Errorf("DisplayURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestIsLoopbackForms(t *testing.T) {
	for h, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.1": true, "2130706433": true, "0x7f.0.0.1": true,
		"0177.0.0.1": true, "[::ffff:127.0.0.1]": true, "::ffff:127.0.0.1": true, "::1": true, "[::1]": true,
		"127.0.0.1.": true, "app.localhost": true, "0x7f000001": true,
		"128.0.0.1": false, "10.0.0.1": false, "example.com": false, "2147483648": false, "1.2.3.4.5": false,
		"127.256": true, "0x80.0.0.1": false, "": false, "::ffff:10.0.0.1": false,
	} {
		if got := isLoopback(h); got != want {
			t.Errorf("isLoopback(%q) = %v, want %v", h, got, want)
		}
	}
}

// TestDecideFallbackKeepsOrder: the text named the login's port first and
// then a flood of decoys while the watch was still starting; when the watch
// turns out unavailable, the first-named port is among the forwarded ones
// (issue 8: a text-only login with a flood of decoys still signs in).
func TestDecideFallbackKeepsOrder(t *testing.T) {
	d := NewDecider(DecideOptions{Watch: true})
	real := 47001
	acts := d.Add(FromEvent(Event{Type: TypeCallback, Port: real, Host: "127.0.0.1",
		URL: fmt.Sprintf("https://idp.example.com/authorize?redirect_uri=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fcb", real)}), t0)
	for i := 0; i < 2000; i++ {
		acts = append(acts, d.Add(FromEvent(Event{Type: TypeCallback, Port: 20000 + i, Host: "127.0.0.1"}), t0)...)
	}
	if len(acts) != 0 {
		t.Fatalf("decided before the watch reported: %+v", acts)
	}
	acts = append(acts, d.Add(WatchDown("no /proc"), t0.Add(time.Second))...)
	got := actTypes(acts)
	if !strings.HasPrefix(got, fmt.Sprintf("callback %d; open https://idp.example.com/authorize?", real)) {
		t.Errorf("after the fallback: %s", got)
	}
}
