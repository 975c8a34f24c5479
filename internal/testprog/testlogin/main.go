// Command testlogin is the remote "CLI" of kfwd's end-to-end tests: it signs in to an oauthdemo
// server the way real CLIs do (loopback callback with PKCE, or the device flow) and prints
// "Logged in as NAME" and "sub: SUB" on success.
//
//	testlogin -issuer URL [-style plain|urlencoded|xdgopen|browserenv|device] [-one-conn]
//	          [-port N] [-redirect-host H] [-token-file F] [-timeout D]
//
// Styles: plain prints the callback URL and the authorize URL; urlencoded prints only the authorize
// URL (the port appears only inside redirect_uri=); xdgopen runs `xdg-open URL` and prints no URL;
// browserenv runs "$BROWSER URL" and prints no URL; device runs the device flow. When the opener
// fails the URL is printed instead, like real CLIs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
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
	flag.Parse()
	if *issuer == "" || flag.NArg() != 0 {
		flag.Usage()
		return errors.New("usage: testlogin -issuer URL [flags]")
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
	case "browserenv":
		opts.Style = oauthdemo.StyleNone
		opts.Open = opener(os.Getenv("BROWSER"))
	case "device":
		opts.Style = oauthdemo.StylePlain
	default:
		return fmt.Errorf("unknown style %q", *style)
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
