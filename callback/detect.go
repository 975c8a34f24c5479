package callback

import (
	"net/url"
	"regexp"
	"strings"
)

// window is how many lines a URL waits for a device code (and a device
// code for a URL), and how long a sign-in candidate waits for better ones
// before it is opened.
const window = 6

// detector turns logical lines (escape sequences stripped, hard-wrapped URLs
// joined) into events. All of its rules look at the text only; nothing is
// keyed to a particular CLI, so that output of CLIs never seen still works.
type detector struct {
	lineNo    int
	history   []string // last non-empty logical lines, oldest first
	codeWords []bool   // whether each history line has the word "code"
	pending   *logical // a line ending in a URL that may continue on the next line
	completed bool     // the login said it is done: later loopback mentions are not callbacks
	// fromOpener is set while an opener shim's URL is analysed, so that
	// the events it causes say so.
	fromOpener bool

	ports map[int]string // port -> the last URL its callback events carried ("" for none)
	seen  map[string]bool

	cands    []candidate
	lastCode struct {
		code string
		line int
	}
	dev     *candidate // a verification URL paired with its code, not yet emitted
	devDone map[string]bool
}

type logical struct {
	text    []byte // appended to, so that joining n wrapped lines is linear
	links   []string
	lastLen int
}

type candidate struct {
	url    string
	code   string
	score  int
	device bool
	line   int
}

func (d *detector) init() {
	d.ports = make(map[int]string)
	d.seen = make(map[string]bool)
	d.devDone = make(map[string]bool)
}

// physLine takes one terminal line and joins URLs that a CLI or terminal
// hard-wrapped across lines before analysing it.
func (d *detector) physLine(s *Scanner, text string, links []string) {
	if p := d.pending; p != nil {
		if isContinuation(p.lastLen, text) && len(p.text)+len(text) <= maxLine {
			p.text = append(p.text, text...)
			p.links = append(p.links, links...)
			p.lastLen = len(text)
			return
		}
		d.flushPending(s)
	}
	if endsWithURL(text) {
		d.pending = &logical{text: []byte(text), links: links, lastLen: len(text)}
		return
	}
	d.analyse(s, text, links, false)
}

func (d *detector) flushPending(s *Scanner) {
	if p := d.pending; p != nil {
		d.pending = nil
		d.analyse(s, string(p.text), p.links, false)
	}
}

func isURLByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("-._~:/?#[]@!$&()*+,;=%", c) >= 0
}

// endsWithURL reports whether the line's last word is an http(s) URL that
// runs up to the end of the line, so that it may continue on the next one.
func endsWithURL(text string) bool {
	i := len(text)
	for i > 0 && isURLByte(text[i-1]) {
		i--
	}
	run := strings.ToLower(text[i:])
	return i < len(text) && (strings.Contains(run, "http://") || strings.Contains(run, "https://"))
}

// isContinuation decides whether text continues a URL that ended the
// previous line (prevLen bytes long): it must be a run of URL characters
// with no spaces that does not start a URL of its own, and either look like
// part of a URL or follow a line cut at a typical terminal width.
func isContinuation(prevLen int, text string) bool {
	if text == "" || len(text) > maxLine {
		return false
	}
	special := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		if !isURLByte(c) {
			return false
		}
		if c >= '0' && c <= '9' || strings.IndexByte("%&=?/#_+-", c) >= 0 {
			special = true
		}
	}
	if hasHTTPScheme(text) {
		return false
	}
	return special || len(text) >= 24 || isTermWidth(prevLen)
}

func isTermWidth(n int) bool {
	return n >= 60 && n%10 == 0 || n == 132
}

var (
	completionRE = regexp.MustCompile(`(?i)\b(logged in|signed in|log ?in (?:was )?successful|login complete|sign-?in (?:was )?(?:successful|complete)|successfully (?:logged|signed|authenticated|authorized)|authentication (?:is )?(?:complete|completed|succeeded|successful)|authenticated as|you are now authenticated)\b`)
	notDoneRE    = regexp.MustCompile(`(?i)\b(not|already|must|need|needs|once|when|after|until|before|if|to|will|remain|stay|keep|been|be)\b`)

	benignRE = regexp.MustCompile(`(?i)(fail(?:ed|s)? to (?:open|launch|start)[^.,;]*browser|(?:could not|couldn't|cannot|can't|unable to) (?:open|launch|start|find)[^.,;]*(?:browser|url|link)|browser (?:did not|didn't|does not|doesn't|could not|couldn't|failed to|fails to|won't|will not) (?:open|launch|start|be)|if the browser fails|error (?:opening|launching) (?:the |a )?browser)`)

	promptRE   = regexp.MustCompile(`(?i)\b(enter|paste|input|type)\b[^:]*:\s*$`)
	cbPathRE   = regexp.MustCompile(`(?i)(callback|/cb\b|redirect|/code\b|/token\b)`)
	signinRE   = regexp.MustCompile(`(?i)(log-?in|sign-?in|sign_in|auth|sso|device|activat|consent|session|token|verif)`)
	deviceRE   = regexp.MustCompile(`(?i)(device|activat|verif|/code\b)`)
	docsHostRE = regexp.MustCompile(`(?i)^(docs?|help|support|learn|developers?|documentation|kb|wiki|blog|status|aka)\.`)
	docsPathRE = regexp.MustCompile(`(?i)(^|/)(docs?|help|documentation|learn|kb|faq|wiki|blog|releases?|changelog|issues|discussions|terms|privacy|pricing|legal|license)(/|$|\.)`)
	docsCtxRE  = regexp.MustCompile(`(?i)(learn more|more info|documentation|\bdocs\b|read more|for details|for help|\bsee\s*:?\s*$|release|changelog|upgrade|update|new version|report|\bissue|feedback|privacy|terms of|(?:don't|do not) have an account|create (?:one|an account)|sign ?up\b)`)

	bareEndpointRE = regexp.MustCompile(`(?i)/(?:authorize|authorization|auth|token|oauth2?(?:/v[\d.]+)?)/?$`)
	codeWordRE     = regexp.MustCompile(`(?i)\bcode\b`)
	afterCodeRE    = regexp.MustCompile(`(?i)\bcode\s*(?:is\s*)?[:=]?\s*["'“‘(\[]?$`)
	sourcePromptRE = regexp.MustCompile(`(?i)\b(enter|paste|type)\b.*\b(displayed|shown|provided|from|returned|output)\b.*:\s*$`)

	portWordRE  = regexp.MustCompile(`(?i)\bport\s*(?:number\s*)?[:#=]?\s*(\d{2,5})\b`)
	hostPortRE  = regexp.MustCompile(`(?i)(?:^|[^\w.:/@\-])(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]) ?:(\d{2,5})\b`)
	colonPortRE = regexp.MustCompile(`(?i)\bon\s+:(\d{2,5})\b`)
	listenRE    = regexp.MustCompile(`(?i)\b(listen\w*|callback|redirect\w*|forward\w*|bound|serving|awaiting|waiting for (?:the )?(?:oauth |auth |browser )?(?:callback|redirect|response|authori[sz]ation|login))\b`)
)

// isCompletion reports a line saying the sign-in finished ("Logged in as
// ...", "Authentication complete."), but not "not logged in" or "once
// signed in".
func isCompletion(text string) bool {
	l := strings.ToLower(text)
	if !strings.Contains(l, " in") && !strings.Contains(l, "success") && !strings.Contains(l, "complete") && !strings.Contains(l, "authenticated") {
		return false
	}
	loc := completionRE.FindStringIndex(text)
	if loc == nil {
		return false
	}
	before := text[:loc[0]]
	if len(before) > 40 {
		before = before[len(before)-40:]
	}
	return !notDoneRE.MatchString(before)
}

func (d *detector) prev() string {
	if n := len(d.history); n > 0 {
		return d.history[n-1]
	}
	return ""
}

// analyse looks at one logical line. partial is set for the unterminated
// last line at idle: it is analysed again when it is complete.
func (d *detector) analyse(s *Scanner, text string, links []string, partial bool) {
	if !partial {
		d.lineNo++
	}
	if d.completed {
		if !startsSignIn(text) {
			return
		}
		// A second sign-in after the first one finished (a CLI that signs
		// in to two services): read the output again.
		d.completed = false
	}
	// A log prefix (timestamp, level, logger) is dropped; the message is
	// read like any other line, with more caution about loopback mentions.
	text, logged, errLevel := stripLogPrefix(text)
	// Wording is read from a short form of the line: URLs blanked, runs of
	// spaces collapsed, at most maxCtx bytes. Login prompts are short; this
	// keeps hostile multi-kilobyte lines cheap.
	ctx := contextOf(text)
	if isCompletion(ctx) {
		d.flushCandidates(s)
		d.flushDevice(s)
		d.completed = true
		return
	}
	// At most maxURLs URLs per line, and only the text shortly before
	// each, so that a line full of URLs stays linear.
	lc := &lineCtx{text: ctx, logged: logged, errLevel: errLevel}
	var spans [][]int
	if strings.Contains(text, "://") {
		spans = findURLs(text, maxURLs)
	}
	for _, sp := range spans {
		u := trimURL(text[sp[0]:sp[1]])
		before := text[max(0, sp[0]-maxBefore):sp[0]]
		d.textURL(s, u, before, lc)
	}
	for _, l := range links {
		if hasHTTPScheme(l) {
			d.textURL(s, l, "", lc)
		}
	}
	d.findCode(s, ctx)
	d.portWords(s, lc)

	if !partial {
		if strings.TrimSpace(text) != "" {
			if len(text) > 4096 {
				text = text[:4096]
			}
			d.history = append(d.history, text)
			d.codeWords = append(d.codeWords, hasCodeWord(text))
			if len(d.history) > 3 {
				d.history = d.history[1:]
				d.codeWords = d.codeWords[1:]
			}
		}
		d.expire(s)
	}
}

func hasHTTPScheme(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// trimURL drops punctuation that ends a sentence rather than the URL.
func trimURL(u string) string {
	for len(u) > 0 {
		c := u[len(u)-1]
		switch c {
		case '.', ',', ';', ':', '!', '?', '\'', '*':
			u = u[:len(u)-1]
			continue
		case ')', ']':
			open := byte('(')
			if c == ']' {
				open = '['
			}
			if strings.Count(u, string(open)) < strings.Count(u, string(c)) {
				u = u[:len(u)-1]
				continue
			}
		}
		return u
	}
	return u
}

// textURL classifies a URL printed in the output. before is the text in
// front of it on its line.
func (d *detector) textURL(s *Scanner, u, before string, line *lineCtx) {
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" || pastedResponse(pu) {
		// A pasted authorization response is never opened nor reported.
		return
	}
	if isAssignment(before) {
		// HTTP_PROXY=http://..., --remote-bootstrap="https://...": a
		// setting or an argument, not something to visit.
		return
	}
	if host := pu.Hostname(); isLoopback(host) && !redirectsElsewhere(u, pu) {
		port := portOf(pu)
		if port == 0 || isRedirectResponse(pu) || isPrompt(before) ||
			line.negative() || line.logLine() || !authPath(pu) && line.service() ||
			servicePathRE.MatchString(pu.Path) && !line.auth() {
			return
		}
		open := ""
		if !cbPathRE.MatchString(pu.Path) && (asksToVisit(before) ||
			strings.TrimSpace(before) == "" && asksToVisit(d.prev())) {
			open = u
		}
		d.callback(s, port, host, open)
		return
	}
	if isDocs(pu, before, line) || line.failure() {
		return
	}
	d.remoteURL(s, u, pu, before, false)
}

// opener handles a URL handed to a browser-opener shim: the CLI asked for it
// to be opened, so no wording is needed to trust it.
func (d *detector) opener(s *Scanner, u string) {
	d.fromOpener = true
	defer func() { d.fromOpener = false }()
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" || !hasHTTPScheme(u) || pastedResponse(pu) {
		return
	}
	if host := pu.Hostname(); isLoopback(host) && !redirectsElsewhere(u, pu) {
		if port := portOf(pu); port != 0 && !isRedirectResponse(pu) {
			d.callback(s, port, host, u)
		}
		return
	}
	d.remoteURL(s, u, pu, "", true)
}

// startsSignIn reports whether a line carries an authorize URL whose redirect
// is a loopback listener: the one signal strong enough to trust after a login
// said it is done, when loopback mentions are otherwise taken as passing ones.
func startsSignIn(text string) bool {
	if !strings.Contains(text, "://") {
		return false
	}
	for _, sp := range findURLs(text, maxURLs) {
		t, _, ok := redirectTarget(trimURL(text[sp[0]:sp[1]]))
		if !ok {
			continue
		}
		if tu, err := url.Parse(t); err == nil && isLoopback(tu.Hostname()) && portOf(tu) != 0 {
			return true
		}
	}
	return false
}

// redirectsElsewhere reports whether a URL carries a redirect to a different
// place than itself: a local identity provider's authorize URL (a dev IdP, the
// demo's) is not the callback listener, its redirect_uri is.
func redirectsElsewhere(u string, pu *url.URL) bool {
	t, _, ok := redirectTarget(u)
	if !ok {
		return false
	}
	tu, err := url.Parse(t)
	return err == nil && tu.Host != "" && (tu.Hostname() != pu.Hostname() || portOf(tu) != portOf(pu))
}

// remoteURL classifies a URL that is not itself the callback listener: an authorize URL whose
// redirect is a loopback listener, a hosted sign-in page, a device
// verification page, or something else.
func (d *detector) remoteURL(s *Scanner, u string, pu *url.URL, before string, fromOpener bool) {
	if t, strong, ok := redirectTarget(u); ok {
		tu, err := url.Parse(t)
		if err == nil && isLoopback(tu.Hostname()) {
			if port := portOf(tu); port != 0 {
				d.callback(s, port, tu.Hostname(), u)
			}
			return
		}
		if strong {
			// The redirect goes to a hosted page that shows a code to
			// paste: open it, nothing to forward.
			d.open(s, u)
			return
		}
	}
	if port := portParam(pu); port != 0 {
		d.callback(s, port, "localhost", u)
		return
	}
	if code := userCodeOf(u); code != "" {
		d.deviceComplete(s, u, code)
		return
	}
	if fromOpener {
		d.open(s, u)
		return
	}
	if pu.RawQuery == "" && bareEndpointRE.MatchString(pu.Path) {
		// An authorization endpoint without its query (az login shows
		// only the authority): opening it gives an error page; the real
		// URL went to the opener.
		return
	}
	score := 0
	target := pu.Host + pu.Path + "?" + pu.RawQuery
	if signinRE.MatchString(target) {
		score += 2
	}
	if asksToVisit(before) || strings.TrimSpace(before) == "" && asksToVisit(d.prev()) {
		score += 2
	}
	if (pu.Path == "" || pu.Path == "/") && pu.RawQuery == "" && pu.Fragment == "" {
		score--
	}
	d.addCandidate(s, candidate{url: u, score: score, device: deviceRE.MatchString(pu.Host + pu.Path), line: d.lineNo})
}

func isDocs(pu *url.URL, before string, line *lineCtx) bool {
	return docsHostRE.MatchString(pu.Hostname()) || docsPathRE.MatchString(pu.Path) ||
		docsCtxRE.MatchString(before) || line.docs() && !signinRE.MatchString(pu.Path)
}

const (
	// maxNamedPorts is how many distinct callback ports one login's
	// output may name before the scanner stops reporting new ones.
	maxNamedPorts = 32
	maxURLs       = 32
	maxBefore     = 256
	maxCtx        = 4096
)

// contextOf blanks URL-like tokens in a line, collapses blank runs and keeps
// the first and last maxCtx/2 bytes.
func contextOf(text string) string {
	var b strings.Builder
	b.Grow(min(len(text), maxCtx+1))
	last := 0
	space := false
	for _, sp := range schemeSpans(text) {
		writeCollapsed(&b, text[last:sp[0]], &space)
		writeCollapsed(&b, " ", &space)
		last = sp[1]
	}
	writeCollapsed(&b, text[last:], &space)
	out := b.String()
	if len(out) > maxCtx {
		out = out[:maxCtx/2] + " " + out[len(out)-maxCtx/2:]
	}
	return out
}

// schemeSpans finds URL-like tokens (scheme://non-space: http, postgres,
// redis...), which are blanked before reading the wording of a line.
func schemeSpans(text string) [][2]int {
	var spans [][2]int
	from := 0
	for {
		i := strings.Index(text[from:], "://")
		if i < 0 {
			return spans
		}
		i += from
		start := i
		for start > 0 && isSchemeByte(text[start-1]) {
			start--
		}
		end := i + 3
		for end < len(text) && text[end] != ' ' && text[end] != '\t' {
			end++
		}
		if start < i {
			if n := len(spans); n > 0 && spans[n-1][1] > start {
				start = spans[n-1][1]
			}
			spans = append(spans, [2]int{start, end})
		}
		from = end
	}
}

func isSchemeByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-'
}

func writeCollapsed(b *strings.Builder, s string, space *bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if *space {
				continue
			}
			*space = true
		} else {
			*space = false
		}
		b.WriteByte(c)
	}
}

// lineCtx computes facts about a whole line once, however many URLs it has.
type lineCtx struct {
	text             string
	lower            string // text lower-cased, when computed
	benign           string // lower without benign phrases, when benignOK
	benignOK         bool
	logged, errLevel bool // the line had a log prefix; its level is an error

	neg, doc, au, fail, svc           bool
	negOK, docOK, auOK, failOK, svcOK bool
}

func (l *lineCtx) lowered() string {
	if l.lower == "" && l.text != "" {
		l.lower = strings.ToLower(l.text)
	}
	return l.lower
}

// stripped is the lower-cased line without its benign phrases (stripBenign),
// which both negative and failure read.
func (l *lineCtx) stripped() string {
	if !l.benignOK {
		l.benign, l.benignOK = stripBenign(l.lowered()), true
	}
	return l.benign
}

func (l *lineCtx) negative() bool {
	if !l.negOK {
		l.neg, l.negOK = l.errLevel || negativeTerms.in(l.stripped()), true
	}
	return l.neg
}

// logLine reports a log message without sign-in wording: its loopback
// addresses are the program's own business.
func (l *lineCtx) logLine() bool {
	return l.logged && !l.auth() && !visitTerms.in(l.lowered())
}

func (l *lineCtx) auth() bool {
	if !l.auOK {
		l.au, l.auOK = authTerms.in(l.lowered()), true
	}
	return l.au
}

// failure reports an error message, whose URLs are not pages to visit.
func (l *lineCtx) failure() bool {
	if !l.failOK {
		l.fail, l.failOK = l.errLevel || failureTerms.in(l.stripped()), true
	}
	return l.fail
}

// service reports a line that names a local service (metrics, health, a
// database, a proxy) and has no sign-in wording.
func (l *lineCtx) service() bool {
	if !l.svcOK {
		l.svc, l.svcOK = !l.auth() && (serviceTerms.in(l.lowered()) || isRequestLog(l.text)), true
	}
	return l.svc
}

// authPath reports a URL path that belongs to a sign-in (/oauth/callback,
// /login, /auth?state=...), which no service mention overrides.
func authPath(pu *url.URL) bool {
	return cbPathRE.MatchString(pu.Path) || signinRE.MatchString(pu.Path)
}

func (l *lineCtx) docs() bool {
	if !l.docOK {
		l.doc, l.docOK = docsCtxRE.MatchString(l.text), true
	}
	return l.doc
}

func (d *detector) callback(s *Scanner, port int, host, u string) {
	last, known := d.ports[port]
	switch {
	case !known:
		if len(d.ports) >= maxNamedPorts {
			// Hostile output naming thousands of ports: the Decider
			// forwards at most maxPorts and a watch finds the real one
			// itself, so more events would only crowd out the rest.
			return
		}
		d.ports[port] = u
		d.cands = nil
		s.emit(Event{Type: TypeCallback, Port: port, Host: host, URL: u})
	case u != "" && u != last:
		// The URL became known, or a new sign-in on the same port (a CLI
		// that signs in to a second service): the port is forwarded
		// already, the new URL still has to be opened.
		d.ports[port] = u
		s.emit(Event{Type: TypeCallback, Port: port, Host: host, URL: u})
	}
}

func (d *detector) open(s *Scanner, u string) {
	// Once a callback was seen, that sign-in page is the one to open.
	if len(d.ports) > 0 || d.seen[u] {
		return
	}
	d.markSeen(u)
	s.emit(Event{Type: TypeOpen, URL: u})
}

func (d *detector) markSeen(u string) {
	if len(d.seen) < 1024 {
		d.seen[u] = true
	}
}

// deviceComplete handles a verification URL that carries its user code
// (verification_uri_complete).
func (d *detector) deviceComplete(s *Scanner, u, code string) {
	if d.seen[u] {
		return
	}
	if complete, done := d.devDone[code]; done {
		if !complete {
			// Emitted earlier with the plain URL: one more event with
			// the complete one.
			d.devDone[code] = true
			d.markSeen(u)
			s.emit(Event{Type: TypeDevice, URL: u, Code: code})
		}
		return
	}
	if d.dev != nil && d.dev.code != code {
		d.flushDevice(s)
	}
	d.dev = &candidate{url: u, code: code, line: d.lineNo}
	d.flushDevice(s)
}

// findCode looks for a device user code: an upper-case code like
// ABCD-EFGH near the word "code", or any upper-case token right after it.
func (d *detector) findCode(s *Scanner, masked string) {
	code := ""
	ctx := hasCodeWord(masked)
	for i := len(d.history) - 1; i >= 0 && i >= len(d.history)-2 && !ctx; i-- {
		ctx = d.codeWords[i]
	}
	if !ctx {
		return
	}
	code = pickCode(masked)
	if code == "" {
		return
	}
	if _, done := d.devDone[code]; done || d.dev != nil && d.dev.code == code {
		return
	}
	// Pair with a URL printed shortly before, preferring one that looks
	// like a verification page.
	best := -1
	for i, c := range d.cands {
		if d.lineNo-c.line > window {
			continue
		}
		if best < 0 || c.device && !d.cands[best].device || c.device == d.cands[best].device && c.line >= d.cands[best].line {
			best = i
		}
	}
	if best >= 0 {
		d.pair(s, d.cands[best].url, code)
		return
	}
	d.lastCode.code, d.lastCode.line = code, d.lineNo
}

func hasCodeWord(s string) bool {
	return strings.Contains(strings.ToLower(s), "code") && codeWordRE.MatchString(s)
}

func (d *detector) pair(s *Scanner, u, code string) {
	if d.dev != nil {
		d.flushDevice(s)
	}
	d.dev = &candidate{url: u, code: code, line: d.lineNo}
	d.cands = nil
	d.lastCode.code = ""
}

func (d *detector) addCandidate(s *Scanner, c candidate) {
	if d.seen[c.url] || d.dev != nil && d.dev.url == c.url {
		return
	}
	for _, o := range d.cands {
		if o.url == c.url {
			return
		}
	}
	if lc := d.lastCode.code; lc != "" && d.lineNo-d.lastCode.line <= window {
		if _, done := d.devDone[lc]; !done {
			d.pair(s, c.url, lc)
			return
		}
	}
	if len(d.cands) >= 16 {
		d.flushCandidates(s)
	}
	d.cands = append(d.cands, c)
}

// expire decides what waited long enough.
func (d *detector) expire(s *Scanner) {
	if d.dev != nil && d.lineNo-d.dev.line >= window {
		d.flushDevice(s)
	}
	if len(d.cands) > 0 && d.lineNo-d.cands[0].line >= window {
		d.flushCandidates(s)
	}
}

// flushCandidates opens the best-looking sign-in page among the URLs that
// did not turn out to be anything else; docs and plain home pages score too
// low to be opened.
func (d *detector) flushCandidates(s *Scanner) {
	best := -1
	for i, c := range d.cands {
		if best < 0 || c.score > d.cands[best].score {
			best = i
		}
	}
	if best >= 0 && d.cands[best].score >= 2 {
		d.open(s, d.cands[best].url)
	}
	d.cands = nil
}

func (d *detector) flushDevice(s *Scanner) {
	c := d.dev
	if c == nil {
		return
	}
	d.dev = nil
	d.devDone[c.code] = userCodeOf(c.url) != ""
	d.markSeen(c.url)
	s.emit(Event{Type: TypeDevice, URL: c.url, Code: c.code})
}

// portWords finds a port announced in words by a listener ("Listening on
// port 49153 for the callback", "server listening on localhost:8976").
// line is the line's wording, whose negative and log-line verdicts the
// URLs on it may have computed already.
func (d *detector) portWords(s *Scanner, line *lineCtx) {
	masked := line.text
	l := strings.ToLower(masked)
	if !strings.Contains(l, "port") && !strings.Contains(l, "localhost") && !strings.Contains(l, "127.") &&
		!strings.Contains(l, "::1") && !strings.Contains(l, ":") {
		return
	}
	if !listenRE.MatchString(masked) || line.negative() || line.logLine() || line.service() {
		return
	}
	host, port := "localhost", 0
	if m := hostPortRE.FindStringSubmatch(masked); m != nil {
		host, port = strings.Trim(m[1], "[]"), atoiPort(m[2])
	} else if m := portWordRE.FindStringSubmatch(masked); m != nil {
		port = atoiPort(m[1])
	} else if m := colonPortRE.FindStringSubmatch(masked); m != nil {
		port = atoiPort(m[1])
	}
	if port >= 1024 {
		d.callback(s, port, host, "")
	}
}
