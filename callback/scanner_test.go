package callback

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

const authURL = "https://auth.example.net/authorize?client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A49153%2Fcb&state=s1"

func feedAll(s *Scanner, chunks ...string) (show string, events []Event) {
	for _, c := range chunks {
		sh, ev := s.Feed([]byte(c))
		show += string(sh)
		events = append(events, ev...)
	}
	sh, ev := s.Close()
	return show + string(sh), append(events, ev...)
}

func scanString(in string) []Event {
	_, ev := feedAll(NewScanner(), in)
	return ev
}

func marker(u string) string {
	return markerPrefix + base64.StdEncoding.EncodeToString([]byte(u)) + "\a"
}

func TestScannerCases(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Event
	}{
		{"plain callback url", "Listening at http://localhost:8976/oauth/callback\n",
			[]Event{{Type: "callback", Port: 8976, Host: "localhost"}}},
		{"authorize url", "Open " + authURL + "\n",
			[]Event{{Type: "callback", Port: 49153, Host: "127.0.0.1", URL: authURL}}},
		{"port then url upgrade", "Starting server on http://localhost:1455.\nOpen " + authURL + "\n",
			[]Event{{Type: "callback", Port: 1455, Host: "localhost"}, {Type: "callback", Port: 49153, Host: "127.0.0.1", URL: authURL}}},
		{"same port once plus url", "Waiting for callback on port 49153\nOpen " + authURL + "\nOpen " + authURL + "\n",
			[]Event{{Type: "callback", Port: 49153, Host: "localhost"}, {Type: "callback", Port: 49153, Host: "127.0.0.1", URL: authURL}}},
		{"ansi around url", "\x1b[1;34m" + authURL + "\x1b[0m\r\n",
			[]Event{{Type: "callback", Port: 49153, Host: "127.0.0.1", URL: authURL}}},
		{"osc8 target only", "\x1b]8;id=1;" + authURL + "\x1b\\sign in\x1b]8;;\x1b\\\n",
			[]Event{{Type: "callback", Port: 49153, Host: "127.0.0.1", URL: authURL}}},
		{"unterminated at close", "Visit the URL for the auth dialog: " + authURL,
			[]Event{{Type: "callback", Port: 49153, Host: "127.0.0.1", URL: authURL}}},
		{"local identity provider", "Open http://127.0.0.1:9000/authorize?client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A49153%2Fcb\n",
			[]Event{{Type: "callback", Port: 49153, Host: "127.0.0.1", URL: "http://127.0.0.1:9000/authorize?client_id=c&redirect_uri=http%3A%2F%2F127.0.0.1%3A49153%2Fcb"}}},
		{"connection refused", "dial tcp 127.0.0.1:5432: connect: connection refused\nGet \"http://127.0.0.1:8200/v1/sys/health\": dial tcp 127.0.0.1:8200: connect: connection refused\n", nil},
		{"connection string", "DATABASE_URL=postgres://u:p@localhost:5432/db\nconnecting to postgres://u@localhost:5432\n", nil},
		{"proxy", "HTTP_PROXY=http://127.0.0.1:3128\nhttps_proxy is http://127.0.0.1:3128\n", nil},
		{"log line", "2025-03-04 10:00:00 INFO started http://127.0.0.1:9000\n", nil},
		{"server after login", "Logged in as bob\nServer listening on http://127.0.0.1:8080\n", nil},
		{"port word without listener", "Using port 5000 for the dev server\n", nil},
		{"privileged port in words", "Listening on port 80 for the callback\n", nil},
		{"device code before url", "Enter code ABCD-EFGH at https://github.com/login/device\n",
			[]Event{{Type: "device", URL: "https://github.com/login/device", Code: "ABCD-EFGH"}}},
		{"device aws", "open the following URL:\n\nhttps://device.sso.us-east-1.amazonaws.com/\n\nThen enter the code:\n\nWXYZ-ABCD\n",
			[]Event{{Type: "device", URL: "https://device.sso.us-east-1.amazonaws.com/", Code: "WXYZ-ABCD"}}},
		{"device complete", "Visit https://example.com/device?user_code=QQQQ-RRRR\n",
			[]Event{{Type: "device", URL: "https://example.com/device?user_code=QQQQ-RRRR", Code: "QQQQ-RRRR"}}},
		{"paste code", "Go to:\n  https://accounts.example.com/o/oauth2/auth?redirect_uri=https%3A%2F%2Fsdk.example.com%2Fcode&state=x\n",
			[]Event{{Type: "open", URL: "https://accounts.example.com/o/oauth2/auth?redirect_uri=https%3A%2F%2Fsdk.example.com%2Fcode&state=x"}}},
		{"docs link only", "Learn more: https://docs.example.com/auth/login\n", nil},
		{"marker callback", "a" + marker(authURL) + "b\n",
			[]Event{{Type: "callback", Port: 49153, Host: "127.0.0.1", URL: authURL, Opener: true}}},
		{"marker open", marker("https://example.com/x") + "\n",
			[]Event{{Type: "open", URL: "https://example.com/x", Opener: true}}},
		{"marker hex st", markerPrefix + "h:" + fmt.Sprintf("%x", "http://localhost:9999/") + "\x1b\\",
			[]Event{{Type: "callback", Port: 9999, Host: "localhost", URL: "http://localhost:9999/", Opener: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := scanString(tc.in)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("events\n got %+v\nwant %+v", got, tc.want)
			}
			// The same with one byte per Feed.
			s := NewScanner()
			var one []Event
			var show []byte
			for i := 0; i < len(tc.in); i++ {
				sh, ev := s.Feed([]byte{tc.in[i]})
				show = append(show, sh...)
				one = append(one, ev...)
			}
			sh, ev := s.Close()
			show = append(show, sh...)
			one = append(one, ev...)
			if !reflect.DeepEqual(one, tc.want) {
				t.Errorf("one byte at a time\n got %+v\nwant %+v", one, tc.want)
			}
			if want := stripMarkersRef([]byte(tc.in)); !bytes.Equal(show, want) {
				t.Errorf("show %q, want %q", show, want)
			}
		})
	}
}

func TestMarkerStrippedAtEverySplit(t *testing.T) {
	in := "before " + marker(authURL) + " after\r\n"
	for i := 0; i <= len(in); i++ {
		for j := i; j <= len(in); j++ {
			show, ev := feedAll(NewScanner(), in[:i], in[i:j], in[j:])
			if show != "before  after\r\n" {
				t.Fatalf("split %d,%d: show %q", i, j, show)
			}
			if len(ev) != 1 || ev[0].Port != 49153 || ev[0].URL != authURL {
				t.Fatalf("split %d,%d: events %+v", i, j, ev)
			}
		}
	}
}

func TestMarkerHoldsOnlyPrefix(t *testing.T) {
	s := NewScanner()
	if sh, _ := s.Feed([]byte("abc")); string(sh) != "abc" {
		t.Fatalf("plain output held back: %q", sh)
	}
	if sh, _ := s.Feed([]byte("x\x1b]53")); string(sh) != "x" {
		t.Fatalf("possible marker prefix not held: %q", sh)
	}
	if sh, _ := s.Feed([]byte("0;title\a")); string(sh) != "\x1b]530;title\a" {
		t.Fatalf("not-a-marker not released: %q", sh)
	}
	if sh, _ := s.Feed([]byte("\x1b[31mred")); string(sh) != "\x1b[31mred" {
		t.Fatalf("CSI held back: %q", sh)
	}
	// A marker that never ends is shown as it was at Close.
	s.Feed([]byte(markerPrefix + "aGk"))
	if sh, _ := s.Close(); string(sh) != markerPrefix+"aGk" {
		t.Fatalf("unfinished marker lost: %q", sh)
	}
}

func TestIdleUnterminatedLine(t *testing.T) {
	s := NewScanner()
	if _, ev := s.Feed([]byte("Visit: " + authURL)); len(ev) != 0 {
		t.Fatalf("event before the line ended or paused: %+v", ev)
	}
	ev := s.idle()
	if len(ev) != 1 || ev[0].Port != 49153 || ev[0].URL != authURL {
		t.Fatalf("idle events %+v", ev)
	}
	if _, ev := s.Feed([]byte("\nmore\n")); len(ev) != 0 {
		t.Fatalf("repeated event %+v", ev)
	}
}

func TestIdleOpensCandidate(t *testing.T) {
	s := NewScanner()
	_, ev := s.Feed([]byte("Opening browser to https://cli-auth.example.com/auth/cli/browser/123\n"))
	if len(ev) != 0 {
		t.Fatalf("opened before waiting for a device code: %+v", ev)
	}
	ev = s.idle()
	if len(ev) != 1 || ev[0].Type != "open" {
		t.Fatalf("idle events %+v", ev)
	}
}

func TestWrapJoin(t *testing.T) {
	for _, width := range []int{80, 100, 120} {
		line := "Open: " + authURL + "&extra=" + strings.Repeat("q", 200)
		var b strings.Builder
		for i := 0; i < len(line); i += width {
			b.WriteString(line[i:min(i+width, len(line))])
			b.WriteString("\r\n")
		}
		for _, split := range []int{1, 7, 4096} {
			s := NewScanner()
			in := b.String()
			var ev []Event
			for i := 0; i < len(in); i += split {
				_, e := s.Feed([]byte(in[i:min(i+split, len(in))]))
				ev = append(ev, e...)
			}
			_, e := s.Close()
			ev = append(ev, e...)
			want := line[len("Open: "):]
			if len(ev) != 1 || ev[0].URL != want {
				t.Errorf("width %d split %d: events %+v", width, split, ev)
			}
		}
	}
}

func TestWrapNotJoinedWithWords(t *testing.T) {
	ev := scanString("Open " + authURL + "\nWaiting...\n")
	if len(ev) != 1 || ev[0].URL != authURL {
		t.Fatalf("events %+v", ev)
	}
}

func TestLongLineBounded(t *testing.T) {
	s := NewScanner()
	chunk := bytes.Repeat([]byte("a"), 1<<16)
	for range 32 {
		sh, _ := s.Feed(chunk)
		if len(sh) != len(chunk) {
			t.Fatal("show lost bytes")
		}
		if len(s.line) >= maxLine {
			t.Fatalf("line buffer %d bytes, want < %d", len(s.line), maxLine)
		}
	}
	// Still working afterwards.
	_, ev := s.Feed([]byte("\nOpen " + authURL + "\n"))
	_, ev2 := s.Close()
	if ev = append(ev, ev2...); len(ev) != 1 {
		t.Fatalf("events after long line: %+v", ev)
	}
}

// hostileInputs are repeated units of output built to make a careless
// scanner quadratic: huge unterminated lines of URL characters, nested
// redirects, escape storms, endless marker payloads, thousands of loopback
// URLs, code-like words, and URLs hard-wrapped over thousands of lines.
var hostileInputs = map[string]string{
	"urlchars":  "https://" + strings.Repeat("a%3A/", 1<<14),
	"redirects": strings.Repeat("redirect_uri=http%253A%252F%252F", 1<<12),
	"escapes":   strings.Repeat("\x1b[", 1<<14) + strings.Repeat("\x1b]8;;", 1<<12),
	"marker":    markerPrefix + strings.Repeat("QUFB", 1<<14),
	"urls":      strings.Repeat("http://localhost:1/ ", 1<<12),
	"loopback":  strings.Repeat("Listening on http://127.0.0.1:49153/callback\n", 2000),
	"codes":     strings.Repeat("code ABCD-EFGH ", 1<<12),
	"wrapped":   "Open https://idp.example.com/authorize?x=\n" + strings.Repeat(strings.Repeat("a", 79)+"\n", 1<<10),
	"logs":      strings.Repeat("2026/01/01 12:00:00 NOTICE: Metrics endpoint: GET http://localhost:9100/metrics 200 OK\n", 1<<10),
}

// TestLinearCost checks that hostile input costs about the same per byte
// at 2 MiB as at 256 KiB. It counts bytes allocated, which does not depend on
// the machine's load as time does: the quadratic failures a scanner can
// have (re-joining a growing line, re-reading a growing buffer as a string)
// allocate quadratically. BenchmarkScanHostile measures the time.
func TestLinearCost(t *testing.T) {
	const maxAllocPerByte = 48
	for name, unit := range hostileInputs {
		cost := func(n int) uint64 {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s := NewScanner()
			b := []byte(unit)
			for total := 0; total < n; total += len(b) {
				s.Feed(b)
				s.idle()
			}
			s.Close()
			runtime.ReadMemStats(&after)
			return after.TotalAlloc - before.TotalAlloc
		}
		small, big := cost(256<<10), cost(2<<20)
		if big > 12*small+512<<10 {
			t.Errorf("%s: 256 KiB allocates %d bytes, 2 MiB %d: not linear", name, small, big)
		}
		// Linear but with a huge constant is not enough either: joining
		// wrapped lines by copying the joined text per line stays within
		// the line bound and costs hundreds of bytes per input byte.
		if per := big / (2 << 20); per > maxAllocPerByte && !raceEnabled {
			t.Errorf("%s: %d bytes allocated per input byte, want at most %d", name, per, maxAllocPerByte)
		}
		t.Logf("%s: %d bytes allocated per input byte", name, big/(2<<20))
	}
}

// BenchmarkScanHostile reports the scanner's cost per MB of hostile
// output (docs/design.md quotes it), also as CPU milliseconds per MiB
// ("cpu-ms/MiB"), which stays meaningful on a machine shared with other
// work.
func BenchmarkScanHostile(b *testing.B) {
	for _, name := range []string{"wrapped", "loopback", "urlchars", "redirects", "escapes", "marker", "urls", "codes", "logs"} {
		unit := []byte(hostileInputs[name])
		b.Run(name, func(b *testing.B) {
			const size = 1 << 20
			b.SetBytes(size)
			cpu0 := cpuTime()
			n := 0
			for b.Loop() {
				s := NewScanner()
				for total := 0; total < size; total += len(unit) {
					s.Feed(unit)
				}
				s.Close()
				n++
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(n), "cpu-ms/MiB")
		})
	}
}

// FuzzScanner checks that the scanner never panics, that what it shows is
// the input minus complete markers for any split, and that events do not
// depend on how the input is split.
func FuzzScanner(f *testing.F) {
	f.Add([]byte("Open "+authURL+"\r\n"), uint8(3))
	f.Add([]byte(marker(authURL)+"x\x1b]5379;kfwd-open;QQ\x1b[31m"), uint8(1))
	f.Add([]byte("\x1b]8;;https://x.example/device?user_code=AAAA-BBBB\x07v\x1b]8;;\x07\r\rcode: ZZZZ-1234\n"), uint8(5))
	f.Add([]byte("Listening on port 49153 for the callback\nLogged in\n"), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		n := int(step%16) + 1
		s := NewScanner()
		var show []byte
		var split []Event
		for i := 0; i < len(in); i += n {
			sh, ev := s.Feed(in[i:min(i+n, len(in))])
			show = append(show, sh...)
			split = append(split, ev...)
		}
		sh, ev := s.Close()
		show = append(show, sh...)
		split = append(split, ev...)
		if want := stripMarkersRef(in); !bytes.Equal(show, want) {
			t.Fatalf("show %q\nwant %q", show, want)
		}
		_, whole := feedAll(NewScanner(), string(in))
		if !reflect.DeepEqual(split, whole) {
			t.Fatalf("events depend on the split:\n%+v\n%+v", split, whole)
		}
		for _, e := range whole {
			if e.Type == "callback" && (e.Port < 1 || e.Port > 65535) {
				t.Fatalf("bad port %+v", e)
			}
		}
	})
}

func BenchmarkScanner(b *testing.B) {
	var t strings.Builder
	for i := 0; t.Len() < 4<<20; i++ {
		fmt.Fprintf(&t, "\x1b[32m%5d\x1b[0m building step %d of the project, see https://docs.example.com/step/%d\r\n", i, i, i)
		if i%50 == 0 {
			t.WriteString("\r\x1b[K⠋ waiting\r\x1b[K⠙ waiting\r\n")
		}
	}
	t.WriteString("Open " + authURL + "\r\n")
	in := []byte(t.String())
	b.SetBytes(int64(len(in)))
	b.ResetTimer()
	for range b.N {
		s := NewScanner()
		for i := 0; i < len(in); i += 4096 {
			s.Feed(in[i:min(i+4096, len(in))])
		}
		s.Close()
	}
}

// TestWrapJoinLinear checks that joining a URL hard-wrapped over many lines
// costs memory in proportion to the URL, not to its square (issue 8: URL
// joining over wrapped lines is linear in the input). It drives the joiner
// alone, without the analysis whose regexp pools the race detector defeats.
func TestWrapJoinLinear(t *testing.T) {
	s := NewScanner()
	lines := make([]string, 800)
	for i := range lines {
		lines[i] = strings.Repeat(string(rune('a'+i%26)), 79)
	}
	s.d.physLine(s, "Open https://idp.example.com/authorize?x=", nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, l := range lines {
		s.d.physLine(s, l, nil)
	}
	runtime.ReadMemStats(&after)
	if s.d.pending == nil || len(s.d.pending.text) < 60000 {
		t.Fatalf("the wrapped lines were not joined")
	}
	total := uint64(800 * 79)
	if got := after.TotalAlloc - before.TotalAlloc; got > 8*total {
		t.Errorf("joining %d bytes of wrapped URL allocated %d bytes, want at most %d", total, got, 8*total)
	}
}
