package callback

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// expectation is the first line of a transcript:
//
//	# expect: port=<N|none> in_output=<...|none> tunnel=<yes|no|optional>[(device code)] url=<URL or words>
//
// It is read with these rules (the corpus headers are written for people,
// some fields are fuzzy):
//   - A callback event is required only when port is a number, in_output is
//     not "none" and tunnel starts with "yes". It must be for that port, and
//     its URL (the last callback event carrying one) must match url.
//     Otherwise no callback event may appear at all: in_output=none means
//     the port cannot be read from the text, so none may be guessed (a
//     port=3128 header with in_output=none must not turn a proxy mention
//     into a tunnel); tunnel=no/optional means no callback is required.
//   - tunnel containing "device" requires a device event whose code is
//     printed in the transcript and whose URL has the host and path of url;
//     when url carries user_code=V and V is printed, the code must be V.
//   - Otherwise, when url is checkable (starts with http or a <placeholder>),
//     an "open" event must match it and no device event may appear.
//   - Otherwise (url=(none ...), (unverified ...), NOT PRINTED ...) no
//     "open" event may appear.
//
// A url matches when its pieces between "..." and <placeholders> occur in
// the event URL in order, the first piece as a prefix.
type expectation struct {
	port     string
	inOutput string
	tunnel   string
	url      string
}

var expectRE = regexp.MustCompile(`^# expect: port=(\S+).*?in_output=(\S+).*?tunnel=(\S+).*?url=(.*)$`)

func parseExpect(t *testing.T, name, first string) expectation {
	t.Helper()
	m := expectRE.FindStringSubmatch(strings.TrimRight(first, "\r"))
	if m == nil {
		t.Fatalf("%s: no '# expect:' header: %q", name, first)
	}
	return expectation{port: m[1], inOutput: m[2], tunnel: strings.ToLower(m[3]), url: m[4]}
}

// transcript drops the header and other '#' comment lines.
func transcript(b []byte) []byte {
	var out []byte
	for _, l := range bytes.SplitAfter(b, []byte("\n")) {
		if !bytes.HasPrefix(l, []byte("#")) {
			out = append(out, l...)
		}
	}
	return out
}

var placeholderRE = regexp.MustCompile(`<[^>]*>`)

// urlPieces returns the literal pieces of a header url, or nil when it is
// not checkable.
func urlPieces(u string) []string {
	if !strings.HasPrefix(u, "http") && !strings.HasPrefix(u, "<") {
		return nil
	}
	u = placeholderRE.ReplaceAllString(u, "\x00")
	if i := strings.IndexByte(u, ' '); i >= 0 {
		u = u[:i]
	}
	u = strings.ReplaceAll(u, "...", "\x00")
	u = strings.ReplaceAll(u, "..", "\x00")
	var pieces []string
	for i, p := range strings.Split(u, "\x00") {
		if p != "" || i == 0 {
			pieces = append(pieces, p)
		}
	}
	return pieces
}

func matchPieces(pieces []string, got string) bool {
	rest := got
	for i, p := range pieces {
		j := strings.Index(rest, p)
		if j < 0 || i == 0 && j != 0 {
			return false
		}
		rest = rest[j+len(p):]
	}
	return true
}

// scanAll runs a transcript through a Scanner fed by r.
func scanAll(t *testing.T, r interface{ Read([]byte) (int, error) }) (show []byte, events []Event) {
	t.Helper()
	s := NewScanner()
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		sh, ev := s.Feed(buf[:n])
		show = append(show, sh...)
		events = append(events, ev...)
		if err != nil {
			break
		}
	}
	sh, ev := s.Close()
	return append(show, sh...), append(events, ev...)
}

func checkTranscript(t *testing.T, name string, raw []byte) {
	t.Helper()
	first, _, _ := bytes.Cut(raw, []byte("\n"))
	exp := parseExpect(t, name, string(first))
	text := transcript(raw)

	for _, mode := range []string{"whole", "onebyte"} {
		var show []byte
		var events []Event
		if mode == "whole" {
			show, events = scanAll(t, bytes.NewReader(text))
		} else {
			show, events = scanAll(t, iotest.OneByteReader(bytes.NewReader(text)))
		}
		if !bytes.Equal(show, stripMarkersRef(text)) {
			t.Errorf("%s/%s: show differs from input", name, mode)
		}
		checkEvents(t, name+"/"+mode, exp, text, events)
	}
}

// decideText runs scanner events through a text-only Decider, as `kfwd
// scan` does: the fixtures check decisions, not the scanner's raw events.
func decideText(events []Event) []Action {
	d := NewDecider(DecideOptions{})
	var acts []Action
	now := t0
	for _, e := range events {
		now = now.Add(time.Millisecond)
		acts = append(acts, d.Add(FromEvent(e), now)...)
	}
	return append(acts, d.Close()...)
}

func checkEvents(t *testing.T, name string, exp expectation, text []byte, events []Event) {
	t.Helper()
	for _, e := range events {
		if e.URL != "" && isPastedResponse(e.URL) {
			t.Errorf("%s: an event carries a pasted authorization response: %+v", name, e)
		}
	}
	acts := decideText(events)
	var callbacks, devices, opens []Action
	for _, a := range acts {
		switch a.Type {
		case ActCallback:
			callbacks = append(callbacks, a)
		case ActDevice:
			devices = append(devices, a)
		case ActOpen:
			opens = append(opens, a)
		case ActIgnored:
		default:
			t.Errorf("%s: unknown action type %q", name, a.Type)
		}
		if a.URL != "" && isPastedResponse(a.URL) {
			t.Errorf("%s: an action carries a pasted authorization response: %+v", name, a)
		}
	}
	pieces := urlPieces(exp.url)
	wantPort := atoiPort(exp.port)
	wantCallback := wantPort != 0 && exp.inOutput != "none" && strings.HasPrefix(exp.tunnel, "yes")
	plain := string(stripForCheck(text))

	switch {
	case wantCallback:
		for _, a := range callbacks {
			if a.Port != wantPort {
				t.Errorf("%s: forwards port %d, want only %d (actions %+v)", name, a.Port, wantPort, acts)
			}
			if !isLoopback(a.Host) {
				t.Errorf("%s: callback host %q is not loopback", name, a.Host)
			}
		}
		if len(callbacks) == 0 {
			t.Fatalf("%s: no forward, want port %d (events %+v, actions %+v)", name, wantPort, events, acts)
		}
		if len(callbacks) > 1 {
			t.Errorf("%s: %d forwards for one port, want one", name, len(callbacks))
		}
		if pieces != nil {
			if len(opens) != 1 || !matchPieces(pieces, opens[0].URL) {
				t.Errorf("%s: opens %+v\nwant one of %q", name, opens, exp.url)
			}
		}
	case len(callbacks) > 0:
		t.Errorf("%s: unexpected forwards %+v", name, callbacks)
	}
	if wantCallback && pieces == nil && len(opens) > 0 {
		t.Errorf("%s: opens %+v, want none (url=%s)", name, opens, exp.url)
	}

	switch {
	case strings.Contains(exp.tunnel, "device"):
		if len(devices) == 0 {
			t.Fatalf("%s: no device action (events %+v)", name, events)
		}
		d := devices[len(devices)-1]
		if d.Code == "" || !strings.Contains(plain, d.Code) {
			t.Errorf("%s: device code %q not printed in the transcript", name, d.Code)
		}
		if len(opens) != 1 {
			t.Errorf("%s: %d browser opens in a device flow, want one: %+v", name, len(opens), opens)
		}
		if pieces != nil {
			wu, err1 := url.Parse(strings.Fields(placeholderRE.ReplaceAllString(exp.url, "x"))[0])
			for _, u := range append([]string{d.URL}, urlsOf(opens)...) {
				gu, err2 := url.Parse(u)
				if err1 != nil || err2 != nil || wu.Host != gu.Host || wu.Path != gu.Path {
					t.Errorf("%s: device URL %q, want %q", name, u, exp.url)
				}
			}
			if v := wu.Query().Get("user_code"); v != "" && strings.Contains(plain, v) {
				if d.Code != v {
					t.Errorf("%s: device code %q, want %q", name, d.Code, v)
				}
				if len(opens) == 1 && strings.Contains(plain, "user_code="+v) && userCodeOf(opens[0].URL) != v {
					t.Errorf("%s: opens %q, want the complete verification URL", name, opens[0].URL)
				}
			}
		}
	case !wantCallback && pieces != nil:
		if len(opens) != 1 || !matchPieces(pieces, opens[0].URL) {
			t.Errorf("%s: opens %+v, want one for %q (events %+v)", name, opens, exp.url, events)
		}
		if len(devices) > 0 {
			t.Errorf("%s: unexpected device actions %+v", name, devices)
		}
	case !wantCallback && len(opens) > 0:
		t.Errorf("%s: unexpected opens %+v", name, opens)
	}
}

func urlsOf(acts []Action) []string {
	var us []string
	for _, a := range acts {
		us = append(us, a.URL)
	}
	return us
}

// stripForCheck removes escape sequences the simple way, for checking that
// a device code is really printed.
func stripForCheck(b []byte) []byte {
	return regexp.MustCompile(`\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)`).ReplaceAll(b, nil)
}

// TestFixtures checks every transcript in testdata against its header.
// The fixtures are rewritten from the shared corpus (other ports, codes,
// states and names) plus cases of our own: negatives, wrapped URLs, ports
// in words or query values, nested redirects and opener markers.
func TestFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.txt"))
	if err != nil || len(files) < 40 {
		t.Fatalf("want at least 40 fixtures, got %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			checkTranscript(t, filepath.Base(f), raw)
		})
	}
}

// TestSharedCorpus runs the shared corpus (../../shared/corpus, beside the
// repository in CI) when it is there, with the same rules as TestFixtures.
func TestSharedCorpus(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "corpus")
	files, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
	if len(files) == 0 {
		t.Logf("no shared corpus at %s", dir)
		return
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			checkTranscript(t, filepath.Base(f), raw)
		})
	}
}
