package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// ghes is the part of a GitHub Enterprise Server that `gh auth login --hostname HOST` talks to,
// over HTTPS on port 443 of the env's host address (gh takes no port in a hostname):
//
//	POST /login/device/code         device authorization (404 when deviceFlow is off: gh then
//	                                falls back to the web application flow, as on a GHES without it)
//	GET  /login/device              the verification page; loading it approves the pending code
//	GET  /login/oauth/authorize     auto-approves and redirects to redirect_uri with code and state
//	POST /login/oauth/access_token  device_code polling, or the code exchange with the client secret
//	POST /api/graphql               {viewer{login}}: the signed-in user
//
// Its certificate is self-signed for the address; CAFile holds it for SSL_CERT_FILE.
type ghes struct {
	Host   string // 10.78.N.1
	CAFile string
	token  string

	deviceFlow bool

	mu       sync.Mutex
	device   string // the pending device_code
	approved bool
	codes    map[string]string // authorization code -> its redirect_uri
}

const ghUser = "monalisa"

func startGHES(t *testing.T, env *Env, deviceFlow bool) *ghes {
	t.Helper()
	g := &ghes{Host: env.NS.HostIP, token: "gho_" + rand.Text(), deviceFlow: deviceFlow, codes: map[string]string{}}
	cert, pemBytes := selfSignedCert(t, g.Host)
	g.CAFile = filepath.Join(env.Dir, "ghes-ca.pem")
	if err := os.WriteFile(g.CAFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", net.JoinHostPort(g.Host, "443"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: g.mux(), ReadHeaderTimeout: 10 * time.Second, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}}
	go srv.ServeTLS(l, "", "") //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return g
}

func (g *ghes) mux() *http.ServeMux {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v) //nolint:errcheck // the client sees a short body
	}
	mux.HandleFunc("POST /login/device/code", func(w http.ResponseWriter, r *http.Request) {
		if !g.deviceFlow {
			http.NotFound(w, r)
			return
		}
		g.mu.Lock()
		g.device = rand.Text()
		dc := g.device
		g.mu.Unlock()
		writeJSON(w, 200, map[string]any{"device_code": dc, "user_code": "KFWD-GH12",
			"verification_uri": "https://" + g.Host + "/login/device", "expires_in": 900, "interval": 1})
	})
	mux.HandleFunc("GET /login/device", func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.approved = g.device != ""
		g.mu.Unlock()
		fmt.Fprintln(w, "Device approved. You can close this page.")
	})
	mux.HandleFunc("GET /login/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ru, err := url.Parse(q.Get("redirect_uri"))
		if err != nil || ru.Scheme != "http" || (ru.Hostname() != "localhost" && ru.Hostname() != "127.0.0.1") || q.Get("state") == "" {
			http.Error(w, "bad authorize request", http.StatusBadRequest)
			return
		}
		code := rand.Text()
		g.mu.Lock()
		g.codes[code] = q.Get("redirect_uri")
		g.mu.Unlock()
		v := ru.Query()
		v.Set("code", code)
		v.Set("state", q.Get("state"))
		ru.RawQuery = v.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm() //nolint:errcheck // an empty form fails below
		g.mu.Lock()
		defer g.mu.Unlock()
		switch {
		case r.PostForm.Get("device_code") != "":
			if r.PostForm.Get("device_code") != g.device {
				writeJSON(w, 200, map[string]string{"error": "incorrect_device_code"})
				return
			}
			if !g.approved {
				writeJSON(w, 200, map[string]string{"error": "authorization_pending"})
				return
			}
		default:
			ru, ok := g.codes[r.PostForm.Get("code")]
			delete(g.codes, r.PostForm.Get("code"))
			if !ok || r.PostForm.Get("client_secret") == "" || (r.PostForm.Get("redirect_uri") != "" && r.PostForm.Get("redirect_uri") != ru) {
				writeJSON(w, 200, map[string]string{"error": "bad_verification_code"})
				return
			}
		}
		writeJSON(w, 200, map[string]string{"access_token": g.token, "token_type": "bearer", "scope": "gist,read:org,repo"})
	})
	mux.HandleFunc("POST /api/graphql", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "token "+g.token && r.Header.Get("Authorization") != "bearer "+g.token {
			writeJSON(w, 401, map[string]string{"message": "Bad credentials"})
			return
		}
		w.Header().Set("X-Oauth-Scopes", "gist, read:org, repo")
		writeJSON(w, 200, map[string]any{"data": map[string]any{"viewer": map[string]string{"login": ghUser}}})
	})
	return mux
}

// selfSignedCert returns a certificate for ip, signed by itself, and its PEM.
func selfSignedCert(t *testing.T, ip string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kfwd test GHES"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{netip.MustParseAddr(ip).AsSlice()},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestLoginGh signs Debian's gh in to a GitHub Enterprise Server through kfwd:
//   - device flow, no terminal: gh prints its one-time code and the verification URL; no
//     callback, nothing is forwarded, kfwd opens the URL and shows the code;
//   - a server without device flow, no terminal: gh falls back to the web application flow,
//     listening on an ephemeral 127.0.0.1 port that it names only inside
//     redirect_uri=http://localhost:PORT/ in the URL it prints; kfwd forwards it and opens the URL;
//   - the same through a terminal: gh asks its questions (answered here as a user would: no to
//     "Authenticate Git", Enter to "Press Enter to open HOST in your browser...") and prints no URL
//     at all: it hands the URL to $BROWSER only, which is kfwd's opener shim.
//
// Each way gh then asks the server who signed in and saves the token in its hosts.yml.
func TestLoginGh(t *testing.T) {
	gh := RequireProgram(t, "gh", "gh")
	for _, c := range []struct {
		name                 string
		deviceFlow, terminal bool
	}{
		{"device flow", true, false},
		{"web flow, server without device flow", false, false},
		{"web flow through a terminal, URL only to the opener", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
			srv := startGHES(t, env, c.deviceFlow)
			ghDir := filepath.Join(env.Dir, "gh")
			remote := []string{"env", "GH_CONFIG_DIR=" + ghDir, "SSL_CERT_FILE=" + srv.CAFile, "GH_NO_UPDATE_NOTIFIER=1",
				"HOME=" + env.Dir, "GIT_CONFIG_NOSYSTEM=1",
				gh, "auth", "login", "--hostname", srv.Host, "--web", "--git-protocol", "https"}
			cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, remote...)...)
			cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+srv.CAFile) // the browser's
			var out string
			if c.terminal {
				p := startPTY(t, cmd)
				user := newTerminalUser(p)
				user.answer(t, "Authenticate Git with your GitHub credentials?", "n\r")
				user.answer(t, " to open "+srv.Host+" in your browser...", "\r") // after a bold "Press Enter"
				if st := p.exitCode(t); st != 0 {
					t.Fatalf("kfwd login -- gh auth login exited %d:\n%s", st, p.output())
				}
				out = csiRE.ReplaceAllString(p.output(), "") // gh's colours and cursor moves
				if strings.Contains(out, "/login/oauth/authorize") {
					t.Errorf("gh printed its URL through a terminal; this case needs one it hands only to the opener:\n%s", out)
				}
			} else {
				r := Run(cmd)
				if r.ExitCode != 0 {
					t.Fatalf("kfwd login -- gh auth login: %s", r)
				}
				out = r.Output()
			}
			if !strings.Contains(out, "Logged in as "+ghUser) {
				t.Errorf("gh did not report the sign-in:\n%s", out)
			}
			hosts, err := os.ReadFile(filepath.Join(ghDir, "hosts.yml"))
			if err != nil || !strings.Contains(string(hosts), srv.token) {
				t.Errorf("gh did not save the server's token (%v):\n%s", err, hosts)
			}
			if strings.Contains(out, srv.token) {
				t.Errorf("the gh token appears in kfwd's output")
			}
			urls := env.BrowserURLs()
			if c.deviceFlow {
				if len(urls) != 1 || urls[0] != "https://"+srv.Host+"/login/device" {
					t.Errorf("want the browser opened once on the verification URL, got %q\n%s", urls, out)
				}
				if strings.Contains(out, "forwarding") {
					t.Errorf("kfwd forwarded a port for a device sign-in:\n%s", out)
				}
				return
			}
			if len(urls) != 1 || !strings.HasPrefix(urls[0], "https://"+srv.Host+"/login/oauth/authorize?") {
				t.Fatalf("want the browser opened once on the authorize URL, got %q\n%s", urls, out)
			}
			u, _ := url.Parse(urls[0])
			ru, err := url.Parse(u.Query().Get("redirect_uri"))
			if err != nil || ru.Port() == "" || !strings.Contains(out, "callback port "+ru.Port()) {
				t.Errorf("kfwd did not forward the redirect_uri's port (%v):\n%s", err, out)
			}
		})
	}
}

// csiRE matches a terminal control sequence (colour, cursor movement, erase).
var csiRE = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]|\x1b[78]`)

// terminalUser plays a user at a terminal emulator on p: the emulator's part that gh's prompts
// (survey) need, a reply (ESC [ row ; col R) on the input to each cursor position query
// (ESC [ 6 n) they write, as a real terminal sends (through kfwd both go over the login's remote
// PTY); and the user's, who types an answer once the prompt has settled.
type terminalUser struct {
	p        *ptyRun
	mu       sync.Mutex
	answered int
}

func newTerminalUser(p *ptyRun) *terminalUser {
	u := &terminalUser{p: p}
	go func() {
		for {
			select {
			case <-p.done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			u.mu.Lock()
			for n := strings.Count(p.output(), "\x1b[6n"); u.answered < n; u.answered++ {
				p.ptmx.WriteString("\x1b[24;80R")
			}
			u.mu.Unlock()
		}
	}()
	return u
}

// answer waits for prompt, then until every cursor query is answered and the output has been
// still for 300 ms (keys typed sooner would mix with the replies), and types keys.
func (u *terminalUser) answer(t *testing.T, prompt, keys string) {
	t.Helper()
	u.p.waitFor(t, prompt)
	last, still := "", time.Now()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out := u.p.output()
		u.mu.Lock()
		done := u.answered == strings.Count(out, "\x1b[6n")
		u.mu.Unlock()
		if out != last || !done {
			last, still = out, time.Now()
			continue
		}
		if time.Since(still) >= 300*time.Millisecond {
			u.p.ptmx.WriteString(keys)
			return
		}
	}
	t.Fatalf("the terminal did not settle after %q:\n%s", prompt, u.p.output())
}
