package tunnel

import (
	"strings"
	"testing"
)

func TestParseProcSocket(t *testing.T) {
	for _, tc := range []struct {
		in   string
		big  bool
		want string
	}{
		{"0100007F:C001", false, "127.0.0.1:49153"},
		{"7F000001:C001", true, "127.0.0.1:49153"},
		{"00000000:1F90", false, "0.0.0.0:8080"},
		{"0200007F:0050", false, "127.0.0.2:80"},
		{"0102A8C0:0016", false, "192.168.2.1:22"},
		{"00000000000000000000000001000000:AFC5", false, "[::1]:44997"},
		{"00000000000000000000000000000001:AFC5", true, "[::1]:44997"},
		{"00000000000000000000000000000000:0035", false, "[::]:53"},
		// ::ffff:127.0.0.1 (a dual-stack socket bound to the v4 loopback) is
		// reported as the IPv4 address.
		{"0000000000000000FFFF00000100007F:D431", false, "127.0.0.1:54321"},
		{"00000000000000000000FFFF7F000001:D431", true, "127.0.0.1:54321"},
		{"000080FE00000000FF005450A8C10AFE:0016", false, "[fe80::5054:ff:fe0a:c1a8]:22"},
	} {
		got, err := parseProcSocket(tc.in, tc.big)
		if err != nil || got.String() != tc.want {
			t.Errorf("parseProcSocket(%q, big=%v) = %v, %v; want %s", tc.in, tc.big, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "0100007F", "0100007F:", "0100007F:XYZ", "0100007:0050", "0100007G:0050", "0100007F:10000", "01000000000000000000000000:0050"} {
		if got, err := parseProcSocket(bad, false); err == nil {
			t.Errorf("parseProcSocket(%q) = %v, want an error", bad, got)
		}
	}
}

func TestParseLsofSocket(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:8080":       "127.0.0.1:8080",
		"[::1]:8080":           "[::1]:8080",
		"*:49153":              "0.0.0.0:49153",
		"[::ffff:127.0.0.1]:5": "127.0.0.1:5",
		"10.0.0.5:22":          "10.0.0.5:22",
	} {
		got, err := parseLsofSocket(in)
		if err != nil || got.String() != want {
			t.Errorf("parseLsofSocket(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "8080", "localhost:8080", "127.0.0.1:http", "127.0.0.1:70000"} {
		if got, err := parseLsofSocket(bad); err == nil {
			t.Errorf("parseLsofSocket(%q) = %v, want an error", bad, got)
		}
	}
}

// TestWatchParserReports follows a recorded run of the script: the set of
// listening sockets turns into appeared and gone reports, addresses that the
// loopback cannot reach are left out, and duplicates (one socket held by a
// parent and a child) count once.
func TestWatchParserReports(t *testing.T) {
	p := watchParser{}
	steps := []struct {
		line string
		want []string
	}{
		{"H proc le", []string{"started (proc)"}},
		{"S", nil},
		{"S 0100007F:C001", []string{"appeared 127.0.0.1:49153"}},
		{"S 0100007F:C001 0100007F:C001 0102A8C0:0016 00000000000000000000000001000000:C001",
			[]string{"appeared [::1]:49153"}},
		{"S 00000000000000000000000001000000:C001 00000000:1F90",
			[]string{"gone 127.0.0.1:49153", "appeared 0.0.0.0:8080"}},
		{"S", []string{"gone 0.0.0.0:8080", "gone [::1]:49153"}},
		{"", nil},
		{"E", []string{"ended"}},
	}
	for _, s := range steps {
		reps, err := p.line(s.line)
		if err != nil {
			t.Fatalf("line %q: %v", s.line, err)
		}
		var got []string
		for _, r := range reps {
			got = append(got, r.String())
		}
		if strings.Join(got, "; ") != strings.Join(s.want, "; ") {
			t.Errorf("line %q: reports %q, want %q", s.line, got, s.want)
		}
	}
	big := watchParser{}
	big.line("H proc be")
	if reps, _ := big.line("S 7F000001:0050"); len(reps) != 1 || reps[0].String() != "appeared 127.0.0.1:80" {
		t.Errorf("big-endian: %v", reps)
	}
	ls := watchParser{}
	ls.line("H lsof")
	if reps, _ := ls.line("S *:3000 [::1]:3001 10.1.2.3:3002"); len(reps) != 2 || reps[0].String() != "appeared 0.0.0.0:3000" || reps[1].String() != "appeared [::1]:3001" {
		t.Errorf("lsof: %v", reps)
	}
}

func TestWatchParserErrors(t *testing.T) {
	p := watchParser{}
	if _, err := p.line("S 0100007F:C001"); err == nil {
		t.Error("a socket list before the start line was accepted")
	}
	p.line("H proc le")
	for _, bad := range []string{"S nonsense", "X what", "H"} {
		if _, err := p.line(bad); err == nil {
			t.Errorf("line %q accepted", bad)
		}
	}
	if reps, err := p.line("U /proc/net/tcp is not readable"); err != nil || len(reps) != 1 || reps[0].Kind != WatchUnavailable || reps[0].Reason != "/proc/net/tcp is not readable" {
		t.Errorf("unavailable line: %v, %v", reps, err)
	}
}

// TestWatchCommandQuoting: the command is one line that any login shell
// passes to /bin/sh unchanged, and the session id cannot inject anything.
func TestWatchCommandQuoting(t *testing.T) {
	c := watchCommand("abc123", "", 0, 0)
	if !strings.HasPrefix(c, "exec /bin/sh -c '") || !strings.HasSuffix(c, "' kfwd-watch abc123 auto 0.040 1501") {
		t.Errorf("command = %.40q ... %q", c, c[len(c)-40:])
	}
	if strings.Count(c, "'") != 2 || strings.Contains(c, "\n") {
		t.Error("the script is not one single-quoted line")
	}
	if c := watchCommand("x", "", 0, 0); !strings.HasSuffix(c, " kfwd-watch x auto 0.040 1501") {
		t.Errorf("command ends %q", c[len(c)-30:])
	}
	for _, id := range []string{"", "a b", "a;rm", "$(x)", strings.Repeat("a", 65)} {
		if validSessionID(id) {
			t.Errorf("session id %q accepted", id)
		}
	}
}
