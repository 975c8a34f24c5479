package e2e

// Real third-party login CLIs, run unchanged on the remote with their OAuth endpoints pointed at the
// env's oauthdemo server. What they print and do is what the scanner's fixtures copy
// (callback/testdata); these tests check that kfwd handles the real thing, not only the copy.

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLoginRclone signs Debian's rclone in (`rclone authorize drive`, the command its docs give for
// a machine without a browser) through kfwd. rclone listens on the fixed port 53682, logs its start
// page http://127.0.0.1:53682/auth?state=... and opens it with xdg-open itself; that page redirects
// to the authorize URL, whose redirect_uri is http://127.0.0.1:53682/. rclone's client is
// confidential (client id and secret, no PKCE) and its endpoints come from RCLONE_DRIVE_AUTH_URL
// and RCLONE_DRIVE_TOKEN_URL. It then prints the token for pasting.
func TestLoginRclone(t *testing.T) {
	t.Parallel()
	rclone := RequireProgram(t, "rclone", "rclone")
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	const client, secret = "rclone-e2e", "rclone-e2e-secret"
	env.OAuth.AddClient(client, secret)
	remote := []string{"env",
		"RCLONE_CONFIG=" + filepath.Join(env.Dir, "rclone.conf"),
		"RCLONE_DRIVE_AUTH_URL=" + env.Issuer + "/authorize",
		"RCLONE_DRIVE_TOKEN_URL=" + env.Issuer + "/token",
		rclone, "authorize", "drive", client, secret}
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, remote...)...))
	if r.ExitCode != 0 {
		t.Fatalf("kfwd login -- rclone authorize: %s\nsshd log:\n%s", r, env.SSHD.Log())
	}

	// The browser went to rclone's own start page, through kfwd's forward of port 53682.
	urls := env.BrowserURLs()
	if len(urls) == 0 || !strings.HasPrefix(urls[0], "http://127.0.0.1:53682/auth?state=") {
		t.Errorf("the browser was not opened on rclone's start page; it got %q\n%s", urls, r)
	}
	if !strings.Contains(r.Stderr, "callback port 53682: forwarding") {
		t.Errorf("kfwd did not say it forwarded rclone's port 53682:\n%s", r)
	}

	// rclone got a token from the authorization server and printed it for pasting, unchanged by kfwd.
	_, paste, ok := strings.Cut(r.Stdout, "--->")
	paste, _, ok2 := strings.Cut(paste, "<---")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if !ok || !ok2 || json.Unmarshal([]byte(strings.TrimSpace(paste)), &tok) != nil || !slices.Contains(env.OAuth.Issued(), tok.AccessToken) {
		t.Errorf("rclone did not print a token the authorization server issued:\n%s", r)
	}
	// kfwd's own lines (stderr: rclone logs its NOTICE lines there too, without secrets) hold none.
	env.AssertNoSecrets(t, "kfwd's stderr", r.Stderr)
}

// gitServer serves one repository over git's smart HTTP protocol (the ref advertisement
// `git ls-remote` reads) to a client whose Basic password is a token the env's authorization
// server issued, and answers 401 otherwise, as a forge does. It serves the authorization server's
// endpoints on the same host and port: git-credential-oauth takes its oauthAuthURL and
// oauthTokenURL as paths on the repository's host.
type gitServer struct {
	URL  string // http://10.78.N.1:PORT
	head string // refs/heads/main's commit

	mu     sync.Mutex
	denied int
	authed bool
}

func startGitServer(t *testing.T, env *Env) *gitServer {
	t.Helper()
	g := &gitServer{head: strings.Repeat("4b825dc6", 5)}
	l, err := net.Listen("tcp", net.JoinHostPort(env.NS.HostIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	g.URL = "http://" + l.Addr().String()
	pkt := func(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }
	mux := http.NewServeMux()
	mux.Handle("/", env.OAuth)
	mux.HandleFunc("GET /repo.git/info/refs", func(w http.ResponseWriter, r *http.Request) {
		_, pw, ok := r.BasicAuth()
		g.mu.Lock()
		if !ok || !slices.Contains(env.OAuth.Issued(), pw) {
			g.denied++
			g.mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Basic realm="kfwd test forge"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		g.authed = true
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-git-upload-pack-advertisement")
		fmt.Fprint(w, pkt("# service=git-upload-pack\n")+"0000"+pkt(g.head+" refs/heads/main\x00agent=kfwd-test\n")+"0000")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return g
}

// TestLoginGitCredentialOAuth runs `git ls-remote` on a repository that needs a sign-in, with
// Debian's git-credential-oauth as git's credential helper, through kfwd: git gets a 401, asks the
// helper, the helper signs in, git retries with the token, as in a `git push` over https. It is the
// common loopback shape: an ephemeral port (httptest's 127.0.0.1:0), printed only URL-encoded in
// the authorize URL's redirect_uri, PKCE, and `open URL` as its opener (kfwd's shim). Its client
// and endpoints come from git config (set here through GIT_CONFIG_COUNT).
func TestLoginGitCredentialOAuth(t *testing.T) {
	t.Parallel()
	RequireProgram(t, "git-credential-oauth", "git-credential-oauth")
	git := RequireProgram(t, "git", "git")
	tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
	forge := startGitServer(t, env)
	conf := [][2]string{
		{"credential.helper", "oauth"},
		{"credential.oauthClientId", "kfwd-demo"},
		{"credential.oauthAuthURL", "/authorize"},
		{"credential.oauthTokenURL", "/token"},
	}
	remote := []string{"env", "HOME=" + env.Dir, "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", fmt.Sprintf("GIT_CONFIG_COUNT=%d", len(conf))}
	for i, kv := range conf {
		remote = append(remote, fmt.Sprintf("GIT_CONFIG_KEY_%d=%s", i, kv[0]), fmt.Sprintf("GIT_CONFIG_VALUE_%d=%s", i, kv[1]))
	}
	remote = append(remote, git, "ls-remote", forge.URL+"/repo.git")
	r := Run(env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, remote...)...))
	if r.ExitCode != 0 {
		t.Fatalf("kfwd login -- git ls-remote: %s\nsshd log:\n%s", r, env.SSHD.Log())
	}
	if !strings.Contains(r.Stdout, forge.head+"\trefs/heads/main") {
		t.Errorf("git ls-remote did not list the repository's refs:\n%s", r)
	}
	forge.mu.Lock()
	denied, authed := forge.denied, forge.authed
	forge.mu.Unlock()
	if denied == 0 || !authed {
		t.Errorf("want git refused first, then let in with the token (refused %d times, let in: %v)", denied, authed)
	}
	urls := env.BrowserURLs()
	if len(urls) != 1 || !strings.HasPrefix(urls[0], forge.URL+"/authorize?") {
		t.Errorf("want the browser opened once on the authorize URL, got %q\n%s", urls, r)
	}
	var port string
	if len(urls) > 0 {
		if u, err := url.Parse(urls[0]); err == nil {
			if ru, err := url.Parse(u.Query().Get("redirect_uri")); err == nil {
				port = ru.Port()
			}
		}
	}
	if port == "" || !strings.Contains(r.Stderr, "callback port "+port) {
		t.Errorf("kfwd did not forward the redirect_uri's port %q:\n%s", port, r)
	}
	env.AssertNoSecrets(t, "kfwd output", r.Output())
}

// webLoginRegistry is the part of an npm registry that `npm login` (auth-type web, npm's default)
// talks to: POST /-/v1/login hands out a loginUrl for the browser and a doneUrl that answers 202
// with Retry-After until the browser has loaded the loginUrl, then 200 with the token.
type webLoginRegistry struct {
	URL   string // http://10.78.N.1:PORT/
	token string

	mu       sync.Mutex
	approved bool
	polls    int
}

func startWebLoginRegistry(t *testing.T, env *Env) *webLoginRegistry {
	t.Helper()
	reg := &webLoginRegistry{token: "npm_" + rand.Text()}
	l, err := net.Listen("tcp", net.JoinHostPort(env.NS.HostIP, "0"))
	if err != nil {
		t.Fatal(err)
	}
	reg.URL = "http://" + l.Addr().String() + "/"
	mux := http.NewServeMux()
	mux.HandleFunc("POST /-/v1/login", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{ //nolint:errcheck // the client sees a short body
			"loginUrl": reg.URL + "login/s1",
			"doneUrl":  reg.URL + "done/s1",
		})
	})
	mux.HandleFunc("GET /login/s1", func(w http.ResponseWriter, r *http.Request) {
		reg.mu.Lock()
		reg.approved = true
		reg.mu.Unlock()
		fmt.Fprintln(w, "Signed in. You can close this page.")
	})
	mux.HandleFunc("GET /done/s1", func(w http.ResponseWriter, r *http.Request) {
		reg.mu.Lock()
		approved := reg.approved
		reg.polls++
		reg.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !approved {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusAccepted)
			fmt.Fprintln(w, "{}")
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"token": reg.token}) //nolint:errcheck
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return reg
}

// TestLoginNpm signs npm in (`npm login`: the web sign-in, npm's default) through kfwd, against a
// registry that speaks npm's web-login protocol. npm prints "Login at:\n<loginUrl>" and polls its
// doneUrl; there is no callback port, so kfwd forwards nothing and opens the printed URL. With a
// terminal npm also asks "Press ENTER to open in the browser..." and opens it with xdg-open only
// on Enter; nobody presses it here: kfwd's open from the text is enough, and npm drops its
// question once the sign-in is done. npm then writes the token to its userconfig.
func TestLoginNpm(t *testing.T) {
	npm := RequireProgram(t, "npm", "npm")
	for _, terminal := range []bool{false, true} {
		t.Run(fmt.Sprintf("terminal=%v", terminal), func(t *testing.T) {
			t.Parallel()
			tools, env, ctx, cfg := setupLogin(t, SSHDOptions{})
			reg := startWebLoginRegistry(t, env)
			npmrc := filepath.Join(env.Dir, "npmrc")
			remote := []string{"env", "npm_config_update_notifier=false", "npm_config_cache=" + filepath.Join(env.Dir, "npm-cache"),
				npm, "login", "--registry=" + reg.URL, "--userconfig=" + npmrc}
			cmd := env.KfwdCommand(ctx, tools, loginArgs(cfg, "srv", nil, remote...)...)
			var out string
			if terminal {
				p := startPTY(t, cmd)
				if st := p.exitCode(t); st != 0 {
					t.Fatalf("kfwd login -- npm login exited %d:\n%s", st, p.output())
				}
				out = p.output()
				if !strings.Contains(out, "Press ENTER to open in the browser") {
					t.Errorf("npm did not see a terminal (no Enter prompt):\n%s", out)
				}
			} else {
				r := Run(cmd)
				if r.ExitCode != 0 {
					t.Fatalf("kfwd login -- npm login: %s", r)
				}
				out = r.Output()
			}
			if urls := env.BrowserURLs(); len(urls) != 1 || urls[0] != reg.URL+"login/s1" {
				t.Errorf("want the browser opened once on npm's login URL %s, got %q\n%s", reg.URL+"login/s1", urls, out)
			}
			if strings.Contains(out, "forwarding") {
				t.Errorf("kfwd forwarded a port for a sign-in that has no callback:\n%s", out)
			}
			if !strings.Contains(out, "Logged in on "+reg.URL) {
				t.Errorf("npm did not report the sign-in:\n%s", out)
			}
			rc, err := os.ReadFile(npmrc)
			if err != nil || !strings.Contains(string(rc), ":_authToken="+reg.token) {
				t.Errorf("npm did not save the registry's token (%v):\n%s", err, rc)
			}
			if strings.Contains(out, reg.token) {
				t.Errorf("the npm token appears in kfwd's output")
			}
			reg.mu.Lock()
			polls := reg.polls
			reg.mu.Unlock()
			if polls == 0 {
				t.Errorf("npm never polled its doneUrl")
			}
		})
	}
}
