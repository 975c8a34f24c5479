package oauthdemo

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/testutil"
	"golang.org/x/oauth2"
)

func startServer(t *testing.T) *Server {
	t.Helper()
	s := New("")
	if _, err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// browse fetches u following redirects, like a signed-in browser, and returns the final response body.
func browse(u string) (string, error) {
	resp, err := http.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return string(b), errors.New(resp.Status)
	}
	return string(b), nil
}

func asyncBrowser(t *testing.T) (func(string) error, <-chan string) {
	pages := make(chan string, 1)
	return func(u string) error {
		go func() {
			body, err := browse(u)
			if err != nil {
				body = "error: " + err.Error() + ": " + body
			}
			pages <- body
		}()
		return nil
	}, pages
}

func assertNoSecrets(t *testing.T, s *Server, out string) {
	t.Helper()
	issued := s.Issued()
	if len(issued) == 0 {
		t.Fatal("server issued nothing")
	}
	for _, secret := range issued {
		if strings.Contains(out, secret) {
			t.Errorf("output contains an issued secret %.6s...:\n%s", secret, out)
		}
	}
}

func TestLoginStyles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		style Style
		host  string
	}{
		{"plain", StylePlain, ""},
		{"urlencoded", StyleURLEncoded, ""},
		{"localhost", StylePlain, "localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t)
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
			open, pages := asyncBrowser(t)
			var out testutil.SyncBuffer
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tok, err := Login(ctx, LoginOptions{Issuer: s.issuer(), Listener: l, Style: tc.style, RedirectHost: tc.host, Open: open, Out: &out})
			if err != nil {
				t.Fatalf("Login: %v\noutput:\n%s", err, out.String())
			}
			c, err := s.claims(tok.AccessToken)
			if err != nil {
				t.Fatalf("Claims: %v", err)
			}
			if c.Sub != s.user.Sub || c.Name != s.user.Name || c.Iss != s.issuer() {
				t.Errorf("claims = %+v", c)
			}
			got := out.String()
			if !strings.Contains(got, "Logged in as Demo User\n") {
				t.Errorf("output lacks greeting:\n%s", got)
			}
			host := tc.host
			if host == "" {
				host = "127.0.0.1"
			}
			encoded := "redirect_uri=http%3A%2F%2F" + host + "%3A" + port + "%2Fcallback"
			if !strings.Contains(got, encoded) {
				t.Errorf("output lacks %s:\n%s", encoded, got)
			}
			plain := "http://" + host + ":" + port + "/callback"
			if tc.style == StylePlain && !strings.Contains(got, plain) {
				t.Errorf("plain output lacks %s:\n%s", plain, got)
			}
			if tc.style == StyleURLEncoded && strings.Contains(got, ":"+port) {
				t.Errorf("urlencoded output shows the port in plain text:\n%s", got)
			}
			if page := <-pages; !strings.Contains(page, "You are signed in") {
				t.Errorf("browser got %q", page)
			}
			assertNoSecrets(t, s, got)
		})
	}
}

func TestLoginNoneStyleFallsBack(t *testing.T) {
	s := startServer(t)
	var out testutil.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	urls := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`http://\S+/authorize\S*`)
		for ctx.Err() == nil {
			if m := re.FindString(out.String()); m != "" {
				urls <- m
				browse(m) //nolint:errcheck
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	_, err := Login(ctx, LoginOptions{Issuer: s.issuer(), Style: StyleNone, Open: func(string) error { return errors.New("no browser") }, Out: &out})
	if err != nil {
		t.Fatalf("Login: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Could not open a browser") {
		t.Errorf("output:\n%s", out.String())
	}
	<-urls
}

func TestLoginOneConn(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		s := startServer(t)
		open, _ := asyncBrowser(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := Login(ctx, LoginOptions{Issuer: s.issuer(), OneConn: true, Open: open}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("stray connection breaks it", func(t *testing.T) {
		s := startServer(t)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		var browseErr error
		open := func(u string) error {
			// A port probe takes the only connection, so the browser cannot reach the callback.
			c, err := net.Dial("tcp", addr)
			if err != nil {
				return err
			}
			c.Close()
			time.Sleep(100 * time.Millisecond)
			_, browseErr = browse(u)
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err = Login(ctx, LoginOptions{Issuer: s.issuer(), Listener: l, OneConn: true, Open: open})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Login err = %v, want deadline exceeded", err)
		}
		if browseErr == nil {
			t.Error("the browser reached the callback through a closed one-connection listener")
		}
	})
}

func TestLoginStateMismatch(t *testing.T) {
	s := startServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := func(string) error {
		go http.Get("http://" + l.Addr().String() + "/callback?code=x&state=forged") //nolint:errcheck
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = Login(ctx, LoginOptions{Issuer: s.issuer(), Listener: l, Open: open})
	if err == nil || !strings.Contains(err.Error(), "state mismatch") {
		t.Fatalf("err = %v", err)
	}
}

func TestDeviceLogin(t *testing.T) {
	s := startServer(t)
	open, pages := asyncBrowser(t)
	var out testutil.SyncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := DeviceLogin(ctx, LoginOptions{Issuer: s.issuer(), Style: StylePlain, Open: open, Out: &out})
	if err != nil {
		t.Fatalf("DeviceLogin: %v\n%s", err, out.String())
	}
	if _, err := s.claims(tok.AccessToken); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if !regexp.MustCompile(`code: [B-Z]{4}-[B-Z]{4}\n`).MatchString(got) || !strings.Contains(got, s.issuer()+"/device") ||
		!strings.Contains(got, "Logged in as Demo User") {
		t.Errorf("output:\n%s", got)
	}
	if page := <-pages; !strings.Contains(page, "Device approved") {
		t.Errorf("verification page: %q", page)
	}
	if strings.Contains(got, tok.AccessToken) {
		t.Error("output contains the token")
	}
}

// postToken posts form to the token endpoint and returns the status and the error code or, on
// success, the access token.
func postToken(t *testing.T, s *Server, form url.Values) (int, string) {
	t.Helper()
	resp, err := http.PostForm(s.issuer()+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Error       string `json:"error"`
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&body) //nolint:errcheck
	return resp.StatusCode, body.Error + body.AccessToken
}

func TestDevicePendingThenApproved(t *testing.T) {
	s := startServer(t)
	cfg := &oauth2.Config{ClientID: defaultClientID, Endpoint: endpoint(s.issuer())}
	ctx := context.Background()
	da, err := cfg.DeviceAuth(ctx)
	if err != nil {
		t.Fatal(err)
	}
	poll := func() (int, string) {
		return postToken(t, s, url.Values{
			"client_id": {defaultClientID}, "grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {da.DeviceCode}})
	}
	if code, e := poll(); code != 400 || e != "authorization_pending" {
		t.Fatalf("before approval: %d %q", code, e)
	}
	if err := s.ApproveDevice(strings.ToLower(strings.ReplaceAll(da.UserCode, "-", ""))); err != nil {
		t.Fatal(err)
	}
	if code, tok := poll(); code != 200 || tok == "" {
		t.Fatalf("after approval: %d", code)
	}
	if code, e := poll(); code != 400 || e != "invalid_grant" {
		t.Fatalf("device code reused: %d %q", code, e)
	}
}

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func authorizeQuery(redirect, challenge string) url.Values {
	return url.Values{
		"client_id": {defaultClientID}, "response_type": {"code"}, "redirect_uri": {redirect},
		"state": {"st"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
}

func TestAuthorizeValidation(t *testing.T) {
	s := startServer(t)
	const redirect = "http://127.0.0.1:5555/callback"
	for _, tc := range []struct {
		name      string
		edit      func(url.Values)
		status    int
		wantError string // error parameter in the redirect
	}{
		{"ok", func(url.Values) {}, 302, ""},
		{"localhost ok", func(v url.Values) { v.Set("redirect_uri", "http://localhost:1/cb") }, 302, ""},
		{"ipv6 ok", func(v url.Values) { v.Set("redirect_uri", "http://[::1]:1/cb") }, 302, ""},
		{"unknown client", func(v url.Values) { v.Set("client_id", "other") }, 400, ""},
		{"remote redirect", func(v url.Values) { v.Set("redirect_uri", "http://10.0.0.1:1/cb") }, 400, ""},
		{"https redirect", func(v url.Values) { v.Set("redirect_uri", "https://127.0.0.1:1/cb") }, 400, ""},
		{"no redirect", func(v url.Values) { v.Del("redirect_uri") }, 400, ""},
		{"no state", func(v url.Values) { v.Del("state") }, 302, "invalid_request"},
		{"plain pkce", func(v url.Values) { v.Set("code_challenge_method", "plain") }, 302, "invalid_request"},
		{"no pkce", func(v url.Values) { v.Del("code_challenge") }, 302, "invalid_request"},
		{"token response", func(v url.Values) { v.Set("response_type", "token") }, 302, "unsupported_response_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := authorizeQuery(redirect, "abc")
			tc.edit(q)
			resp, err := noRedirect().Get(s.issuer() + "/authorize?" + q.Encode())
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 302 {
				return
			}
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil {
				t.Fatal(err)
			}
			if want := q.Get("redirect_uri"); loc.Scheme+"://"+loc.Host+loc.Path != want {
				t.Errorf("redirected to %s, want %s", loc, want)
			}
			if got := loc.Query().Get("error"); got != tc.wantError {
				t.Errorf("error = %q, want %q", got, tc.wantError)
			}
			if tc.wantError == "" && (loc.Query().Get("code") == "" || loc.Query().Get("state") != "st") {
				t.Errorf("redirect lacks code or state: %s", loc)
			}
		})
	}
}

func TestTokenExchangeChecks(t *testing.T) {
	s := startServer(t)
	const redirect = "http://127.0.0.1:5555/callback"
	verifier := oauth2.GenerateVerifier()
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	newCode := func() string {
		resp, err := noRedirect().Get(s.issuer() + "/authorize?" + authorizeQuery(redirect, challenge).Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc.Query().Get("code")
	}
	exchange := func(code, verifier, redirectURI string) (int, string) {
		return postToken(t, s, url.Values{"grant_type": {"authorization_code"}, "client_id": {defaultClientID},
			"code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirectURI}})
	}
	if code, e := exchange(newCode(), oauth2.GenerateVerifier(), redirect); code != 400 || e != "invalid_grant" {
		t.Errorf("wrong verifier: %d %q", code, e)
	}
	if code, e := exchange(newCode(), verifier, "http://127.0.0.1:5556/callback"); code != 400 || e != "invalid_grant" {
		t.Errorf("wrong redirect_uri: %d %q", code, e)
	}
	c := newCode()
	code, tok := exchange(c, verifier, redirect)
	if code != 200 {
		t.Fatalf("good exchange: %d %q", code, tok)
	}
	if _, err := s.claims(tok); err != nil {
		t.Errorf("Claims: %v", err)
	}
	if code, e := exchange(c, verifier, redirect); code != 400 || e != "invalid_grant" {
		t.Errorf("code reused: %d %q", code, e)
	}
	s.codeLife = time.Nanosecond
	c = newCode()
	time.Sleep(time.Millisecond)
	if code, e := exchange(c, verifier, redirect); code != 400 || e != "invalid_grant" {
		t.Errorf("expired code: %d %q", code, e)
	}
}

// TestConfidentialClient: a client registered with AddClient may leave out
// PKCE, as rclone does, but then must present its secret at /token (in the
// form or with HTTP Basic); the public client still needs PKCE, and a
// confidential client that sent a challenge must still send its verifier.
func TestConfidentialClient(t *testing.T) {
	s := startServer(t)
	s.AddClient("cli-app", "app-secret")
	const redirect = "http://127.0.0.1:5555/"
	newCode := func(client string, pkce bool) (string, string) {
		q := authorizeQuery(redirect, "")
		q.Set("client_id", client)
		verifier := oauth2.GenerateVerifier()
		if pkce {
			sum := sha256.Sum256([]byte(verifier))
			q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
		} else {
			q.Del("code_challenge")
			q.Del("code_challenge_method")
		}
		resp, err := noRedirect().Get(s.issuer() + "/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if e := loc.Query().Get("error"); e != "" {
			return "error:" + e, verifier
		}
		return loc.Query().Get("code"), verifier
	}
	exchange := func(code string, form url.Values) (int, string) {
		form.Set("grant_type", "authorization_code")
		form.Set("code", code)
		form.Set("redirect_uri", redirect)
		return postToken(t, s, form)
	}
	if c, _ := newCode(defaultClientID, false); c != "error:invalid_request" {
		t.Errorf("the public client without PKCE got %q, want error:invalid_request", c)
	}
	c, _ := newCode("cli-app", false)
	if code, e := exchange(c, url.Values{"client_id": {"cli-app"}, "client_secret": {"wrong"}}); code != 401 || e != "invalid_client" {
		t.Errorf("wrong secret: %d %q", code, e)
	}
	c, _ = newCode("cli-app", false)
	if code, e := exchange(c, url.Values{"client_id": {"cli-app"}}); code != 401 || e != "invalid_client" {
		t.Errorf("no secret: %d %q", code, e)
	}
	c, _ = newCode("cli-app", false)
	if code, tok := exchange(c, url.Values{"client_id": {"cli-app"}, "client_secret": {"app-secret"}}); code != 200 {
		t.Errorf("secret in the form: %d %q", code, tok)
	} else if _, err := s.claims(tok); err != nil {
		t.Errorf("the token: %v", err)
	}
	c, _ = newCode("cli-app", false)
	form := url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {redirect}}
	req, _ := http.NewRequest(http.MethodPost, s.issuer()+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("cli-app", "app-secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("secret with HTTP Basic: %s", resp.Status)
	}
	c, _ = newCode("cli-app", true)
	secret := url.Values{"client_id": {"cli-app"}, "client_secret": {"app-secret"}}
	if code, e := exchange(c, secret); code != 400 || e != "invalid_grant" {
		t.Errorf("a challenge sent, no verifier: %d %q", code, e)
	}
	c, verifier := newCode("cli-app", true)
	secret.Set("code_verifier", verifier)
	if code, tok := exchange(c, secret); code != 200 {
		t.Errorf("a challenge and its verifier: %d %q", code, tok)
	}
}

func TestClaimsRejects(t *testing.T) {
	s := New("http://issuer.test")
	other := New("http://issuer.test")
	good := s.signer.sign(Claims{Sub: "a", Name: "A", Iss: "http://issuer.test", Iat: time.Now().Unix(), Exp: time.Now().Add(time.Hour).Unix()})
	if c, err := s.claims(good); err != nil || c.Sub != "a" {
		t.Fatalf("good token: %v %v", c, err)
	}
	parts := strings.Split(good, ".")
	forged, _ := json.Marshal(Claims{Sub: "admin", Name: "A", Iss: "http://issuer.test", Exp: time.Now().Add(time.Hour).Unix()})
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]
	expired := s.signer.sign(Claims{Sub: "a", Iss: "http://issuer.test", Exp: time.Now().Add(-time.Second).Unix()})
	wrongIss := s.signer.sign(Claims{Sub: "a", Iss: "http://elsewhere", Exp: time.Now().Add(time.Hour).Unix()})
	for name, tok := range map[string]string{"tampered": tampered, "expired": expired, "issuer": wrongIss, "garbage": "a.b.c", "empty": ""} {
		if _, err := s.claims(tok); !errors.Is(err, errInvalidToken) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if _, err := other.claims(good); !errors.Is(err, errInvalidToken) {
		t.Errorf("token verified by another server's key: %v", err)
	}
}

func TestUserCodeFormat(t *testing.T) {
	re := regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)
	for range 200 {
		if c := userCode(); !re.MatchString(c) {
			t.Fatalf("user code %q", c)
		}
	}
}

// TestHandOff: a CLI that hands its authorize URL over the back channel
// shows a page URL that names no port, and the browser still gets to the
// callback through the server's redirect. Foreign URLs are refused.
func TestHandOff(t *testing.T) {
	s := startServer(t)
	browser, pages := asyncBrowser(t)
	var out testutil.SyncBuffer
	var page string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Login(ctx, LoginOptions{Issuer: s.issuer(), Style: StyleNone, Out: &out, Open: func(u string) error {
		p, err := HandOff(ctx, nil, s.issuer(), u)
		if err != nil {
			return err
		}
		page = p
		return browser(p)
	}})
	if err != nil {
		t.Fatalf("login: %v\n%s", err, out.String())
	}
	if body := <-pages; !strings.Contains(body, "You are signed in") {
		t.Errorf("browser ended on %q", body)
	}
	if !strings.HasPrefix(page, s.issuer()+"/cli-session?id=") || strings.Contains(page, "127.0.0.1%3A") || strings.Count(page, ":") != 2 {
		t.Errorf("page URL %q", page)
	}
	if _, err := HandOff(ctx, nil, s.issuer(), "https://evil.example/authorize?x"); err == nil {
		t.Error("a foreign URL was accepted")
	}
	if body, err := browse(s.issuer() + "/cli-session?id=nope"); err == nil {
		t.Errorf("unknown session: %q", body)
	}
	// Full: a good URL is refused for the cap, not called foreign.
	s.mu.Lock()
	for i := len(s.sessions); i < maxSessions; i++ {
		s.sessions[strconv.Itoa(i)] = s.issuerURL + "/authorize?x"
	}
	s.mu.Unlock()
	if _, err := HandOff(ctx, nil, s.issuer(), s.issuer()+"/authorize?x"); err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "too many") {
		t.Errorf("a hand-off past the session cap: %v, want 503 too many sign-in sessions", err)
	}
}
