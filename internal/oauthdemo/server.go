// Package oauthdemo owns a small OAuth 2.0 authorization server and a CLI-style login client, so that
// kfwd's tests and `kfwd demo` can run a real loopback (RFC 8252, PKCE) and device (RFC 8628) login
// without any outside service.
package oauthdemo

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// defaultClientID is the public client every Server accepts.
const defaultClientID = "kfwd-demo"

// account is the account the Server signs in. It stands for a person who is already signed in to the
// identity provider in their browser, so /authorize approves without asking.
type account struct {
	Sub  string
	Name string
}

// Server is an http.Handler implementing the endpoints of a tiny authorization server:
//
//	GET  /authorize         authorization code request (PKCE S256 required of the public
//	                        client, optional for a confidential one); auto-approves
//	POST /token             authorization_code and device_code grants
//	POST /device/code       device authorization request (RFC 8628)
//	GET  /device            the verification page; with ?user_code= it approves that code
//	GET  /userinfo          the claims of the bearer access token
//	POST /cli-session       a CLI's back channel: it hands over its authorize URL (which names
//	                        its loopback port) and gets an id; GET /cli-session?id= redirects the
//	                        browser there, so the port is never printed
//
// Access tokens are Ed25519-signed JWTs with the claims sub, name, iat, exp and iss.
type Server struct {
	// user is the signed-in account.
	user account
	// codeLife bounds the life of authorization codes and device codes (default 2 minutes).
	codeLife time.Duration

	signer signer

	mu        sync.Mutex
	issuerURL string
	codes     map[string]*authCode
	devices   map[string]*deviceGrant // by device_code
	userCode  map[string]string       // user_code -> device_code
	issued    []string
	sessions  map[string]string // cli-session id -> authorize URL
	secrets   map[string]string // confidential client id -> its secret (see AddClient)
	httpSrv   *http.Server
	listener  net.Listener
	now       func() time.Time
}

type authCode struct {
	clientID    string
	redirectURI string
	challenge   string
	expires     time.Time
}

type deviceGrant struct {
	clientID string
	userCode string
	expires  time.Time
	approved bool
}

const (
	// tokenTTL is the life of access tokens.
	tokenTTL = time.Hour
	// maxSessions bounds the /cli-session ids held at once.
	maxSessions = 1000
	// deviceInterval is the polling interval, in seconds, announced to device clients.
	deviceInterval = 1
)

// New returns a Server whose tokens name issuer (e.g. "http://127.0.0.1:8080"); use Start
// when the address is only known after listening. It generates a fresh signing key.
func New(issuer string) *Server {
	return &Server{
		user:      account{Sub: "demo-user-1", Name: "Demo User"},
		signer:    newSigner(),
		issuerURL: strings.TrimRight(issuer, "/"),
		codes:     map[string]*authCode{},
		devices:   map[string]*deviceGrant{},
		userCode:  map[string]string{},
		sessions:  map[string]string{},
		secrets:   map[string]string{},
		now:       time.Now,
	}
}

// AddClient registers a confidential client: one that authenticates to
// /token with its secret (client_secret in the form, or HTTP Basic), so
// PKCE is optional for it, as Google's and Entra's web-app clients allow.
// Real CLIs built on such a client (rclone) send no code_challenge.
func (s *Server) AddClient(id, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.secrets[id] = secret
}

// known reports whether clientID is the public client or a registered
// confidential one, and whether it is confidential.
func (s *Server) known(clientID string) (ok, confidential bool) {
	if clientID == defaultClientID {
		return true, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, confidential = s.secrets[clientID]
	return confidential, confidential
}

// setIssuer sets the base URL the server advertises and puts into tokens.
func (s *Server) setIssuer(issuer string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issuerURL = strings.TrimRight(issuer, "/")
}

// issuer returns the base URL of the server.
func (s *Server) issuer() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issuerURL
}

// endpoint returns the oauth2 endpoint of a Server at issuer.
func endpoint(issuer string) oauth2.Endpoint {
	issuer = strings.TrimRight(issuer, "/")
	return oauth2.Endpoint{
		AuthURL:       issuer + "/authorize",
		TokenURL:      issuer + "/token",
		DeviceAuthURL: issuer + "/device/code",
		AuthStyle:     oauth2.AuthStyleInParams,
	}
}

// Issued returns every authorization code, device code and access token the server handed out (not
// user codes, which are meant to be shown), so tests can assert that none of them leaks into logs or terminal output.
func (s *Server) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Start listens on addr (e.g. "127.0.0.1:0"), sets the issuer to http://<listen address> and serves
// in the background until Close. It returns the issuer URL.
func (s *Server) Start(addr string) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("starting authorization server: %w", err)
	}
	issuer := "http://" + l.Addr().String()
	s.setIssuer(issuer)
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.httpSrv, s.listener = srv, l
	s.mu.Unlock()
	go srv.Serve(l) //nolint:errcheck // returns ErrServerClosed on Close
	return issuer, nil
}

// Close stops a server started with Start.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.httpSrv
	s.httpSrv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.URL.Path {
	case "/authorize":
		s.authorize(w, r)
	case "/token":
		s.token(w, r)
	case "/device/code":
		s.deviceCode(w, r)
	case "/device":
		s.devicePage(w, r)
	case "/userinfo":
		s.userinfo(w, r)
	case "/cli-session":
		s.cliSession(w, r)
	case "/":
		writePage(w, http.StatusOK, "kfwd demo authorization server", "Endpoints: /authorize, /token, /device/code, /device, /userinfo, /cli-session.")
	default:
		http.NotFound(w, r)
	}
}

// cliSession is the hosted page of a CLI that never prints its callback
// port: the CLI posts its authorize URL (authorize=URL, which must be this
// server's /authorize) and prints the returned page URL; the page sends
// the browser on to the authorize URL, and so to the loopback port.
func (s *Server) cliSession(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		u := r.PostFormValue("authorize")
		s.mu.Lock()
		defer s.mu.Unlock()
		if !strings.HasPrefix(u, s.issuerURL+"/authorize?") {
			http.Error(w, "authorize must be this server's /authorize URL", http.StatusBadRequest)
			return
		}
		if len(s.sessions) >= maxSessions {
			http.Error(w, "too many sign-in sessions; try again later", http.StatusServiceUnavailable)
			return
		}
		id := randomString(12)
		s.sessions[id] = u
		fmt.Fprintf(w, "%s/cli-session?id=%s\n", s.issuerURL, id)
	case http.MethodGet:
		s.mu.Lock()
		u, ok := s.sessions[r.URL.Query().Get("id")]
		s.mu.Unlock()
		if !ok {
			writePage(w, http.StatusNotFound, "Sign-in", "This sign-in session is unknown or over.")
			return
		}
		http.Redirect(w, r, u, http.StatusFound)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	clientID := q.Get("client_id")
	ok, confidential := s.known(clientID)
	if !ok {
		writePage(w, http.StatusBadRequest, "Sign-in error", "Unknown client_id.")
		return
	}
	redirect, err := loopbackRedirect(q.Get("redirect_uri"))
	if err != nil {
		// Never redirect to an unverified URI (RFC 6749 section 4.1.2.1).
		writePage(w, http.StatusBadRequest, "Sign-in error", "Invalid redirect_uri: "+err.Error()+".")
		return
	}
	state := q.Get("state")
	fail := func(code, desc string) {
		v := redirect.Query()
		v.Set("error", code)
		v.Set("error_description", desc)
		if state != "" {
			v.Set("state", state)
		}
		redirect.RawQuery = v.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	}
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
		return
	case state == "":
		fail("invalid_request", "state is required")
		return
	case q.Get("code_challenge") == "" && !confidential:
		fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
		return
	case q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256":
		fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
		return
	}
	code := randomString(24)
	s.mu.Lock()
	s.codes[code] = &authCode{
		clientID:    clientID,
		redirectURI: q.Get("redirect_uri"),
		challenge:   q.Get("code_challenge"),
		expires:     s.now().Add(s.codeTTL()),
	}
	s.issued = append(s.issued, code)
	s.mu.Unlock()
	v := redirect.Query()
	v.Set("code", code)
	v.Set("state", state)
	redirect.RawQuery = v.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// loopbackRedirect accepts only http URLs on a loopback host, any port (RFC 8252 section 7.3).
func loopbackRedirect(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("missing")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if u.Scheme != "http" {
		return nil, errors.New("scheme must be http")
	}
	if u.Fragment != "" || u.User != nil {
		return nil, errors.New("must not have a fragment or user info")
	}
	switch h := u.Hostname(); h {
	case "localhost":
	default:
		ip := net.ParseIP(h)
		if ip == nil || !ip.IsLoopback() {
			return nil, errors.New("host must be a loopback address")
		}
	}
	return u, nil
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, "invalid_request", "malformed form")
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if id, pw, ok := r.BasicAuth(); ok && clientID == "" {
		clientID, secret = id, pw
	}
	if !s.authenticate(clientID, secret) {
		tokenErrorStatus(w, http.StatusUnauthorized, "invalid_client", "unknown client_id or wrong client_secret")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		s.codeGrant(w, r, clientID)
	case "urn:ietf:params:oauth:grant-type:device_code":
		s.deviceGrant(w, r, clientID)
	default:
		tokenError(w, "unsupported_grant_type", "grant_type not supported")
	}
}

// authenticate reports whether clientID is the public client or a
// confidential one presenting its secret.
func (s *Server) authenticate(clientID, secret string) bool {
	ok, confidential := s.known(clientID)
	if !confidential {
		return ok
	}
	s.mu.Lock()
	want := s.secrets[clientID]
	s.mu.Unlock()
	return subtle.ConstantTimeCompare([]byte(secret), []byte(want)) == 1
}

func (s *Server) codeGrant(w http.ResponseWriter, r *http.Request, clientID string) {
	code := r.PostForm.Get("code")
	s.mu.Lock()
	ac := s.codes[code]
	delete(s.codes, code) // one-time, even when the exchange below fails
	s.mu.Unlock()
	switch {
	case ac == nil:
		tokenError(w, "invalid_grant", "unknown or already used authorization code")
		return
	case s.now().After(ac.expires):
		tokenError(w, "invalid_grant", "authorization code expired")
		return
	case ac.clientID != clientID:
		tokenError(w, "invalid_grant", "authorization code was issued to another client")
		return
	case ac.redirectURI != r.PostForm.Get("redirect_uri"):
		tokenError(w, "invalid_grant", "redirect_uri does not match the authorization request")
		return
	}
	verifier := r.PostForm.Get("code_verifier")
	if ac.challenge == "" {
		// A confidential client that sent no challenge: its secret was checked.
		s.writeToken(w)
		return
	}
	if verifier == "" {
		tokenError(w, "invalid_grant", "code_verifier is required")
		return
	}
	sum := sha256.Sum256([]byte(verifier))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(got), []byte(ac.challenge)) != 1 {
		tokenError(w, "invalid_grant", "PKCE verification failed")
		return
	}
	s.writeToken(w)
}

func (s *Server) deviceGrant(w http.ResponseWriter, r *http.Request, clientID string) {
	dc := r.PostForm.Get("device_code")
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.devices[dc]
	switch {
	case g == nil || g.clientID != clientID:
		tokenError(w, "invalid_grant", "unknown device code")
		return
	case s.now().After(g.expires):
		delete(s.devices, dc)
		delete(s.userCode, g.userCode)
		tokenError(w, "expired_token", "device code expired")
		return
	case !g.approved:
		tokenError(w, "authorization_pending", "the user has not approved yet")
		return
	}
	delete(s.devices, dc)
	delete(s.userCode, g.userCode)
	s.writeTokenLocked(w)
}

func (s *Server) writeToken(w http.ResponseWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeTokenLocked(w)
}

func (s *Server) writeTokenLocked(w http.ResponseWriter) {
	now := s.now()
	c := Claims{Sub: s.user.Sub, Name: s.user.Name, Iss: s.issuerURL, Iat: now.Unix(), Exp: now.Add(tokenTTL).Unix()}
	tok := s.signer.sign(c)
	s.issued = append(s.issued, tok)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   int(tokenTTL / time.Second),
	})
}

func (s *Server) deviceCode(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, "invalid_request", "malformed form")
		return
	}
	clientID := r.PostForm.Get("client_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	if clientID != defaultClientID {
		tokenErrorStatus(w, http.StatusUnauthorized, "invalid_client", "unknown client_id")
		return
	}
	dc := randomString(32)
	uc := userCode()
	for s.userCode[uc] != "" {
		uc = userCode()
	}
	ttl := s.codeTTL()
	s.devices[dc] = &deviceGrant{clientID: clientID, userCode: uc, expires: s.now().Add(ttl)}
	s.userCode[uc] = dc
	s.issued = append(s.issued, dc) // the user code is meant to be shown
	verify := s.issuerURL + "/device"
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":               dc,
		"user_code":                 uc,
		"verification_uri":          verify,
		"verification_uri_complete": verify + "?user_code=" + url.QueryEscape(uc),
		"expires_in":                int(ttl / time.Second),
		"interval":                  deviceInterval,
	})
}

func (s *Server) devicePage(w http.ResponseWriter, r *http.Request) {
	uc := strings.ToUpper(strings.TrimSpace(r.FormValue("user_code")))
	if uc == "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Device sign-in</title><h1>Device sign-in</h1>`+
			`<form method="get" action="/device"><label>Code <input name="user_code" autofocus></label> <button>Continue</button></form>`)
		return
	}
	if err := s.ApproveDevice(uc); err != nil {
		writePage(w, http.StatusNotFound, "Device sign-in", "That code is unknown or expired.")
		return
	}
	writePage(w, http.StatusOK, "Device sign-in", "Device approved. You can close this tab and return to your terminal.")
}

// ApproveDevice approves a pending device authorization by its user code (as typed: case and a
// missing dash are forgiven).
func (s *Server) ApproveDevice(userCode string) error {
	uc := strings.ToUpper(strings.TrimSpace(userCode))
	if len(uc) == 8 && !strings.Contains(uc, "-") {
		uc = uc[:4] + "-" + uc[4:]
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.devices[s.userCode[uc]]
	if g == nil || s.now().After(g.expires) {
		return errors.New("approving device: unknown or expired user code")
	}
	g.approved = true
	return nil
}

func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer`)
		tokenErrorStatus(w, http.StatusUnauthorized, "invalid_token", "bearer token required")
		return
	}
	c, err := s.claims(tok)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		tokenErrorStatus(w, http.StatusUnauthorized, "invalid_token", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) codeTTL() time.Duration {
	if s.codeLife > 0 {
		return s.codeLife
	}
	return 2 * time.Minute
}

func tokenError(w http.ResponseWriter, code, desc string) {
	tokenErrorStatus(w, http.StatusBadRequest, code, desc)
}

func tokenErrorStatus(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}

func writePage(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><title>%s</title><h1>%s</h1><p>%s</p>\n",
		html.EscapeString(title), html.EscapeString(title), html.EscapeString(msg))
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// userCode returns a code like "BCDF-GHJK" from an alphabet without vowels or look-alikes
// (RFC 8628 section 6.1).
func userCode() string {
	const alphabet = "BCDFGHJKLMNPQRSTVWXZ"
	out := make([]byte, 0, 9)
	var b [1]byte
	for len(out) < 9 {
		if len(out) == 4 {
			out = append(out, '-')
			continue
		}
		rand.Read(b[:]) //nolint:errcheck // crypto/rand.Read never fails
		if int(b[0]) >= 256/len(alphabet)*len(alphabet) {
			continue // reject to keep the distribution uniform
		}
		out = append(out, alphabet[int(b[0])%len(alphabet)])
	}
	return string(out)
}
