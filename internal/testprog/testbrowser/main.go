// Command testbrowser is a $BROWSER stub for kfwd's end-to-end tests. It appends the URL it is given
// to the file named by $KFWD_TEST_BROWSER_LOG (when set), then fetches the URL following redirects
// like a signed-in browser would, resolving "localhost" to 127.0.0.1 and then ::1. It prints nothing
// unless -v; it exits 0 when the final page loaded with status 200.
//
// After each fetch it appends a result line starting with "# " to the log. Setting
// KFWD_TEST_BROWSER_FETCH=0 only logs the URL (a browser whose user never signs in).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
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
	logLine("%s", u)
	if os.Getenv("KFWD_TEST_BROWSER_FETCH") == "0" {
		return
	}
	status, err := fetch(u, *timeout, *verbose)
	if err != nil {
		logLine("# error: %v", err)
		fmt.Fprintf(os.Stderr, "testbrowser: %v\n", err)
		os.Exit(1)
	}
	logLine("# %d", status)
	if status != http.StatusOK {
		fmt.Fprintf(os.Stderr, "testbrowser: %s: status %d\n", u, status)
		os.Exit(1)
	}
}

func logLine(format string, args ...any) {
	name := os.Getenv("KFWD_TEST_BROWSER_LOG")
	if name == "" {
		return
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testbrowser: %v\n", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

func fetch(u string, timeout time.Duration, verbose bool) (int, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != "localhost" {
			return d.DialContext(ctx, network, addr)
		}
		// Like browsers: try IPv4 loopback, then IPv6.
		c, err4 := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", port))
		if err4 == nil {
			return c, nil
		}
		c, err6 := d.DialContext(ctx, "tcp", net.JoinHostPort("::1", port))
		if err6 == nil {
			return c, nil
		}
		return nil, errors.Join(err4, err6)
	}
	client := &http.Client{
		Timeout:   timeout,
		Transport: &http.Transport{DialContext: dial, Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if verbose {
				fmt.Printf("redirect -> %s://%s%s\n", req.URL.Scheme, req.URL.Host, req.URL.Path)
			}
			if len(via) > 10 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	resp, err := client.Get(u)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if verbose {
		fmt.Printf("%d %s://%s%s\n%s\n", resp.StatusCode, resp.Request.URL.Scheme, resp.Request.URL.Host, resp.Request.URL.Path, body)
	}
	return resp.StatusCode, nil
}
