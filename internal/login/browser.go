package login

import (
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"

	"github.com/cli/browser"
)

// openBrowser opens url with the $BROWSER command when it is set (a list separated
// by ':' as in xdg-utils; "%s" in a command stands for the URL; the next one is
// tried when one cannot start or fails), else with the platform's opener. It
// returns when the opener ends: nil when it exited 0, else why it failed (not
// found, not startable, a non-zero exit). That can take as long as the browser
// runs (xdg-open may wait for a browser it started), so callers run it in the
// background.
func openBrowser(getenv func(string) string, url string) error {
	spec := getenv("BROWSER")
	if spec == "" {
		browser.Stdout, browser.Stderr = io.Discard, io.Discard
		if err := browser.OpenURL(url); err != nil {
			return fmt.Errorf("running the system's browser opener: %w", err)
		}
		return nil
	}
	sep := ":"
	if runtime.GOOS == "windows" {
		sep = ";"
	}
	var errs []string
	for _, c := range strings.Split(spec, sep) {
		fields := strings.Fields(c)
		if len(fields) == 0 {
			continue
		}
		args, substituted := fields[1:], false
		for i, a := range args {
			if strings.Contains(a, "%s") {
				args[i], substituted = strings.ReplaceAll(a, "%s", url), true
			}
		}
		if !substituted {
			args = append(args, url)
		}
		if err := exec.Command(fields[0], args...).Run(); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", fields[0], err))
			continue
		}
		return nil
	}
	if len(errs) == 0 {
		errs = append(errs, "no command in it")
	}
	return fmt.Errorf("running $BROWSER: %s", strings.Join(errs, "; "))
}

// HasBrowser tells whether the default opener can show a page: $BROWSER is
// set, or the platform has a desktop (on Linux and BSD, a display server to
// talk to).
func HasBrowser(getenv func(string) string) bool {
	if getenv("BROWSER") != "" {
		return true
	}
	switch runtime.GOOS {
	case "darwin", "windows":
		return true
	}
	return getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != ""
}
