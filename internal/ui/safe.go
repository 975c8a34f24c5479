package ui

import (
	"strings"
	"unicode/utf8"
)

// Safe makes text from the remote (an SSH banner, a CLI's --version, a
// server's error text inside an error message) safe to print on the terminal:
// escape sequences (CSI, and OSC/DCS/APC/PM strings up to their terminator)
// are removed whole, other C0 and C1 control characters except newline and tab
// are dropped and invalid UTF-8 is replaced, so the text cannot write the
// clipboard (OSC 52), set the window title, move the cursor or overwrite a
// line with \r. kfwd's own colour codes are added after this, by paint.
func Safe(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\n' && c != '\t' || c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == 0x1b && i < len(s):
			// ESC: the introducer decides how far the sequence goes.
			next := s[i]
			i++
			switch next {
			case '[':
				i = skipCSI(s, i)
			case ']', 'P', 'X', '^', '_':
				i = skipString(s, i)
			}
		case r == 0x9b:
			i = skipCSI(s, i)
		case r == 0x9d || r == 0x90 || r == 0x98 || r == 0x9e || r == 0x9f:
			i = skipString(s, i)
		case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
			// dropped
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// skipCSI returns the index after a control sequence's final byte.
func skipCSI(s string, i int) int {
	for i < len(s) {
		c := s[i]
		i++
		if c >= 0x40 && c <= 0x7e {
			break
		}
	}
	return i
}

// skipString returns the index after a control string's terminator: BEL,
// ESC \ or ST (U+009C).
func skipString(s string, i int) int {
	for i < len(s) {
		switch {
		case s[i] == 0x07:
			return i + 1
		case s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\':
			return i + 2
		case strings.HasPrefix(s[i:], "\u009c"):
			return i + len("\u009c")
		}
		i++
	}
	return i
}
