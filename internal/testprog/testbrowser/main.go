// Command testbrowser is a $BROWSER stub for kfwd's end-to-end tests. It appends the URL it is given
// to the file named by $KFWD_TEST_BROWSER_LOG (when set), then fetches the URL following redirects
// like a signed-in browser would, resolving "localhost" to 127.0.0.1 and then ::1. It prints nothing
// unless -v; it exits 0 when the final page loaded with status 200.
//
// After each fetch it appends a result line starting with "# " to the log. Setting
// KFWD_TEST_BROWSER_FETCH=0 only logs the URL (a browser whose user never signs in).
// The work is done by package browserstub, which cmd/kfwd's scripts use as well.
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/kfwd/kfwd/internal/testprog/browserstub"
)

func main() {
	verbose := flag.Bool("v", false, "print what happens")
	timeout := flag.Duration("timeout", 20*time.Second, "give up after this long")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: testbrowser [-v] URL")
		os.Exit(2)
	}
	u := flag.Arg(0)
	var out io.Writer
	if *verbose {
		out = os.Stdout
	}
	status, _, err := browserstub.Open(u, *timeout, out)
	switch {
	case err != nil:
		fmt.Fprintf(os.Stderr, "testbrowser: %v\n", err)
		os.Exit(1)
	case status == 0: // KFWD_TEST_BROWSER_FETCH=0: only logged
	case status != http.StatusOK:
		fmt.Fprintf(os.Stderr, "testbrowser: %s: status %d\n", u, status)
		os.Exit(1)
	}
}
