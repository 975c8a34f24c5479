package e2e

// Real third-party login CLIs, run unchanged on the remote with their OAuth endpoints pointed at the
// env's oauthdemo server. What they print and do is what the scanner's fixtures copy
// (callback/testdata); these tests check that kfwd handles the real thing, not only the copy.

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
	if !strings.Contains(r.Stderr, "53682") {
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
