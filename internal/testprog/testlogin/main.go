// Command testlogin is the remote "CLI" of kfwd's end-to-end tests: it signs in to an oauthdemo
// server the way real CLIs do (loopback callback with PKCE, or the device flow) and prints
// "Logged in as NAME" and "sub: SUB" on success.
//
//	testlogin -issuer URL [-style plain|urlencoded|xdgopen|xdgopen-quiet|backchannel|browserenv|device]
//	          [-one-conn] [-port N] [-redirect-host H] [-token-file F] [-timeout D] [-decoy LIST]
//
// Styles: plain prints the callback URL and the authorize URL; urlencoded prints only the authorize
// URL (the port appears only inside redirect_uri=); xdgopen runs `xdg-open URL` and prints no URL;
// browserenv runs "$BROWSER URL" and prints no URL; device runs the device flow. When the opener
// fails the URL is printed instead, like real CLIs. xdgopen-quiet runs xdg-open with stdin, stdout
// and stderr at /dev/null and no other descriptor (Go's exec.Command default), printing nothing;
// backchannel hands the authorize URL to the server's /cli-session page and prints only that page's
// URL, so the callback port is never shown.
//
// Style listener is not a login: it reads "listen" and "close PORT" lines on stdin and answers
// "port PORT UNIXNANO" (the time listen() returned) and "closed PORT", for the watch benchmark.
//
// -decoy adds output that names loopback addresses without asking for them, comma-separated:
// metrics (a metrics endpoint on localhost:9100, before the URL), pasted (a redirect URL with a code
// for a non-loopback redirect, as if pasted back, before the URL), flood (after the URL: ports 80 and
// 5432 and 2000 loopback callback URLs).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kfwd/kfwd/internal/oauthdemo"
	"golang.org/x/oauth2"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "testlogin: error: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	issuer := flag.String("issuer", "", "base URL of the oauthdemo server")
	style := flag.String("style", "plain", "plain, urlencoded, xdgopen, browserenv or device")
	oneConn := flag.Bool("one-conn", false, "accept a single connection on the callback port")
	port := flag.Int("port", 0, "fixed callback port (0 = any free port)")
	redirectHost := flag.String("redirect-host", "127.0.0.1", "host in redirect_uri")
	tokenFile := flag.String("token-file", "", "write the access token to this file (for leak checks)")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	decoys := flag.String("decoy", "", "comma-separated decoy output: metrics, pasted, flood")
	flag.Parse()
	if *issuer == "" || flag.NArg() != 0 {
		flag.Usage()
		return errors.New("usage: testlogin -issuer URL [flags]")
	}

	if *style == "listener" {
		return listener()
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()

	opts := oauthdemo.LoginOptions{
		Issuer:       *issuer,
		ListenAddr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(*port)),
		RedirectHost: *redirectHost,
		OneConn:      *oneConn,
		Out:          os.Stdout,
	}
	var tok *oauth2.Token
	var err error
	switch *style {
	case "plain":
		opts.Style = oauthdemo.StylePlain
	case "urlencoded":
		opts.Style = oauthdemo.StyleURLEncoded
	case "xdgopen":
		opts.Style = oauthdemo.StyleNone
		opts.Open = opener("xdg-open")
	case "xdgopen-quiet":
		opts.Style = oauthdemo.StyleNone
		opts.Open = quietOpener("xdg-open")
	case "backchannel":
		opts.Style = oauthdemo.StyleNone
		opts.Open = func(u string) error {
			page, err := oauthdemo.HandOff(ctx, nil, *issuer, u)
			if err != nil {
				return err
			}
			fmt.Printf("Continue signing in at %s\n", page)
			return nil
		}
	case "browserenv":
		opts.Style = oauthdemo.StyleNone
		opts.Open = opener(os.Getenv("BROWSER"))
	case "device":
		opts.Style = oauthdemo.StylePlain
	default:
		return fmt.Errorf("unknown style %q", *style)
	}
	for _, d := range strings.Split(*decoys, ",") {
		switch d {
		case "":
		case "metrics":
			fmt.Println("Metrics endpoint: GET http://localhost:9100/metrics 200 OK")
		case "pasted":
			fmt.Println("If the browser shows an error, paste the URL it ended on here, e.g.")
			fmt.Println("https://app.example.com/oauth/callback?code=pastedcode0123456789abcdef&state=pasted1")
		case "flood":
			open := opts.Open
			opts.Open = func(u string) error {
				flood()
				if open != nil {
					return open(u)
				}
				return nil
			}
		default:
			return fmt.Errorf("unknown decoy %q", d)
		}
	}
	if *style == "device" {
		tok, err = oauthdemo.DeviceLogin(ctx, opts)
	} else {
		tok, err = oauthdemo.Login(ctx, opts)
	}
	if err != nil {
		return err
	}
	if *tokenFile != "" {
		if err := os.WriteFile(*tokenFile, []byte(tok.AccessToken+"\n"), 0o600); err != nil {
			return fmt.Errorf("writing token file: %w", err)
		}
	}
	c, err := oauthdemo.UserInfo(ctx, nil, *issuer, tok.AccessToken)
	if err != nil {
		return err
	}
	fmt.Printf("sub: %s\n", c.Sub)
	return nil
}

// listener listens and stops listening when told on stdin.
func listener() error {
	ls := map[string]net.Listener{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && f[0] == "listen":
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			at := time.Now().UnixNano()
			p := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
			ls[p] = l
			fmt.Printf("port %s %d\n", p, at)
		case len(f) == 2 && f[0] == "close":
			if l := ls[f[1]]; l != nil {
				l.Close()
				delete(ls, f[1])
			}
			fmt.Printf("closed %s\n", f[1])
		}
	}
	return sc.Err()
}

// flood prints what a hostile or confused remote might: callback URLs on
// ports 80 and 5432 and 2000 distinct loopback callback URLs.
func flood() {
	fmt.Println("Redirecting to http://127.0.0.1:80/callback?state=decoy")
	fmt.Println("Open http://localhost:5432/callback to continue")
	for i := range 2000 {
		fmt.Printf("Waiting for the callback on http://127.0.0.1:%d/callback?attempt=%d\n", 20000+i, i)
	}
}

// quietOpener runs program URL with stdin, stdout and stderr at /dev/null and
// no other file descriptor, as Go's exec.Command does by default (and Node's
// stdio: 'ignore', Python's close_fds).
func quietOpener(program string) func(string) error {
	return func(u string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return exec.CommandContext(ctx, program, u).Run()
	}
}

// opener runs program URL and waits for it, as CLIs do with xdg-open (which returns quickly).
func opener(program string) func(string) error {
	return func(u string) error {
		if program == "" {
			return errors.New("no browser configured")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, program, u)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	}
}
