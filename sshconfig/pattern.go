package sshconfig

import "strings"

// matchPattern reports whether s matches the glob pattern p, where "*"
// matches any run of characters and "?" exactly one, case-sensitively
// (OpenSSH match_pattern). It runs in O(len(s)*len(p)).
func matchPattern(s, p string) bool {
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			si++
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchPatternList matches s against a comma-separated list of patterns,
// each optionally negated with "!". It returns 1 for a match, -1 when a
// negated pattern matched and 0 otherwise (OpenSSH match_pattern_list).
// With lower set, the patterns are lower-cased first.
func matchPatternList(s, list string, lower bool) int {
	got := 0
	if list == "" {
		return 0
	}
	subs := strings.Split(strings.TrimSuffix(list, ","), ",")
	if list == "," {
		subs = []string{""}
	}
	for _, sub := range subs {
		neg := strings.HasPrefix(sub, "!")
		if neg {
			sub = sub[1:]
		}
		if len(sub) >= 1023 {
			return 0
		}
		if lower {
			sub = asciiLower(sub)
		}
		if matchPattern(s, sub) {
			if neg {
				return -1
			}
			got = 1
		}
	}
	return got
}

// matchHostname is OpenSSH's match_hostname: both sides lower-cased.
func matchHostname(host, list string) int {
	return matchPatternList(asciiLower(host), list, true)
}

func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}
