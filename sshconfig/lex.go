package sshconfig

import (
	"errors"
	"strings"
)

// This file reproduces OpenSSH's line tokenisers (misc.c strdelim and
// argv_split) so that quoting, "=" and comments behave exactly like ssh.

const whitespace = " \t\r\n"

var errInvalidQuotes = errors.New("invalid quotes")

// strdelim returns the next token of *s and advances *s, like OpenSSH's
// strdelim: tokens end at whitespace or one "=", a token starting with a
// double quote runs to the next double quote. ok is false for an
// unterminated quote.
func strdelim(s *string) (tok string, ok bool) {
	str := *s
	i := strings.IndexAny(str, whitespace+"\"=")
	if i < 0 {
		*s = ""
		return str, true
	}
	if str[i] == '"' {
		// OpenSSH deletes the quote and ends the token at the next one.
		rest := str[:i] + str[i+1:]
		j := strings.IndexByte(rest[i:], '"')
		if j < 0 {
			*s = ""
			return "", false
		}
		j += i
		tok = rest[:j]
		after := rest[j+1:]
		*s = strings.TrimLeft(after, whitespace)
		return tok, true
	}
	wspace := str[i] == '='
	tok = str[:i]
	rest := strings.TrimLeft(str[i+1:], whitespace)
	if !wspace && strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], whitespace)
	}
	*s = rest
	return tok, true
}

// argvSplit splits s like OpenSSH's argv_split with terminate_on_comment:
// space/tab separated, single and double quotes, backslash escapes of
// quotes, backslash and (outside quotes) space, "#" at a token start ends
// the line.
func argvSplit(s string) ([]string, error) {
	var args []string
	i := 0
	for i < len(s) {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		if s[i] == '#' {
			break
		}
		var quote byte
		var arg strings.Builder
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || (quote == 0 && s[i+1] == ' ')):
				i++
				arg.WriteByte(s[i])
				continue
			case quote == 0 && (c == ' ' || c == '\t'):
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
				continue
			case quote != 0 && c == quote:
				quote = 0
				continue
			default:
				arg.WriteByte(c)
				continue
			}
			break
		}
		args = append(args, arg.String())
		if i >= len(s) && quote != 0 {
			return nil, errInvalidQuotes
		}
	}
	return args, nil
}

// splitKeyword separates the keyword from the rest of a configuration
// line like process_config_line: trailing whitespace is removed, the
// keyword ends at whitespace or "=". ok is false for blank and comment
// lines.
func splitKeyword(line string) (keyword, rest string, ok bool, err error) {
	line = strings.TrimRight(line, whitespace+"\f")
	str := line
	kw, good := strdelim(&str)
	if !good {
		return "", "", false, errInvalidQuotes
	}
	if kw == "" {
		if str == "" {
			return "", "", false, nil
		}
		kw, good = strdelim(&str)
		if !good {
			return "", "", false, errInvalidQuotes
		}
	}
	if kw == "" || kw[0] == '#' {
		return "", "", false, nil
	}
	return strings.ToLower(kw), strings.TrimLeft(str, whitespace), true, nil
}
