package callback

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Log prefixes: a timestamp, a level, a logger name or pid in brackets, in
// any order and number, before the message (rclone's "2026/01/01 12:00:00
// NOTICE: ...", glog's "I0101 12:00:00.000000 1234 main.go:12] ...",
// logfmt's "time=... level=info msg=..."). The message after them is read
// like any other line, but a loopback address in it is taken as a callback
// only with sign-in wording: logs mention local services all the time.
var (
	logTokenRE = regexp.MustCompile(`^(?:` +
		`\[?\d{4}[-/.]\d{2}[-/.]\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2}| ?UTC)?\]?` +
		`|\[?\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z| ?UTC)?\]?` +
		`|[IWEFD]\d{4} \d{2}:\d{2}:\d{2}\.\d+(?: +\d+)?(?: [\w./-]+:\d+\])?` +
		`|\[?(?:` + levelNames + `)\]?:?` +
		`|\[(?i:` + levelNames + `)\]:?` +
		`|(?:Info|Notice|Note|Warning|Warn|Error|Debug|Trace|Fatal):` +
		`|\w[\w.-]{0,31}\[\d+\]:` +
		`|(?:time|ts|level|lvl|logger|caller|source|pid|t)=(?:"[^"]*"|\S+)` +
		`)(?:\s+|$)`)
	levelNames = `INFO|INF|NOTICE|NOTE|DEBUG|DBG|TRACE|TRC|WARN|WARNING|WRN|ERROR|ERR|FATAL|FTL|CRIT|CRITICAL|EMERG|ALERT|VERBOSE|VRB`
	msgRE      = regexp.MustCompile(`^(?:msg|message)=(?:"((?:[^"\\]|\\.)*)"|(\S+))`)
)

// stripLogPrefix returns the message of a log line and whether it had a
// prefix, and whether the prefix gave an error level.
func stripLogPrefix(line string) (msg string, logged, errLevel bool) {
	rest := strings.TrimLeft(line, " ")
	if !mayStartLog(rest) {
		return line, false, false
	}
	for i := 0; i < 8; i++ {
		loc := logTokenRE.FindStringIndex(rest)
		if loc == nil || loc[1] == 0 {
			break
		}
		tok := strings.TrimSpace(rest[:loc[1]])
		if isErrLevel(tok) {
			errLevel = true
		}
		logged = true
		rest = rest[loc[1]:]
	}
	if !logged {
		return line, false, false
	}
	if m := msgRE.FindStringSubmatch(rest); m != nil {
		if m[1] != "" {
			rest = strings.ReplaceAll(m[1], `\"`, `"`)
		} else {
			rest = m[2]
		}
	}
	return rest, true, errLevel
}

var (
	servicePathRE = regexp.MustCompile(`(?i)^/(?:metrics|health|healthz|livez|readyz|ready|status|debug|admin|api|v\d+|graphql|swagger|_|stats|ping|version)(?:[/?.]|$)`)
	// requestLogRE is an access-log line: a method, a URL, a status.
	requestLogRE = regexp.MustCompile(`(?:^|\s|")(?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+\S|\b[1-5]\d\d\s+(?:OK|Created|Accepted|No Content|Moved|Found|Not Modified|Bad Request|Unauthorized|Forbidden|Not Found|Internal Server Error|Bad Gateway|Service Unavailable)\b`)
)

// pickCode finds a device user code in a line (URLs blanked): a token of
// letters of any alphabet, digits, '-' and '_' that looks like a code: upper
// case in groups (ABCD-EFGH, -YKS-_KYD), or any shape with a digit or a
// separator right after the word "code" or alone on its line.
func pickCode(masked string) string {
	alone := strings.TrimSpace(strings.TrimRight(strings.TrimSpace(masked), ".!"))
	for i := 0; i < len(masked); {
		r, n := utf8.DecodeRuneInString(masked[i:])
		if !isCodeRune(r) {
			i += n
			continue
		}
		j := i
		for j < len(masked) {
			r, n := utf8.DecodeRuneInString(masked[j:])
			if !isCodeRune(r) {
				break
			}
			j += n
		}
		tok := masked[i:j]
		// A hyphen that starts a token after a letter is a word's
		// (re-enter): only tokens after a space or punctuation count.
		if !sourcePromptRE.MatchString(masked[:i]) && !precededByWord(masked, i) {
			loose := tok == alone || afterCodeRE.MatchString(masked[:i])
			// "Enter your verification code: 8f2e61c4" echoes what the
			// user typed: only a code in the usual upper-case shape counts.
			if loose && isPrompt(masked[:i]) && strings.ContainsFunc(tok, unicode.IsLower) {
				loose = false
			}
			if isDeviceCode(tok, loose) {
				return tok
			}
		}
		i = j
	}
	return ""
}

func isCodeRune(r rune) bool {
	return r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

func precededByWord(s string, i int) bool {
	if i == 0 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return r == '.' || r == '/' || r == '@' || r == '\'' && i > 1
}

// isDeviceCode decides whether tok is a user code. loose is set when it
// follows the word "code" or stands alone on its line, where lower-case
// and ungrouped codes are trusted too.
func isDeviceCode(tok string, loose bool) bool {
	if len(tok) > 32 {
		return false
	}
	var alnum, lower, upper, digits, groups, shortGroups int
	sep := false
	g := 0
	end := func() {
		if g > 0 {
			groups++
			if g < 3 {
				shortGroups++
			}
		}
		g = 0
	}
	for _, r := range tok {
		switch {
		case r == '-' || r == '_':
			sep = true
			end()
			continue
		case unicode.IsDigit(r):
			digits++
		case unicode.IsLower(r):
			lower++
		case unicode.IsLetter(r):
			upper++ // upper case, or a script without case
		}
		alnum++
		g++
	}
	end()
	if alnum < 4 {
		return false
	}
	if sep && lower == 0 && upper > 0 && groups >= 2 && shortGroups == 0 && alnum >= 6 {
		return true // ABCD-EFGH, ABC-DEF-GHI, -YKS-_KYD
	}
	if !loose {
		return false
	}
	switch {
	case lower == 0 && !sep && upper > 0 && alnum >= 6 && alnum <= 12:
		return true // the code is WDJBMJHT
	case lower == 0 && sep && groups >= 2 && alnum >= 6:
		return !isDateLike(tok) // 1234-5678
	case (sep || digits > 0) && alnum >= 6 && groups <= 4:
		return !isDateLike(tok) // bcdf-ghjk, x7k2m9
	}
	return false
}

func isDateLike(tok string) bool {
	return len(tok) == 10 && tok[4] == '-' && tok[7] == '-'
}

// mayStartLog is a cheap test of the first word before logTokenRE runs:
// every log prefix starts with a word that has a digit, a bracket, an "=",
// ends in ":" or is an upper-case level name.
func mayStartLog(s string) bool {
	end := strings.IndexByte(s, ' ')
	if end < 0 {
		end = len(s)
	}
	w := s[:end]
	if w == "" {
		return false
	}
	if strings.ContainsAny(w, "0123456789[=") || strings.HasSuffix(w, ":") {
		return true
	}
	for i := 0; i < len(w); i++ {
		if w[i] < 'A' || w[i] > 'Z' {
			return false
		}
	}
	return true
}

// isErrLevel reports a log prefix token that gives an error level: ERROR,
// [ERR], FATAL:, level=error, glog's E0101.
func isErrLevel(tok string) bool {
	t := strings.ToLower(strings.Trim(tok, "[]:\""))
	if v, ok := strings.CutPrefix(t, "level="); ok {
		t = strings.Trim(v, "\"")
	} else if v, ok := strings.CutPrefix(t, "lvl="); ok {
		t = strings.Trim(v, "\"")
	}
	switch t {
	case "error", "err", "fatal", "ftl", "crit", "critical", "emerg", "alert":
		return true
	}
	return len(tok) == 5 && (tok[0] == 'E' || tok[0] == 'F') && strings.Trim(tok[1:], "0123456789") == ""
}
