package callback

import (
	"path"
	"strings"
)

// CLI is what kfwd knows about one login CLI. Ports are the fixed loopback
// ports its browser sign-in listens on (nil when the system picks one); the
// scanner never relies on them, callers use them to check local ports
// before a login. Hint says what to do when the flow cannot work remotely.
type CLI struct {
	Name  string
	Login []string
	Ports []int
	Hint  string
}

// CLIs lists the login CLIs kfwd knows, by name.
var CLIs = []CLI{
	{Name: "kiro-cli", Login: []string{"kiro-cli", "login"}, Ports: []int{49153, 50153, 51153, 52153, 53153},
		Hint: "social sign-in (Google/GitHub) listens on one of these fixed ports; on a remote host kiro-cli may pick the device flow instead (kiro-cli login --use-device-flow needs no tunnel)"},
	{Name: "q", Login: []string{"q", "login"},
		Hint: "over SSH q uses the device flow (no tunnel); the PKCE flow prints no URL, only the browser opener sees it"},
	{Name: "aws", Login: []string{"aws", "login"},
		Hint: "aws sso login and aws login listen on an ephemeral 127.0.0.1 port shown only inside redirect_uri=; use --use-device-code (sso) or --remote (login) if forwarding is not allowed"},
	{Name: "az", Login: []string{"az", "login"},
		Hint: "az login listens on an ephemeral localhost port; use az login --use-device-code if forwarding is not allowed"},
	{Name: "gh", Login: []string{"gh", "auth", "login"},
		Hint: "github.com uses a device code (no tunnel); GitHub Enterprise servers without device flow use an ephemeral localhost port"},
	{Name: "gcloud", Login: []string{"gcloud", "auth", "login"}, Ports: []int{8085},
		Hint: "gcloud uses the loopback flow (first free port from 8085) only when it thinks a browser exists (DISPLAY set); otherwise it prints a paste-code URL (--no-launch-browser)"},
	{Name: "codex", Login: []string{"codex", "login"}, Ports: []int{1455, 1457},
		Hint: "codex login listens on 1455 (1457 when busy); codex login --device-auth needs no tunnel"},
	{Name: "gemini", Login: []string{"gemini"},
		Hint: "gemini uses an ephemeral port ($OAUTH_CALLBACK_PORT) and only when a display is set; with NO_BROWSER=true it prints a code flow instead"},
	{Name: "claude", Login: []string{"claude", "auth", "login"},
		Hint: "claude prints a paste-code URL; its loopback URL only reaches the browser opener"},
	{Name: "wrangler", Login: []string{"wrangler", "login"}, Ports: []int{8976},
		Hint: "the redirect is always http://localhost:8976/oauth/callback; wrangler login --device needs no tunnel"},
	{Name: "vault", Login: []string{"vault", "login", "-method=oidc"}, Ports: []int{8250},
		Hint: "the OIDC role must allow http://localhost:8250/oidc/callback; port=<n> changes the listener"},
	{Name: "databricks", Login: []string{"databricks", "auth", "login"}, Ports: []int{8020, 8021, 8022, 8023, 8024, 8025, 8026, 8027, 8028, 8029},
		Hint: "databricks listens on the first free port from 8020"},
	{Name: "kubelogin", Login: []string{"kubectl", "oidc-login", "get-token"}, Ports: []int{8000, 18000},
		Hint: "kubelogin listens on 8000 then 18000 (--listen-address); --grant-type=device-code needs no tunnel"},
	{Name: "firebase", Login: []string{"firebase", "login"}, Ports: []int{9005, 9006, 9007, 9008, 9009},
		Hint: "firebase listens on the first free port from 9005; firebase login --no-localhost uses a paste code"},
	{Name: "heroku", Login: []string{"heroku", "login"},
		Hint: "no tunnel needed: heroku polls for the browser sign-in; it waits for a key press, so it needs a terminal"},
	{Name: "npm", Login: []string{"npm", "login"},
		Hint: "no tunnel needed: npm polls for the web sign-in"},
	{Name: "supabase", Login: []string{"supabase", "login"},
		Hint: "no tunnel needed: the browser shows a verification code to type back"},
	{Name: "vercel", Login: []string{"vercel", "login"},
		Hint: "no tunnel needed: vercel uses a device code"},
}

// aliases maps other names a CLI is run by to its entry.
var aliases = map[string]string{
	"kiro":               "kiro-cli",
	"kubectl-oidc_login": "kubelogin",
	"oidc-login":         "kubelogin",
	"amazon-q":           "q",
	"npx wrangler":       "wrangler",
}

// LookupCLI finds a known CLI by name, also given a path (/usr/local/bin/aws)
// or an alias (kubectl-oidc_login).
func LookupCLI(name string) (CLI, bool) {
	name = strings.TrimSpace(name)
	if a, ok := aliases[name]; ok {
		name = a
	}
	if base := path.Base(name); base != "." && base != "/" {
		name = base
	}
	if a, ok := aliases[name]; ok {
		name = a
	}
	for _, c := range CLIs {
		if c.Name == name {
			return c, true
		}
	}
	return CLI{}, false
}
