package callback

import "strings"

// terms is a set of keywords matched against lower-cased text, as a cheap
// stand-in for a case-insensitive alternation regexp: Go's backtracking
// matcher tries every alternative at every position, which made a line of
// hostile output cost tens of microseconds. An entry is a substring
// ("proxy"), a whole word ("=db") or a word prefix ("fail*"); entries with
// a space are phrases matched as substrings.
type terms struct {
	subs     []string
	words    map[string]bool
	prefixes []string
}

func newTerms(list ...string) *terms {
	t := &terms{words: make(map[string]bool)}
	for _, e := range list {
		switch {
		case strings.HasPrefix(e, "="):
			t.words[e[1:]] = true
		case strings.HasSuffix(e, "*"):
			t.prefixes = append(t.prefixes, e[:len(e)-1])
		default:
			t.subs = append(t.subs, e)
		}
	}
	return t
}

// in reports whether lower (already lower-cased) contains one of the terms.
func (t *terms) in(lower string) bool {
	for _, s := range t.subs {
		if strings.Contains(lower, s) {
			return true
		}
	}
	if len(t.words) == 0 && len(t.prefixes) == 0 {
		return false
	}
	for i := 0; i < len(lower); {
		if !isWordByte(lower[i]) {
			i++
			continue
		}
		j := i
		for j < len(lower) && isWordByte(lower[j]) {
			j++
		}
		w := lower[i:j]
		if t.words[w] {
			return true
		}
		for _, p := range t.prefixes {
			if strings.HasPrefix(w, p) {
				return true
			}
		}
		i = j
	}
	return false
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c >= 'A' && c <= 'Z'
}

var (
	// negativeTerms is wording around a loopback address that means it is
	// not a listener waiting for the browser: errors, proxies, databases,
	// health checks, settings.
	negativeTerms = newTerms("refused", "=dial", "connect:", "=connection", "=proxy", "_proxy",
		"database", "postgres", "mysql", "redis", "mongo", "=dsn", "timed out", "timedout", "time out",
		"timeout", "unreachable", "denied", "no route", "=eof", "retry*", "could not", "couldn't",
		"cannot", "can't", "unable", "=error", "=err", "=fail", "=failed", "=failure", "=fails",
		"exception", "panic", "traceback", "in use", "already", "=busy", "health", "=export")

	// authTerms is sign-in wording: with it, a log line or a line naming a
	// service may still announce a callback.
	authTerms = newTerms("callback", "redirect", "oauth", "auth*", "login", "log in", "signin", "sign in",
		"sign-in", "browser", "authoriz", "authoris", "token*", "=sso", "consent", "credential")

	// serviceTerms names local services a CLI or its logs mention without
	// asking the user for anything: metrics, health checks, admin and debug
	// endpoints, dashboards, proxies, databases, dev servers.
	serviceTerms = newTerms("metric", "health", "readiness", "liveness", "=admin", "dashboard",
		"prometheus", "grafana", "jaeger", "zipkin", "kibana", "pgadmin", "phpmyadmin", "upstream",
		"proxy*", "grpc", "pprof", "debug", "webhook", "endpoint", "=ui", "inspector", "devtools",
		"hot reload", "hot-reload", "dev server", "preview", "storybook", "database", "=db", "postgres",
		"mysql", "maria", "redis", "mongo", "sqlite", "sql*", "kafka", "rabbit", "elastic", "opensearch",
		"minio", "memcache", "etcd", "consul", "=nats", "=api", "swagger", "graphql", "docs server",
		"doc server", "static files", "serving files", "file server", "tunnel", "forwarding", "exporter",
		"collector", "telemetry", "tracing", "profil")

	// failureTerms is an error message: a URL in it is where a request
	// failed, not a page to visit.
	failureTerms = newTerms("=error", "=err", "fail*", "exception", "panic", "traceback", "refused",
		"=denied", "timed out", "time out", "timeout", "unreachable", "could not", "couldn't", "cannot",
		"can't", "unable to", "enotfound", "econnrefused", "econnreset", "etimedout", "getaddrinfo",
		"no such host", "tls handshake", "certificate", "x509", "status code 4", "status code 5",
		"400 bad", "401 unauthorized", "403 forbidden", "404 not found", "500 internal", "502 bad",
		"503 service")

	// benignHints are the words without which benignRE cannot match.
	benignHints = newTerms("browser", "url", "link")
)

// stripBenign blanks browser-launch failures ("could not open a browser"),
// which are not errors about the address on the line.
func stripBenign(lower string) string {
	if !benignHints.in(lower) {
		return lower
	}
	return benignRE.ReplaceAllString(lower, " ")
}

// visitTerms asks the user to go somewhere: "visit", "open", "go to",
// "click", "log in at", "link", "URL".
var visitTerms = newTerms("=visit", "=open", "=opening", "=navigate", "go to", "=browse", "=browser",
	"=click", "log in at", "login at", "sign in at", "signin at", "=link", "=url")

func asksToVisit(s string) bool { return visitTerms.in(strings.ToLower(s)) }

// isAssignment reports text ending in "=" or "=\"" before a URL:
// HTTP_PROXY=http://..., --remote-bootstrap="https://...", a setting or an
// argument, not something to visit.
func isAssignment(before string) bool {
	b := strings.TrimSuffix(strings.TrimSuffix(before, "\""), "'")
	return strings.HasSuffix(b, "=")
}

// isPrompt reports text ending in an input prompt ("Enter the redirect
// URL: "), after which a URL is the user's own input.
func isPrompt(before string) bool {
	if !strings.HasSuffix(strings.TrimRight(before, " \t"), ":") {
		return false
	}
	return promptRE.MatchString(before)
}

var requestMethods = []string{"GET ", "POST ", "PUT ", "PATCH ", "DELETE ", "HEAD ", "OPTIONS "}

// isRequestLog reports an access-log line: a method and a URL, or a status
// and its reason phrase.
func isRequestLog(text string) bool {
	for _, m := range requestMethods {
		if strings.Contains(text, m) {
			return requestLogRE.MatchString(text)
		}
	}
	for _, r := range []string{" OK", " Created", " Accepted", " No Content", " Moved", " Found", " Not Modified",
		" Bad Request", " Unauthorized", " Forbidden", " Not Found", " Internal Server Error", " Bad Gateway", " Service Unavailable"} {
		if strings.Contains(text, r) {
			return requestLogRE.MatchString(text)
		}
	}
	return false
}

// redirectHints are the words without which redirectParamRE cannot match.
var redirectHints = newTerms("redirect", "callback", "return", "next", "continue")
