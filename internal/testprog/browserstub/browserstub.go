// Package browserstub is the $BROWSER stub of kfwd's tests, shared by the testbrowser program and
// cmd/kfwd's scripts: it records the URL it is asked to open and loads it like a browser whose user
// is already signed in to the identity provider.
//
// $KFWD_TEST_BROWSER_LOG names the file the URL and a "# <status>" or "# error: ..." result line
// are appended to; KFWD_TEST_BROWSER_FETCH=0 only records the URL (a user who never signs in).
package browserstub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Open records u in the log and, unless KFWD_TEST_BROWSER_FETCH is "0", fetches it and
// records the result. It returns the final page's status and body; status is 0 when it did not fetch.
func Open(u string, timeout time.Duration, verbose io.Writer) (status int, body []byte, err error) {
	logLine("%s", u)
	if os.Getenv("KFWD_TEST_BROWSER_FETCH") == "0" {
		return 0, nil, nil
	}
	status, body, err = fetch(u, timeout, verbose)
	if err != nil {
		logLine("# error: %v", err)
		return 0, nil, err
	}
	logLine("# %d", status)
	return status, body, nil
}

// logLine appends a line to $KFWD_TEST_BROWSER_LOG when set. A failure is reported on stderr and
// otherwise ignored, so that the fetch still happens.
func logLine(format string, args ...any) {
	name := os.Getenv("KFWD_TEST_BROWSER_LOG")
	if name == "" {
		return
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", filepath.Base(os.Args[0]), err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, format+"\n", args...)
}

// fetch gets u following redirects, without a proxy, and returns the final page's status and body
// (up to 1 MiB). Like browsers it resolves "localhost" to 127.0.0.1 and then ::1. When verbose is
// not nil it writes each redirect and the final page to it.
func fetch(u string, timeout time.Duration, verbose io.Writer) (int, []byte, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || host != "localhost" {
			return d.DialContext(ctx, network, addr)
		}
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
			if verbose != nil {
				fmt.Fprintf(verbose, "redirect -> %s://%s%s\n", req.URL.Scheme, req.URL.Host, req.URL.Path)
			}
			if len(via) > 10 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	resp, err := client.Get(u)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if verbose != nil {
		fmt.Fprintf(verbose, "%d %s://%s%s\n%s\n", resp.StatusCode, resp.Request.URL.Scheme, resp.Request.URL.Host, resp.Request.URL.Path, body)
	}
	return resp.StatusCode, body, nil
}
