// Package callback reads a remote login's terminal output and decides what it asks for: an OAuth loopback callback port and the URL to open, a device code, or a sign-in page to open, and it knows the common login CLIs.
package callback

import (
	"encoding/base64"
	"encoding/hex"
)

// Event is one thing the login output asks kfwd to do.
type Event struct {
	Type EventKind `json:"type"`           // TypeCallback, TypeDevice or TypeOpen
	Port int       `json:"port,omitempty"` // callback: the loopback port
	Host string    `json:"host,omitempty"` // callback: loopback host as printed (localhost, 127.0.0.1, ::1)
	URL  string    `json:"url,omitempty"`  // the URL to open, when known
	Code string    `json:"code,omitempty"` // device: the user code
	// Opener is set when the URL came from a browser-opener shim (the CLI
	// asked for it to be opened) rather than from the printed text.
	Opener bool `json:"opener,omitempty"`
}

// EventKind says what an Event asks for; it is the "type" of kfwd's JSON events.
type EventKind string

// Event kinds.
const (
	TypeCallback EventKind = "callback" // forward Port, then open URL
	TypeDevice   EventKind = "device"   // show Code, open URL
	TypeOpen     EventKind = "open"     // open URL; no tunnel needed
)

// Limits that keep the scanner linear and its memory bounded on hostile output.
const (
	// maxLine is the longest unterminated line kept; a longer line is
	// analysed and cut there.
	maxLine = 64 << 10
	// maxMarker bounds the payload of one opener marker.
	maxMarker = 16 << 10
	// maxOSC bounds the kept payload of other OSC sequences (OSC 8 targets).
	maxOSC = 16 << 10
	// maxCSI bounds a CSI sequence before it is treated as garbage.
	maxCSI = 64
)

// markerPrefix starts the opener marker written by the shims of tunnel's
// login wrapper (tunnel/remotelogin.go): ESC ] 5379 ; kfwd-open ; <payload> BEL (or ESC \).
// Terminals ignore unknown OSC numbers, so a marker that slips through is
// invisible. The payload is the URL in base64, or "h:" and the URL in hex
// when the remote has no base64.
const markerPrefix = "\x1b]5379;kfwd-open;"

// Scanner finds callback ports, device codes and sign-in URLs in a login's
// terminal output. It is fed chunks split anywhere and is not safe for
// concurrent use.
type Scanner struct {
	// marker stripping
	mstate int    // 0 normal; 1..len(prefix) matched; payload states below
	mhold  []byte // held bytes of a possible marker

	// terminal text
	tstate  int
	csiLen  int
	osc     []byte
	oscOver bool
	pendCR  bool
	line    []byte
	links   []string

	d detector

	show   []byte
	events []Event
}

const (
	mPayload    = 1000 + iota // inside the payload
	mPayloadEsc               // ESC seen after the payload
)

// NewScanner returns a Scanner at the start of a stream.
func NewScanner() *Scanner {
	s := &Scanner{}
	s.d.init()
	return s
}

// Feed consumes a chunk of terminal output (any split) and returns the bytes
// to show the user (kfwd's opener markers removed, everything else
// unchanged) and the new events. Only a possible marker prefix at the end of
// p is held back until the next call.
func (s *Scanner) Feed(p []byte) (show []byte, events []Event) {
	s.show = make([]byte, 0, len(p))
	s.events = nil
	for i := 0; i < len(p); {
		if s.mstate == 0 {
			// Fast path: copy up to the next ESC.
			j := i
			for j < len(p) && p[j] != 0x1b {
				j++
			}
			if j > i {
				s.emitText(p[i:j])
			}
			if j == len(p) {
				break
			}
			s.mstate = 1
			s.mhold = append(s.mhold[:0], 0x1b)
			i = j + 1
			continue
		}
		s.markerByte(p[i])
		i++
	}
	return s.show, s.takeEvents()
}

// idle is called when output paused (Feed waits idleDelay): consider the unterminated
// last line, a URL line that might have continued, and URLs still waiting
// for a device code.
func (s *Scanner) idle() []Event {
	s.show = nil
	s.events = nil
	s.d.flushPending(s)
	if len(s.line) > 0 || len(s.links) > 0 {
		s.d.analyse(s, string(s.line), s.links, true)
	}
	s.d.flushCandidates(s)
	s.d.flushDevice(s)
	return s.takeEvents()
}

// wrapPending reports whether the scanner holds a finished line that ends in
// a URL and is not at a typical terminal width: the next line may still
// continue it, but a CLI that hard-wraps prints its lines together, so a
// short pause (Feed's wrapDelay) is enough to trust it. A line cut at a
// typical width (80, 100, 120, 132 ...) waits for the full idle pause.
func (s *Scanner) wrapPending() bool {
	p := s.d.pending
	return p != nil && len(s.line) == 0 && !s.pendCR && s.mstate == 0 && !isTermWidth(p.lastLen)
}

// flushWrap analyses a held URL line as complete.
func (s *Scanner) flushWrap() []Event {
	s.show = nil
	s.events = nil
	s.d.flushPending(s)
	return s.takeEvents()
}

// Close flushes at end of stream: a held partial marker is shown as it was,
// the last line is analysed.
func (s *Scanner) Close() (show []byte, events []Event) {
	s.show = nil
	s.events = nil
	if s.mstate == mPayloadEsc {
		s.mhold = append(s.mhold, 0x1b) // the ESC that might have started ST
	}
	if s.mstate != 0 {
		s.releaseMarker()
	}
	s.tstate = tNormal
	if len(s.line) > 0 || len(s.links) > 0 || s.pendCR {
		s.endLine()
	}
	s.d.flushPending(s)
	s.d.flushCandidates(s)
	s.d.flushDevice(s)
	return s.show, s.takeEvents()
}

func (s *Scanner) takeEvents() []Event {
	ev := s.events
	s.events = nil
	return ev
}

func (s *Scanner) emit(e Event) {
	e.Opener = s.d.fromOpener
	s.events = append(s.events, e)
}

// markerByte advances the marker recogniser by one byte.
func (s *Scanner) markerByte(c byte) {
	switch {
	case s.mstate > 0 && s.mstate < len(markerPrefix):
		if c == markerPrefix[s.mstate] {
			s.mhold = append(s.mhold, c)
			s.mstate++
			if s.mstate == len(markerPrefix) {
				s.mstate = mPayload
			}
			return
		}
		s.releaseMarker()
		s.reprocess(c)
	case s.mstate == mPayload:
		switch {
		case c == 0x07:
			s.finishMarker()
		case c == 0x1b:
			s.mstate = mPayloadEsc
		case isPayloadByte(c) && len(s.mhold)-len(markerPrefix) < maxMarker:
			s.mhold = append(s.mhold, c)
		default:
			s.releaseMarker()
			s.reprocess(c)
		}
	case s.mstate == mPayloadEsc:
		if c == '\\' {
			s.finishMarker()
			return
		}
		// The ESC may start something else: show what was held, then
		// restart on the ESC.
		s.releaseMarker()
		s.mstate = 1
		s.mhold = append(s.mhold[:0], 0x1b)
		s.markerByte(c)
	}
}

// reprocess handles c in the normal state after a failed marker match.
func (s *Scanner) reprocess(c byte) {
	if c == 0x1b {
		s.mstate = 1
		s.mhold = append(s.mhold[:0], 0x1b)
		return
	}
	s.emitText([]byte{c})
}

func (s *Scanner) releaseMarker() {
	held := s.mhold
	s.mstate = 0
	s.mhold = nil
	s.emitText(held)
}

func (s *Scanner) finishMarker() {
	payload := string(s.mhold[len(markerPrefix):])
	s.mstate = 0
	s.mhold = s.mhold[:0]
	if u, ok := decodeMarker(payload); ok {
		s.d.opener(s, u)
	}
}

func isPayloadByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '+' || c == '/' || c == '=' || c == ':' || c == '-' || c == '_'
}

// decodeMarker turns a marker payload back into the URL it carries.
func decodeMarker(p string) (string, bool) {
	var b []byte
	var err error
	if len(p) >= 2 && p[:2] == "h:" {
		b, err = hex.DecodeString(p[2:])
	} else {
		b, err = base64.StdEncoding.DecodeString(p)
		if err != nil {
			b, err = base64.RawStdEncoding.DecodeString(p)
		}
		if err != nil {
			b, err = base64.URLEncoding.DecodeString(p)
		}
	}
	if err != nil || len(b) == 0 {
		return "", false
	}
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return "", false
		}
	}
	return string(b), true
}

// Terminal text states.
const (
	tNormal = iota
	tEsc
	tCSI
	tOSC
	tOSCEsc
	tString // DCS, SOS, PM, APC: skipped up to ST
	tStringEsc
	tEscInter
)

// emitText appends b to the shown output and runs it through the terminal
// text recogniser, which strips escape sequences and cuts lines.
func (s *Scanner) emitText(b []byte) {
	s.show = append(s.show, b...)
	for _, c := range b {
		s.textByte(c)
	}
}

func (s *Scanner) textByte(c byte) {
	switch s.tstate {
	case tNormal:
		if s.pendCR {
			s.pendCR = false
			if c == '\r' {
				s.pendCR = true
				return
			}
			// CRLF ends the line; a bare CR (spinner) also ends what was
			// drawn so far.
			s.endLine()
			if c == '\n' {
				return
			}
		}
		switch {
		case c == '\n':
			s.endLine()
		case c == '\r':
			s.pendCR = true
		case c == 0x1b:
			s.tstate = tEsc
		case c == '\t':
			s.addByte(' ')
		case c == '\b':
			if n := len(s.line); n > 0 && s.line[n-1] < 0x80 {
				s.line = s.line[:n-1]
			}
		case c < 0x20 || c == 0x7f:
			// other controls (BEL, ...) are invisible
		default:
			s.addByte(c)
		}
	case tEsc:
		switch {
		case c == '[':
			s.tstate, s.csiLen = tCSI, 0
		case c == ']':
			s.tstate, s.osc, s.oscOver = tOSC, s.osc[:0], false
		case c == 'P' || c == 'X' || c == '^' || c == '_':
			s.tstate = tString
		case c >= 0x20 && c <= 0x2f:
			s.tstate = tEscInter
		case c == 0x1b:
			// stay
		case c == '\n' || c == '\r':
			s.tstate = tNormal
			s.textByte(c)
		default:
			s.tstate = tNormal // two-byte sequence (ESC 7, ESC M, ...)
		}
	case tEscInter:
		if c >= 0x20 && c <= 0x2f {
			return
		}
		s.tstate = tNormal
		if c < 0x20 {
			s.textByte(c)
		}
	case tCSI:
		s.csiLen++
		switch {
		case c >= 0x40 && c <= 0x7e:
			s.tstate = tNormal
		case c >= 0x20 && c <= 0x3f && s.csiLen < maxCSI:
		default:
			s.tstate = tNormal
			s.textByte(c)
		}
	case tOSC:
		switch {
		case c == 0x07:
			s.endOSC()
		case c == 0x1b:
			s.tstate = tOSCEsc
		case c == '\n' || c == '\r' || c == 0x18 || c == 0x1a:
			// A newline in an OSC means it was never terminated: do not
			// let it swallow the rest of the output.
			s.endOSC()
			s.textByte(c)
		default:
			if len(s.osc) < maxOSC {
				s.osc = append(s.osc, c)
			} else {
				s.oscOver = true
			}
		}
	case tOSCEsc:
		s.endOSC()
		if c != '\\' {
			s.tstate = tEsc
			s.textByte(c)
		}
	case tString:
		switch c {
		case 0x1b:
			s.tstate = tStringEsc
		case 0x07, 0x18, 0x1a:
			s.tstate = tNormal
		case '\n':
			s.tstate = tNormal
			s.textByte(c)
		}
	case tStringEsc:
		s.tstate = tNormal
		if c != '\\' {
			s.tstate = tEsc
			s.textByte(c)
		}
	}
}

// endOSC finishes an OSC sequence; OSC 8 hyperlink targets are kept with
// the line, since the visible text may be shortened (vercel.com/oauth/device).
func (s *Scanner) endOSC() {
	s.tstate = tNormal
	o := s.osc
	if s.oscOver || len(o) < 2 || o[0] != '8' || o[1] != ';' {
		return
	}
	rest := o[2:]
	for i, c := range rest {
		if c == ';' {
			if target := string(rest[i+1:]); target != "" && len(s.links) < 16 {
				s.links = append(s.links, target)
			}
			return
		}
	}
}

func (s *Scanner) addByte(c byte) {
	s.line = append(s.line, c)
	if len(s.line) >= maxLine {
		s.endLine()
	}
}

func (s *Scanner) endLine() {
	s.pendCR = false
	s.d.physLine(s, string(s.line), s.links)
	s.line = s.line[:0]
	s.links = nil
}
