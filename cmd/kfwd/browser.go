package main

import (
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"

	"github.com/cli/browser"
)

// openBrowser opens url with the $BROWSER command when it is set (a list separated
// by ':' as in xdg-utils; "%s" in a command stands for the URL), else with the
// platform's opener. It does not wait for the browser.
func openBrowser(e *env, url string) error {
	spec := e.getenv("BROWSER")
	if spec == "" {
		browser.Stdout, browser.Stderr = io.Discard, io.Discard
		return browser.OpenURL(url)
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
		cmd := exec.Command(fields[0], args...)
		if err := cmd.Start(); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		go cmd.Wait()
		return nil
	}
	return fmt.Errorf("running $BROWSER: %s", strings.Join(errs, "; "))
}
