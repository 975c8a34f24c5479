package callback

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// replay runs a recorded login (testdata/evidence/*.txt, described in its
// README.md) through a Scanner and a Decider as kfwd login does: output
// lines through the scanner, watch reports and opener URLs as they come,
// the clock advanced by @wait and by 1 ms per line, expire whenever the
// Decider asks for it.
func replay(t *testing.T, raw []byte) (acts []Action, want []string) {
	t.Helper()
	var d *Decider
	s := NewScanner()
	now := t0
	watched := bytes.Contains(raw, []byte("\n@watch")) || bytes.HasPrefix(raw, []byte("@watch")) ||
		bytes.Contains(raw, []byte("\n@listen"))
	d = NewDecider(DecideOptions{Watch: watched})
	add := func(e Evidence) { acts = append(acts, d.Add(e, now)...) }
	feed := func(evs []Event) {
		for _, e := range evs {
			add(FromEvent(e))
		}
	}
	advance := func(dt time.Duration) {
		end := now.Add(dt)
		for {
			next, ok := d.nextExpiry()
			if !ok || next.After(end) {
				break
			}
			if next.After(now) {
				now = next
			}
			acts = append(acts, d.expire(now)...)
		}
		now = end
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# want:"):
			want = append(want, strings.TrimSpace(strings.TrimPrefix(line, "# want:")))
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "@"):
			f := strings.Fields(line[1:])
			switch f[0] {
			case "watch":
				if f[1] == "up" {
					add(WatchUp())
				} else {
					add(WatchDown(strings.Join(f[2:], " ")))
				}
			case "listen":
				port, _ := strconv.Atoi(f[1])
				add(Listening(port, f[2]))
			case "wait":
				dt, err := time.ParseDuration(f[1])
				if err != nil {
					t.Fatalf("bad @wait: %q", line)
				}
				_, evs := s.Feed(nil)
				feed(evs)
				feed(s.idle())
				advance(dt)
			case "open":
				m := markerPrefix + base64.StdEncoding.EncodeToString([]byte(f[1])) + "\a"
				_, evs := s.Feed([]byte(m))
				feed(evs)
			default:
				t.Fatalf("unknown evidence %q", line)
			}
		default:
			_, evs := s.Feed([]byte(line + "\r\n"))
			feed(evs)
			advance(time.Millisecond)
		}
	}
	_, evs := s.Close()
	feed(evs)
	advance(10 * time.Second)
	return append(acts, d.Close()...), want
}

func describeAction(a Action) string {
	switch a.Type {
	case ActCallback:
		return fmt.Sprintf("callback %d", a.Port)
	case ActOpen:
		return "open " + a.URL
	case ActDevice:
		return "device " + a.Code
	}
	return a.Type
}

func actionMatches(want string, a Action) bool {
	got := describeAction(a)
	if p, ok := strings.CutSuffix(want, "..."); ok {
		return strings.HasPrefix(got, p)
	}
	return got == want
}

// TestRecordedEvidence checks the decisions for recorded logins: watch
// reports, opener URLs and transcripts together.
func TestRecordedEvidence(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "evidence", "*.txt"))
	if len(files) < 8 {
		t.Fatalf("want at least 8 recorded logins, got %d", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			acts, want := replay(t, raw)
			if len(want) == 0 {
				t.Fatal("no '# want:' lines")
			}
			checkActionInvariants(t, acts)
			var got []string
			for _, a := range acts {
				got = append(got, describeAction(a))
			}
			ok := len(acts) == len(want)
			for i := 0; ok && i < len(want); i++ {
				ok = actionMatches(want[i], acts[i])
			}
			if !ok {
				t.Errorf("actions\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// checkActionInvariants holds for every login, whatever its output: the
// bounds of issue 8 and the order forward-then-open.
func checkActionInvariants(t *testing.T, acts []Action) {
	t.Helper()
	forwarded := map[int]bool{}
	opens := 0
	opened := map[string]bool{}
	for _, a := range acts {
		if a.URL != "" && isPastedResponse(a.URL) {
			t.Errorf("action carries a pasted authorization response: %+v", a)
		}
		switch a.Type {
		case ActCallback:
			if a.Port < minPort || a.Port > 65535 {
				t.Errorf("forwards port %d", a.Port)
			}
			if forwarded[a.Port] {
				t.Errorf("port %d forwarded twice", a.Port)
			}
			forwarded[a.Port] = true
			if !isLoopback(a.Host) {
				t.Errorf("forward host %q is not loopback", a.Host)
			}
		case ActOpen:
			opens++
			if opened[a.URL] {
				t.Errorf("%s opened twice", a.URL)
			}
			opened[a.URL] = true
			if a.Port != 0 && !forwarded[a.Port] {
				t.Errorf("opens %s before its port %d is forwarded", a.URL, a.Port)
			}
			if pu, err := url.Parse(a.URL); err == nil && a.By != ByOpener && isLoopback(pu.Hostname()) &&
				pu.RawQuery == "" && (pu.Path == "" || pu.Path == "/") {
				t.Errorf("opens a bare callback URL the login did not open itself: %+v", a)
			}
		}
	}
	if len(forwarded) > maxPorts {
		t.Errorf("%d ports forwarded, at most %d", len(forwarded), maxPorts)
	}
	if opens > maxOpens {
		t.Errorf("%d browser opens, at most %d", opens, maxOpens)
	}
}

// FuzzDecide feeds the Decider arbitrary evidence (with and without a
// watch) and checks the invariants, and that with a working watch every
// forwarded port was reported by it.
func FuzzDecide(f *testing.F) {
	f.Add([]byte("\x01\x05\xbf\x51\x02\x00\x03\x07"), true)
	f.Add([]byte("\x00\x00\x50\x00\x04\x13\x88\x05\x06"), false)
	f.Add(bytes.Repeat([]byte("\x00\x13\x89\x02\x01"), 40), true)
	urls := []string{
		"", authURL,
		"http://127.0.0.1:53682/",
		"http://127.0.0.1:53682/auth?state=x",
		"https://idp.example.com/cli/start?s=1",
		"https://app.example.com/cb?code=4/0AbC&state=s",
		"https://login.example.com/device",
		"https://login.example.com/device?user_code=AB-_CD",
	}
	f.Fuzz(func(t *testing.T, b []byte, watch bool) {
		d := NewDecider(DecideOptions{Watch: watch})
		now := t0
		var acts []Action
		listened := map[int]bool{}
		down := false
		for i := 0; i+3 <= len(b) && i < 600; i += 3 {
			op, x, y := b[i]%8, int(b[i+1]), int(b[i+2])
			port := x<<8 | y
			u := urls[y%len(urls)]
			var e Evidence
			switch op {
			case 0:
				e = FromEvent(Event{Type: TypeCallback, Port: port, Host: "127.0.0.1", URL: u, Opener: x%2 == 0})
			case 1:
				e = Listening(port, "127.0.0.1")
				listened[port] = true
			case 2:
				e = FromEvent(Event{Type: TypeOpen, URL: u, Opener: x%2 == 0})
			case 3:
				e = FromEvent(Event{Type: TypeDevice, URL: u, Code: []string{"AB-_CD", "WXYZ-1234"}[x%2]})
			case 4:
				e = WatchUp()
			case 5:
				e = WatchDown("fuzz")
				down = true
			case 6:
				now = now.Add(time.Duration(port) * time.Millisecond)
				acts = append(acts, d.expire(now)...)
				continue
			case 7:
				now = now.Add(time.Duration(x) * time.Millisecond)
				continue
			}
			acts = append(acts, d.Add(e, now)...)
		}
		acts = append(acts, d.Close()...)
		checkActionInvariants(t, acts)
		fellBack := false
		for _, a := range acts {
			fellBack = fellBack || a.Type == ActIgnored && strings.Contains(a.Reason, "did not report")
		}
		if watch && !down && !fellBack {
			for _, a := range acts {
				if a.Type == ActCallback && !listened[a.Port] {
					t.Errorf("port %d forwarded (by %s) without the watch seeing it", a.Port, a.By)
				}
			}
		}
	})
}

// FuzzScanDecide runs arbitrary output through the scanner and a text-only
// Decider: whatever the remote prints, the bounds hold.
func FuzzScanDecide(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.txt"))
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(transcript(b))
		}
	}
	f.Add([]byte(strings.Repeat("Listening on http://127.0.0.1:2000/callback\nhttp://localhost:80/ port 5432\n", 50)))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewScanner()
		_, evs := s.Feed(b)
		evs = append(evs, s.idle()...)
		_, more := s.Close()
		evs = append(evs, more...)
		for _, e := range evs {
			if e.URL != "" && isPastedResponse(e.URL) {
				t.Errorf("event carries a pasted authorization response: %+v", e)
			}
		}
		checkActionInvariants(t, decideText(evs))
	})
}
