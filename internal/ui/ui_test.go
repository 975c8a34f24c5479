package ui

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/creack/pty"
)

func noEnv(string) string { return "" }

func TestLinesByMode(t *testing.T) {
	for _, tc := range []struct {
		name           string
		json, quiet    bool
		verbose        int
		stdout, stderr string
	}{
		{name: "default", stderr: "kfwd: status\nkfwd: notice\n"},
		{name: "quiet", quiet: true, stderr: "kfwd: notice\n"},
		{name: "verbose", verbose: 1, stderr: "kfwd: status\nkfwd: debug1: one\nkfwd: notice\n"},
		{name: "json", json: true, stdout: `{"port":8080,"type":"forwarding"}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			u := New(&out, &errOut, noEnv)
			u.Configure(tc.json, tc.quiet, tc.verbose)
			u.Statusf("status")
			u.Debugf(1, "one")
			u.Debugf(2, "two")
			u.Noticef("notice")
			u.Event("forwarding", map[string]any{"port": 8080})
			if out.String() != tc.stdout || errOut.String() != tc.stderr {
				t.Errorf("stdout %q, stderr %q; want %q, %q", out.String(), errOut.String(), tc.stdout, tc.stderr)
			}
		})
	}
}

// TestFailJSON: an error is one event with its hints joined, and the same
// words on stderr.
func TestFailJSON(t *testing.T) {
	var out, errOut bytes.Buffer
	u := New(&out, &errOut, noEnv)
	u.Configure(true, false, 0)
	u.Fail("no \x1b]52;c;eA==\x07route", []string{"first", "second"}, "no-route")
	var ev map[string]string
	if err := json.Unmarshal(out.Bytes(), &ev); err != nil {
		t.Fatalf("stdout %q: %v", out.String(), err)
	}
	if ev["type"] != "error" || ev["hint"] != "first\nsecond" || ev["code"] != "no-route" {
		t.Errorf("event %v", ev)
	}
	if want := "kfwd: error: no route\nkfwd: hint: first\nkfwd: hint: second\n"; errOut.String() != want {
		t.Errorf("stderr %q, want %q (escape sequences removed)", errOut.String(), want)
	}
}

// TestRawTerminal drives the terminal path through a real pty: in raw mode
// kfwd's lines end in \r\n, a line after the login's unterminated prompt
// starts on its own, and restore ends raw mode.
func TestRawTerminal(t *testing.T) {
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	defer tty.Close()
	if err := pty.Setsize(ptm, &pty.Winsize{Cols: 91, Rows: 17}); err != nil {
		t.Fatal(err)
	}
	term := StdinTerminal(tty)
	if term == nil {
		t.Fatal("StdinTerminal: a pty is not a terminal")
	}
	if w, h := term.Size(); w != 91 || h != 17 {
		t.Errorf("Size = %dx%d, want 91x17", w, h)
	}
	if StdinTerminal(strings.NewReader("")) != nil {
		t.Error("StdinTerminal: a reader is a terminal")
	}

	var errOut bytes.Buffer
	u := New(&bytes.Buffer{}, &errOut, noEnv)
	restore, err := term.MakeRaw(u)
	if err != nil {
		t.Fatal(err)
	}
	login := u.Relay(&errOut)
	login.Write([]byte("Press Enter to open the browser "))
	u.Statusf("callback port %d", 8080)
	u.Statusf("two\nlines")
	restore()
	u.Statusf("cooked")
	want := "Press Enter to open the browser \r\nkfwd: callback port 8080\r\nkfwd: two\r\nlines\r\nkfwd: cooked\n"
	if errOut.String() != want {
		t.Errorf("stderr %q\nwant   %q", errOut.String(), want)
	}
}

// TestRelayOnlyForTheStatusScreen: output going elsewhere than kfwd's
// status lines (stdout to a file) is passed through untouched.
func TestRelayOnlyForTheStatusScreen(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := New(f, &bytes.Buffer{}, noEnv)
	if w := u.Relay(f); w != f {
		t.Errorf("Relay(file) = %T, want the file itself", w)
	}
}
