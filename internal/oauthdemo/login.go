package oauthdemo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Style selects how Login shows the sign-in URL, imitating the different CLIs kfwd has to understand.
type Style int

const (
	// StylePlain prints the callback URL (http://127.0.0.1:PORT/callback) and then the authorize URL.
	StylePlain Style = iota
	// StyleURLEncoded prints only the authorize URL: the port appears only URL-encoded inside
	// redirect_uri=http%3A%2F%2F127.0.0.1%3APORT%2Fcallback.
	StyleURLEncoded
	// StyleNone prints no URL and relies on LoginOptions.Open; when Open fails it falls back to
	// printing the authorize URL, as CLIs do.
	StyleNone
)

// LoginOptions configure Login and DeviceLogin.
type LoginOptions struct {
	// Issuer is the base URL of the authorization server (a Server).
	Issuer string

	// Listener is the loopback callback listener; when nil Login listens on ListenAddr.
	Listener net.Listener
	// ListenAddr defaults to "127.0.0.1:0"; give a port for CLIs with a fixed callback port.
	ListenAddr string
	// RedirectHost is the host written into redirect_uri: "127.0.0.1" (default), "localhost" or "[::1]".
	RedirectHost string
	// OneConn makes the callback listener accept a single connection and then close, like some
	// CLIs do. A stray connection (a port probe, a browser preconnect) then breaks the login.
	OneConn bool

	Style Style
	// Open, when set, is called with the URL to show in a browser (e.g. runs xdg-open or $BROWSER).
	Open func(url string) error
	// Out receives the CLI's messages; nil discards them. Codes and tokens are never written.
	Out io.Writer
	// HTTPClient talks to the authorization server; nil means http.DefaultClient.
	HTTPClient *http.Client
	// Logf, when set, receives diagnostics (never secrets).
	Logf func(format string, args ...any)
}

func (o *LoginOptions) config(redirectURL string) *oauth2.Config {
	return &oauth2.Config{ClientID: defaultClientID, Endpoint: endpoint(o.Issuer), RedirectURL: redirectURL}
}

func (o *LoginOptions) ctx(ctx context.Context) context.Context {
	if o.HTTPClient != nil {
		return context.WithValue(ctx, oauth2.HTTPClient, o.HTTPClient)
	}
	return ctx
}

func (o *LoginOptions) out() io.Writer {
	if o.Out == nil {
		return io.Discard
	}
	return o.Out
}

func (o *LoginOptions) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

// Login runs a CLI-style loopback login (RFC 8252 with PKCE): it listens on a loopback port, shows the
// authorize URL, waits for the browser to come back to /callback, checks state, exchanges the code
// and prints "Logged in as <name>".
func Login(ctx context.Context, opts LoginOptions) (*oauth2.Token, error) {
	if opts.Issuer == "" {
		return nil, errors.New("login: no issuer")
	}
	l := opts.Listener
	if l == nil {
		addr := opts.ListenAddr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		var err error
		l, err = net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("login: listening for the callback: %w", err)
		}
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	host := opts.RedirectHost
	if host == "" {
		host = "127.0.0.1"
	}
	redirectURL := "http://" + host + ":" + strconv.Itoa(port) + "/callback"
	cfg := opts.config(redirectURL)
	verifier := oauth2.GenerateVerifier()
	state := randomString(16)
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))

	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	var once sync.Once
	finish := func(r result) { once.Do(func() { done <- r }) }
	exchangeCtx := opts.ctx(ctx)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if q.Get("state") == "" && q.Get("code") == "" && q.Get("error") == "" {
			writePage(w, http.StatusBadRequest, "Sign-in", "This page expects the sign-in redirect.")
			return
		}
		if q.Get("state") != state {
			writePage(w, http.StatusBadRequest, "Sign-in failed", "The sign-in response did not match this login (state mismatch).")
			finish(result{err: errors.New("login: callback state mismatch")})
			return
		}
		if e := q.Get("error"); e != "" {
			writePage(w, http.StatusBadRequest, "Sign-in failed", "The authorization server said: "+e+".")
			finish(result{err: fmt.Errorf("login: authorization failed: %s: %s", e, q.Get("error_description"))})
			return
		}
		tok, err := cfg.Exchange(exchangeCtx, q.Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			writePage(w, http.StatusBadGateway, "Sign-in failed", "Could not exchange the authorization code.")
			finish(result{err: fmt.Errorf("login: exchanging the authorization code: %w", err)})
			return
		}
		writePage(w, http.StatusOK, "Signed in", "You are signed in. You can close this tab and return to your terminal.")
		finish(result{tok: tok})
	})
	serveL := l
	if opts.OneConn {
		serveL = &oneConnListener{Listener: l}
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(serveL) //nolint:errcheck // ends on Shutdown, or after the one connection
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck // best effort: let the success page reach the browser
	}()
	opts.logf("listening for the callback on %s", l.Addr())

	w := opts.out()
	showURL := func() {
		switch opts.Style {
		case StylePlain:
			fmt.Fprintf(w, "Listening for the sign-in callback on %s\n", redirectURL)
		}
		fmt.Fprintf(w, "Open this URL to sign in:\n%s\n", authURL)
	}
	if opts.Style != StyleNone {
		showURL()
	}
	if opts.Open != nil {
		if err := opts.Open(authURL); err != nil {
			opts.logf("opening a browser: %v", err)
			if opts.Style == StyleNone {
				fmt.Fprintf(w, "Could not open a browser.\n")
				showURL()
			}
		} else if opts.Style == StyleNone {
			fmt.Fprintf(w, "Opened your browser to sign in. Waiting...\n")
		}
	} else if opts.Style == StyleNone {
		showURL()
	}

	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("login: waiting for the browser: %w", ctx.Err())
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.tok, greet(ctx, &opts, r.tok)
}

// DeviceLogin runs a device authorization login (RFC 8628): it prints the verification URL and the
// user code, optionally opens the browser at the complete verification URL, and polls for the token.
func DeviceLogin(ctx context.Context, opts LoginOptions) (*oauth2.Token, error) {
	if opts.Issuer == "" {
		return nil, errors.New("device login: no issuer")
	}
	cfg := opts.config("")
	hctx := opts.ctx(ctx)
	da, err := cfg.DeviceAuth(hctx)
	if err != nil {
		return nil, fmt.Errorf("device login: requesting a device code: %w", err)
	}
	w := opts.out()
	fmt.Fprintf(w, "First copy your one-time code: %s\n", da.UserCode)
	opened := false
	if opts.Open != nil {
		target := da.VerificationURIComplete
		if target == "" {
			target = da.VerificationURI
		}
		if err := opts.Open(target); err != nil {
			opts.logf("opening a browser: %v", err)
		} else {
			opened = true
		}
	}
	if !opened || opts.Style != StyleNone {
		fmt.Fprintf(w, "Then open %s and enter the code.\n", da.VerificationURI)
		if da.VerificationURIComplete != "" && opts.Style == StylePlain {
			fmt.Fprintf(w, "Or open %s\n", da.VerificationURIComplete)
		}
	}
	fmt.Fprintf(w, "Waiting for approval...\n")
	tok, err := cfg.DeviceAccessToken(hctx, da)
	if err != nil {
		return nil, fmt.Errorf("device login: waiting for approval: %w", err)
	}
	return tok, greet(ctx, &opts, tok)
}

func greet(ctx context.Context, opts *LoginOptions, tok *oauth2.Token) error {
	c, err := UserInfo(ctx, opts.HTTPClient, opts.Issuer, tok.AccessToken)
	if err != nil {
		return err
	}
	fmt.Fprintf(opts.out(), "Logged in as %s\n", c.Name)
	return nil
}

// UserInfo asks the Server at issuer for the claims of an access token. client may be nil.
func UserInfo(ctx context.Context, client *http.Client, issuer, accessToken string) (*Claims, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(issuer, "/")+"/userinfo", nil)
	if err != nil {
		return nil, fmt.Errorf("fetching user info: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching user info: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching user info: %s", resp.Status)
	}
	var c Claims
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&c); err != nil {
		return nil, fmt.Errorf("fetching user info: %w", err)
	}
	return &c, nil
}

// oneConnListener hands out the first connection and closes the listener right after it.
type oneConnListener struct {
	net.Listener
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.Listener.Close()
	return c, nil
}

// HandOff is the CLI half of a back channel: it posts authorizeURL (which
// names the CLI's loopback port in its redirect_uri) to the server's
// /cli-session and returns the page URL to show instead, which names no port.
// Some CLIs work this way; only the remote's own sockets tell kfwd their port.
func HandOff(ctx context.Context, client *http.Client, issuer, authorizeURL string) (string, error) {
	if client == nil {
		client = http.DefaultClient
	}
	form := strings.NewReader("authorize=" + url.QueryEscape(authorizeURL))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(issuer, "/")+"/cli-session", form)
	if err != nil {
		return "", fmt.Errorf("handing off the sign-in: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("handing off the sign-in: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("handing off the sign-in: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return strings.TrimSpace(string(b)), nil
}
