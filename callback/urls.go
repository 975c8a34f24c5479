package callback

import (
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/kfwd/kfwd/internal/inet"
)

// isLoopback reports a loopback host as a URL prints it: localhost,
// 127.0.0.0/8 or ::1.
//
// Browsers read IPv4 addresses as inet_aton does, so 127.1, 2130706433,
// 0x7f.0.0.1 and 0177.0.0.1 are loopback too, as is the IPv4-mapped
// [::ffff:127.0.0.1].
func isLoopback(host string) bool {
	h := strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	if i := strings.IndexByte(h, '%'); i >= 0 {
		h = h[:i] // fe80::1%eth0 zone
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback()
	}
	if len(h) > 64 {
		return false
	}
	ip, ok := inet.ParseAton(h)
	return ok && ip.IsLoopback()
}

func atoiPort(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0
	}
	return n
}

// portOf returns the explicit port of u, 0 when none is printed: a
// callback listener always has one.
func portOf(u *url.URL) int {
	return atoiPort(u.Port())
}

// isRedirectResponse reports a loopback URL that already carries the
// authorization response (?code=...&state=..., ?error=...): output that
// echoes it (a pasted answer) does not announce a listener.
func isRedirectResponse(u *url.URL) bool {
	q := u.Query()
	return q.Has("code") || q.Has("error") || q.Has("access_token") || q.Has("id_token")
}

// Query keys whose value is where the browser goes after sign-in. Strong
// keys name the OAuth redirect; weak ones (next=, continue=) are trusted
// only when they point at a loopback listener.
var (
	redirectParamRE = regexp.MustCompile(`(?i)(?:^|[?&#;])((?:redirect|callback|return|oauth_callback|next|continue)(?:[_-]?(?:uri|url|to))?)=([^&#\s]*)`)
	strongRedirect  = map[string]bool{}
	pctRE           = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)
)

func init() {
	for _, k := range []string{"redirect", "callback", "oauth_callback"} {
		strongRedirect[k] = true
		for _, sep := range []string{"", "_", "-"} {
			for _, suf := range []string{"uri", "url", "to"} {
				strongRedirect[k+sep+suf] = true
			}
		}
	}
}

// pctDecode percent-decodes s leniently: invalid escapes stay as they are
// and '+' is kept (it is a space only in form values, never in a URL we
// need).
func pctDecode(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	return pctRE.ReplaceAllStringFunc(s, func(m string) string {
		b, _ := strconv.ParseUint(m[1:], 16, 8)
		return string([]byte{byte(b)})
	})
}

// redirectTarget finds the redirect of an authorize URL: the value of
// redirect_uri= (or redirect_url, redirect-uri, callback, ...), encoded
// once or twice, also when the whole authorize URL is itself nested in
// another URL's query (login?next=/authorize%3Fredirect_uri%3D...).
// A loopback target wins over any other.
func redirectTarget(u string) (target string, strong, ok bool) {
	q := strings.IndexAny(u, "?#;&")
	if q < 0 || !redirectHints.in(strings.ToLower(u[q:])) {
		return "", false, false
	}
	s := u
	for level := 0; level < 4; level++ {
		for _, m := range redirectParamRE.FindAllStringSubmatch(s, 8) {
			key := strings.ToLower(m[1])
			v := m[2]
			for i := 0; i < 3 && strings.Contains(v, "%"); i++ {
				v = pctDecode(v)
			}
			if !hasHTTPScheme(v) {
				continue
			}
			tu, err := url.Parse(v)
			if err != nil || tu.Host == "" {
				continue
			}
			if isLoopback(tu.Hostname()) {
				return v, true, true
			}
			if !ok && strongRedirect[key] {
				target, strong, ok = v, true, true
			}
		}
		d := pctDecode(s)
		if d == s {
			break
		}
		s = d
	}
	return target, strong, ok
}

// portParam finds a callback port passed as its own query value of a
// hosted page (redirect_port=49153, cliSessionPort=, browser_mode_redirect_port=,
// or port=... on a sign-in URL). A key names a port when it is "port" or
// ends in "Port", "_port", "-port" or ".port" (not "report" or "support").
func portParam(u *url.URL) int {
	for k, vs := range u.Query() {
		if len(vs) == 0 || !isPortKey(k) {
			continue
		}
		if strings.EqualFold(k, "port") && !signinRE.MatchString(u.Host+u.Path) {
			continue
		}
		if p := atoiPort(vs[0]); p >= minPort {
			return p
		}
	}
	return 0
}

func isPortKey(k string) bool {
	if len(k) > 64 {
		return false
	}
	l := strings.ToLower(k)
	if l == "port" {
		return true
	}
	if !strings.HasSuffix(l, "port") || len(k) < 5 {
		return false
	}
	before := k[len(k)-5]
	return k[len(k)-4] == 'P' || before == '_' || before == '-' || before == '.'
}

var userCodeRE = regexp.MustCompile(`(?i)[?&#/;]user_?code=([\p{L}\p{N}_\-]{4,32})`)

// userCodeOf returns the user code of a verification_uri_complete, also
// when it sits in the fragment (#/device?user_code=...).
func userCodeOf(u string) string {
	if !strings.Contains(strings.ToLower(u), "code") {
		return ""
	}
	if m := userCodeRE.FindStringSubmatch(u); m != nil {
		return m[1]
	}
	if m := userCodeRE.FindStringSubmatch(pctDecode(u)); m != nil {
		return m[1]
	}
	return ""
}

// findURLs returns the spans of http(s) URLs in text, at most limit: the
// scheme at a word start, "://", then a run of URL characters. It is what
// the regexp (?i)\bhttps?://[URL chars]+ matches, without the backtracking
// matcher's cost per position.
func findURLs(text string, limit int) [][]int {
	var spans [][]int
	from := 0
	for len(spans) < limit {
		i := strings.Index(text[from:], "://")
		if i < 0 {
			break
		}
		i += from
		start := -1
		switch {
		case i >= 5 && strings.EqualFold(text[i-5:i], "https"):
			start = i - 5
		case i >= 4 && strings.EqualFold(text[i-4:i], "http"):
			start = i - 4
		}
		end := i + 3
		for end < len(text) && isURLByte(text[end]) {
			end++
		}
		if start >= 0 && (start == 0 || !isWordByte(text[start-1])) && end > i+3 {
			spans = append(spans, []int{start, end})
		}
		from = end
	}
	return spans
}
