package login

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestOpenBrowserList: $BROWSER is a ':' list tried in order until one
// succeeds; "%s" stands for the URL, else the URL is the last argument.
func TestOpenBrowserList(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	stub := filepath.Join(dir, "stub")
	if err := os.WriteFile(stub, []byte("#!/bin/sh\nprintf '%s|' \"$@\" >>"+log+"\necho >>"+log+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	const url = "https://auth.example.test/authorize?a=1&b=2"
	env := func(browser string) func(string) string {
		return func(k string) string {
			if k == "BROWSER" {
				return browser
			}
			return ""
		}
	}
	for _, tc := range []struct{ browser, want string }{
		{stub, url + "|"},
		{"kfwd-test-no-such-browser:" + stub + " --new-tab", "--new-tab|" + url + "|"},
		{"false:" + stub + " --url=%s x", "--url=" + url + "|x|"},
	} {
		os.Remove(log)
		if err := openBrowser(env(tc.browser), url); err != nil {
			t.Errorf("BROWSER=%q: %v", tc.browser, err)
		}
		b, _ := os.ReadFile(log)
		if got := strings.TrimSpace(string(b)); got != tc.want {
			t.Errorf("BROWSER=%q ran the stub with %q, want %q", tc.browser, got, tc.want)
		}
	}

	err := openBrowser(env("kfwd-test-no-such-browser:false"), url)
	if err == nil || !strings.HasPrefix(err.Error(), "running $BROWSER: kfwd-test-no-such-browser: ") || !strings.Contains(err.Error(), "; false: exit status 1") {
		t.Errorf("every command failing: %v", err)
	}
	if err := openBrowser(env(" : "), url); err == nil || err.Error() != "running $BROWSER: no command in it" {
		t.Errorf("an empty list: %v", err)
	}
}

func TestHasBrowser(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	desktop := runtime.GOOS == "darwin" || runtime.GOOS == "windows"
	if HasBrowser(getenv) != desktop {
		t.Errorf("HasBrowser with nothing set = %v", !desktop)
	}
	env["BROWSER"] = "firefox"
	if !HasBrowser(getenv) {
		t.Error("HasBrowser with $BROWSER set = false")
	}
	delete(env, "BROWSER")
	env["WAYLAND_DISPLAY"] = "wayland-0"
	if !HasBrowser(getenv) {
		t.Error("HasBrowser with $WAYLAND_DISPLAY set = false")
	}
}
