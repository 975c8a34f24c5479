package callback

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Action is one thing kfwd does because of what the login showed: forward a
// loopback port, open a URL, show a device code, or a piece of evidence it
// ignored and why. Actions are what `kfwd login`, `kfwd scan` and `--json`
// report, so that all of them show the same decisions.
type Action struct {
	Type string `json:"type"`           // ActCallback | ActOpen | ActDevice | ActIgnored
	Port int    `json:"port,omitempty"` // callback: the port to forward; open: the port its redirect goes to
	Host string `json:"host,omitempty"` // callback: the loopback host the login named or listens on
	URL  string `json:"url,omitempty"`  // open, device: the URL; ignored: the URL when it is safe to show
	Code string `json:"code,omitempty"` // device: the user code
	// By says what the decision rests on: "watch" (the remote's own
	// sockets), "opener" (the CLI handed the URL to its browser opener),
	// "text" (the login's output) or "user" (kfwd login -L).
	By string `json:"by,omitempty"`
	// Reason says why evidence was ignored. Port is set on an ignored port
	// that a sign-in URL redirects to but the login does not listen on.
	Reason string `json:"reason,omitempty"`
}

// Action types. ActCallback keeps the name of the scanner event it
// replaces, so `--json` consumers see the same type for a forwarded port.
const (
	ActCallback = "callback"
	ActOpen     = "open"
	ActDevice   = "device"
	ActIgnored  = "ignored"
)

// What a decision rests on.
const (
	ByWatch  = "watch"
	ByOpener = "opener"
	ByText   = "text"
	ByUser   = "user"
)

// Bounds on what remote output can make kfwd do in one login.
const (
	// minPort is the lowest port kfwd forwards: a lower one would make
	// kfwd take over a local system service (80, 443, 22).
	minPort = 1024
	// maxPorts is how many ports one login may have forwarded.
	maxPorts = 8
	// maxOpens is how many browser opens one login may cause.
	maxOpens = 4
	// maxIgnored bounds the ignored actions reported per login; hostile
	// output with thousands of URLs gets one summary line instead.
	maxIgnored = 32
)

// Evidence is one input to a Decider: a scanner event (text or opener), or a
// report of the remote listener watch, or the user's word on a port.
// FromEvent, Listening, Declared, WatchUp and WatchDown make it.
type Evidence struct {
	kind   string // evEvent | evListen | evDeclared | evWatchUp | evWatchDown
	event  Event  // evEvent
	port   int    // evListen: the port the login listens on; evDeclared: the user's port
	addr   string // evListen: the address it listens on (127.0.0.1, ::1, 0.0.0.0, ::)
	reason string // evWatchDown: why there is no watch
}

// Evidence kinds.
const (
	evEvent     = "event"
	evListen    = "listen"
	evDeclared  = "declared"
	evWatchUp   = "watch-up"
	evWatchDown = "watch-down"
)

// FromEvent is the evidence of a scanner event.
func FromEvent(ev Event) Evidence { return Evidence{kind: evEvent, event: ev} }

// Listening is the watch's report that the login's process tree holds a
// TCP socket listening on addr:port.
func Listening(port int, addr string) Evidence {
	return Evidence{kind: evListen, port: port, addr: addr}
}

// Declared is the user's word that the login's callback listens on port
// (kfwd login -L PORT), where the watch may not see it: a listener outside
// the login's processes, such as a container's published port. The port is
// forwarded at once and counts as confirmed, as if the watch had seen it,
// whatever the watch reports; the user's own port is not bound by minPort.
func Declared(port int) Evidence { return Evidence{kind: evDeclared, port: port} }

// WatchUp is the watch's report that it works on this remote: from now on
// a port is forwarded only when the watch sees it.
func WatchUp() Evidence { return Evidence{kind: evWatchUp} }

// WatchDown is the watch's report that it cannot work on this remote;
// decisions fall back to the text and the opener URLs.
func WatchDown(reason string) Evidence { return Evidence{kind: evWatchDown, reason: reason} }

// DecideOptions configures a Decider. The zero value decides from the text
// and opener URLs alone, as `kfwd scan` does.
type DecideOptions struct {
	// Watch is set when a remote listener watch was started: text
	// candidates then wait for it (WatchUp, Listening, WatchDown).
	Watch bool
	// OpenHold is how long, with a watch, a URL that names no confirmed
	// port waits for the watch to see a listener before it is opened
	// anyway (a hosted sign-in needs none). Default 300ms.
	OpenHold time.Duration
}

const (
	// deviceHold is how long a device verification URL without the code
	// in it waits for the complete one before it is opened.
	deviceHold = 250 * time.Millisecond
	// watchWait is how long a started watch may stay silent while text
	// candidates wait before the text decides alone, and how long a text
	// port waits for confirmation before it is reported as ignored.
	watchWait = 2 * time.Second
)

// Decider turns all the evidence of one login into actions, in one place,
// so that login, scan and the tests agree. Rules (issue 8):
//   - with a watch, a port is forwarded when the watch sees the login listen
//     on it, printed or not; a port only the text names is not;
//   - without a watch, a loopback callback named by the text or an opener
//     URL is forwarded;
//   - never a port below minPort, at most maxPorts ports and maxOpens
//     browser opens, each further one reported as ignored;
//   - the URL to open for a port is the one the CLI handed to its opener,
//     else an authorize URL whose redirect is that port, else the login's
//     own local start page; a bare loopback URL without a query is opened
//     only when the CLI opened it itself;
//   - a URL that carries an authorization code for a non-loopback redirect
//     (a pasted answer) is never opened nor reported;
//   - one browser open per device sign-in, preferring the complete
//     verification URL.
//
// A Decider is not safe for concurrent use; Run serialises it.
type Decider struct {
	o     DecideOptions
	watch int // watchNone, watchPending, watchUp, watchDown

	ports     map[int]*portState
	forwarded int
	opened    map[string]bool
	opens     int
	held      []heldOpen
	devices   map[string]*deviceState // by code
	ignored   map[string]bool
	nIgnored  int
	firstHeld time.Time // when the first text candidate started waiting for a pending watch
	anything  bool
	last      time.Time // the latest time evidence or a tick came with
	seq       int       // ports named so far
}

const (
	watchNone = iota
	watchPending
	watchUp
	watchDown
)

type portState struct {
	host      string
	named     bool      // the text or an opener URL named it
	namedAt   time.Time // when
	confirmed bool      // the watch saw it, or the user declared it (Declared)
	forwarded bool
	refused   bool // reported as not forwardable (below minPort, over maxPorts)
	warned    bool // reported as unconfirmed
	url       string
	rank      int
	by        string
	openRank  int // rank of the URL opened for it, rankNone when none was
	seq       int // the order in which evidence first named the port
}

// URL ranks: which URL to open for a port.
const (
	rankNone     = iota
	rankStart    // the login's own local start page
	rankAuth     // an authorize URL carrying the port's redirect
	rankOpener   // the URL the CLI handed to its opener
	rankRejected = -1
)

type heldOpen struct {
	url  string
	by   string
	port int
	at   time.Time
}

type deviceState struct {
	url      string
	complete bool
	opened   bool
	at       time.Time
	shown    bool
}

// NewDecider returns a Decider at the start of a login.
func NewDecider(o DecideOptions) *Decider {
	if o.OpenHold <= 0 {
		o.OpenHold = 300 * time.Millisecond
	}
	d := &Decider{
		o:       o,
		ports:   make(map[int]*portState),
		opened:  make(map[string]bool),
		devices: make(map[string]*deviceState),
		ignored: make(map[string]bool),
	}
	if o.Watch {
		d.watch = watchPending
	}
	return d
}

// Found reports whether any evidence led to an action other than ignoring
// it; `kfwd scan` says so when nothing was found.
func (d *Decider) Found() bool { return d.anything }

// Add takes one piece of evidence observed at now and returns what to do,
// in order (a port's forward comes before the open that needs it).
func (d *Decider) Add(e Evidence, now time.Time) []Action {
	d.seen(now)
	var out []Action
	switch e.kind {
	case evEvent:
		out = d.event(e.event, now, out)
	case evListen:
		out = d.listen(e.port, e.addr, now, out)
	case evDeclared:
		if e.port > 0 && e.port <= 65535 {
			out = d.confirm(e.port, "", ByUser, now, out)
		}
	case evWatchUp:
		if d.watch == watchPending || d.watch == watchNone {
			d.watch = watchUp
		}
	case evWatchDown:
		if d.watch != watchDown {
			d.watch = watchDown
			out = d.textDecides(now, out)
		}
	}
	return d.mark(d.tick(now, out))
}

// expire lets held decisions expire at now; call it at nextExpiry.
func (d *Decider) expire(now time.Time) []Action {
	d.seen(now)
	return d.mark(d.tick(now, nil))
}

func (d *Decider) seen(now time.Time) {
	if now.After(d.last) {
		d.last = now
	}
}

// nextExpiry returns when expire has something to decide, if anything waits.
func (d *Decider) nextExpiry() (time.Time, bool) {
	var t time.Time
	set := func(c time.Time) {
		if t.IsZero() || c.Before(t) {
			t = c
		}
	}
	for _, h := range d.held {
		set(h.at.Add(d.o.OpenHold))
	}
	for _, dv := range d.devices {
		if !dv.opened && !dv.complete && dv.url != "" {
			set(dv.at.Add(deviceHold))
		}
	}
	if d.watch == watchPending && !d.firstHeld.IsZero() {
		set(d.firstHeld.Add(watchWait))
	}
	if d.watch == watchUp {
		for _, p := range d.ports {
			if p.named && !p.confirmed && !p.warned {
				set(p.namedAt.Add(watchWait))
			}
		}
	}
	return t, !t.IsZero()
}

// Close decides what still waits at the end of the evidence (the end of
// `kfwd scan`'s input): held opens are opened, as their time ran out.
func (d *Decider) Close() []Action {
	return d.expire(d.last.Add(d.o.OpenHold + deviceHold + watchWait))
}

// Run feeds evidence from in to the Decider until in is closed or ctx ends,
// ticking held decisions on time, and calls act for every action in order.
// An error from act ends Run with that error (a confirmed port that cannot be
// forwarded fails the login).
func (d *Decider) Run(ctx context.Context, in <-chan Evidence, act func(Action) error) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	do := func(acts []Action) error {
		for _, a := range acts {
			if err := act(a); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		timer.Stop()
		var wake <-chan time.Time
		if t, ok := d.nextExpiry(); ok {
			timer.Reset(max(time.Until(t), time.Millisecond))
			wake = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-in:
			if !ok {
				return nil
			}
			if err := do(d.Add(e, time.Now())); err != nil {
				return err
			}
		case now := <-wake:
			if err := do(d.expire(now)); err != nil {
				return err
			}
		}
	}
}

func (d *Decider) mark(out []Action) []Action {
	for _, a := range out {
		if a.Type != ActIgnored {
			d.anything = true
		}
	}
	return out
}

// watching reports whether a watch decides which ports are forwarded (or
// may still start to).
func (d *Decider) watching() bool { return d.watch == watchPending || d.watch == watchUp }

func (d *Decider) event(ev Event, now time.Time, out []Action) []Action {
	by := ByText
	if ev.Opener {
		by = ByOpener
	}
	if ev.URL != "" && isPastedResponse(ev.URL) {
		return d.ignore(out, "pasted", "", "a URL carrying an authorization code for a non-loopback redirect is never opened")
	}
	switch ev.Type {
	case TypeCallback:
		return d.named(ev.Port, ev.Host, ev.URL, by, now, out)
	case TypeOpen:
		if pu, err := url.Parse(ev.URL); err == nil && isLoopback(pu.Hostname()) {
			// A loopback page is a callback listener's: it needs its
			// port forwarded first, and the same rules for its URL.
			return d.named(portOf(pu), pu.Hostname(), ev.URL, by, now, out)
		}
		return d.hostedOpen(ev.URL, by, now, out)
	case TypeDevice:
		return d.device(ev, now, out)
	}
	return out
}

// named handles a port the text or an opener URL names as a loopback
// callback, with the URL to open for it when one is known.
func (d *Decider) named(port int, host, u, by string, now time.Time, out []Action) []Action {
	if port < minPort || port > 65535 {
		return d.ignore(out, fmt.Sprint("port:", port), "", fmt.Sprintf("port %d: kfwd never forwards a port below %d", port, minPort))
	}
	p := d.port(port)
	if p.host == "" {
		p.host = host
	}
	if !p.named {
		p.named, p.namedAt = true, now
	}
	if r := rankURL(u, port, by); r > p.rank || r == rankAuth && p.rank == rankAuth && u != p.url {
		// A newer authorize URL for the same port is a second sign-in.
		p.url, p.rank, p.by = u, r, by
	} else if r == rankRejected {
		out = d.ignore(out, "bare:"+u, u, "a bare callback URL is not opened unless the login opens it itself")
	}
	if d.watching() {
		if !p.confirmed {
			if d.watch == watchPending && d.firstHeld.IsZero() {
				d.firstHeld = now
			}
			return out
		}
		return d.openPort(port, p, now, out)
	}
	out = d.forward(port, p, by, out)
	return d.openPort(port, p, now, out)
}

func (d *Decider) port(port int) *portState {
	p := d.ports[port]
	if p == nil {
		// Bounded by the port space; the scanner names at most
		// maxNamedPorts of them.
		d.seq++
		p = &portState{seq: d.seq}
		d.ports[port] = p
	}
	return p
}

// listen handles the watch's report of a listening socket.
func (d *Decider) listen(port int, addr string, now time.Time, out []Action) []Action {
	if d.watch == watchNone || d.watch == watchPending {
		d.watch = watchUp
	}
	if port < minPort || port > 65535 {
		return d.ignore(out, fmt.Sprint("port:", port), "", fmt.Sprintf("port %d: kfwd never forwards a port below %d", port, minPort))
	}
	return d.confirm(port, addr, ByWatch, now, out)
}

// confirm forwards a port the login is known to listen on (on addr, when
// the watch says), and opens its best URL.
func (d *Decider) confirm(port int, addr, by string, now time.Time, out []Action) []Action {
	p := d.port(port)
	p.confirmed = true
	if addr != "" && (p.host == "" || !isLoopback(p.host)) {
		p.host = loopbackFor(addr)
	}
	out = d.forward(port, p, by, out)
	out = d.openPort(port, p, now, out)
	// URLs that waited for a listener (an opener URL of a hosted page
	// that redirects to the port it was told about) go now.
	return d.releaseHeld(now, out, true)
}

func loopbackFor(addr string) string {
	a := strings.Trim(addr, "[]")
	if a == "::1" || a == "::" {
		return "::1"
	}
	if isLoopback(a) {
		return a
	}
	return "127.0.0.1"
}

func (d *Decider) forward(port int, p *portState, by string, out []Action) []Action {
	if p.forwarded || p.refused {
		return out
	}
	if d.forwarded >= maxPorts {
		p.refused = true
		return d.ignore(out, fmt.Sprint("port:", port), "", fmt.Sprintf("port %d: at most %d ports are forwarded per login", port, maxPorts))
	}
	p.forwarded = true
	d.forwarded++
	host := p.host
	if host == "" {
		host = "localhost"
	}
	return append(out, Action{Type: ActCallback, Port: port, Host: host, By: by})
}

// openPort opens the best URL known for a forwarded port.
func (d *Decider) openPort(port int, p *portState, now time.Time, out []Action) []Action {
	if !p.forwarded || p.rank <= rankNone {
		return out
	}
	// One tab per port, except when the CLI itself opens a URL after the
	// one kfwd chose, or starts a second sign-in (a new authorize URL).
	if p.openRank != rankNone && !(p.rank == rankOpener && p.openRank < rankOpener) && !(p.rank == rankAuth && p.openRank == rankAuth) {
		return out
	}
	p.openRank = p.rank
	return d.open(p.url, p.by, port, out)
}

// hostedOpen handles a sign-in page that needs no tunnel (or whose tunnel
// only the watch can find).
func (d *Decider) hostedOpen(u, by string, now time.Time, out []Action) []Action {
	if u == "" {
		return out
	}
	if d.watching() && d.confirmedPorts() == 0 {
		// A hosted page may redirect to a loopback port that the CLI
		// sent it in a request body: give the watch a moment to see it.
		for _, h := range d.held {
			if h.url == u {
				return out
			}
		}
		if len(d.held) < maxOpens*4 {
			d.held = append(d.held, heldOpen{url: u, by: by, at: now})
		}
		return out
	}
	return d.open(u, by, 0, out)
}

func (d *Decider) confirmedPorts() int {
	n := 0
	for _, p := range d.ports {
		if p.confirmed && p.forwarded {
			n++
		}
	}
	return n
}

func (d *Decider) device(ev Event, now time.Time, out []Action) []Action {
	if ev.Code == "" {
		return out
	}
	dv := d.devices[ev.Code]
	if dv == nil {
		if len(d.devices) >= maxOpens*4 {
			return out
		}
		dv = &deviceState{at: now}
		d.devices[ev.Code] = dv
	}
	complete := userCodeOf(ev.URL) != "" || ev.URL != "" && strings.Contains(ev.URL, ev.Code)
	if ev.URL != "" && (dv.url == "" || complete && !dv.complete) {
		dv.url, dv.complete = ev.URL, complete
	}
	if !dv.shown {
		dv.shown = true
		out = append(out, Action{Type: ActDevice, URL: dv.url, Code: ev.Code, By: byOf(ev)})
	} else if complete && ev.URL == dv.url && !dv.opened {
		out = append(out, Action{Type: ActDevice, URL: dv.url, Code: ev.Code, By: byOf(ev)})
	}
	if !dv.opened && dv.url != "" && (dv.complete || ev.Opener) {
		dv.opened = true
		out = d.open(dv.url, byOf(ev), 0, out)
	}
	return out
}

func byOf(ev Event) string {
	if ev.Opener {
		return ByOpener
	}
	return ByText
}

func (d *Decider) open(u, by string, port int, out []Action) []Action {
	if u == "" || d.opened[u] {
		return out
	}
	if isPastedResponse(u) {
		return d.ignore(out, "pasted", "", "a URL carrying an authorization code for a non-loopback redirect is never opened")
	}
	if by != ByOpener && rankURL(u, port, by) == rankRejected {
		return d.ignore(out, "bare:"+u, u, "a bare callback URL is not opened unless the login opens it itself")
	}
	if d.opens >= maxOpens {
		d.opened[u] = true
		return d.ignore(out, "open:"+u, u, fmt.Sprintf("at most %d browser opens per login", maxOpens))
	}
	d.opened[u] = true
	d.opens++
	return append(out, Action{Type: ActOpen, URL: u, Port: port, By: by})
}

func (d *Decider) ignore(out []Action, key, u, reason string) []Action {
	if d.ignored[key] {
		return out
	}
	if len(d.ignored) < 4096 {
		d.ignored[key] = true
	}
	d.nIgnored++
	switch {
	case d.nIgnored < maxIgnored:
		return append(out, Action{Type: ActIgnored, URL: u, Reason: reason})
	case d.nIgnored == maxIgnored:
		return append(out, Action{Type: ActIgnored, Reason: "further ignored evidence is not reported"})
	}
	return out
}

// textDecides is the fallback when there is no watch: every port the text
// or an opener URL named is forwarded as without a watch, and held opens go.
func (d *Decider) textDecides(now time.Time, out []Action) []Action {
	for _, port := range portsInOrder(d.ports) {
		p := d.ports[port]
		if p.named && !p.forwarded {
			out = d.forward(port, p, p.byOrText(), out)
			out = d.openPort(port, p, now, out)
		}
	}
	d.firstHeld = time.Time{}
	return d.releaseHeld(now, out, true)
}

func (p *portState) byOrText() string {
	if p.by == ByOpener {
		return ByOpener
	}
	return ByText
}

func (d *Decider) releaseHeld(now time.Time, out []Action, all bool) []Action {
	keep := d.held[:0]
	for _, h := range d.held {
		if all || !now.Before(h.at.Add(d.o.OpenHold)) {
			out = d.open(h.url, h.by, h.port, out)
			continue
		}
		keep = append(keep, h)
	}
	d.held = keep
	return out
}

func (d *Decider) tick(now time.Time, out []Action) []Action {
	out = d.releaseHeld(now, out, false)
	for _, code := range sortedCodes(d.devices) {
		dv := d.devices[code]
		if !dv.opened && dv.url != "" && !now.Before(dv.at.Add(deviceHold)) {
			dv.opened = true
			out = d.open(dv.url, ByText, 0, out)
		}
	}
	if d.watch == watchPending && !d.firstHeld.IsZero() && !now.Before(d.firstHeld.Add(watchWait)) {
		d.watch = watchDown
		out = d.ignore(out, "watch-silent", "", "the listener watch did not report; deciding from the output alone")
		out = d.textDecides(now, out)
	}
	if d.watch == watchUp {
		for _, port := range portsInOrder(d.ports) {
			p := d.ports[port]
			if p.named && !p.confirmed && !p.warned && !now.Before(p.namedAt.Add(watchWait)) {
				p.warned = true
				n := len(out)
				out = d.ignore(out, fmt.Sprint("unconfirmed:", port), "", fmt.Sprintf("port %d: named by the login's output but the login does not listen on it", port))
				if len(out) > n && p.rank >= rankAuth {
					// A sign-in redirects there: say so with the port, so
					// the user hears of it (kfwd login -L declares it).
					out[n].Port = port
				}
			}
		}
	}
	return out
}

// portsInOrder returns the ports in the order evidence named them: when the
// text decides after all (no watch after all), the login's own port, printed
// first, must not lose its place to decoys printed after it.
func portsInOrder(m map[int]*portState) []int {
	ps := make([]int, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return m[ps[i]].seq < m[ps[j]].seq })
	return ps
}

func sortedCodes(m map[string]*deviceState) []string {
	cs := make([]string, 0, len(m))
	for c := range m {
		cs = append(cs, c)
	}
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j] < cs[j-1]; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
	return cs
}

// rankURL says how good u is as the URL to open for port: the opener's URL
// beats an authorize URL carrying the port's redirect, which beats the
// login's own local start page. A bare loopback URL with no query is the
// callback itself: opening it only produces an error page, unless the CLI
// opened it itself.
func rankURL(u string, port int, by string) int {
	if u == "" {
		return rankNone
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		return rankNone
	}
	if by == ByOpener {
		return rankOpener
	}
	if !isLoopback(pu.Hostname()) || redirectsElsewhere(u, pu) {
		return rankAuth
	}
	if pu.RawQuery == "" && (pu.Path == "" || pu.Path == "/" || cbPathRE.MatchString(pu.Path)) {
		return rankRejected
	}
	return rankStart
}

// isPastedResponse reports a URL that carries an authorization response for
// a non-loopback redirect: the page the user was sent to after sign-in,
// pasted back into the login (gcloud's --no-launch-browser, rclone's
// remote setup). Opening it would replay the code; printing it would leak it.
func isPastedResponse(u string) bool {
	pu, err := url.Parse(u)
	return err == nil && pastedResponse(pu)
}

// pastedResponse is isPastedResponse for a URL already parsed.
func pastedResponse(pu *url.URL) bool {
	if pu.Host == "" || isLoopback(pu.Hostname()) {
		return false
	}
	q := pu.Query()
	if f, err := url.ParseQuery(strings.TrimPrefix(pu.Fragment, "/")); err == nil {
		for k, v := range f {
			q[k] = append(q[k], v...)
		}
	}
	// An authorization request (client_id=, response_type=, redirect_uri=)
	// is where the sign-in starts, whatever else it carries (claude.com's
	// authorize?code=true&...).
	for _, k := range []string{"client_id", "response_type", "redirect_uri", "code_challenge", "scope"} {
		if q.Has(k) {
			return false
		}
	}
	code := q.Get("code")
	if code == "" {
		return q.Get("access_token") != "" || q.Get("id_token") != ""
	}
	// A short upper-case code is a device user code (…/activate?code=ABCD-EFGH).
	return q.Has("state") || !isUserCodeShape(code)
}

func isUserCodeShape(c string) bool {
	if len(c) < 4 || len(c) > 12 {
		return false
	}
	for i := 0; i < len(c); i++ {
		b := c[i]
		if !(b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// DisplayURL shortens a URL to what a status line shows: scheme, host and
// "/…" when there is more, so the user sees where the browser goes without
// the state and challenge parameters.
func DisplayURL(u string) string {
	pu, err := url.Parse(u)
	if err != nil || pu.Host == "" {
		return "a URL"
	}
	s := pu.Scheme + "://" + pu.Host
	if (pu.Path != "" && pu.Path != "/") || pu.RawQuery != "" || pu.Fragment != "" {
		s += "/…"
	}
	return s
}
